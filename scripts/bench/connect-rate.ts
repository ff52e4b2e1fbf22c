/**
 * `connect-rate`: WebSockets per second ONE app replica accepts, each with its own verified JWT on
 * the feed path and counted once its upgrade completed (the app upgrades only once the socket is
 * subscribed), against a bare `ws` server process that verifies the same tokens with the app's own
 * verifier, in the same run. The clients run in a ws-holder child process (their own event loop),
 * N handshakes with a bounded number in flight.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { QueueMode, Routes, waitFor } from '../../shared/index.js';
import { freePort } from '../local/ports.js';
import { REPO_ROOT } from '../local/paths.js';
import { spawnManaged } from '../local/process.js';
import { startHolders, totalStatus, waitOpen, type Holder } from './holders.js';
import { figure, type Figure } from './report.js';
import type { BenchStack } from './stack.js';
import { summarize, type Summary } from './stats.js';
import type { HolderOpens } from './ws-holder.js';

export interface ConnectRateOptions {
  readonly sockets: number;
  /** Handshakes in flight at once. */
  readonly concurrency: number;
  readonly mode: QueueMode;
  readonly openTimeoutS: number;
  readonly log: (line: string) => void;
}

/** What one server accepted. */
export interface ConnectRateSide {
  readonly opened: number;
  /** First handshake start → last first-open (s). */
  readonly seconds: number;
  readonly socketsPerSecond: number;
  /** Handshake start of the successful attempt → open (ms). */
  readonly latencyMs: Summary;
  /** Attempts that failed (refused, handshake timeout, 401) and were retried. */
  readonly failedAttempts: number;
}

/** Rate and latency from the holders' first opens (pure). */
export function connectRateOf(opens: readonly HolderOpens[]): Omit<ConnectRateSide, 'failedAttempts'> {
  const starts = opens.map((o) => o.startedAt).filter((t) => t > 0);
  const openedAt = opens.flatMap((o) => o.openedAt);
  const opened = openedAt.length;
  const seconds = opened > 0 && starts.length > 0 ? (Math.max(...openedAt) - Math.min(...starts)) / 1000 : 0;
  return {
    opened,
    seconds: Math.round(seconds * 100) / 100,
    socketsPerSecond: seconds > 0 ? Math.round(opened / seconds) : 0,
    latencyMs: summarize(opens.flatMap((o) => o.latenciesMs)),
  };
}

/** Opens `opts.sockets` sockets of distinct users with tokens against `wsBase` and measures the rate. */
async function measureSide(name: string, wsBase: string, stack: BenchStack, logDir: string, opts: ConnectRateOptions): Promise<ConnectRateSide> {
  const run = randomBytes(3).toString('hex');
  const users = Array.from({ length: opts.sockets }, (_, i) => `rate-${name}-${run}-u${i}`);
  let holders: Holder[] = [];
  try {
    holders = await startHolders(`rate-${name}-${run}`, users, { targets: [wsBase], path: Routes.FEED_SOCKET, auth: true, concurrency: opts.concurrency, reconnect: false }, logDir, stack.jwtSecret);
    await waitOpen(holders, users.length, opts.openTimeoutS * 1000, opts.log, `connect-rate/${name}`);
    const side = { ...connectRateOf(await Promise.all(holders.map((h) => h.opens()))), failedAttempts: (await totalStatus(holders)).connectFailures };
    opts.log(`connect-rate/${name}: ${side.opened} sockets in ${side.seconds} s = ${side.socketsPerSecond}/s; connect p50 ${side.latencyMs.p50} ms p99 ${side.latencyMs.p99} ms; ${side.failedAttempts} failed attempts`);
    return side;
  } finally {
    await Promise.allSettled(holders.map((h) => h.stop()));
  }
}

export interface ConnectRateDetails {
  readonly sockets: number;
  readonly concurrency: number;
  readonly mode: QueueMode;
  readonly bare?: ConnectRateSide;
  readonly ours?: ConnectRateSide;
}

export async function runConnectRate(stack: BenchStack, opts: ConnectRateOptions): Promise<{ figures: Figure[]; details: ConnectRateDetails }> {
  const logDir = join(stack.dir, 'connect-rate');
  const details: { -readonly [K in keyof ConnectRateDetails]: ConnectRateDetails[K] } = { sockets: opts.sockets, concurrency: opts.concurrency, mode: opts.mode };

  // Baseline: a bare ws server that verifies the same tokens.
  const barePort = await freePort();
  const bare = spawnManaged('bare-ws-jwt', process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'bench', 'bare-ws-server.ts')], {
    cwd: REPO_ROOT,
    logFile: join(logDir, 'bare-ws.log'),
    env: { BENCH_BARE_PORT: String(barePort), BENCH_JWT_SECRET: stack.jwtSecret },
  });
  try {
    await waitFor('bare ws server', async () => {
      if (!bare.running) throw new Error(`bare ws server exited; see ${join(logDir, 'bare-ws.log')}`);
      return (await fetch(`http://127.0.0.1:${barePort}/mem`, { signal: AbortSignal.timeout(2000) })).ok || undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    details.bare = await measureSide('bare', `ws://127.0.0.1:${barePort}`, stack, logDir, opts);
  } finally {
    await bare.stop(5000);
  }

  // Ours: one app replica.
  const app = await stack.startApp(`bench-rate-${randomBytes(3).toString('hex')}`, { mode: opts.mode });
  try {
    details.ours = await measureSide('ours', app.url.replace(/^http/, 'ws'), stack, logDir, opts);
  } finally {
    await stack.stopApps();
  }

  const how = `${opts.sockets} sockets of distinct users, ${opts.concurrency} handshakes in flight from a child process`;
  return {
    figures: [
      figure({
        scenario: 'connect-rate',
        name: `WebSockets accepted per second by one replica (verified JWT, subscribed; ${opts.mode}, ${how})`,
        unit: 'sockets/s',
        ours: details.ours?.socketsPerSecond,
        baseline: details.bare?.socketsPerSecond,
        baselineName: 'bare ws server, same JWT verification',
        target: '≥ 0.5 (and ≥ 1000/s)',
        limit: `ours: the upgrade waits until the socket is subscribed; ${details.ours?.failedAttempts ?? '-'} failed attempts (ours), ${details.bare?.failedAttempts ?? '-'} (bare); client, server and broker share 2 cores`,
      }),
      ...(['p50', 'p99'] as const).map((q) =>
        figure({
          scenario: 'connect-rate',
          name: `connect latency ${q} (handshake start → open)`,
          unit: 'ms',
          ours: details.ours?.latencyMs[q],
          baseline: details.bare?.latencyMs[q],
          baselineName: 'bare ws server, same JWT verification',
          limit: `${opts.concurrency} handshakes in flight: latency ≈ in-flight / rate once the server is the bottleneck (ours: plus the wait for the subscription)`,
        }),
      ),
    ],
    details,
  };
}
