/** Properties of the spec schema over random overrides: valid ones synthesize, bad ones are named. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { synthStack } from '../../charts/index.js';
import { SpecError, resolveSpec, specJsonSchema } from '../../shared/index.js';
import { validateKubeObject } from '../support/charts.js';
import { badLeafValue, unknownKey, validOverrides } from '../support/spec-arbitraries.js';

const validateFile = new Ajv2020({ strict: false }).compile(specJsonSchema());

function specErrorField(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof SpecError, `expected a SpecError, got ${String(e)}`);
    assert.match(e.message, /^spec field "[^"]+": .+\. Fix: .+/);
    return e.field;
  }
}

describe('spec properties', () => {
  it('GIVEN random valid overrides WHEN resolved and synthesized THEN every object passes its Kubernetes schema and the file passes the JSON Schema', () => {
    fc.assert(
      fc.property(validOverrides(), (overrides) => {
        assert.ok(validateFile(overrides), JSON.stringify(validateFile.errors));
        for (const chart of synthStack(resolveSpec(overrides))) chart.manifests.forEach(validateKubeObject);
      }),
      { numRuns: 20 },
    );
  });

  it('GIVEN one bad value at any field WHEN resolved THEN the SpecError names exactly that field, and the JSON Schema refuses the file too', () => {
    fc.assert(
      fc.property(badLeafValue(), ({ path, overrides }) => {
        assert.equal(specErrorField(() => resolveSpec(overrides)), path);
        assert.equal(validateFile(overrides), false, `JSON Schema accepted ${JSON.stringify(overrides)}`);
      }),
      { numRuns: 300 },
    );
  });

  it('GIVEN an unknown key at any depth WHEN resolved THEN the SpecError names the key', () => {
    fc.assert(
      fc.property(unknownKey(), ({ path, overrides }) => {
        assert.equal(specErrorField(() => resolveSpec(overrides)), path);
      }),
      { numRuns: 100 },
    );
  });
});
