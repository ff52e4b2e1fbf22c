/**
 * Pulumi stack config → the feedkit spec. The `feedkit:` namespace carries the very same field names
 * as {@link FeedkitSpec}: top-level scalars as plain keys (`feedkit:namespace`), the sections as
 * structured objects (`feedkit:rabbitmq: { replicas: 5 }`, what `pulumi config set --path` writes)
 * or as flat dotted keys (`feedkit:rabbitmq.replicas`); flat keys win over the object. Pure: the
 * caller passes the config it read (see `currentStackConfig` in `pulumi-config-source.ts`).
 */
import * as pulumi from '@pulumi/pulumi';
import { DEFAULT_RABBITMQ_USERNAME, SecretError, validateSecrets } from '../charts/stack.js';
import {
  DEFAULT_SPEC,
  MIN_COOKIE_LENGTH,
  SpecError,
  mergeOverrides,
  setPath,
  resolveSpec,
  specLeaves,
  type FeedkitSpec,
  type SpecOverrides,
} from '../shared/index.js';

/** The config namespace (the project name in `Pulumi.yaml`). */
export const CONFIG_NAMESPACE = 'feedkit';

/** Config keys that are not spec fields: the Kubernetes provider and the credentials. */
export enum StackConfigKey {
  /** Kubeconfig contents or path for the provider; set it with `--secret` when it holds credentials. */
  KUBECONFIG = 'kubeconfig',
  /** kubeconfig context to use. */
  CONTEXT = 'context',
  /** RabbitMQ default user name (not secret). */
  RABBITMQ_USERNAME = 'rabbitmqUsername',
  ERLANG_COOKIE = 'erlangCookie',
  RABBITMQ_PASSWORD = 'rabbitmqPassword',
  POSTGRES_PASSWORD = 'postgresPassword',
  JWT_SECRET = 'jwtSecret',
}

/** The keys that must be set with `pulumi config set --secret`; each is generated when unset. */
export const SECRET_CONFIG_KEYS = [
  StackConfigKey.ERLANG_COOKIE,
  StackConfigKey.RABBITMQ_PASSWORD,
  StackConfigKey.POSTGRES_PASSWORD,
  StackConfigKey.JWT_SECRET,
] as const;
export type SecretConfigKey = (typeof SECRET_CONFIG_KEYS)[number];

/** The stack config as the program sees it. */
export interface StackConfigSource {
  /** Every set key, fully qualified (`feedkit:rabbitmq`), with its raw value (objects as JSON text). */
  readonly values: Readonly<Record<string, string>>;
  /** Fully qualified keys that were set with `--secret`. */
  readonly secretKeys: ReadonlySet<string>;
}

/**
 * A stack config value is wrong. A {@link pulumi.RunError}, so `pulumi up` prints the message
 * (naming the key and the fix) without a stack trace.
 */
export class StackConfigError extends pulumi.RunError {
  constructor(
    /** Fully qualified config key, e.g. `feedkit:rabbitmq.replicas`. */
    readonly key: string,
    problem: string,
    /** What to do instead. */
    readonly fix: string,
  ) {
    super(`stack config "${key}": ${problem}. Fix: ${fix}`);
    this.name = 'StackConfigError';
  }
}

/** `feedkit:<key>`. */
export function configKey(key: string): string {
  return `${CONFIG_NAMESPACE}:${key}`;
}

const NON_SPEC_KEYS = new Set<string>(Object.values(StackConfigKey));
const TOP_LEVEL = DEFAULT_SPEC as unknown as Record<string, unknown>;
const LEAVES = new Map(specLeaves().map((l) => [l.path, l.value]));

/** Spec overrides from the stack config; throws {@link StackConfigError} naming the key. */
export function overridesFromStackConfig(source: StackConfigSource): SpecOverrides {
  const structured: Record<string, unknown> = {};
  const flat: Record<string, unknown> = {};
  for (const [fullKey, raw] of Object.entries(source.values)) {
    if (!fullKey.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
    const key = fullKey.slice(CONFIG_NAMESPACE.length + 1);
    if (NON_SPEC_KEYS.has(key)) continue;
    if (source.secretKeys.has(fullKey)) {
      // Spec fields end up in ConfigMaps and pod specs; decrypting one there would unsecret it silently.
      throw new StackConfigError(
        fullKey,
        'is set as a secret, but spec fields land in plain ConfigMaps and pod specs',
        `set it without --secret; credentials go only in ${SECRET_CONFIG_KEYS.map(configKey).join(', ')}`,
      );
    }
    const reference = TOP_LEVEL[key];
    if (reference !== undefined && typeof reference === 'object') {
      structured[key] = coerce(parseObject(fullKey, raw), reference);
    } else if (reference !== undefined || LEAVES.has(key)) {
      setPath(flat, key, coerceScalar(raw, reference ?? LEAVES.get(key)));
    } else {
      throw new StackConfigError(
        fullKey,
        'is neither a spec field nor a feedkit setting',
        `remove it (pulumi config rm ${fullKey}) or use a spec field such as ${configKey('rabbitmq.replicas')} or one of ${[...NON_SPEC_KEYS].map(configKey).join(', ')}`,
      );
    }
  }
  return mergeOverrides(structured as SpecOverrides, flat as SpecOverrides);
}

/** The resolved, validated spec of the stack; a bad value throws {@link StackConfigError} naming `feedkit:<field>`. */
export function specFromStackConfig(source: StackConfigSource): FeedkitSpec {
  const overrides = overridesFromStackConfig(source);
  try {
    return resolveSpec(overrides);
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    const problem = e.message.replace(/^spec field "[^"]*": /, '').replace(/\. Fix: [\s\S]*$/, '');
    throw new StackConfigError(configKey(e.field), problem, `${e.fix} (pulumi config set --path ${configKey(e.field)} <value>)`);
  }
}

/** Credentials the user set in config; unset ones are generated by the program. */
export interface ConfiguredCredentials {
  readonly rabbitmqUsername: string;
  readonly secrets: Partial<Record<SecretConfigKey, string>>;
}

/**
 * Validated credentials from the stack config. Refuses a secret stored in plain text (it would sit
 * in `Pulumi.<stack>.yaml`) and values the charts' own checks refuse (`validateSecrets`: a cookie
 * shorter than {@link MIN_COOKIE_LENGTH}, short passwords, characters the RabbitMQ config formats
 * cannot carry), naming the config key. Values are never echoed in errors.
 */
export function credentialsFromStackConfig(source: StackConfigSource, spec: FeedkitSpec): ConfiguredCredentials {
  const rabbitmqUsername = source.values[configKey(StackConfigKey.RABBITMQ_USERNAME)] ?? DEFAULT_RABBITMQ_USERNAME;
  const secrets: Partial<Record<SecretConfigKey, string>> = {};
  for (const name of SECRET_CONFIG_KEYS) {
    const fullKey = configKey(name);
    const value = source.values[fullKey];
    if (value === undefined) continue;
    if (!source.secretKeys.has(fullKey)) {
      throw new StackConfigError(
        fullKey,
        'is stored in plain text in the stack config file',
        `run "pulumi config rm ${fullKey}" and set it again with "pulumi config set --secret ${fullKey} <value>", then rotate the value (it was exposed)`,
      );
    }
    if (!/^[\x21-\x7e]+$/.test(value)) {
      throw new StackConfigError(fullKey, 'contains whitespace or non-ASCII characters', 'use printable ASCII, e.g. from "openssl rand -hex 32"');
    }
    secrets[name] = value;
  }
  // Unset values will be generated (32+ URL-safe characters), so a valid stand-in checks the rest.
  const standIn = 'a'.repeat(64);
  try {
    validateSecrets(spec, {
      erlangCookie: secrets.erlangCookie ?? standIn,
      rabbitmqUsername,
      rabbitmqPassword: secrets.rabbitmqPassword ?? standIn,
      postgresPassword: secrets.postgresPassword ?? standIn,
      jwtSecret: secrets.jwtSecret ?? standIn,
    });
  } catch (e) {
    if (!(e instanceof SecretError)) throw e;
    // The charts name the field, then the synth environment variable in parentheses.
    const field = e.field.split(' ')[0]!;
    const problem = e.message.replace(/^secret "[^"]*": /, '').replace(/\. Fix: [\s\S]*$/, '');
    const key = configKey(field);
    const fix =
      field === StackConfigKey.RABBITMQ_USERNAME
        ? `${e.fix}; set it with "pulumi config set ${key} <name>"`
        : `${e.fix}; set it with "pulumi config set --secret ${key} <value>", or unset it to have one generated`;
    throw new StackConfigError(key, problem, fix);
  }
  return { rabbitmqUsername, secrets };
}

function parseObject(fullKey: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new StackConfigError(fullKey, 'is not a structured object', `set its fields with "pulumi config set --path ${fullKey}.<field> <value>" or write a YAML mapping under ${fullKey} in Pulumi.<stack>.yaml`);
  }
}

/** Turns string leaves into the number/boolean the spec expects (`--path` may store "5"); leaves the rest to the spec's checks. */
function coerce(value: unknown, reference: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && reference !== null && typeof reference === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = coerce(v, (reference as Record<string, unknown>)[k]);
    return out;
  }
  return typeof value === 'string' ? coerceScalar(value, reference) : value;
}

function coerceScalar(raw: string, reference: unknown): unknown {
  if (typeof reference === 'number' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  if (typeof reference === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
}
