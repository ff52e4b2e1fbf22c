/** The generated documents of the spec schema: the committed JSON Schema and what editors get from it. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { DEFAULT_SPEC, SPEC_JSON_SCHEMA_FILE, parseOverrides, resolveSpec, specJsonSchema, specJsonSchemaText } from '../../shared/index.js';

const committed = () => readFileSync(new URL(`../../${SPEC_JSON_SCHEMA_FILE}`, import.meta.url), 'utf8');
const validateFile = () => new Ajv2020({ strict: false }).compile(specJsonSchema());

describe('spec JSON Schema', () => {
  it('GIVEN the spec schema WHEN its JSON Schema is generated THEN it equals the committed file', () => {
    assert.equal(committed(), specJsonSchemaText(), `${SPEC_JSON_SCHEMA_FILE} is stale: npm run -s synth -- --json-schema > ${SPEC_JSON_SCHEMA_FILE}`);
  });

  it('GIVEN the JSON Schema WHEN read THEN every field carries its default and doc, and ranges are kept', () => {
    const rabbitmq = (specJsonSchema() as any).properties.rabbitmq.properties;
    assert.equal(rabbitmq.replicas.default, DEFAULT_SPEC.rabbitmq.replicas);
    assert.deepEqual([rabbitmq.replicas.minimum, rabbitmq.replicas.maximum], [3, 9]);
    assert.match(rabbitmq.replicas.description, /odd/);
    assert.deepEqual(rabbitmq.queueMode.enum, ['mirrored', 'quorum']);
  });

  it('GIVEN a spec file naming its $schema WHEN parsed and checked THEN both the JSON Schema and the spec accept it', () => {
    const overrides = parseOverrides(`$schema: ./${SPEC_JSON_SCHEMA_FILE}\nrabbitmq:\n  queueMode: quorum\n`, 'my-spec.yaml');
    assert.equal(resolveSpec(overrides).rabbitmq.queueMode, 'quorum');
    assert.ok(validateFile()({ $schema: `./${SPEC_JSON_SCHEMA_FILE}`, rabbitmq: { queueMode: 'quorum' } }));
  });

  it('GIVEN a misspelt field WHEN checked by the JSON Schema THEN the editor sees it refused', () => {
    assert.equal(validateFile()({ rabbitmq: { replicaz: 3 } }), false);
  });
});
