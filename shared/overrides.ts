/**
 * Spec overrides from text (YAML or JSON) and from the environment. Pure: callers read the file
 * and pass `process.env`; nothing here touches the file system.
 */
import { parse as parseYaml } from 'yaml';
import { DEFAULT_SPEC, SpecError, type SpecOverrides } from './spec.js';

/** Prefix of the environment variables that override spec fields. */
export const ENV_PREFIX = 'FEEDKIT_';

/** Parses a YAML or JSON overrides document (JSON is YAML). `source` names it in errors. */
export function parseOverrides(text: string, source: string): SpecOverrides {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new SpecError('(file)', `${source} is not valid YAML or JSON: ${(e as Error).message}`, 'fix the syntax of the overrides file');
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SpecError('(file)', `${source} must hold a mapping of spec fields`, 'write e.g. "rabbitmq: { queueMode: quorum }"');
  }
  // `$schema` points editors at the JSON Schema; it is not a spec field.
  const { $schema: _schema, ...fields } = doc as Record<string, unknown>;
  return fields as SpecOverrides;
}

/** Environment variable name of a dotted spec path: `rabbitmq.queueMode` → `FEEDKIT_RABBITMQ__QUEUE_MODE`. */
export function envNameOf(path: string): string {
  return ENV_PREFIX + path.split('.').map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__');
}

/** Every leaf path of the spec with its default value. */
export function specLeaves(): Array<{ path: string; value: string | number | boolean }> {
  const out: Array<{ path: string; value: string | number | boolean }> = [];
  const walk = (o: object, prefix: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === 'object') walk(v, p);
      else out.push({ path: p, value: v as string | number | boolean });
    }
  };
  walk(DEFAULT_SPEC, '');
  return out;
}

/** Overrides from `FEEDKIT_*` variables; values are converted to the field's type. */
export function overridesFromEnv(env: Readonly<Record<string, string | undefined>>): SpecOverrides {
  const known = new Map(specLeaves().map((l) => [envNameOf(l.path), l]));
  for (const name of Object.keys(env)) {
    if (name.startsWith(ENV_PREFIX) && !known.has(name) && !NON_SPEC_ENV.has(name)) {
      throw new SpecError(name, 'is not a spec field variable', `remove it or use one of ${[...known.keys()].slice(0, 4).join(', ')}, … (see the README)`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, leaf] of known) {
    const raw = env[name];
    if (raw === undefined) continue;
    setPath(out, leaf.path, convert(leaf.path, raw, leaf.value));
  }
  return out as SpecOverrides;
}

/** `FEEDKIT_*` variables that configure the tools rather than the spec. */
const NON_SPEC_ENV = new Set(['FEEDKIT_SPEC_FILE', 'FEEDKIT_WRITE_SECRETS', 'FEEDKIT_ERLANG_COOKIE', 'FEEDKIT_RABBITMQ_PASSWORD', 'FEEDKIT_POSTGRES_PASSWORD', 'FEEDKIT_JWT_SECRET', 'FEEDKIT_WORKDIR']);

function convert(path: string, raw: string, reference: string | number | boolean): string | number | boolean {
  if (typeof reference === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new SpecError(path, `${envNameOf(path)}="${raw}" is not a number`, 'give a number');
    return n;
  }
  if (typeof reference === 'boolean') {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new SpecError(path, `${envNameOf(path)}="${raw}" is not a boolean`, 'give "true" or "false"');
  }
  return raw;
}

/** Sets `value` at the dotted `path` of `target`, creating the objects on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]!] = value;
}

/** Layers overrides: later ones win field by field. */
export function mergeOverrides(...layers: SpecOverrides[]): SpecOverrides {
  const merge = (a: unknown, b: unknown): unknown => {
    if (b === undefined) return a;
    if (a === null || typeof a !== 'object' || b === null || typeof b !== 'object' || Array.isArray(b)) return b;
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
    return out;
  };
  return layers.reduce<unknown>((acc, l) => merge(acc, l), {}) as SpecOverrides;
}
