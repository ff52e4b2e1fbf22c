/**
 * Documents generated from the spec schema: the README's field table and the JSON Schema of spec
 * files (editors complete and check `my-spec.yaml` with it). Pure; scripts write them.
 */
import { z } from 'zod';
import { APP_SETTINGS, APP_WIRING_DOCS, type AppSetting } from './app-settings.js';
import { AppEnv } from './constants.js';
import { envNameOf, specLeaves } from './overrides.js';
import { fieldAt, fieldMeta } from './schema-fields.js';
import { FeedkitSpecSchema } from './spec.js';

/** Where the committed JSON Schema lives, relative to the repository root. */
export const SPEC_JSON_SCHEMA_FILE = 'shared/feedkit-spec.schema.json';

/** The Markdown table of every spec field: path, default, doc, the environment variable that sets it. */
export function specTable(): string {
  const cell = (v: string | number | boolean) => (v === '' ? "`''`" : `\`${String(v)}\``);
  const doc = (path: string) => escapeCell(describeField(fieldAt(FeedkitSpecSchema, path.split('.'))!));
  const rows = specLeaves().map((l) => `| \`${l.path}\` | ${cell(l.value)} | ${doc(l.path)} | \`${envNameOf(l.path)}\` |`);
  return ['| field | default | meaning | environment variable |', '| --- | --- | --- | --- |', ...rows].join('\n') + '\n';
}

/** The Markdown table of the feed app's environment variables: wiring, then every setting with its default and the spec field that sets it. */
export function appEnvTable(): string {
  const rows = Object.values(AppEnv).map((name) => {
    const wiring = (APP_WIRING_DOCS as Record<string, { dflt: string; doc: string }>)[name];
    if (wiring) return `| \`${name}\` | ${wiring.dflt} | ${escapeCell(wiring.doc)} |`;
    const setting: AppSetting = (APP_SETTINGS as Record<string, AppSetting>)[name]!;
    const dflt = setting.schema.parse(undefined);
    const from = setting.specPath ? ` Set from the spec field \`${setting.specPath}\`.` : '';
    return `| \`${name}\` | ${dflt === '' ? 'none' : `\`${String(dflt)}\``} | ${escapeCell(describeField(setting.schema) + from)} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n') + '\n';
}

/** A field's doc followed by its range or choices, as the JSON Schema states them. */
function describeField(schema: z.ZodType): string {
  const doc = fieldMeta(schema)?.description ?? '';
  const json = z.toJSONSchema(schema, { io: 'input' }) as { minimum?: number; maximum?: number; enum?: unknown[]; type?: string };
  if (json.enum) return `${doc} One of ${json.enum.map((v) => `\`${String(v)}\``).join(', ')}.`;
  if (json.type === 'integer') return `${doc} ${json.minimum}–${json.maximum}.`;
  return doc;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
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
