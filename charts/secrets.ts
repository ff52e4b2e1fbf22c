/**
 * Secrets are never literals: the charts reference them by name, `npm run synth` prints how to
 * create them, and only an explicit option writes them (from the environment) to a separate file.
 * The same {@link secretManifests} builds the Pulumi program's Secrets from its secret config.
 */
import { MIN_COOKIE_LENGTH, SecretKeys, objectNames, type FeedkitSpec } from '../shared/index.js';
import { checkCredentials } from '../rabbitmq-cluster/index.js';
import { stackLabels } from './common/labels.js';

/** The stack's secret values; `T` is `string`, or e.g. a Pulumi `Output<string>`. */
export interface StackSecrets<T = string> {
  /** Shared erlang cookie of the RabbitMQ nodes; at least {@link MIN_COOKIE_LENGTH} characters. */
  readonly erlangCookie: T;
  /** RabbitMQ default user the app connects as. */
  readonly rabbitmqUsername: T;
  readonly rabbitmqPassword: T;
  /** Password of the Postgres user (in-cluster or external). */
  readonly postgresPassword: T;
  /** HS256 secret the app verifies tokens with; unused (no Secret) when `spec.app.jwksUrl` is set. */
  readonly jwtSecret: T;
}

/** A v1 Secret with `stringData` values of type `T` (a type alias, so it is assignable to KubeObject). */
export type SecretManifest<T = string> = {
  readonly apiVersion: 'v1';
  readonly kind: 'Secret';
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Record<string, string> };
  readonly type: 'Opaque';
  readonly stringData: Record<string, T>;
};

/** Username of the RabbitMQ default user when none is given. */
export const DEFAULT_RABBITMQ_USERNAME = 'feedkit';

/** Minimum length of a generated-style password or JWT secret feedkit accepts. */
export const MIN_SECRET_LENGTH = 16;

/** Environment variables `npm run synth -- --write-secrets` reads (the username is optional). */
export const SecretEnv = Object.freeze({
  ERLANG_COOKIE: 'FEEDKIT_ERLANG_COOKIE',
  RABBITMQ_PASSWORD: 'FEEDKIT_RABBITMQ_PASSWORD',
  POSTGRES_PASSWORD: 'FEEDKIT_POSTGRES_PASSWORD',
  JWT_SECRET: 'FEEDKIT_JWT_SECRET',
} as const);

/** A secret value is missing or unusable; names the field (and its variable) and the fix. */
export class SecretError extends Error {
  constructor(
    readonly field: string,
    problem: string,
    readonly fix: string,
  ) {
    super(`secret "${field}": ${problem}. Fix: ${fix}`);
    this.name = 'SecretError';
  }
}

/** The Secrets the charts reference, with the given values. Names from objectNames(), keys from SecretKeys. */
export function secretManifests<T>(spec: FeedkitSpec, secrets: StackSecrets<T>): Array<SecretManifest<T>> {
  const names = objectNames(spec.name);
  const secret = (name: string, stringData: Record<string, T>): SecretManifest<T> => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: spec.namespace, labels: stackLabels(spec) },
    type: 'Opaque',
    stringData,
  });
  return [
    secret(names.erlangCookieSecret, { [SecretKeys.ERLANG_COOKIE]: secrets.erlangCookie }),
    secret(names.rabbitmqUserSecret, { [SecretKeys.USERNAME]: secrets.rabbitmqUsername, [SecretKeys.PASSWORD]: secrets.rabbitmqPassword }),
    secret(names.postgresSecret, { [SecretKeys.PASSWORD]: secrets.postgresPassword }),
    ...(spec.app.jwksUrl === '' ? [secret(names.appSecret, { [SecretKeys.JWT_SECRET]: secrets.jwtSecret })] : []),
  ];
}

/** Refuses an erlang cookie shorter than {@link MIN_COOKIE_LENGTH} or with characters Erlang cannot read. */
export function validateCookie(cookie: string): void {
  if (cookie.length < MIN_COOKIE_LENGTH) {
    throw new SecretError(
      `erlangCookie (${SecretEnv.ERLANG_COOKIE})`,
      `is ${cookie.length} characters long, shorter than ${MIN_COOKIE_LENGTH}`,
      `use at least ${MIN_COOKIE_LENGTH} random characters, e.g. "openssl rand -hex 32"`,
    );
  }
  if (!/^[A-Za-z0-9_.@+-]+$/.test(cookie)) {
    throw new SecretError(`erlangCookie (${SecretEnv.ERLANG_COOKIE})`, 'contains whitespace or punctuation', 'use letters and digits, e.g. "openssl rand -hex 32"');
  }
}

/** Validates every value; errors name the field and its variable, never the value. */
export function validateSecrets(spec: FeedkitSpec, secrets: StackSecrets<string>): void {
  validateCookie(secrets.erlangCookie);
  try {
    checkCredentials(secrets.rabbitmqUsername, secrets.rabbitmqPassword);
  } catch (e) {
    const field = (e as { field?: string }).field === 'username' ? 'rabbitmqUsername' : `rabbitmqPassword (${SecretEnv.RABBITMQ_PASSWORD})`;
    throw new SecretError(field, (e as Error).message, 'use e.g. "openssl rand -hex 24"');
  }
  if (secrets.postgresPassword.length < MIN_SECRET_LENGTH) {
    throw new SecretError(`postgresPassword (${SecretEnv.POSTGRES_PASSWORD})`, `is shorter than ${MIN_SECRET_LENGTH} characters`, 'use e.g. "openssl rand -hex 24"');
  }
  if (spec.app.jwksUrl === '' && secrets.jwtSecret.length < 32) {
    throw new SecretError(`jwtSecret (${SecretEnv.JWT_SECRET})`, 'is shorter than 32 characters (HS256 wants at least 256 bits)', 'use e.g. "openssl rand -hex 32"');
  }
}

/** Reads the secret values from `env`; names every missing variable. Does not validate them. */
export function secretsFromEnv(spec: FeedkitSpec, env: Readonly<Record<string, string | undefined>>): StackSecrets<string> {
  const needed: string[] = [SecretEnv.ERLANG_COOKIE, SecretEnv.RABBITMQ_PASSWORD, SecretEnv.POSTGRES_PASSWORD];
  if (spec.app.jwksUrl === '') needed.push(SecretEnv.JWT_SECRET);
  const missing = needed.filter((n) => (env[n] ?? '') === '');
  if (missing.length > 0) {
    throw new SecretError(missing.join(', '), `${missing.length === 1 ? 'is' : 'are'} not set`, `export ${missing.map((m) => `${m}="$(openssl rand -hex 32)"`).join(' ')}`);
  }
  return {
    erlangCookie: env[SecretEnv.ERLANG_COOKIE]!,
    rabbitmqUsername: DEFAULT_RABBITMQ_USERNAME,
    rabbitmqPassword: env[SecretEnv.RABBITMQ_PASSWORD]!,
    postgresPassword: env[SecretEnv.POSTGRES_PASSWORD]!,
    jwtSecret: env[SecretEnv.JWT_SECRET] ?? '',
  };
}

/** The kubectl commands that create the Secrets the charts reference (values generated by openssl). */
export function secretInstructions(spec: FeedkitSpec): string {
  const names = objectNames(spec.name);
  const ns = spec.namespace;
  const create = (name: string, ...pairs: string[]) =>
    `  kubectl -n ${ns} create secret generic ${name} ${pairs.map((p) => `--from-literal=${p}`).join(' ')}`;
  const lines = [
    `The charts reference these Secrets by name; none is written to the chart files. Create them once in namespace "${ns}"`,
    `(after applying the namespace chart), e.g.:`,
    create(names.erlangCookieSecret, `${SecretKeys.ERLANG_COOKIE}="$(openssl rand -hex 32)"`),
    create(names.rabbitmqUserSecret, `${SecretKeys.USERNAME}=${DEFAULT_RABBITMQ_USERNAME}`, `${SecretKeys.PASSWORD}="$(openssl rand -hex 24)"`),
    create(names.postgresSecret, `${SecretKeys.PASSWORD}="$(openssl rand -hex 24)"`),
    ...(spec.app.jwksUrl === '' ? [create(names.appSecret, `${SecretKeys.JWT_SECRET}="$(openssl rand -hex 32)"`)] : []),
    `The erlang cookie must be at least ${MIN_COOKIE_LENGTH} characters; all RabbitMQ nodes mount the same Secret.`,
    `Or write them to dist/secrets.k8s.yaml (mode 600, never commit it): export ${Object.values(SecretEnv).join(', ')}`,
    'and run "npm run synth -- --write-secrets".',
  ];
  return `${lines.join('\n')}\n`;
}
