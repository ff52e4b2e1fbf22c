/**
 * `connections`: idle WebSockets held by ONE app replica process, and memory per connection (RSS
 * from /proc, V8 heap from the process itself), against a bare `ws` server process measured the
 * same way in the same run. Clients are spread over holder processes and loopback source addresses.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { QueueMode, Routes, sleep, waitFor } from '../../shared/index.js';
import { freePort } from '../local/ports.js';
import { REPO_ROOT } from '../local/paths.js';
import { spawnManaged, type ManagedProcess } from '../local/process.js';
import { startHolders, waitOpen, type Holder } from './holders.js';
import { figure, type Figure } from './report.js';
import { rssBytes, scrapeMetric, type BenchStack } from './stack.js';
import { perItem } from './stats.js';

export interface ConnectionsOptions {
  readonly connections: number;
  /**
   * Sockets per user (devices). Each distinct user costs one broker bind before its socket opens,
   * and binds run at tens per second on a busy 2-core machine, so the full run uses a few per user.
   */
  readonly socketsPerUser: number;
  readonly mode: QueueMode;
  /** Seconds to let memory settle before each sample. */
  readonly settleS: number;
  readonly openTimeoutS: number;
  readonly log: (line: string) => void;
}

/** Memory of a server process. */
export interface MemorySample {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

/** One side's measurement. */
export interface ConnectionSide {
  readonly opened: number;
  readonly openS: number;
  readonly before: MemorySample;
  readonly after: MemorySample;
  readonly rssPerConnection: number | undefined;
  readonly heapPerConnection: number | undefined;
  readonly holders: number;
}

/** Median of three samples one second apart (GC makes single heap samples jumpy). */
async function sampleMemory(read: () => Promise<MemorySample>): Promise<MemorySample> {
  const samples: MemorySample[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(await read());
    if (i < 2) await sleep(1000);
  }
  const mid = (k: keyof MemorySample) => samples.map((s) => s[k]).sort((a, b) => a - b)[1]!;
  return { rssBytes: mid('rssBytes'), heapUsedBytes: mid('heapUsedBytes') };
}

async function measure(name: string, proc: ManagedProcess, read: () => Promise<MemorySample>, openHolders: () => Promise<Holder[]>, opts: ConnectionsOptions): Promise<ConnectionSide> {
  await sleep(opts.settleS * 1000);
  const before = await sampleMemory(read);
  opts.log(`connections/${name}: before ${Math.round(before.rssBytes / 2 ** 20)} MiB RSS; opening ${opts.connections} sockets`);
  const holders = await openHolders();
  try {
    const openS = await waitOpen(holders, opts.connections, opts.openTimeoutS * 1000, opts.log, `connections/${name}`);
    opts.log(`connections/${name}: ${opts.connections} open after ${Math.round(openS)} s; settling ${opts.settleS} s`);
    await sleep(opts.settleS * 1000);
    if (!proc.running) throw new Error(`${name} server process exited while holding the sockets`);
    const after = await sampleMemory(read);
    const side: ConnectionSide = {
      opened: opts.connections,
      openS: Math.round(openS * 10) / 10,
      before,
      after,
      rssPerConnection: perItem(before.rssBytes, after.rssBytes, opts.connections),
      heapPerConnection: perItem(before.heapUsedBytes, after.heapUsedBytes, opts.connections),
      holders: holders.length,
    };
    opts.log(`connections/${name}: ${side.rssPerConnection} B RSS and ${side.heapPerConnection} B heap per connection`);
    return side;
  } finally {
    await Promise.allSettled(holders.map((h) => h.stop()));
  }
}

export interface ConnectionsDetails {
  readonly connections: number;
  readonly socketsPerUser: number;
  readonly mode: QueueMode;
  readonly bare?: ConnectionSide;
  readonly ours?: ConnectionSide;
}

export async function runConnections(stack: BenchStack, opts: ConnectionsOptions): Promise<{ figures: Figure[]; details: ConnectionsDetails }> {
  const run = randomBytes(3).toString('hex');
  const logDir = join(stack.dir, 'connections');
  const details: { connections: number; socketsPerUser: number; mode: QueueMode; bare?: ConnectionSide; ours?: ConnectionSide } = { connections: opts.connections, socketsPerUser: opts.socketsPerUser, mode: opts.mode };

  // Baseline: a bare ws server.
  const barePort = await freePort();
  const bare = spawnManaged('bare-ws', process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'bench', 'bare-ws-server.ts')], {
    cwd: REPO_ROOT,
    logFile: join(logDir, 'bare-ws.log'),
    env: { BENCH_BARE_PORT: String(barePort) },
  });
  try {
    const memUrl = `http://127.0.0.1:${barePort}/mem`;
    const readBare = async (): Promise<MemorySample> => {
      const m = (await (await fetch(memUrl, { signal: AbortSignal.timeout(5000) })).json()) as { rss: number; heapUsed: number };
      return { rssBytes: rssBytes(bare.pid) ?? m.rss, heapUsedBytes: m.heapUsed };
    };
    await waitFor('bare ws server', async () => (await readBare()) && true, { timeoutMs: 30_000, intervalMs: 200 });
    const users = Array.from({ length: opts.connections }, (_, i) => `bare-${run}-${i}`);
    details.bare = await measure('bare-ws', bare, readBare, () => startHolders(`bare-${run}`, users, { targets: [`ws://127.0.0.1:${barePort}`], path: '/', auth: false, concurrency: 100, reconnect: false }, logDir), opts);
  } finally {
    await bare.stop(5000);
  }

  // Ours: one app replica, one token and one user (so one binding) per socket.
  const app = await stack.startApp(`bench-conn-${run}`, { mode: opts.mode });
  try {
    const readApp = async (): Promise<MemorySample> => {
      const heap = await scrapeMetric(app.url, 'nodejs_heap_size_used_bytes');
      const rss = rssBytes(app.process.pid);
      if (heap === undefined || rss === undefined) throw new Error('app memory not readable (/metrics nodejs_heap_size_used_bytes, /proc VmRSS)');
      return { rssBytes: rss, heapUsedBytes: heap };
    };
    const users = Array.from({ length: opts.connections }, (_, i) => `conn-${run}-${Math.floor(i / Math.max(1, opts.socketsPerUser))}`);
    details.ours = await measure('ours', app.process, readApp, () => startHolders(`conn-${run}`, users, { targets: [app.url.replace(/^http/, 'ws')], path: Routes.FEED_SOCKET, auth: true, concurrency: 100, reconnect: false }, logDir, stack.jwtSecret), opts);
  } finally {
    await stack.stopApps();
  }

  const limit = 'a process may open at most 20,000 files here (hard limit): one replica holds at most ~19,900 sockets';
  return {
    figures: [
      figure({
        scenario: 'connections',
        name: `idle WebSockets held by one replica (${opts.mode}, ${Math.ceil(opts.connections / Math.max(1, opts.socketsPerUser))} users)`,
        unit: 'connections',
        ours: details.ours?.opened,
        baseline: details.bare?.opened,
        baselineName: 'bare ws server',
        limit,
      }),
      figure({
        scenario: 'connections',
        name: 'RSS per idle connection',
        unit: 'bytes',
        ours: details.ours?.rssPerConnection,
        baseline: details.bare?.rssPerConnection,
        baselineName: 'bare ws server',
        target: '≤ 2',
        limit: 'per socket: the hub entry, a token-expiry timer, the per-user binding chain and metrics; RSS also counts allocator slack',
      }),
      figure({
        scenario: 'connections',
        name: 'V8 heap per idle connection',
        unit: 'bytes',
        ours: details.ours?.heapPerConnection,
        baseline: details.bare?.heapPerConnection,
        baselineName: 'bare ws server',
        limit: 'heap samples move with GC timing (median of three)',
      }),
    ],
    details,
  };
}
