/**
 * The feed app's tunable settings as environment variables, each defined once: a spec field (its
 * schema and default come from {@link FeedkitSpecSchema}, and {@link appEnvironment} derives the
 * variable from a spec), or a setting of the app alone (defined here, with the same field builders).
 *
 * Wiring that has no default (AMQP URLs, the database URL, credentials, the replica id) is read by
 * the app's `config.ts`; deployers (charts, the twin, tests) add it next to {@link appEnvironment}.
 */
import type { z } from 'zod';
import { AppEnv, Ports } from './constants.js';
import { fieldAt, fieldMeta, intField } from './schema-fields.js';
import { FeedkitSpecSchema, type FeedkitSpec } from './spec.js';

/** Missed heartbeats after which a replica counts as dead, unless REPLICA_STALE_MS says otherwise. */
export const REPLICA_STALE_HEARTBEATS = 5;

/** Default replica registry heartbeat period. */
export const DEFAULT_REPLICA_HEARTBEAT_MS = 2000;

/** Keep-alive period of every feed subscriber (WebSocket ping, SSE comment); SSE clients judge silence against it. */
export const DEFAULT_WS_PING_INTERVAL_MS = 30_000;

/** Default period of the delivery canary. */
export const DEFAULT_CANARY_INTERVAL_MS = 2000;

/** Default bound on a canary's confirm and delivery. */
export const DEFAULT_CANARY_TIMEOUT_MS = 5000;

/** One app setting: its schema, and where a spec sets it (when it is a spec field). */
export interface AppSetting {
  /** Validates the value (numbers already converted from the variable's text) and supplies the default. */
  readonly schema: z.ZodType;
  /** Dotted path of the spec field it derives from. @default none (a setting of the app alone) */
  readonly specPath?: string;
}

function fromSpec(specPath: string): AppSetting {
  const schema = fieldAt(FeedkitSpecSchema, specPath.split('.'));
  if (!schema) throw new Error(`app setting maps to "${specPath}", which is not a spec field`);
  return { schema, specPath };
}

/** Every tunable app setting by variable name. */
export const APP_SETTINGS = Object.freeze({
  // Derived from the spec's container port, but 0 is allowed here: tests take any free port.
  [AppEnv.PORT]: { schema: intField({ doc: 'HTTP listen port; 0 takes any free port.', default: Ports.APP_HTTP, min: 0, max: 65_535 }), specPath: 'app.port' },
  [AppEnv.QUEUE_MODE]: fromSpec('rabbitmq.queueMode'),
  [AppEnv.QUEUE_EXPIRES_MS]: fromSpec('rabbitmq.queueExpiresMs'),
  [AppEnv.PREFETCH]: fromSpec('app.prefetch'),
  [AppEnv.LOG_LEVEL]: fromSpec('app.logLevel'),
  [AppEnv.AMQP_HEARTBEAT_SECONDS]: fromSpec('haproxy.amqpHeartbeatSeconds'),
  [AppEnv.JWKS_URL]: fromSpec('app.jwksUrl'),
  [AppEnv.POSTS_PER_USER_PER_MINUTE]: fromSpec('app.limits.postsPerMinute'),
  [AppEnv.SUBSCRIPTIONS_PER_USER]: fromSpec('app.limits.subscriptionsPerUser'),
  [AppEnv.REPLAY_LIMIT]: { schema: intField({ doc: 'Most posts one `?since=` replay sends before closing with 4009 (replay truncated).', default: 1000, min: 1, max: 100_000 }) },
  [AppEnv.WS_PING_INTERVAL_MS]: { schema: intField({ doc: 'WebSocket ping interval; a socket that misses one pong is terminated.', default: DEFAULT_WS_PING_INTERVAL_MS, min: 100, max: 3600_000 }) },
  [AppEnv.WS_MAX_BUFFERED_BYTES]: {
    schema: intField({ doc: 'Send-buffer bound per socket; above it the socket is closed with 4008 (slow consumer).', default: 4 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 }),
  },
  [AppEnv.SHUTDOWN_TIMEOUT_MS]: { schema: intField({ doc: 'Longest graceful shutdown (drain sockets, flush the outbox relay) before forcing; keep it below the pod\'s termination grace period.', default: 20_000, min: 0, max: 3600_000 }) },
  [AppEnv.REPLICA_HEARTBEAT_MS]: {
    schema: intField({ doc: 'How often a replica writes its heartbeat to the replica registry and reaps dead replicas\' queues.', default: DEFAULT_REPLICA_HEARTBEAT_MS, min: 100, max: 3600_000 }),
  },
  [AppEnv.REPLICA_STALE_MS]: {
    schema: intField({
      doc: `Heartbeat age after which a replica counts as dead and its unused queue is deleted; unset: ${REPLICA_STALE_HEARTBEATS} heartbeats.`,
      default: REPLICA_STALE_HEARTBEATS * DEFAULT_REPLICA_HEARTBEAT_MS,
      min: 1,
      max: 24 * 3600_000,
    }),
  },
  [AppEnv.CANARY_INTERVAL_MS]: {
    schema: intField({
      doc: 'How often a replica sends a delivery canary through its own queue (one small message per interval); 0 turns the canary off.',
      default: DEFAULT_CANARY_INTERVAL_MS,
      min: 0,
      max: 600_000,
      fix: 'use a whole number of milliseconds from 0 (off) to 600000; a few seconds keeps detection fast at one message per interval',
    }),
  },
  [AppEnv.CANARY_TIMEOUT_MS]: {
    schema: intField({
      doc: 'How long a canary\'s publish confirm and its delivery back may take before the replica declares its AMQP path silent, reports not-ready and moves its connection to another node; also how long the outbox relay waits for a batch\'s confirms before it retries the batch on a fresh channel.',
      default: DEFAULT_CANARY_TIMEOUT_MS,
      min: 100,
      max: 600_000,
      fix: 'use a whole number of milliseconds from 100 to 600000, well above the normal round trip (milliseconds) and below the cluster\'s net_ticktime (rabbitmq.netTicktimeSeconds, 10 s by default)',
    }),
  },
} satisfies Record<string, AppSetting>);

export type AppSettingName = keyof typeof APP_SETTINGS;

/** The variables that wire a replica to its deployment: no default to derive, documented here once. */
export const APP_WIRING_DOCS: Readonly<Record<Exclude<(typeof AppEnv)[keyof typeof AppEnv], AppSettingName>, { readonly dflt: string; readonly doc: string }>> = Object.freeze({
  [AppEnv.REPLICA_ID]: { dflt: 'hostname', doc: 'this replica\'s id (the pod name); its queue is `post_feed.replica.<REPLICA_ID>`' },
  [AppEnv.AMQP_URLS]: {
    dflt: 'required',
    doc: 'comma-separated `amqp://[user[:pass]@]host:port[/vhost]`, tried in order, next one on failure; after a lost connection the next round starts at the URL after the lost one',
  },
  [AppEnv.AMQP_USERNAME]: { dflt: 'from the URLs', doc: 'overrides the user of every AMQP URL' },
  [AppEnv.AMQP_PASSWORD]: { dflt: 'from the URLs', doc: 'overrides the password of every AMQP URL' },
  [AppEnv.DATABASE_URL]: { dflt: 'required', doc: '`postgres://user@host:5432/db`, without password' },
  [AppEnv.PGPASSWORD]: { dflt: 'none', doc: 'the Postgres password' },
  [AppEnv.JWT_SECRET]: { dflt: '—', doc: 'HS256 secret, at least 32 characters; one of `JWT_SECRET` / `JWKS_URL` is required' },
});

/** The fix an error about `name` suggests. */
export function appSettingFix(name: AppSettingName): string {
  return fieldMeta(APP_SETTINGS[name].schema)?.fix ?? 'see the environment table in the README';
}

/**
 * The variables of every spec-derived app setting, from `spec`: what the charts put in the app's
 * ConfigMap and the twin and tests pass to their replicas. An empty JWKS URL is left out (the
 * HS256 secret is used instead).
 */
export function appEnvironment(spec: FeedkitSpec): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, setting] of Object.entries(APP_SETTINGS) as [string, AppSetting][]) {
    if (setting.specPath === undefined) continue;
    const value = valueAt(spec, setting.specPath);
    if (value !== '') env[name] = String(value);
  }
  return env;
}

function valueAt(spec: FeedkitSpec, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], spec);
}
