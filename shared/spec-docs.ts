/**
 * Documents generated from the spec schema: the README's field table and the JSON Schema of spec
 * files (editors complete and check `my-spec.yaml` with it). Pure; scripts write them.
 */
import { z } from 'zod';
import { envNameOf, specLeaves } from './overrides.js';
import { fieldAt, fieldMeta } from './schema-fields.js';
import { FeedkitSpecSchema } from './spec.js';

/** Where the committed JSON Schema lives, relative to the repository root. */
export const SPEC_JSON_SCHEMA_FILE = 'shared/feedkit-spec.schema.json';

/** The Markdown table of every spec field: path, default, doc, the environment variable that sets it. */
export function specTable(): string {
  const cell = (v: string | number | boolean) => (v === '' ? "`''`" : `\`${String(v)}\``);
  const doc = (path: string) => (fieldMeta(fieldAt(FeedkitSpecSchema, path.split('.'))!)?.description ?? '').replace(/\|/g, '\\|');
  const rows = specLeaves().map((l) => `| \`${l.path}\` | ${cell(l.value)} | ${doc(l.path)} | \`${envNameOf(l.path)}\` |`);
  return ['| field | default | meaning | environment variable |', '| --- | --- | --- | --- |', ...rows].join('\n') + '\n';
}

/** The JSON Schema (draft 2020-12) of a spec file: every field optional, with its default, range and doc. */
export function specJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(FeedkitSpecSchema, {
    io: 'input',
    // `fix` is for our error messages, not a JSON Schema keyword.
    override: (ctx) => {
      delete (ctx.jsonSchema as Record<string, unknown>)['fix'];
    },
  }) as Record<string, unknown> & { properties: Record<string, unknown> };
  // A spec file may name its schema (`$schema: ./shared/feedkit-spec.schema.json`) for editors.
  schema.properties = { $schema: { type: 'string', description: 'The JSON Schema this file follows (for editors).' }, ...schema.properties };
  return schema;
}

/** {@link specJsonSchema} as the committed file's text. */
export function specJsonSchemaText(): string {
  return `${JSON.stringify(specJsonSchema(), null, 2)}\n`;
}
