/**
 * An HAProxy front on loopback, run from a rendered `haproxy.cfg`: the AMQP front before the
 * RabbitMQ nodes (the same text the chart's ConfigMap carries, with loopback binds and the local
 * nodes' ports as servers), or the app front before the feed app replicas.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FeedkitSpec, Listener } from '../../shared/index.js';
import { AppFrontNames, HaproxyNames, renderAppFrontCfg, renderHaproxyCfg, type HaproxyServer } from '../../haproxy/index.js';
import { freePort, isPortAnswering } from './ports.js';
import { spawnManaged, type ManagedProcess } from './process.js';
import { run } from '../shell.js';
import { waitFor } from '../../shared/index.js';


/** Debian's HAProxy binary. */
export const HAPROXY_BIN = '/usr/sbin/haproxy';

/** Status of one backend server as the stats CSV reports it (`UP`, `DOWN`, `UP 1/2`, `MAINT`, `no check`...). */
export type HaproxyServerStatus = string;

/** What a front serves. */
export enum HaproxyFront {
  /** TCP, before the RabbitMQ nodes (`renderHaproxyCfg`). */
  AMQP = 'amqp',
  /** HTTP and WebSocket, before the feed app replicas (`renderAppFrontCfg`). */
  APP = 'app',
}

/** Per kind of front: its renderer, the backend whose servers it balances, and its URL scheme. */
const FRONTS: Readonly<Record<HaproxyFront, {
  readonly render: (spec: FeedkitSpec, servers: readonly HaproxyServer[], bind: Listener, statsBind: Listener) => string;
  readonly backend: string;
  readonly scheme: string;
}>> = {
  [HaproxyFront.AMQP]: { render: (spec, servers, amqpBind, statsBind) => renderHaproxyCfg(spec, { servers, amqpBind, statsBind }), backend: HaproxyNames.BACKEND, scheme: 'amqp' },
  [HaproxyFront.APP]: { render: (spec, servers, bind, statsBind) => renderAppFrontCfg(spec, { servers, bind, statsBind }), backend: AppFrontNames.BACKEND, scheme: 'http' },
};

/** A running HAProxy instance. */
export interface HaproxyInstance {
  /** Short name used in logs and file names, e.g. `haproxy-1`. */
  readonly name: string;
  readonly front: HaproxyFront;
  /** Port of the front (AMQP, or the app's HTTP and WebSocket). */
  readonly port: number;
  readonly statsPort: number;
  /** `amqp://127.0.0.1:<port>` (no credentials: the app gets AMQP_USERNAME / AMQP_PASSWORD) or `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `http://127.0.0.1:<statsPort>/stats` (HTML; append `;csv` for CSV). */
  readonly statsUrl: string;
  /** The rendered config file. */
  readonly configFile: string;
  readonly logFile: string;
  readonly process: ManagedProcess;
  /** Status of each backend server by server name, from the stats CSV. */
  serverStatuses(): Promise<Record<string, HaproxyServerStatus>>;
  /** Waits until server `name` reports a status starting with `status` (e.g. `DOWN`, `UP`). */
  waitForServerStatus(name: string, status: 'UP' | 'DOWN', timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startHaproxy}. */
export interface StartHaproxyOptions {
  readonly spec: FeedkitSpec;
  /** Folder for the config and log; created. */
  readonly workDir: string;
  /** @default HaproxyFront.AMQP */
  readonly front?: HaproxyFront;
  /** The RabbitMQ nodes or app replicas behind the front (loopback addresses). */
  readonly servers: readonly HaproxyServer[];
  /** Port of the front. @default a free port */
  readonly port?: number;
  /** @default a free port */
  readonly statsPort?: number;
  /**
   * Name used in logs and file names.
   * @default haproxy
   */
  readonly name?: string;
}

/** Parses HAProxy's stats CSV (`# pxname,svname,...` header) into rows keyed by column name. */
export function parseStatsCsv(csv: string): Record<string, string>[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift()?.replace(/^# /, '').split(',') ?? [];
  return lines.map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}

/** Renders the config, checks it with `haproxy -c`, starts HAProxy in the foreground and waits for both listeners. */
export async function startHaproxy(opts: StartHaproxyOptions): Promise<HaproxyInstance> {
  const name = opts.name ?? 'haproxy';
  const front = opts.front ?? HaproxyFront.AMQP;
  const { render, backend, scheme } = FRONTS[front];
  const workDir = resolve(opts.workDir);
  mkdirSync(workDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const statsPort = opts.statsPort ?? (await freePort());
  const configFile = join(workDir, `${name}.cfg`);
  const logFile = join(workDir, `${name}.log`);
  writeFileSync(configFile, render(opts.spec, opts.servers, { host: '127.0.0.1', port }, { host: '127.0.0.1', port: statsPort }));
  await run(HAPROXY_BIN, ['-c', '-q', '-f', configFile], { timeoutMs: 30_000 }).catch((e: Error) => {
    throw new Error(`${name}: haproxy -c rejected ${configFile}: ${e.message}`);
  });
  // -db: stay in the foreground, so the pid is HAProxy itself and stop() reaches it.
  const proc = spawnManaged(`${name}:${port}`, HAPROXY_BIN, ['-db', '-f', configFile], { cwd: workDir, logFile });
  try {
    await waitFor(`${name} listening on 127.0.0.1:${port} and :${statsPort} (log: ${logFile})`, async () => {
      if (!proc.running) throw new Error(`${name} exited; see ${logFile}`);
      return ((await isPortAnswering(port)) && (await isPortAnswering(statsPort))) || undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });
  } catch (e) {
    await proc.stop(2000).catch(() => undefined);
    throw e;
  }

  const statsUrl = `http://127.0.0.1:${statsPort}${HaproxyNames.STATS_PATH}`;
  const serverStatuses = async (): Promise<Record<string, HaproxyServerStatus>> => {
    const res = await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`${name} stats: HTTP ${res.status}`);
    const rows = parseStatsCsv(await res.text());
    return Object.fromEntries(
      rows
        .filter((r) => r['pxname'] === backend && r['svname'] !== 'BACKEND' && r['svname'] !== 'FRONTEND')
        .map((r) => [r['svname'] ?? '', r['status'] ?? '']),
    );
  };
  return {
    name,
    front,
    port,
    statsPort,
    url: `${scheme}://127.0.0.1:${port}`,
    statsUrl,
    configFile,
    logFile,
    process: proc,
    serverStatuses,
    async waitForServerStatus(server, status, timeoutMs) {
      await waitFor(`${name} to mark server ${server} ${status}`, async () => {
        const s = (await serverStatuses())[server];
        if (s === undefined) throw new Error(`no server ${server} in the ${backend} backend`);
        if (s.startsWith(status) && !s.includes('/')) return true;
        throw new Error(`${server} is ${s}`);
      }, { timeoutMs, intervalMs: 250 });
    },
    stop: () => proc.stop(5000),
  };
}
