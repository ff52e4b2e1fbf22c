/**
 * The app's configuration, read only from environment variables (names in {@link AppEnv}) and
 * validated at start: a bad value stops the process with an error naming the variable and the fix.
 */
import { hostname } from 'node:os';
import { APP_SETTINGS, REPLICA_STALE_HEARTBEATS, appSettingFix, type AppSettingName } from '../../shared/app-settings.js';
import { AppEnv, QueueMode, type LogLevel } from '../../shared/constants.js';

/** Replica ids and user ids end up in queue names and routing keys: no AMQP wildcards, no spaces. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;

/** Validated configuration of one feed app replica. Defaults and ranges of the tunables: `APP_SETTINGS` (shared/app-settings.ts). */
export interface FeedAppConfig {
  /** HTTP port; 0 picks a free one (tests). */
  readonly port: number;
  /** Interface to listen on. */
  readonly host: string;
  /** This replica's id (pod name); names its queue. */
  readonly replicaId: string;
  /** AMQP URLs tried in order, credentials already applied. */
  readonly amqpUrls: readonly string[];
  /** Postgres connection string (password applied separately). */
  readonly databaseUrl: string;
  /** Postgres password (PGPASSWORD), when set. */
  readonly databasePassword?: string;
  /** HS256 secret, when tokens are verified with a shared secret. */
  readonly jwtSecret?: string;
  /** JWKS endpoint, when tokens are verified with public keys. */
  readonly jwksUrl?: string;
  /** How the replica queue is made highly available. */
  readonly queueMode: QueueMode;
  /** `x-expires` of the replica queue. */
  readonly queueExpiresMs: number;
  /** Consumer prefetch. */
  readonly prefetch: number;
  /** AMQP heartbeat in seconds when a URL sets none. */
  readonly amqpHeartbeatSeconds: number;
  /** pino level. */
  readonly logLevel: LogLevel;
  /** Most posts one `?since=` replay sends. */
  readonly replayLimit: number;
  /** WebSocket ping interval. */
  readonly wsPingIntervalMs: number;
  /** Send buffer bound per socket before it is closed as a slow consumer. */
  readonly wsMaxBufferedBytes: number;
  /** Longest graceful shutdown. */
  readonly shutdownTimeoutMs: number;
  /** Replica registry heartbeat and reap period. */
  readonly replicaHeartbeatMs: number;
  /** Heartbeat age after which a replica is dead and its unused queue is deleted. */
  readonly replicaStaleMs: number;
  /** Delivery canary period; 0 turns it off. */
  readonly canaryIntervalMs: number;
  /** Bound on a canary's confirm and delivery, on the outbox relay's confirms, and on the AMQP connect and setup waits. */
  readonly canaryTimeoutMs: number;
  /** Posts one user may create in any 60 s, across replicas. */
  readonly postsPerUserPerMinute: number;
  /** Sockets + event streams + subscriptions one user may hold on this replica. */
  readonly subscriptionsPerUser: number;
}

/** A configuration variable is missing or wrong; the message names it and the fix. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
    fix: string,
  ) {
    super(`${variable}: ${problem}; ${fix}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** The value of a tunable setting: its default when unset, else the variable's text checked by the setting's schema. */
function setting<N extends AppSettingName>(env: Env, name: N): number | string {
  const schema = APP_SETTINGS[name].schema;
  const raw = str(env, name);
  const numeric = typeof schema.parse(undefined) === 'number';
  if (raw !== undefined && numeric && !/^\d+$/.test(raw)) {
    throw new ConfigError(name, `"${raw}" is not a whole number`, `${appSettingFix(name)}, or unset ${name} for the default`);
  }
  const result = schema.safeParse(raw === undefined ? undefined : numeric ? Number(raw) : raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const fix = (issue as { params?: { fix?: string } }).params?.fix ?? appSettingFix(name);
    throw new ConfigError(name, issue.message, `${fix}, or unset ${name} for the default`);
  }
  return result.data as number | string;
}

const int = (env: Env, name: AppSettingName): number => setting(env, name) as number;

function amqpUrls(env: Env): string[] {
  const raw = str(env, AppEnv.AMQP_URLS);
  if (raw === undefined) {
    throw new ConfigError(AppEnv.AMQP_URLS, 'is not set', 'give one or more comma-separated amqp:// URLs, e.g. amqp://feed@haproxy-0:5672,amqp://feed@haproxy-1:5672');
  }
  const user = str(env, AppEnv.AMQP_USERNAME);
  const pass = str(env, AppEnv.AMQP_PASSWORD);
  const heartbeat = int(env, AppEnv.AMQP_HEARTBEAT_SECONDS);
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      let url: URL;
      try {
        url = new URL(s);
      } catch {
        throw new ConfigError(AppEnv.AMQP_URLS, `"${s}" is not a URL`, 'use amqp://[user@]host:port[/vhost]');
      }
      if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
        throw new ConfigError(AppEnv.AMQP_URLS, `"${url.protocol}" is not an AMQP scheme`, 'use amqp:// or amqps:// URLs');
      }
      if (user !== undefined) url.username = encodeURIComponent(user);
      if (pass !== undefined) url.password = encodeURIComponent(pass);
      if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(heartbeat));
      return url.toString();
    });
}

/** Reads and validates the configuration from `env` (default `process.env`). Throws {@link ConfigError}. */
export function configFromEnv(env: Env = process.env): FeedAppConfig {
  const replicaId = str(env, AppEnv.REPLICA_ID) ?? hostname();
  if (!ID_PATTERN.test(replicaId)) {
    throw new ConfigError(AppEnv.REPLICA_ID, `"${replicaId}" cannot be part of a queue name`, 'use letters, digits and _ . @ : - (the pod name)');
  }
  const databaseUrl = str(env, AppEnv.DATABASE_URL);
  if (databaseUrl === undefined) {
    throw new ConfigError(AppEnv.DATABASE_URL, 'is not set', 'give postgres://user@host:5432/db (the password goes in PGPASSWORD)');
  }
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(AppEnv.DATABASE_URL, `"${databaseUrl}" is not a postgres:// URL`, 'give postgres://user@host:5432/db');
  }
  const jwtSecret = str(env, AppEnv.JWT_SECRET);
  const jwksUrl = (setting(env, AppEnv.JWKS_URL) as string) || undefined;
  if (jwtSecret === undefined && jwksUrl === undefined) {
    throw new ConfigError(AppEnv.JWT_SECRET, `neither ${AppEnv.JWT_SECRET} nor ${AppEnv.JWKS_URL} is set`, 'set the HS256 secret (32+ characters) or a JWKS URL');
  }
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError(AppEnv.JWT_SECRET, `is ${jwtSecret.length} characters long`, 'use a random secret of at least 32 characters');
  }
  const queueMode = setting(env, AppEnv.QUEUE_MODE) as QueueMode;
  const logLevel = setting(env, AppEnv.LOG_LEVEL) as LogLevel;
  const password = env[AppEnv.PGPASSWORD];
  const replicaHeartbeatMs = int(env, AppEnv.REPLICA_HEARTBEAT_MS);
  // Unset, the stale threshold follows the heartbeat period.
  const replicaStaleMs = str(env, AppEnv.REPLICA_STALE_MS) === undefined ? REPLICA_STALE_HEARTBEATS * replicaHeartbeatMs : int(env, AppEnv.REPLICA_STALE_MS);
  if (replicaStaleMs < 2 * replicaHeartbeatMs) {
    throw new ConfigError(
      AppEnv.REPLICA_STALE_MS,
      `${replicaStaleMs} ms is less than two heartbeats (${AppEnv.REPLICA_HEARTBEAT_MS}=${replicaHeartbeatMs})`,
      `set it to at least ${2 * replicaHeartbeatMs} (a live replica whose heartbeat is late must not look dead), or unset it for ${REPLICA_STALE_HEARTBEATS} heartbeats`,
    );
  }
  return {
    port: int(env, AppEnv.PORT),
    host: '0.0.0.0',
    replicaId,
    amqpUrls: amqpUrls(env),
    databaseUrl,
    ...(password !== undefined && password !== '' ? { databasePassword: password } : {}),
    ...(jwtSecret !== undefined ? { jwtSecret } : {}),
    ...(jwksUrl !== undefined ? { jwksUrl } : {}),
    queueMode,
    queueExpiresMs: int(env, AppEnv.QUEUE_EXPIRES_MS),
    prefetch: int(env, AppEnv.PREFETCH),
    amqpHeartbeatSeconds: int(env, AppEnv.AMQP_HEARTBEAT_SECONDS),
    logLevel,
    replayLimit: int(env, AppEnv.REPLAY_LIMIT),
    wsPingIntervalMs: int(env, AppEnv.WS_PING_INTERVAL_MS),
    wsMaxBufferedBytes: int(env, AppEnv.WS_MAX_BUFFERED_BYTES),
    shutdownTimeoutMs: int(env, AppEnv.SHUTDOWN_TIMEOUT_MS),
    replicaHeartbeatMs,
    replicaStaleMs,
    canaryIntervalMs: int(env, AppEnv.CANARY_INTERVAL_MS),
    canaryTimeoutMs: int(env, AppEnv.CANARY_TIMEOUT_MS),
    postsPerUserPerMinute: int(env, AppEnv.POSTS_PER_USER_PER_MINUTE),
    subscriptionsPerUser: int(env, AppEnv.SUBSCRIPTIONS_PER_USER),
  };
}
