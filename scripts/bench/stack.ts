/**
 * The system under benchmark, built from the local process library: one three-node RabbitMQ
 * cluster (rendered with the mirrored policy; quorum queues ignore it, so one cluster serves both
 * queue modes), one HAProxy AMQP front, one PostgreSQL, and feed app replicas as child processes
 * (their own event loops and their own RSS). Everything is stopped by pid.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppEnv, DEFAULT_SPEC, QueueMode, Routes, waitFor, type FeedkitSpec } from '../../shared/index.js';
import { startHaproxy, type HaproxyInstance } from '../local/haproxy.js';
import { REPO_ROOT } from '../local/paths.js';
import { freePort } from '../local/ports.js';
import { startPostgres, type PostgresServer } from '../local/postgres.js';
import { spawnManaged, type ManagedProcess } from '../local/process.js';
import { startRabbitCluster, type RabbitCluster } from '../local/rabbitmq.js';

/** Work folder of benchmark runs (git-ignored). */
export const BENCH_DIR = join(REPO_ROOT, '.local', 'bench');

/** Progress line on stderr (stdout carries the summary table). */
export function benchLog(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** One feed app replica running as a child process. */
export interface AppReplica {
  readonly replicaId: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly mode: QueueMode;
  readonly process: ManagedProcess;
  readonly logFile: string;
}

/** Options of {@link BenchStack.startApp}. */
export interface StartAppOptions {
  readonly mode: QueueMode;
  /** Extra app environment (e.g. WS_PING_INTERVAL_MS). */
  readonly env?: Readonly<Record<string, string>>;
  /** Seconds to wait for /readyz. @default 90 */
  readonly readyTimeoutS?: number;
}

export interface BenchStack {
  /** The spec the cluster and fronts were rendered from. */
  readonly spec: FeedkitSpec;
  readonly dir: string;
  readonly rabbit: RabbitCluster;
  /** The running AMQP front (a new instance on the same ports after {@link BenchStack.restartHaproxy}). */
  readonly haproxy: HaproxyInstance;
  readonly postgres: PostgresServer;
  readonly jwtSecret: string;
  /** `amqp://user:pass@127.0.0.1:<haproxy port>`: the same front the app uses (carries the password). */
  readonly amqpUrl: string;
  /** Starts an app replica process and waits until it answers /readyz. */
  startApp(replicaId: string, opts: StartAppOptions): Promise<AppReplica>;
  /** Stops every app replica started here: SIGTERM, SIGKILL after `timeoutMs` (default 3 s; a benchmark does not wait for graceful unbinds). */
  stopApps(timeoutMs?: number): Promise<void>;
  /**
   * kill -9 the HAProxy front (every AMQP connection through it drops at once, as when its pod dies),
   * then starts it again on the same ports so the apps' AMQP_URLS stay valid. Resolves with the kill
   * time (ms since epoch) once the new front answers and marks every node UP.
   */
  restartHaproxy(): Promise<number>;
  stop(): Promise<void>;
}

/** Node's own binary with tsx as loader: the child's pid is the app process itself. */
function appCommand(): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'app', 'src', 'main.ts')] };
}

/** Polls /readyz until it answers 200. */
export async function waitAppReady(url: string, proc: ManagedProcess, timeoutMs: number, logFile: string): Promise<void> {
  await waitFor(`app ${url}${Routes.READY} (log: ${logFile})`, async () => {
    if (!proc.running) throw new Error(`app process ${proc.pid} exited; see ${logFile}`);
    const res = await fetch(`${url}${Routes.READY}`, { signal: AbortSignal.timeout(2000) });
    return res.ok || undefined;
  }, { timeoutMs, intervalMs: 200 });
}

/** Starts the cluster, HAProxy and PostgreSQL in a fresh folder; stops what it started on failure. */
export async function startBenchStack(runId: string): Promise<BenchStack> {
  const dir = join(BENCH_DIR, runId);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // postgres runs as its own OS user and must enter it
  const spec = { ...DEFAULT_SPEC, rabbitmq: { ...DEFAULT_SPEC.rabbitmq, queueMode: QueueMode.MIRRORED } };
  benchLog(`starting PostgreSQL and a ${spec.rabbitmq.replicas}-node RabbitMQ cluster in ${dir}`);
  const [pgResult, rabbitResult] = await Promise.allSettled([
    startPostgres({ workDir: join(dir, 'pg') }),
    startRabbitCluster({ spec, workDir: join(dir, 'rabbit'), namePrefix: 'bench' }),
  ]);
  if (pgResult.status === 'rejected' || rabbitResult.status === 'rejected') {
    if (pgResult.status === 'fulfilled') await pgResult.value.stop().catch(() => undefined);
    if (rabbitResult.status === 'fulfilled') await rabbitResult.value.stop().catch(() => undefined);
    throw pgResult.status === 'rejected' ? pgResult.reason : (rabbitResult as PromiseRejectedResult).reason;
  }
  const postgres = pgResult.value;
  const rabbit = rabbitResult.value;
  const launchHaproxy = async (ports?: { port: number; statsPort: number }): Promise<HaproxyInstance> => {
    const front = await startHaproxy({
      spec,
      workDir: join(dir, 'haproxy'),
      servers: rabbit.nodes.map((n) => ({ name: `rabbit-${n.index}`, host: '127.0.0.1', port: n.amqpPort })),
      ...ports,
    });
    await waitFor('HAProxy to mark every RabbitMQ node UP', async () => {
      const st = await front.serverStatuses();
      return Object.values(st).length === rabbit.nodes.length && Object.values(st).every((s) => s.startsWith('UP') && !s.includes('/')) ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    return front;
  };
  let haproxy: HaproxyInstance;
  try {
    haproxy = await launchHaproxy();
  } catch (e) {
    await Promise.allSettled([rabbit.stop(), postgres.stop()]);
    throw e;
  }
  const jwtSecret = randomBytes(32).toString('hex');
  const enc = encodeURIComponent;
  const amqpUrl = `amqp://${enc(rabbit.username)}:${enc(rabbit.password)}@127.0.0.1:${haproxy.port}`;
  const apps: AppReplica[] = [];
  const stopApps = async (timeoutMs = 3000): Promise<void> => {
    const all = apps.splice(0);
    await Promise.allSettled(all.map((a) => a.process.stop(timeoutMs)));
  };

  return {
    spec,
    dir,
    rabbit,
    get haproxy() {
      return haproxy;
    },
    postgres,
    jwtSecret,
    amqpUrl,
    async startApp(replicaId, opts) {
      const port = await freePort();
      const logFile = join(dir, 'apps', `${replicaId}.log`);
      const { cmd, args } = appCommand();
      const proc = spawnManaged(`app:${replicaId}`, cmd, args, {
        cwd: REPO_ROOT,
        logFile,
        env: {
          [AppEnv.PORT]: String(port),
          [AppEnv.REPLICA_ID]: replicaId,
          [AppEnv.AMQP_URLS]: haproxy.url,
          [AppEnv.AMQP_USERNAME]: rabbit.username,
          [AppEnv.AMQP_PASSWORD]: rabbit.password,
          [AppEnv.DATABASE_URL]: postgres.urlWithoutPassword,
          [AppEnv.PGPASSWORD]: postgres.password,
          [AppEnv.JWT_SECRET]: jwtSecret,
          [AppEnv.QUEUE_MODE]: opts.mode,
          [AppEnv.LOG_LEVEL]: 'warn',
          [AppEnv.SHUTDOWN_TIMEOUT_MS]: '10000',
          ...opts.env,
        },
      });
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitAppReady(url, proc, (opts.readyTimeoutS ?? 90) * 1000, logFile);
      } catch (e) {
        await proc.stop(5000).catch(() => undefined);
        throw e;
      }
      const app: AppReplica = { replicaId, port, url, mode: opts.mode, process: proc, logFile };
      apps.push(app);
      return app;
    },
    stopApps,
    async restartHaproxy() {
      const { port, statsPort } = haproxy;
      const killedAt = Date.now();
      await haproxy.process.kill9();
      haproxy = await launchHaproxy({ port, statsPort });
      return killedAt;
    },
    async stop() {
      await stopApps();
      await Promise.allSettled([haproxy.stop(), rabbit.stop(), postgres.stop()]);
    },
  };
}

/** Reads one sample of a Prometheus metric (no labels) from an app's /metrics; undefined when absent. */
export async function scrapeMetric(url: string, name: string): Promise<number | undefined> {
  const res = await fetch(`${url}${Routes.METRICS}`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line === undefined) return undefined;
  const v = Number(line.slice(line.lastIndexOf(' ') + 1));
  return Number.isFinite(v) ? v : undefined;
}

/** Resident set size of a process in bytes, from /proc (VmRSS). */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc CPU counters (USER_HZ; 100 on Linux). */
const USER_HZ = 100;

/** A reading of machine and per-process CPU counters. */
export interface CpuSnapshot {
  readonly at: number;
  readonly machineBusy: number;
  readonly machineTotal: number;
  /** utime + stime ticks per pid. */
  readonly procTicks: ReadonlyMap<number, number>;
}

/** Reads /proc/stat and /proc/<pid>/stat of `pids`. */
export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((s, v) => s + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const procTicks = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procTicks.set(pid, Number(f[11]) + Number(f[12]));
    } catch {
      /* gone */
    }
  }
  return { at: Date.now(), machineBusy: total - idle, machineTotal: total, procTicks };
}

/** Pids whose parent is `ppid` (e.g. the postmaster's backends), from /proc. */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Pids of each part of the stack (RabbitMQ VMs, PostgreSQL with its backends, HAProxy, the given app replicas, this load generator). */
export function stackParts(stack: BenchStack, apps: readonly AppReplica[]): Record<string, number[]> {
  const pg = stack.postgres.process.pid;
  return {
    rabbitmq: stack.rabbit.nodes.map((n) => n.pid).filter((p): p is number => p !== undefined),
    postgres: [pg, ...childPids(pg)],
    haproxy: [stack.haproxy.process.pid],
    app: apps.map((a) => a.process.pid),
    'load generator': [process.pid],
  };
}

/** Cores each part used between two snapshots taken over the same pids. */
export function coresByPart(parts: Readonly<Record<string, readonly number[]>>, a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const wallS = (b.at - a.at) / 1000;
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(parts)) {
    let ticks = 0;
    for (const pid of pids) {
      const t1 = b.procTicks.get(pid);
      const t0 = a.procTicks.get(pid);
      if (t1 !== undefined && t0 !== undefined) ticks += t1 - t0;
    }
    out[name] = wallS > 0 ? Math.round((ticks / USER_HZ / wallS) * 100) / 100 : 0;
  }
  return out;
}

/** Machine CPU busy fraction (0–1) and cores used by the given pids between two snapshots. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): { machineBusy: number; coresUsedByPids: number } {
  const dt = b.machineTotal - a.machineTotal;
  let ticks = 0;
  for (const [pid, t] of b.procTicks) ticks += t - (a.procTicks.get(pid) ?? t);
  const wallS = (b.at - a.at) / 1000;
  return {
    machineBusy: dt > 0 ? Math.round(((b.machineBusy - a.machineBusy) / dt) * 100) / 100 : 0,
    coresUsedByPids: wallS > 0 ? Math.round((ticks / USER_HZ / wallS) * 100) / 100 : 0,
  };
}
