/**
 * Renders `haproxy.cfg` for the app front: HAProxy in HTTP mode before the feed app replicas, with
 * WebSocket upgrades and readiness checks, behaving like a Kubernetes Service (kube-proxy) and not
 * like a retrying proxy. Pure: the servers and bind addresses are parameters, so the local twin
 * passes the replicas' loopback ports.
 */
import { Routes, type FeedkitSpec } from '../shared/index.js';
import { ALL_INTERFACES, checkListener, type Listener } from '../shared/index.js';
import { CONNECT_TIMEOUT_SECONDS, HaproxyNames, checkServers, haproxyAddress, renderStatsFrontend, type HaproxyServer } from './haproxy-cfg.js';

/** Options of {@link renderAppFrontCfg}. */
export interface AppFrontCfgOptions {
  /** The app replicas (the order is the stats page's; each request picks one at random). */
  readonly servers: readonly HaproxyServer[];
  /** HTTP and WebSocket listener. */
  readonly bind: Listener;
  /**
   * Stats page (`/stats`), Prometheus (`/metrics`) and probe (`/healthz`) listener.
   * @default every interface, `spec.haproxy.ports.stats`
   */
  readonly statsBind?: Listener;
}

/** Section and path names of the app front other parts (the twin, tests, scrapers) refer to. */
export const AppFrontNames = Object.freeze({
  FRONTEND: 'app-front',
  BACKEND: 'app-replicas',
  /** Readiness route of every replica: a replica answering 503 (starting, draining) gets no new request. */
  CHECK_PATH: Routes.READY,
  STATS_FRONTEND: HaproxyNames.STATS_FRONTEND,
  STATS_PATH: HaproxyNames.STATS_PATH,
  METRICS_PATH: HaproxyNames.METRICS_PATH,
  HEALTH_PATH: HaproxyNames.HEALTH_PATH,
} as const);

/** Readiness-check timing: a replica leaves rotation after `fall` failed checks `inter` apart, and returns after `rise`. */
export const AppFrontCheck = Object.freeze({
  INTER: '1s',
  FALL: 2,
  RISE: 1,
} as const);

/** HTTP status a ready replica answers on {@link AppFrontNames.CHECK_PATH}. */
export const READY_STATUS = 200;

/**
 * Client sockets one app front process holds at once (the frontend's `maxconn`). Each proxied socket
 * takes two file descriptors (client and replica side) and a process may open 20,000 files here:
 * HAProxy refuses to start when `2 × maxconn` passes that limit ("Cannot raise FD limit"), so one
 * process holds about 9,900 WebSockets; more need more front processes.
 */
export const APP_FRONT_MAX_CONNECTIONS = 9_800;

/** Connections of the stats listener, on top of {@link APP_FRONT_MAX_CONNECTIONS} in the global `maxconn`. */
export const STATS_MAX_CONNECTIONS = 100;

/** Seconds an upgraded WebSocket may stay silent (`timeout tunnel`); the app pings far more often. */
export const TUNNEL_TIMEOUT_SECONDS = 3600;

/** Seconds a client or replica may stay silent during an HTTP exchange (`timeout client` / `timeout server`). */
export const HTTP_IDLE_TIMEOUT_SECONDS = 60;

/** Seconds a client has to send a whole request head (`timeout http-request`): slowloris protection. */
export const HTTP_REQUEST_TIMEOUT_SECONDS = 10;

/** Renders the app front's `haproxy.cfg`; deterministic for the same inputs. */
export function renderAppFrontCfg(spec: FeedkitSpec, options: AppFrontCfgOptions): string {
  const statsBind = options.statsBind ?? { host: ALL_INTERFACES, port: spec.haproxy.ports.stats };
  checkListener('bind', options.bind);
  checkListener('statsBind', statsBind);
  checkServers(options.servers, 'pass every app replica as { name, host, port }');

  const serverOptions = ['check', `inter ${AppFrontCheck.INTER}`, `fall ${AppFrontCheck.FALL}`, `rise ${AppFrontCheck.RISE}`];
  const lines: string[] = [
    '# haproxy.cfg of the app front, rendered by feedkit from the spec; edit the spec, not this file.',
    '',
    'global',
    '  log stdout format raw local0',
    `  maxconn ${APP_FRONT_MAX_CONNECTIONS + STATS_MAX_CONNECTIONS}`,
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  option dontlognull',
    '  # Log errors only: a connect-rate bench opens thousands of sockets.',
    '  option dontlog-normal',
    `  timeout connect ${CONNECT_TIMEOUT_SECONDS}s`,
    `  timeout client ${HTTP_IDLE_TIMEOUT_SECONDS}s`,
    `  timeout server ${HTTP_IDLE_TIMEOUT_SECONDS}s`,
    `  timeout http-request ${HTTP_REQUEST_TIMEOUT_SECONDS}s`,
    `  timeout http-keep-alive ${HTTP_REQUEST_TIMEOUT_SECONDS}s`,
    '  # An upgraded WebSocket is a tunnel: long-lived, kept alive by the app\'s pings.',
    `  timeout tunnel ${TUNNEL_TIMEOUT_SECONDS}s`,
    '  timeout client-fin 30s',
    '  # Each SSE event and WebSocket frame goes out when the replica writes it, as through kube-proxy.',
    '  # Without it HAProxy asks the kernel to hold small segments for more data (MSG_MORE): ~200 ms',
    '  # per event, the p99 of every chaos run at rest.',
    '  option http-no-delay',
    '',
    `frontend ${AppFrontNames.FRONTEND}`,
    `  bind ${haproxyAddress(options.bind)}`,
    `  maxconn ${APP_FRONT_MAX_CONNECTIONS}`,
    '  option forwardfor',
    `  default_backend ${AppFrontNames.BACKEND}`,
    '',
    `backend ${AppFrontNames.BACKEND}`,
    '  # Uniformly random, as kube-proxy in its default iptables mode picks an endpoint. Round robin',
    '  # rotates in step with periodic clients: after an app-kill chaos fault a writer posting every',
    '  # 200 ms among others was sent to the killed replica nine times in a row. Plain "random" draws',
    '  # two and takes the less loaded, which after a kill is the dead replica (its sessions gone):',
    '  # one draw, no load.',
    '  balance random(1)',
    '  # As a Kubernetes Service: a request goes to one replica, once. A failed connect or a replica',
    '  # dying mid-request is an error to the client (503/502), never a retry on another replica:',
    '  # no retries, no "option redispatch", no "retry-on".',
    '  retries 0',
    '  # A new connection to the replica per request: no pooled idle connection the replica has',
    '  # closed can turn into a 502 that a retry would have to hide.',
    '  option http-server-close',
    `  option httpchk GET ${AppFrontNames.CHECK_PATH}`,
    `  http-check expect status ${READY_STATUS}`,
    '  # No "on-marked-down shutdown-sessions": a draining replica closes its own sockets with 1012,',
    '  # as established connections through kube-proxy outlive the endpoint.',
    `  default-server ${serverOptions.join(' ')}`,
    ...options.servers.map((s) => `  server ${s.name} ${haproxyAddress({ host: s.host, port: s.port })}`),
    '',
    ...renderStatsFrontend(statsBind),
  ];
  return lines.join('\n');
}
