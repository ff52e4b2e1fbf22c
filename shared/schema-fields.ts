/**
 * Builders of the settings schema's fields. Each field carries, in one place, its type, range,
 * default, the sentence that documents it (JSON Schema `description`, README tables) and the fix an
 * error suggests; the problem text of an error is the check's own message.
 *
 * zod (v4) was chosen over valibot and TypeBox + ajv because one definition gives the TypeScript
 * type (`z.output`), the defaults, per-check error messages and a JSON Schema (`z.toJSONSchema`)
 * without a second compiler step, and its issues carry the path that names the field.
 */
import { z } from 'zod';

/** What every field says about itself besides its type. */
export interface FieldDoc {
  /** What the setting does, in one sentence or two. */
  readonly doc: string;
  /** What to do when the value is refused. @default derived from the check (e.g. the range) */
  readonly fix?: string;
}

/** Metadata attached to every field (read back by {@link fieldMeta}). */
export interface FieldMeta {
  readonly description: string;
  readonly fix: string;
  [k: string]: unknown;
}

type AnySchema = z.ZodType;

/** The error of a value whose JavaScript type is wrong, with an example of the right one. */
function typeError(expected: string, example: unknown): (iss: { input?: unknown }) => string {
  return (iss) => `expected ${expected}, got ${describeValue(iss.input)} (e.g. ${JSON.stringify(example)})`;
}

/** `string "x"`, `number 3`, or `nothing`. */
export function describeValue(v: unknown): string {
  return v === undefined ? 'nothing' : `${typeof v} ${JSON.stringify(v)}`;
}

function outOfRange(iss: { input?: unknown }): string {
  return `${String(iss.input)} is out of range`;
}

/** A rule beyond type and range: returns what is wrong and the fix, or undefined when the value is fine. */
export type FieldCheck<T> = (value: T) => { readonly problem: string; readonly fix: string } | undefined;

/** Adds `check` as a refinement whose issue carries its own fix. */
function withCheck<S extends z.ZodType>(schema: S, check: FieldCheck<z.output<S>> | undefined): S {
  if (!check) return schema;
  return schema.superRefine((value, ctx) => {
    const bad = check(value);
    if (bad) ctx.addIssue({ code: 'custom', message: bad.problem, params: { fix: bad.fix } });
  }) as unknown as S;
}

/** A whole number in [min, max]. */
export function intField(o: FieldDoc & { readonly default: number; readonly min: number; readonly max: number; readonly check?: FieldCheck<number> }) {
  const n = z
    .number({ error: typeError('a number', o.default) })
    .int({ error: (iss) => `${String(iss.input)} is not a whole number` })
    .min(o.min, { error: outOfRange })
    .max(o.max, { error: outOfRange });
  return withCheck(n, o.check).default(o.default).meta(meta(o, `use a whole number from ${o.min} to ${o.max}`));
}

/** A TCP port. */
export function portField(o: FieldDoc & { readonly default: number }) {
  return intField({ ...o, min: 1, max: 65_535, fix: o.fix ?? 'use a TCP port, a whole number from 1 to 65535' });
}

/** true or false. */
export function boolField(o: FieldDoc & { readonly default: boolean }) {
  return z
    .boolean({ error: typeError('a boolean', o.default) })
    .default(o.default)
    .meta(meta(o, 'give true or false'));
}

/** One of `values`. */
export function enumField<const T extends readonly [string, ...string[]]>(o: FieldDoc & { readonly values: T; readonly default: T[number] }) {
  return z
    .enum(o.values, { error: (iss) => `${JSON.stringify(iss.input)} is not one of ${o.values.join(', ')}` })
    .default(o.default as never)
    .meta(meta(o, `use one of ${o.values.join(', ')}`));
}

/** A string matching `pattern` (empty allowed only when the pattern allows it). */
export function stringField(
  o: FieldDoc & { readonly default: string; readonly pattern?: RegExp; readonly problem?: string; readonly maxLength?: number; readonly check?: FieldCheck<string> },
) {
  const problem = (iss: { input?: unknown }) => `${JSON.stringify(iss.input)} ${o.problem ?? 'has the wrong form'}`;
  let s = z.string({ error: typeError('a string', o.default) });
  if (o.maxLength !== undefined) s = s.max(o.maxLength, { error: problem });
  if (o.pattern) s = s.regex(o.pattern, { error: problem });
  return withCheck(s, o.check).default(o.default).meta(meta(o, 'give a string'));
}

/** The fields of a group, unknown keys refused (a typo must not be silently ignored). */
export function fields<S extends Record<string, AnySchema>>(shape: S) {
  return z.strictObject(shape, { error: (iss) => `expected an object, got ${describeValue(iss.input)}` });
}

/** A group of fields as a field of its parent: omitted or partial, it takes its fields' defaults. */
export function asGroup<T extends AnySchema>(doc: string, schema: T) {
  return schema.prefault({} as never).meta({ description: doc, fix: 'give an object with the documented fields' });
}

/** A nested group of fields without cross-field rules. */
export function group<S extends Record<string, AnySchema>>(doc: string, shape: S) {
  return asGroup(doc, fields(shape));
}

/** The metadata of a field, when it has some. */
export function fieldMeta(schema: AnySchema): FieldMeta | undefined {
  return z.globalRegistry.get(schema) as FieldMeta | undefined;
}

/** The field schema at `path` under `root`, looking through defaults and refinements. */
export function fieldAt(root: AnySchema, path: readonly PropertyKey[]): AnySchema | undefined {
  let node: AnySchema | undefined = root;
  for (const key of path) {
    const shape = objectShape(node);
    node = shape?.[String(key)];
    if (!node) return undefined;
  }
  return node;
}

function objectShape(schema: AnySchema | undefined): Record<string, AnySchema> | undefined {
  let s: AnySchema | undefined = schema;
  // default / prefault / optional wrap the object schema in `innerType`.
  for (let i = 0; s && i < 4; i++) {
    const def = s._zod.def as { shape?: Record<string, AnySchema>; innerType?: AnySchema };
    if (def.shape) return def.shape;
    s = def.innerType;
  }
  return undefined;
}

function meta(o: FieldDoc, derivedFix: string): FieldMeta {
  return { description: o.doc, fix: o.fix ?? derivedFix };
}
