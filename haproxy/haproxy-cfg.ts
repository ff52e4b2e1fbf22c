/**
 * Renders `haproxy.cfg` for the AMQP front. Pure: the servers and bind addresses are parameters,
 * so the charts pass the pods' stable DNS names and the local twin passes loopback ports.
 */
import { AMQP_PROTOCOL_HEADER, Routes, type FeedkitSpec } from '../shared/index.js';
import { ALL_INTERFACES, RenderInputError, checkListener, type Listener } from '../shared/index.js';
import { rabbitmqPodHostnames } from '../rabbitmq-cluster/index.js';

/** One server behind a front: a RabbitMQ node (AMQP front) or an app replica (app front). */
export interface HaproxyServer {
  /** Server name in HAProxy (stats, logs); letters, digits, `-`, `_`, `.`. */
  readonly name: string;
  /** DNS name or IP address. */
  readonly host: string;
  /** Its port (AMQP, or the app's HTTP port). */
  readonly port: number;
}

/** A `resolvers` section, so server names are re-resolved while running (a restarted pod gets a new IP). */
export interface HaproxyResolvers {
  /**
   * Section name.
   * @default 'dns'
   */
  readonly name?: string;
  /**
   * Seconds a resolved address is kept when it stays valid (`hold valid`); also the re-resolve period.
   * @default 10
   */
  readonly holdValidSeconds?: number;
}

/** Options of {@link renderHaproxyCfg}. */
export interface HaproxyCfgOptions {
  /** The RabbitMQ nodes, e.g. {@link haproxyServersForCluster}. */
  readonly servers: readonly HaproxyServer[];
  /**
   * AMQP listener.
   * @default every interface, `spec.haproxy.ports.amqp`
   */
  readonly amqpBind?: Listener;
  /**
   * Stats page (`/stats`), Prometheus (`/metrics`) and probe (`/healthz`) listener.
   * @default every interface, `spec.haproxy.ports.stats`
   */
  readonly statsBind?: Listener;
  /**
   * Re-resolve server names through the resolvers of `/etc/resolv.conf`; omit when servers are IPs.
   * @default none
   */
  readonly resolvers?: HaproxyResolvers;
}

/** HAProxy section and path names other parts (probes, scrapers, the twin) refer to. */
export const HaproxyNames = Object.freeze({
  FRONTEND: 'amqp',
  BACKEND: 'rabbitmq',
  STATS_FRONTEND: 'stats',
  STATS_PATH: '/stats',
  METRICS_PATH: Routes.METRICS,
  HEALTH_PATH: Routes.HEALTH,
  DEFAULT_RESOLVERS: 'dns',
} as const);

/**
 * Health-check timing of the AMQP front. A hung node (SIGSTOP, a stuck VM) still completes the TCP
 * handshake (the kernel answers), so only the AMQP check's reply deadline (`TIMEOUT`) sees it: the
 * first failed check starts `FASTINTER` re-checks and `FALL` failures mark the node down, about
 * INTER + FALL × (TIMEOUT + FASTINTER) ≈ 4 s after it stopped answering, and
 * `on-marked-down shutdown-sessions` then cuts its clients so they reconnect elsewhere. A client
 * connect refused by a node that died between checks is sent to another node (`CONNECT_RETRIES`,
 * `option redispatch 1`) and the next checks mark the node down.
 *
 * No `observe layer4 ... on-error mark-down`: on HAProxy 2.6 the refused connect marks the node
 * down while that very connection is still counted on it, and `shutdown-sessions` then cuts the
 * connection it was being redispatched with: the client sees its socket closed in the AMQP
 * handshake instead of reaching another node. `tests/integration/haproxy-amqp-redispatch.test.ts` pins it.
 */
export const HealthCheck = Object.freeze({
  INTER: '1s',
  FASTINTER: '500ms',
  /** A down node is re-checked less often; `RISE` passes bring it back. */
  DOWNINTER: '2s',
  /** A healthy node answers connection.start within milliseconds; a busy one within this. */
  TIMEOUT: '1s',
  FALL: 2,
  RISE: 2,
} as const);

/** Seconds HAProxy waits for a TCP connect to a node (pod network connects take milliseconds). */
export const CONNECT_TIMEOUT_SECONDS = 2;

/** Connect attempts after the first failed one; each goes to another node (`option redispatch 1`). */
export const CONNECT_RETRIES = 2;

/** Most concurrent connections per HAProxy process; ~2 file descriptors each stays under a 20,000 open-file limit. */
export const MAX_CONNECTIONS = 8000;

/**
 * Regex on the hex dump of the node's first bytes: an AMQP method frame (type 01) on channel 0,
 * any 4-byte size, then class 10 / method 10 = `connection.start`.
 */
export const CONNECTION_START_HEX_REGEX = '^010000[0-9A-Fa-f]{8}000[Aa]000[Aa]';

/** Bytes of the response needed before matching: 7-byte frame header + class and method ids. */
export const CONNECTION_START_MIN_BYTES = 11;

/** Renders `haproxy.cfg`; deterministic for the same inputs. */
export function renderHaproxyCfg(spec: FeedkitSpec, options: HaproxyCfgOptions): string {
  const hap = spec.haproxy;
  const amqpBind = options.amqpBind ?? { host: ALL_INTERFACES, port: hap.ports.amqp };
  const statsBind = options.statsBind ?? { host: ALL_INTERFACES, port: hap.ports.stats };
  checkListener('amqpBind', amqpBind);
  checkListener('statsBind', statsBind);
  checkServers(options.servers, 'pass every RabbitMQ node, e.g. haproxyServersForCluster(spec)');
  const resolvers = options.resolvers && {
    name: options.resolvers.name ?? HaproxyNames.DEFAULT_RESOLVERS,
    holdValidSeconds: options.resolvers.holdValidSeconds ?? 10,
  };
  if (resolvers) checkResolvers(resolvers.name, resolvers.holdValidSeconds);
  const idle = `${hap.idleTimeoutSeconds}s`;

  const serverOptions = [
    'check',
    `inter ${HealthCheck.INTER}`,
    `fastinter ${HealthCheck.FASTINTER}`,
    `downinter ${HealthCheck.DOWNINTER}`,
    `fall ${HealthCheck.FALL}`,
    `rise ${HealthCheck.RISE}`,
    // Cut the sessions of a dead node at once so clients reconnect through another node.
    'on-marked-down shutdown-sessions',
    ...(resolvers ? [`resolvers ${resolvers.name}`, 'init-addr last,libc,none', 'resolve-prefer ipv4'] : []),
  ];

  const lines: string[] = [
    '# haproxy.cfg rendered by feedkit from the spec; edit the spec, not this file.',
    '',
    'global',
    '  log stdout format raw local0',
    `  maxconn ${MAX_CONNECTIONS}`,
    '',
  ];
  if (resolvers) {
    lines.push(
      '# Re-resolve the pods\' DNS names while running: a restarted pod comes back with a new IP,',
      '# and names are resolved once at start without this section.',
      `resolvers ${resolvers.name}`,
      '  parse-resolv-conf',
      '  resolve_retries 3',
      '  timeout resolve 1s',
      '  timeout retry 1s',
      `  hold valid ${resolvers.holdValidSeconds}s`,
      '  hold other 30s',
      '  hold refused 30s',
      '  hold nx 30s',
      '  hold timeout 30s',
      '  hold obsolete 30s',
      '',
    );
  }
  lines.push(
    'defaults',
    '  mode tcp',
    '  log global',
    '  option tcplog',
    '  option dontlognull',
    `  timeout connect ${CONNECT_TIMEOUT_SECONDS}s`,
    `  timeout check ${HealthCheck.TIMEOUT}`,
    `  # Longer than the AMQP heartbeat (${hap.amqpHeartbeatSeconds}s), so idle but healthy connections are never cut;`,
    '  # TCP keepalives keep conntrack and cloud load balancers from dropping them.',
    `  timeout client ${idle}`,
    `  timeout server ${idle}`,
    '  option clitcpka',
    '  option srvtcpka',
    '',
    `frontend ${HaproxyNames.FRONTEND}`,
    `  bind ${haproxyAddress(amqpBind)}`,
    `  default_backend ${HaproxyNames.BACKEND}`,
    '',
    `backend ${HaproxyNames.BACKEND}`,
    '  balance roundrobin',
    '  # A client connect refused by a dying node is retried on another node instead of failing.',
    `  retries ${CONNECT_RETRIES}`,
    '  option redispatch 1',
    '  # AMQP-aware check: send the full 8-byte protocol header (a 6-byte "AMQP\\r\\n" probe hangs',
    '  # until the handshake timeout) and expect the connection.start method frame back.',
    '  option tcp-check',
    '  tcp-check connect',
    `  tcp-check send-binary ${AMQP_PROTOCOL_HEADER.toString('hex')}`,
    `  tcp-check expect min-recv ${CONNECTION_START_MIN_BYTES} rbinary ${CONNECTION_START_HEX_REGEX}`,
    `  default-server ${serverOptions.join(' ')}`,
    ...options.servers.map((s) => `  server ${s.name} ${haproxyAddress({ host: s.host, port: s.port })}`),
    '',
    ...renderStatsFrontend(statsBind),
  );
  return lines.join('\n');
}

/**
 * The stats section both HAProxy fronts carry: stats page, Prometheus exporter and a probe URI.
 * Lines of a config file, ending with an empty line.
 */
export function renderStatsFrontend(statsBind: Listener): string[] {
  return [
    `frontend ${HaproxyNames.STATS_FRONTEND}`,
    '  mode http',
    `  bind ${haproxyAddress(statsBind)}`,
    '  timeout client 30s',
    '  timeout http-request 10s',
    '  option dontlog-normal',
    '  # Liveness/readiness probe: answers 200 while the process runs.',
    `  monitor-uri ${HaproxyNames.HEALTH_PATH}`,
    `  http-request use-service prometheus-exporter if { path ${HaproxyNames.METRICS_PATH} }`,
    '  stats enable',
    `  stats uri ${HaproxyNames.STATS_PATH}`,
    '  stats refresh 10s',
    '  stats show-legends',
    '',
  ];
}

/** The backend servers of a Kubernetes cluster: each StatefulSet pod by its stable DNS name. */
export function haproxyServersForCluster(spec: FeedkitSpec): HaproxyServer[] {
  return rabbitmqPodHostnames(spec).map((host) => ({
    name: host.split('.')[0]!,
    host,
    port: spec.rabbitmq.ports.amqp,
  }));
}

/** HAProxy address: `*:port`, `ip:port`, or `[v6]:port`... HAProxy takes the last colon as the port separator. */
export function haproxyAddress(listener: Listener): string {
  return `${listener.host}:${listener.port}`;
}

/** Throws {@link RenderInputError} naming the server field that HAProxy would reject; `fixWhenEmpty` says what to pass instead of none. */
export function checkServers(servers: readonly HaproxyServer[], fixWhenEmpty: string): void {
  if (servers.length === 0) throw new RenderInputError('servers', 'is empty', fixWhenEmpty);
  const names = new Set<string>();
  for (const [i, s] of servers.entries()) {
    if (!/^[A-Za-z0-9_.-]+$/.test(s.name)) {
      throw new RenderInputError(`servers.${i}.name`, `"${s.name}" is not a valid HAProxy server name`, 'use letters, digits, "-", "_" or "."');
    }
    if (names.has(s.name)) throw new RenderInputError(`servers.${i}.name`, `"${s.name}" is used twice`, 'give each server a unique name');
    names.add(s.name);
    if (s.host === ALL_INTERFACES) {
      throw new RenderInputError(`servers.${i}.host`, `"${ALL_INTERFACES}" is not a server address`, 'give the server\'s DNS name or IP address');
    }
    checkListener(`servers.${i}`, { host: s.host, port: s.port });
  }
}

function checkResolvers(name: string, holdValidSeconds: number): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new RenderInputError('resolvers.name', `"${name}" is not a valid section name`, 'use letters, digits, "-", "_" or "."');
  }
  if (!Number.isInteger(holdValidSeconds) || holdValidSeconds < 1 || holdValidSeconds > 3600) {
    throw new RenderInputError('resolvers.holdValidSeconds', `${holdValidSeconds} is out of range`, 'use a whole number of seconds from 1 to 3600');
  }
}
