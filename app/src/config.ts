/**
 * The app's configuration, read only from environment variables (names in {@link AppEnv}) and
 * validated at start: a bad value stops the process with an error naming the variable and the fix.
 */
import { hostname } from 'node:os';
import { AppEnv, DEFAULT_SPEC, Ports, QueueMode } from '../../shared/index.js';

/** Levels pino accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Replica ids and user ids end up in queue names and routing keys: no AMQP wildcards, no spaces. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;

/** Default replica registry heartbeat period. */
export const DEFAULT_REPLICA_HEARTBEAT_MS = 2000;

/** Missed heartbeats after which a replica counts as dead, unless REPLICA_STALE_MS says otherwise. */
export const REPLICA_STALE_HEARTBEATS = 5;

/** Validated configuration of one feed app replica. */
export interface FeedAppConfig {
  /** HTTP port; 0 picks a free one (tests). @default 8080 */
  readonly port: number;
  /** Interface to listen on. @default '0.0.0.0' */
  readonly host: string;
  /** This replica's id (pod name); names its queue. @default the hostname */
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
  /** How the replica queue is made highly available. @default mirrored */
  readonly queueMode: QueueMode;
  /** `x-expires` of the replica queue. @default 600000 */
  readonly queueExpiresMs: number;
  /** Consumer prefetch. @default 200 */
  readonly prefetch: number;
  /** AMQP heartbeat in seconds when a URL sets none. @default 30 */
  readonly amqpHeartbeatSeconds: number;
  /** pino level. @default 'info' */
  readonly logLevel: LogLevel;
  /** Most posts one `?since=` replay sends. @default 1000 */
  readonly replayLimit: number;
  /** WebSocket ping interval. @default 30000 */
  readonly wsPingIntervalMs: number;
  /** Send buffer bound per socket before it is closed as a slow consumer. @default 4 MiB */
  readonly wsMaxBufferedBytes: number;
  /** Longest graceful shutdown. @default 20000 */
  readonly shutdownTimeoutMs: number;
  /** Replica registry heartbeat and reap period. @default 2000 */
  readonly replicaHeartbeatMs: number;
  /** Heartbeat age after which a replica is dead and its unused queue is deleted. @default 5 × replicaHeartbeatMs */
  readonly replicaStaleMs: number;
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

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `"${raw}" is not an integer in [${min}, ${max}]`, `set ${name} to a whole number between ${min} and ${max}, or unset it for ${dflt}`);
  }
  return Number(raw);
}

function amqpUrls(env: Env): string[] {
  const raw = str(env, AppEnv.AMQP_URLS);
  if (raw === undefined) {
    throw new ConfigError(AppEnv.AMQP_URLS, 'is not set', 'give one or more comma-separated amqp:// URLs, e.g. amqp://feed@haproxy-0:5672,amqp://feed@haproxy-1:5672');
  }
  const user = str(env, AppEnv.AMQP_USERNAME);
  const pass = str(env, AppEnv.AMQP_PASSWORD);
  const heartbeat = int(env, AppEnv.AMQP_HEARTBEAT_SECONDS, DEFAULT_SPEC.haproxy.amqpHeartbeatSeconds, 1, 3600);
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
  const jwksUrl = str(env, AppEnv.JWKS_URL);
  if (jwtSecret === undefined && jwksUrl === undefined) {
    throw new ConfigError(AppEnv.JWT_SECRET, `neither ${AppEnv.JWT_SECRET} nor ${AppEnv.JWKS_URL} is set`, 'set the HS256 secret (32+ characters) or a JWKS URL');
  }
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError(AppEnv.JWT_SECRET, `is ${jwtSecret.length} characters long`, 'use a random secret of at least 32 characters');
  }
  if (jwksUrl !== undefined && !/^https?:\/\/\S+$/.test(jwksUrl)) {
    throw new ConfigError(AppEnv.JWKS_URL, `"${jwksUrl}" is not an http(s) URL`, 'give the JWKS endpoint URL');
  }
  const queueMode = (str(env, AppEnv.QUEUE_MODE) ?? DEFAULT_SPEC.rabbitmq.queueMode) as QueueMode;
  if (!Object.values(QueueMode).includes(queueMode)) {
    throw new ConfigError(AppEnv.QUEUE_MODE, `"${queueMode}" is not a queue mode`, `use one of ${Object.values(QueueMode).join(', ')}`);
  }
  const logLevel = (str(env, AppEnv.LOG_LEVEL) ?? DEFAULT_SPEC.app.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(AppEnv.LOG_LEVEL, `"${logLevel}" is not a level`, `use one of ${LOG_LEVELS.join(', ')}`);
  }
  const password = env[AppEnv.PGPASSWORD];
  const replicaHeartbeatMs = int(env, AppEnv.REPLICA_HEARTBEAT_MS, DEFAULT_REPLICA_HEARTBEAT_MS, 100, 3600_000);
  const replicaStaleMs = int(env, AppEnv.REPLICA_STALE_MS, REPLICA_STALE_HEARTBEATS * replicaHeartbeatMs, 1, 24 * 3600_000);
  if (replicaStaleMs < 2 * replicaHeartbeatMs) {
    throw new ConfigError(
      AppEnv.REPLICA_STALE_MS,
      `${replicaStaleMs} ms is less than two heartbeats (${AppEnv.REPLICA_HEARTBEAT_MS}=${replicaHeartbeatMs})`,
      `set it to at least ${2 * replicaHeartbeatMs} (a live replica whose heartbeat is late must not look dead), or unset it for ${REPLICA_STALE_HEARTBEATS} heartbeats`,
    );
  }
  return {
    port: int(env, AppEnv.PORT, Ports.APP_HTTP, 0, 65535),
    host: '0.0.0.0',
    replicaId,
    amqpUrls: amqpUrls(env),
    databaseUrl,
    ...(password !== undefined && password !== '' ? { databasePassword: password } : {}),
    ...(jwtSecret !== undefined ? { jwtSecret } : {}),
    ...(jwksUrl !== undefined ? { jwksUrl } : {}),
    queueMode,
    queueExpiresMs: int(env, AppEnv.QUEUE_EXPIRES_MS, DEFAULT_SPEC.rabbitmq.queueExpiresMs, 1000, 7 * 24 * 3600_000),
    prefetch: int(env, AppEnv.PREFETCH, DEFAULT_SPEC.app.prefetch, 1, 65535),
    amqpHeartbeatSeconds: int(env, AppEnv.AMQP_HEARTBEAT_SECONDS, DEFAULT_SPEC.haproxy.amqpHeartbeatSeconds, 1, 3600),
    logLevel,
    replayLimit: int(env, AppEnv.REPLAY_LIMIT, 1000, 1, 100_000),
    wsPingIntervalMs: int(env, AppEnv.WS_PING_INTERVAL_MS, 30_000, 100, 3600_000),
    wsMaxBufferedBytes: int(env, AppEnv.WS_MAX_BUFFERED_BYTES, 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    shutdownTimeoutMs: int(env, AppEnv.SHUTDOWN_TIMEOUT_MS, 20_000, 0, 3600_000),
    replicaHeartbeatMs,
    replicaStaleMs,
  };
}
