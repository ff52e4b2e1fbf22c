/**
 * The single source of truth for every name, port and rule that more than one part of feedkit
 * depends on. The app, the renderers, the charts, the Pulumi program and the chaos checker all
 * import from here; nothing else spells these values.
 */

/** The topic exchange every post is published to. */
export const EXCHANGE = 'post_feed';

/** AMQP exchange type of {@link EXCHANGE}. */
export const EXCHANGE_TYPE = 'topic';

/** Every app replica's queue name starts with this; the policy pattern below must match it. */
export const REPLICA_QUEUE_PREFIX = `${EXCHANGE}.replica.`;

/** Name of the per-replica queue owned by the app replica `replicaId` (its pod name). */
export function replicaQueueName(replicaId: string): string {
  return `${REPLICA_QUEUE_PREFIX}${replicaId}`;
}

/** Prefix of every per-user routing key. */
export const USER_ROUTING_KEY_PREFIX = 'user.';

/** Routing key that delivers to the sockets of user `userId`: `user.{userId}`. */
export function userRoutingKey(userId: string): string {
  return `${USER_ROUTING_KEY_PREFIX}${userId}`;
}

/** Inverse of {@link userRoutingKey}; `undefined` when the key is not a user key. */
export function userIdFromRoutingKey(routingKey: string): string | undefined {
  return routingKey.startsWith(USER_ROUTING_KEY_PREFIX) && routingKey.length > USER_ROUTING_KEY_PREFIX.length
    ? routingKey.slice(USER_ROUTING_KEY_PREFIX.length)
    : undefined;
}

/**
 * The one binding of every replica queue: all users' routing keys (`#`, since a user id may hold
 * dots). Each replica gets every chunk and delivers to the recipients it holds, so opening or
 * closing a socket touches no broker state (see app/README.md, Fan-out).
 */
export const ALL_USERS_BINDING_KEY = `${USER_ROUTING_KEY_PREFIX}#`;

/** Prefix of the delivery canary's routing keys; no user binding (`user.#`) matches it. */
export const CANARY_ROUTING_KEY_PREFIX = 'canary.';

/**
 * Routing key of replica `replicaId`'s delivery canary: its queue alone is bound to it, so a canary
 * published to the exchange comes back to that replica only (see app/README.md, Delivery canary).
 */
export function canaryRoutingKey(replicaId: string): string {
  return `${CANARY_ROUTING_KEY_PREFIX}${replicaId}`;
}

/**
 * In mirrored mode, a quorum queue every replica's canary is also routed to, so a canary's publish
 * confirm needs a majority of the nodes. A node cut off in a minority that keeps serving (autoheal:
 * its mirrored queues promote their own masters there) confirms publishes that the heal then
 * discards; through the witness the canary of a replica on such a node goes silent and the replica
 * moves off before its relay publishes there. One shared queue: a hung node holding its leader
 * silences every replica until a new leader is elected, which a hung mirror does to every mirrored
 * queue anyway. Outside `^post_feed`, so no `ha-mode` policy applies to it.
 */
export const CANARY_WITNESS_QUEUE = 'feedkit.canary.witness';

/** The witness's binding: every replica's canary key. */
export const CANARY_WITNESS_BINDING_KEY = `${CANARY_ROUTING_KEY_PREFIX}#`;

/** Arguments of {@link CANARY_WITNESS_QUEUE}: quorum, and never more than the newest canary kept (no consumer reads it). */
export function canaryWitnessArguments(): Record<string, unknown> {
  return { 'x-queue-type': 'quorum', 'x-max-length': 1 };
}

/** RabbitMQ's direct reply-to pseudo-queue; the broker rewrites it into an address that encodes the channel's node. */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/**
 * Routing key of the node probe: published mandatory to the default exchange, it matches no queue,
 * so the broker returns it at once from the node the connection is on (no queue, no metadata write).
 */
export const NODE_PROBE_ROUTING_KEY = 'feedkit.node-probe';

/** How a replica's queue is bound, as recorded in the replica registry (`replicas.routing`). */
export enum ReplicaRouting {
  /** One binding, {@link ALL_USERS_BINDING_KEY}: chunks need only one routing key. */
  BROADCAST = 'broadcast',
  // A row without a value is a replica of the previous release, bound per user: while one is live,
  // chunks carry every recipient's key in the CC header so its queue still gets them.
}

/** The policy that mirrors the replica queues in mirrored mode. */
export const POLICY_NAME = 'ha-feed';

/** Pattern of {@link POLICY_NAME}: anchored on the exchange name, so it matches every replica queue. */
export const POLICY_PATTERN = `^${EXCHANGE}`;

/** Classic mirrored queue definition, as the design card asks (RabbitMQ <= 3.13 only). */
export const MIRRORED_POLICY_DEFINITION = Object.freeze({
  'ha-mode': 'all',
  'ha-sync-mode': 'automatic',
} as const);

/** How the per-replica queues survive a broker node's death. */
export enum QueueMode {
  /** Classic queues mirrored on every node by the `ha-mode=all` policy. Removed in RabbitMQ 4.0. */
  MIRRORED = 'mirrored',
  /** Raft-replicated quorum queues, declared with `x-queue-type: quorum`. Works on 3.8+ and 4.x. */
  QUORUM = 'quorum',
}

/** What a RabbitMQ node does when it finds the cluster was split (`cluster_partition_handling`). */
export enum PartitionHandling {
  /** A node that sees no majority pauses (closes its listeners) until it does; does not see a suspend/resume. */
  PAUSE_MINORITY = 'pause_minority',
  /** When the split ends, the side with fewer clients (then fewer nodes) restarts and takes the winner's state. */
  AUTOHEAL = 'autoheal',
}

/** Queue arguments the app must declare its replica queue with in each mode. */
export function replicaQueueArguments(mode: QueueMode, expiresMs: number): Record<string, unknown> {
  const args: Record<string, unknown> = { 'x-expires': expiresMs };
  if (mode === QueueMode.QUORUM) args['x-queue-type'] = 'quorum';
  return args;
}

/** Pod Security Standards levels (`pod-security.kubernetes.io/enforce`). */
export enum PodSecurityLevel {
  RESTRICTED = 'restricted',
  BASELINE = 'baseline',
  PRIVILEGED = 'privileged',
}
export const POD_SECURITY_LEVELS = [PodSecurityLevel.RESTRICTED, PodSecurityLevel.BASELINE, PodSecurityLevel.PRIVILEGED] as const;

/** How the feed is reached from outside the cluster. */
export enum ExposureKind {
  NONE = 'none',
  INGRESS = 'ingress',
  GATEWAY = 'gateway',
  LOAD_BALANCER = 'loadBalancer',
}

/** The first RabbitMQ version (major, minor) whose Kubernetes peer discovery seeds from the `-0` pod and needs no API access. */
export const FIRST_VERSION_WITH_SEED_NODE_DISCOVERY = Object.freeze({ major: 4, minor: 1 } as const);

/**
 * What the RabbitMQ liveness check GETs on the Prometheus port: without a `family` query the
 * detailed endpoint answers 200 with a few hundred bytes in ~10 ms (`/metrics` renders ~80 KB), and
 * needs no credentials. A SIGSTOPped node accepts the TCP connection (the kernel does) but never
 * answers: only an application-level check sees a hung node.
 */
export const RABBITMQ_LIVENESS_PATH = '/metrics/detailed';

/** The first RabbitMQ major version that rejects `ha-mode` policies. */
export const FIRST_VERSION_WITHOUT_MIRRORING = 4;

/** Well-known ports. */
export const Ports = Object.freeze({
  AMQP: 5672,
  RABBITMQ_DIST: 25672,
  EPMD: 4369,
  RABBITMQ_MANAGEMENT: 15672,
  RABBITMQ_PROMETHEUS: 15692,
  HAPROXY_AMQP: 5672,
  HAPROXY_STATS: 8404,
  APP_HTTP: 8080,
  POSTGRES: 5432,
} as const);

/** The 8-byte AMQP 0-9-1 protocol header; a 6-byte `AMQP\r\n` probe hangs until the handshake timeout. */
export const AMQP_PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01]);

/** HTTP routes of the feed app (wire contract). */
export const Routes = Object.freeze({
  FEED_SOCKET: '/post/feed/posted',
  /** The same feed as Server-Sent Events (`text/event-stream`). */
  FEED_EVENTS: '/post/feed/events',
  /** GraphQL over HTTP (queries, mutations) and over WebSocket (graphql-ws, subscriptions). */
  GRAPHQL: '/graphql',
  POST_CREATE: '/post/create',
  POST_GET: '/post/get/',
  FEED: '/post/feed',
  FRIEND_SET: '/friend/set/',
  FRIEND_DELETE: '/friend/delete/',
  HEALTH: '/healthz',
  READY: '/readyz',
  METRICS: '/metrics',
} as const);

/** WebSocket close codes the app uses; clients reconnect on all of them. */
export const CloseCodes = Object.freeze({
  /** The client sent data on a server-to-client stream (anything but pong and close): fix the client. */
  POLICY_VIOLATION: 1008,
  /** Server going away for a restart: reconnect (to another replica) with `since`. */
  SERVICE_RESTART: 1012,
  /** The token's `exp` passed while connected: reconnect with a fresh token. */
  TOKEN_EXPIRED: 4001,
  /** The client read too slowly and its send buffer passed the bound: reconnect with `since`. */
  SLOW_CONSUMER: 4008,
  /** The `since` gap was larger than the replay bound: fetch older posts over HTTP. */
  REPLAY_TRUNCATED: 4009,
  /**
   * graphql-ws only: the user already holds the most graphql-ws connections allowed on this replica
   * (the token came in `connectionParams`, so the upgrade could not be refused with 429). graphql-ws
   * calls 4429 "too many initialisation requests"; its client treats it as fatal and does not retry.
   * Close one of the user's connections first.
   */
  TOO_MANY_CONNECTIONS: 4429,
} as const);

/**
 * Environment variables the app reads; the charts and the local twin set exactly these. What each
 * means, its default and range: `APP_SETTINGS` and `APP_WIRING_DOCS` (app-settings.ts), one place.
 */
export const AppEnv = Object.freeze({
  PORT: 'PORT',
  REPLICA_ID: 'REPLICA_ID',
  AMQP_URLS: 'AMQP_URLS',
  AMQP_USERNAME: 'AMQP_USERNAME',
  AMQP_PASSWORD: 'AMQP_PASSWORD',
  DATABASE_URL: 'DATABASE_URL',
  PGPASSWORD: 'PGPASSWORD',
  JWT_SECRET: 'JWT_SECRET',
  JWKS_URL: 'JWKS_URL',
  QUEUE_MODE: 'QUEUE_MODE',
  QUEUE_EXPIRES_MS: 'QUEUE_EXPIRES_MS',
  PREFETCH: 'PREFETCH',
  LOG_LEVEL: 'LOG_LEVEL',
  AMQP_HEARTBEAT_SECONDS: 'AMQP_HEARTBEAT_SECONDS',
  REPLAY_LIMIT: 'REPLAY_LIMIT',
  WS_PING_INTERVAL_MS: 'WS_PING_INTERVAL_MS',
  WS_MAX_BUFFERED_BYTES: 'WS_MAX_BUFFERED_BYTES',
  SHUTDOWN_TIMEOUT_MS: 'SHUTDOWN_TIMEOUT_MS',
  REPLICA_HEARTBEAT_MS: 'REPLICA_HEARTBEAT_MS',
  REPLICA_STALE_MS: 'REPLICA_STALE_MS',
  CANARY_INTERVAL_MS: 'CANARY_INTERVAL_MS',
  CANARY_TIMEOUT_MS: 'CANARY_TIMEOUT_MS',
  POSTS_PER_USER_PER_MINUTE: 'POSTS_PER_USER_PER_MINUTE',
  SUBSCRIPTIONS_PER_USER: 'SUBSCRIPTIONS_PER_USER',
} as const);

/** Kubernetes object names derived from the stack name; charts and the chaos suite share them. */
export function objectNames(stackName: string) {
  return Object.freeze({
    namespace: stackName,
    rabbitmq: `${stackName}-rabbitmq`,
    rabbitmqHeadless: `${stackName}-rabbitmq-headless`,
    rabbitmqConfig: `${stackName}-rabbitmq-config`,
    rabbitmqServiceAccount: `${stackName}-rabbitmq`,
    erlangCookieSecret: `${stackName}-rabbitmq-erlang-cookie`,
    rabbitmqUserSecret: `${stackName}-rabbitmq-default-user`,
    haproxy: `${stackName}-haproxy`,
    haproxyConfig: `${stackName}-haproxy-config`,
    app: `${stackName}-app`,
    appConfig: `${stackName}-app-config`,
    appSecret: `${stackName}-app`,
    postgres: `${stackName}-postgres`,
    postgresSecret: `${stackName}-postgres`,
    appPublic: `${stackName}-app-public`,
    appTlsSecret: `${stackName}-app-tls`,
    alertRules: `${stackName}-alerts`,
    grafanaDashboard: `${stackName}-dashboard`,
  });
}

/** Keys inside the Secrets above. */
export const SecretKeys = Object.freeze({
  ERLANG_COOKIE: 'cookie',
  USERNAME: 'username',
  PASSWORD: 'password',
  JWT_SECRET: 'jwt-secret',
} as const);

/** Minimum erlang cookie length feedkit accepts. */
export const MIN_COOKIE_LENGTH = 32;

/** Log levels of the feed app (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
