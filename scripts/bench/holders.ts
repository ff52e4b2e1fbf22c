/** Starts ws-holder child processes (through the process library) and talks to their control ports. */
import { join } from 'node:path';
import { freePort } from '../local/ports.js';
import { REPO_ROOT } from '../local/paths.js';
import { spawnManaged, type ManagedProcess } from '../local/process.js';
import type { HolderConfig, HolderOpens, HolderStatus } from './ws-holder.js';
import { waitFor } from '../../shared/index.js';

/** Most clients one holder process gets (a process may open at most 20,000 files). */
export const MAX_CLIENTS_PER_HOLDER = 4000;

/** Handshake timeout of every holder client. */
export const HOLDER_HANDSHAKE_TIMEOUT_MS = 30_000;

/** First loopback source address index: holders use 127.0.0.<base + i>. */
const SOURCE_ADDRESS_BASE = 20;

export interface Holder {
  readonly process: ManagedProcess;
  readonly controlPort: number;
  readonly clients: number;
  status(): Promise<HolderStatus>;
  /** When it began connecting and every client's first open (connect latency). */
  opens(): Promise<HolderOpens>;
  setMarker(postId: string): Promise<void>;
  /** Terminates every client (no reconnects), then stops the process. */
  stop(): Promise<void>;
}

/** Splits `users` into chunks of at most {@link MAX_CLIENTS_PER_HOLDER}, about evenly. */
export function splitUsers<T>(users: readonly T[], maxPerChunk = MAX_CLIENTS_PER_HOLDER): T[][] {
  const chunks = Math.max(1, Math.ceil(users.length / maxPerChunk));
  const size = Math.ceil(users.length / chunks);
  return Array.from({ length: chunks }, (_, i) => users.slice(i * size, (i + 1) * size)).filter((c) => c.length > 0);
}

async function control(port: number, method: string, path: string): Promise<Response> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`ws-holder :${port} ${method} ${path}: HTTP ${res.status}`);
  return res;
}

/** Starts one holder per chunk of users, each from its own loopback source address. */
export async function startHolders(
  name: string,
  users: readonly string[],
  base: Omit<HolderConfig, 'controlPort' | 'users' | 'localAddress' | 'handshakeTimeoutMs'>,
  logDir: string,
  jwtSecret?: string,
): Promise<Holder[]> {
  const holders: Holder[] = [];
  const chunks = splitUsers(users);
  for (const [i, chunk] of chunks.entries()) {
    const controlPort = await freePort();
    const config: HolderConfig = { ...base, controlPort, users: chunk, localAddress: `127.0.0.${SOURCE_ADDRESS_BASE + i}`, handshakeTimeoutMs: HOLDER_HANDSHAKE_TIMEOUT_MS };
    const proc = spawnManaged(`${name}-holder-${i}`, process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'bench', 'ws-holder.ts')], {
      cwd: REPO_ROOT,
      logFile: join(logDir, `${name}-holder-${i}.log`),
      env: { BENCH_HOLDER_CONFIG: JSON.stringify(config), ...(jwtSecret !== undefined ? { BENCH_JWT_SECRET: jwtSecret } : {}) },
    });
    holders.push({
      process: proc,
      controlPort,
      clients: chunk.length,
      status: async () => (await (await control(controlPort, 'GET', '/status')).json()) as HolderStatus,
      opens: async () => (await (await control(controlPort, 'GET', '/opens')).json()) as HolderOpens,
      setMarker: async (postId) => void (await control(controlPort, 'POST', `/marker?id=${encodeURIComponent(postId)}`)),
      stop: async () => {
        await control(controlPort, 'POST', '/close').catch(() => undefined);
        await proc.stop(5000);
      },
    });
  }
  await waitFor(`${name}: ${holders.length} ws-holder control ports`, async () => {
    for (const h of holders) {
      if (!h.process.running) throw new Error(`ws-holder pid ${h.process.pid} exited; see ${join(logDir, name)}-holder-*.log`);
      await h.status();
    }
    return true;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  return holders;
}

/** Sum of every holder's status. */
export async function totalStatus(holders: readonly Holder[]): Promise<{ open: number; everOpened: number; connectFailures: number; marker: number; lastMarkerAt: number; reopenTimes: number[]; firstCloseAt: number; closes: number }> {
  const all = await Promise.all(holders.map((h) => h.status()));
  return {
    open: all.reduce((s, x) => s + x.open, 0),
    everOpened: all.reduce((s, x) => s + x.everOpened, 0),
    connectFailures: all.reduce((s, x) => s + x.connectFailures, 0),
    closes: all.reduce((s, x) => s + x.closes, 0),
    marker: all.reduce((s, x) => s + x.marker, 0),
    lastMarkerAt: Math.max(0, ...all.map((x) => x.lastMarkerAt)),
    firstCloseAt: Math.min(...all.map((x) => x.firstCloseAt || Number.POSITIVE_INFINITY)),
    reopenTimes: all.flatMap((x) => x.reopenTimes).sort((a, b) => a - b),
  };
}

/** Waits until the holders together have `count` open clients; progress every 10 s. */
export async function waitOpen(holders: readonly Holder[], count: number, timeoutMs: number, log: (line: string) => void, what: string): Promise<number> {
  const t0 = Date.now();
  let lastLog = t0;
  await waitFor(`${what}: ${count} open sockets`, async () => {
    const s = await totalStatus(holders);
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      log(`${what}: ${s.open}/${count} open (${s.connectFailures} failed attempts)`);
    }
    return s.open >= count ? true : undefined;
  }, { timeoutMs, intervalMs: 500, onProgress: () => undefined });
  return (Date.now() - t0) / 1000;
}
