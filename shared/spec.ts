/**
 * The feedkit spec: one typed, validated description of the whole stack. Renderers, charts, the
 * Pulumi program and the local twin all take a resolved {@link FeedkitSpec}; users write only the
 * fields they want to change ({@link SpecOverrides}) in a file, the environment or Pulumi config.
 */
import {
  FIRST_VERSION_WITHOUT_MIRRORING,
  POLICY_NAME,
  POLICY_PATTERN,
  Ports,
  QueueMode,
  REPLICA_QUEUE_PREFIX,
} from './constants.js';

/** CPU and memory for one container (Kubernetes quantity strings). */
export interface ResourceSpec {
  /** CPU request, e.g. `250m`. */
  readonly cpuRequest: string;
  /** CPU limit; empty string for none (CPU limits throttle the Erlang scheduler). */
  readonly cpuLimit: string;
  /** Memory request, e.g. `512Mi`. */
  readonly memoryRequest: string;
  /** Memory limit, e.g. `1Gi`. */
  readonly memoryLimit: string;
}

/** A container image: repository plus a pinned tag (never `latest`). */
export interface ImageSpec {
  /** Image repository, e.g. `docker.io/library/rabbitmq`. */
  readonly repository: string;
  /** Pinned tag, e.g. `3.13.7-management`. */
  readonly tag: string;
}

export interface RabbitmqSpec {
  /**
   * RabbitMQ image.
   * @default docker.io/library/rabbitmq:3.13.7-management
   */
  readonly image: ImageSpec;
  /**
   * RabbitMQ server version the image runs (major.minor.patch); drives the `ha-mode` guard.
   * @default 3.13.7
   */
  readonly version: string;
  /**
   * Number of cluster nodes; odd, at least 3, so `pause_minority` keeps a majority.
   * @default 3
   */
  readonly replicas: number;
  /**
   * How replica queues are made highly available.
   * @default QueueMode.MIRRORED (the `ha-mode=all` policy, RabbitMQ <= 3.13)
   */
  readonly queueMode: QueueMode;
  /** The HA policy (mirrored mode only). */
  readonly policy: PolicySpec;
  /**
   * Persistent volume size per node.
   * @default 8Gi
   */
  readonly storageSize: string;
  /**
   * StorageClass of the node volumes; empty for the cluster default.
   * @default ''
   */
  readonly storageClassName: string;
  /**
   * Container resources.
   * @default 500m/1Gi requested, 2Gi memory limit, no CPU limit
   */
  readonly resources: ResourceSpec;
  /**
   * Milliseconds an unused replica queue lives after its app replica is gone (`x-expires`).
   * @default 600000 (10 minutes)
   */
  readonly queueExpiresMs: number;
  /** Ports. */
  readonly ports: {
    /** @default 5672 */ readonly amqp: number;
    /** @default 15672 */ readonly management: number;
    /** @default 15692 */ readonly prometheus: number;
    /** @default 25672 */ readonly dist: number;
    /** @default 4369 */ readonly epmd: number;
  };
}

export interface PolicySpec {
  /**
   * Policy name.
   * @default ha-feed
   */
  readonly name: string;
  /**
   * Queue name pattern; must match the replica queue prefix `post_feed.replica.`.
   * @default ^post_feed
   */
  readonly pattern: string;
  /**
   * `ha-sync-mode` of the mirrored policy.
   * @default automatic
   */
  readonly haSyncMode: 'automatic' | 'manual';
  /**
   * Policy priority.
   * @default 0
   */
  readonly priority: number;
}

export interface HaproxySpec {
  /**
   * HAProxy image.
   * @default docker.io/library/haproxy:2.8.10
   */
  readonly image: ImageSpec;
  /**
   * Replicas of the AMQP front; at least 2 so it is not a single point of failure.
   * @default 2
   */
  readonly replicas: number;
  /**
   * Container resources.
   * @default 100m/128Mi requested, 256Mi limit
   */
  readonly resources: ResourceSpec;
  /** Ports. */
  readonly ports: {
    /** @default 5672 */ readonly amqp: number;
    /** @default 8404 (stats page at /stats, Prometheus at /metrics) */ readonly stats: number;
  };
  /**
   * Client and server idle timeout in seconds; must exceed the AMQP heartbeat.
   * @default 3600
   */
  readonly idleTimeoutSeconds: number;
  /**
   * AMQP heartbeat the app negotiates, in seconds.
   * @default 30
   */
  readonly amqpHeartbeatSeconds: number;
}

/** Log levels the spec accepts for the app (`app.logLevel`). */
export const SPEC_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type SpecLogLevel = (typeof SPEC_LOG_LEVELS)[number];

export interface AppSpec {
  /**
   * Feed app image.
   * @default ghcr.io/feedkit/feed-app:0.1.0
   */
  readonly image: ImageSpec;
  /**
   * Replicas when autoscaling is off, and the starting count.
   * @default 3
   */
  readonly replicas: number;
  /** Horizontal autoscaling bounds. */
  readonly autoscaling: {
    /** @default true */ readonly enabled: boolean;
    /** @default 3 */ readonly minReplicas: number;
    /** @default 10 */ readonly maxReplicas: number;
    /** @default 70 */ readonly targetCpuUtilizationPercent: number;
  };
  /**
   * Container resources.
   * @default 250m/256Mi requested, 1 CPU / 512Mi limit
   */
  readonly resources: ResourceSpec;
  /** @default 8080 */
  readonly port: number;
  /**
   * Seconds Kubernetes waits after SIGTERM; long enough to close sockets with 1012 and drain.
   * @default 60
   */
  readonly terminationGracePeriodSeconds: number;
  /**
   * Consumer prefetch per replica.
   * @default 200
   */
  readonly prefetch: number;
  /**
   * JWKS URL to verify tokens with instead of the shared HS256 secret; empty for the secret.
   * @default ''
   */
  readonly jwksUrl: string;
  /** @default info */
  readonly logLevel: SpecLogLevel;
}

export interface PostgresSpec {
  /**
   * URL of an external PostgreSQL (no password in it: the password comes from the Secret).
   * Empty to run PostgreSQL in the cluster.
   * @default ''
   */
  readonly externalUrl: string;
  /**
   * In-cluster PostgreSQL image.
   * @default docker.io/library/postgres:16.4
   */
  readonly image: ImageSpec;
  /** @default feed */ readonly database: string;
  /** @default feed */ readonly username: string;
  /** @default 10Gi */ readonly storageSize: string;
  /** @default '' (cluster default) */ readonly storageClassName: string;
  /**
   * Container resources.
   * @default 250m/512Mi requested, 1Gi limit
   */
  readonly resources: ResourceSpec;
  /** @default 5432 */ readonly port: number;
}

/** The whole stack. */
export interface FeedkitSpec {
  /**
   * Prefix of every object name.
   * @default feedkit
   */
  readonly name: string;
  /**
   * Namespace everything is deployed into.
   * @default feedkit
   */
  readonly namespace: string;
  /**
   * Kubernetes cluster DNS domain (for the pods' stable names).
   * @default cluster.local
   */
  readonly clusterDomain: string;
  readonly rabbitmq: RabbitmqSpec;
  readonly haproxy: HaproxySpec;
  readonly app: AppSpec;
  readonly postgres: PostgresSpec;
}

/** Deep partial of {@link FeedkitSpec}: what a user writes. */
export type SpecOverrides = {
  readonly [K in keyof FeedkitSpec]?: FeedkitSpec[K] extends object ? DeepPartial<FeedkitSpec[K]> : FeedkitSpec[K];
};
export type DeepPartial<T> = { readonly [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export const DEFAULT_SPEC: FeedkitSpec = deepFreeze({
  name: 'feedkit',
  namespace: 'feedkit',
  clusterDomain: 'cluster.local',
  rabbitmq: {
    image: { repository: 'docker.io/library/rabbitmq', tag: '3.13.7-management' },
    version: '3.13.7',
    replicas: 3,
    queueMode: QueueMode.MIRRORED,
    policy: { name: POLICY_NAME, pattern: POLICY_PATTERN, haSyncMode: 'automatic', priority: 0 },
    storageSize: '8Gi',
    storageClassName: '',
    resources: { cpuRequest: '500m', cpuLimit: '', memoryRequest: '1Gi', memoryLimit: '2Gi' },
    queueExpiresMs: 600_000,
    ports: {
      amqp: Ports.AMQP,
      management: Ports.RABBITMQ_MANAGEMENT,
      prometheus: Ports.RABBITMQ_PROMETHEUS,
      dist: Ports.RABBITMQ_DIST,
      epmd: Ports.EPMD,
    },
  },
  haproxy: {
    image: { repository: 'docker.io/library/haproxy', tag: '2.8.10' },
    replicas: 2,
    resources: { cpuRequest: '100m', cpuLimit: '', memoryRequest: '128Mi', memoryLimit: '256Mi' },
    ports: { amqp: Ports.HAPROXY_AMQP, stats: Ports.HAPROXY_STATS },
    idleTimeoutSeconds: 3600,
    amqpHeartbeatSeconds: 30,
  },
  app: {
    image: { repository: 'ghcr.io/feedkit/feed-app', tag: '0.1.0' },
    replicas: 3,
    autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 10, targetCpuUtilizationPercent: 70 },
    resources: { cpuRequest: '250m', cpuLimit: '1', memoryRequest: '256Mi', memoryLimit: '512Mi' },
    port: Ports.APP_HTTP,
    terminationGracePeriodSeconds: 60,
    prefetch: 200,
    jwksUrl: '',
    logLevel: 'info',
  },
  postgres: {
    externalUrl: '',
    image: { repository: 'docker.io/library/postgres', tag: '16.4' },
    database: 'feed',
    username: 'feed',
    storageSize: '10Gi',
    storageClassName: '',
    resources: { cpuRequest: '250m', cpuLimit: '', memoryRequest: '512Mi', memoryLimit: '1Gi' },
    port: Ports.POSTGRES,
  },
});

/** A spec value is wrong; the message names the field (dotted path) and how to fix it. */
export class SpecError extends Error {
  constructor(
    /** Dotted path of the offending field, e.g. `rabbitmq.replicas`. */
    readonly field: string,
    problem: string,
    /** What to do instead. */
    readonly fix: string,
  ) {
    super(`spec field "${field}": ${problem}. Fix: ${fix}`);
    this.name = 'SpecError';
  }
}

/** Merges overrides onto the defaults and validates the result; throws {@link SpecError}. */
export function resolveSpec(overrides: SpecOverrides = {}): FeedkitSpec {
  rejectUnknownKeys(overrides, DEFAULT_SPEC, '');
  const merged = deepMerge(DEFAULT_SPEC, overrides) as FeedkitSpec;
  validateSpec(merged);
  return deepFreeze(merged);
}

/** Throws {@link SpecError} for the first invalid field of a complete spec. */
export function validateSpec(spec: FeedkitSpec): void {
  checkTypes(spec, DEFAULT_SPEC, '');

  checkDnsLabel('name', spec.name, 30);
  checkDnsLabel('namespace', spec.namespace, 63);
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(spec.clusterDomain)) {
    throw new SpecError('clusterDomain', `"${spec.clusterDomain}" is not a DNS domain`, 'use e.g. "cluster.local"');
  }

  const rmq = spec.rabbitmq;
  checkImage('rabbitmq.image', rmq.image);
  const major = parseMajor('rabbitmq.version', rmq.version);
  if (!Object.values(QueueMode).includes(rmq.queueMode)) {
    throw new SpecError('rabbitmq.queueMode', `"${String(rmq.queueMode)}" is not a queue mode`, `use one of ${Object.values(QueueMode).join(', ')}`);
  }
  if (rmq.queueMode === QueueMode.MIRRORED && major >= FIRST_VERSION_WITHOUT_MIRRORING) {
    throw new SpecError(
      'rabbitmq.queueMode',
      `mirrored mode needs an ha-mode policy, which RabbitMQ ${rmq.version} rejects (classic mirrored queues were removed in 4.0)`,
      `set rabbitmq.queueMode to "${QueueMode.QUORUM}" (quorum queues, the replacement), or pin rabbitmq.version and rabbitmq.image to 3.13.x`,
    );
  }
  checkInt('rabbitmq.replicas', rmq.replicas, 3, 9);
  if (rmq.replicas % 2 === 0) {
    throw new SpecError('rabbitmq.replicas', `${rmq.replicas} nodes cannot keep a majority under pause_minority`, 'use an odd count such as 3 or 5');
  }
  if (!rmq.policy.pattern.startsWith('^') || !new RegExp(rmq.policy.pattern).test(REPLICA_QUEUE_PREFIX + 'x')) {
    throw new SpecError(
      'rabbitmq.policy.pattern',
      `"${rmq.policy.pattern}" does not match the replica queues ("${REPLICA_QUEUE_PREFIX}<replica>")`,
      `use "${POLICY_PATTERN}"`,
    );
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(rmq.policy.name)) {
    throw new SpecError('rabbitmq.policy.name', `"${rmq.policy.name}" is not a valid policy name`, `use letters, digits, "-", "_" or ".", e.g. "${POLICY_NAME}"`);
  }
  if (rmq.policy.haSyncMode !== 'automatic' && rmq.policy.haSyncMode !== 'manual') {
    throw new SpecError('rabbitmq.policy.haSyncMode', `"${String(rmq.policy.haSyncMode)}" is not a sync mode`, 'use "automatic" or "manual"');
  }
  checkInt('rabbitmq.policy.priority', rmq.policy.priority, 0, 255);
  checkQuantity('rabbitmq.storageSize', rmq.storageSize);
  checkResources('rabbitmq.resources', rmq.resources);
  checkInt('rabbitmq.queueExpiresMs', rmq.queueExpiresMs, 10_000, 7 * 24 * 3600_000);
  for (const [k, v] of Object.entries(rmq.ports)) checkPort(`rabbitmq.ports.${k}`, v);

  const hap = spec.haproxy;
  checkImage('haproxy.image', hap.image);
  checkInt('haproxy.replicas', hap.replicas, 2, 20, 'a single HAProxy replica is a single point of failure; use 2 or more');
  checkResources('haproxy.resources', hap.resources);
  for (const [k, v] of Object.entries(hap.ports)) checkPort(`haproxy.ports.${k}`, v);
  checkInt('haproxy.amqpHeartbeatSeconds', hap.amqpHeartbeatSeconds, 5, 600);
  checkInt('haproxy.idleTimeoutSeconds', hap.idleTimeoutSeconds, 1, 86_400);
  if (hap.idleTimeoutSeconds <= 2 * hap.amqpHeartbeatSeconds) {
    throw new SpecError(
      'haproxy.idleTimeoutSeconds',
      `${hap.idleTimeoutSeconds}s is not longer than two AMQP heartbeats (${hap.amqpHeartbeatSeconds}s each), so HAProxy would cut idle but healthy connections`,
      `set it above ${2 * hap.amqpHeartbeatSeconds}`,
    );
  }

  const app = spec.app;
  checkImage('app.image', app.image);
  checkInt('app.replicas', app.replicas, 1, 1000);
  checkInt('app.autoscaling.minReplicas', app.autoscaling.minReplicas, 1, 1000);
  checkInt('app.autoscaling.maxReplicas', app.autoscaling.maxReplicas, 1, 1000);
  if (app.autoscaling.maxReplicas < app.autoscaling.minReplicas) {
    throw new SpecError('app.autoscaling.maxReplicas', `${app.autoscaling.maxReplicas} is below minReplicas ${app.autoscaling.minReplicas}`, 'raise maxReplicas or lower minReplicas');
  }
  checkInt('app.autoscaling.targetCpuUtilizationPercent', app.autoscaling.targetCpuUtilizationPercent, 1, 100);
  checkResources('app.resources', app.resources);
  checkPort('app.port', app.port);
  checkInt('app.terminationGracePeriodSeconds', app.terminationGracePeriodSeconds, 10, 3600, 'sockets need time to close with 1012 and in-flight deliveries to finish; use 10 or more');
  checkInt('app.prefetch', app.prefetch, 1, 10_000);
  if (app.jwksUrl !== '' && !/^https?:\/\/\S+$/.test(app.jwksUrl)) {
    throw new SpecError('app.jwksUrl', `"${app.jwksUrl}" is not an http(s) URL`, 'give the JWKS endpoint URL, or leave it empty to use the HS256 secret');
  }
  if (!SPEC_LOG_LEVELS.includes(app.logLevel)) {
    throw new SpecError('app.logLevel', `"${String(app.logLevel)}" is not a log level`, `use one of ${SPEC_LOG_LEVELS.join(', ')}`);
  }

  const pg = spec.postgres;
  if (pg.externalUrl !== '') {
    let url: URL;
    try {
      url = new URL(pg.externalUrl);
    } catch {
      throw new SpecError('postgres.externalUrl', `"${pg.externalUrl}" is not a URL`, 'use postgres://user@host:5432/database, or leave it empty for in-cluster PostgreSQL');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new SpecError('postgres.externalUrl', `scheme "${url.protocol}" is not postgres`, 'use postgres://user@host:5432/database');
    }
    if (url.password !== '') {
      throw new SpecError('postgres.externalUrl', 'contains a password, which would land in a ConfigMap and the synthesized YAML', 'remove the password from the URL and put it in the postgres Secret (key "password")');
    }
  }
  checkImage('postgres.image', pg.image);
  checkIdentifier('postgres.database', pg.database);
  checkIdentifier('postgres.username', pg.username);
  checkQuantity('postgres.storageSize', pg.storageSize);
  checkResources('postgres.resources', pg.resources);
  checkPort('postgres.port', pg.port);
}

/** Major version number of a RabbitMQ version string. */
export function rabbitmqMajor(version: string): number {
  return parseMajor('rabbitmq.version', version);
}

function parseMajor(field: string, version: string): number {
  const m = /^(\d+)\.(\d+)(\.\d+)?$/.exec(version);
  if (!m) throw new SpecError(field, `"${version}" is not a version`, 'use major.minor.patch such as "3.13.7"');
  return Number(m[1]);
}

function checkTypes(value: unknown, reference: unknown, path: string): void {
  if (reference !== null && typeof reference === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new SpecError(path, `expected an object, got ${describe(value)}`, 'give an object with the documented fields');
    }
    for (const key of Object.keys(reference)) {
      checkTypes((value as Record<string, unknown>)[key], (reference as Record<string, unknown>)[key], join(path, key));
    }
    return;
  }
  if (typeof value !== typeof reference) {
    throw new SpecError(path, `expected a ${typeof reference}, got ${describe(value)}`, `give a ${typeof reference} such as ${JSON.stringify(reference)}`);
  }
}

function rejectUnknownKeys(value: unknown, reference: unknown, path: string): void {
  if (value === null || typeof value !== 'object' || reference === null || typeof reference !== 'object') return;
  for (const key of Object.keys(value)) {
    if (!(key in reference)) {
      const known = Object.keys(reference).join(', ');
      throw new SpecError(join(path, key), 'is not a spec field', `remove it or use one of: ${known}`);
    }
    rejectUnknownKeys((value as Record<string, unknown>)[key], (reference as Record<string, unknown>)[key], join(path, key));
  }
}

function checkInt(field: string, v: number, min: number, max: number, fix?: string): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new SpecError(field, `${v} is out of range`, fix ?? `use a whole number from ${min} to ${max}`);
  }
}

function checkPort(field: string, v: number): void {
  checkInt(field, v, 1, 65_535);
}

function checkDnsLabel(field: string, v: string, max: number): void {
  if (v.length > max || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(v)) {
    throw new SpecError(field, `"${v}" is not a DNS label of at most ${max} characters`, 'use lower-case letters, digits and "-", starting and ending with a letter or digit');
  }
}

function checkIdentifier(field: string, v: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(v)) {
    throw new SpecError(field, `"${v}" is not a plain SQL identifier`, 'use lower-case letters, digits and "_", starting with a letter');
  }
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

function checkQuantity(field: string, v: string, allowEmpty = false): void {
  if (allowEmpty && v === '') return;
  if (!QUANTITY.test(v)) {
    throw new SpecError(field, `"${v}" is not a Kubernetes quantity`, 'use e.g. "500m", "1", "512Mi" or "8Gi"');
  }
}

function checkResources(field: string, r: ResourceSpec): void {
  checkQuantity(`${field}.cpuRequest`, r.cpuRequest);
  checkQuantity(`${field}.cpuLimit`, r.cpuLimit, true);
  checkQuantity(`${field}.memoryRequest`, r.memoryRequest);
  checkQuantity(`${field}.memoryLimit`, r.memoryLimit);
}

function checkImage(field: string, image: ImageSpec): void {
  if (!/^[a-z0-9]+([._/:-][a-z0-9]+)*$/.test(image.repository) || image.repository.includes('@')) {
    throw new SpecError(`${field}.repository`, `"${image.repository}" is not an image repository`, 'use e.g. "docker.io/library/rabbitmq" (the tag goes in the tag field)');
  }
  if (image.tag === 'latest' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(image.tag)) {
    throw new SpecError(`${field}.tag`, `"${image.tag}" is not a pinned tag`, 'pin an exact version such as "3.13.7-management"; "latest" is refused because it changes under you');
  }
}

/** `repository:tag`. */
export function imageRef(image: ImageSpec): string {
  return `${image.repository}:${image.tag}`;
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing' : `${typeof v} ${JSON.stringify(v)}`;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base === null || typeof base !== 'object' || over === null || typeof over !== 'object' || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge((base as Record<string, unknown>)[k], v);
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
