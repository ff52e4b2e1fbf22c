/**
 * The local twin: the whole stack as real processes on loopback, from the same renderer output the
 * charts carry. 3 RabbitMQ nodes (one cluster, one cookie, own epmd), 2 HAProxy fronts, PostgreSQL
 * as the `postgres` user, N feed app replicas and a load balancer standing in for the Service.
 * `startTwin` is the programmatic API (the chaos suite drives faults through it); `npm run local`
 * (scripts/local.ts) wraps it and records pids in the state file so `down` stops exactly those.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppEnv, type FeedkitSpec, QueueMode, resolveSpec, Routes, type SpecOverrides, waitFor } from '../../shared/index.js';
import { startHaproxy, type HaproxyInstance } from './haproxy.js';
import { REPO_ROOT, TWIN_DIR } from './paths.js';
import { freePort, isPortAnswering } from './ports.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { processStartTicks, progress, spawnManaged, type ManagedProcess } from './process.js';
import { installedRabbitmqVersion, startRabbitCluster, type RabbitCluster } from './rabbitmq.js';
import { TwinRole, isRecordedAlive, readTwinState, twinStateFile, type TwinProcessRecord, type TwinState, type TwinUrls } from './state.js';

/** `items` starting at `start` (mod length) and wrapping around. */
export function rotate<T>(items: readonly T[], start: number): T[] {
  if (items.length === 0) return [];
  const k = ((start % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export * from './state.js';

/** Entry point of the feed app, relative to the repository root. */
export const APP_ENTRY = join('app', 'src', 'main.ts');
/** The balancer's own entry point (run as a separate process so it outlives `local up`). */
export const LOAD_BALANCER_ENTRY = join('scripts', 'local', 'load-balancer.ts');
/** One feed app replica. */
export interface AppReplica {
  readonly index: number;
  /** REPLICA_ID of the current (or last) run: like a Deployment pod, each start gets a new one. */
  readonly replicaId: string;
  readonly port: number;
  readonly url: string;
  readonly logFile: string;
  /** The running process, `undefined` while stopped. */
  readonly process: ManagedProcess | undefined;
}

/** Options of {@link startTwin}. */
export interface StartTwinOptions {
  /**
   * Work folder: configs, data dirs, logs, the state file. Emptied first (refused while a twin recorded there runs).
   * @default TWIN_DIR (.local/twin, or FEEDKIT_WORKDIR)
   */
  readonly workDir?: string;
  /** Spec overrides; the RabbitMQ version defaults to the installed one. */
  readonly overrides?: SpecOverrides;
  /** @default spec.rabbitmq.queueMode */
  readonly queueMode?: QueueMode;
  /** @default spec.app.replicas (3) */
  readonly appReplicas?: number;
  /** @default spec.haproxy.replicas (2) */
  readonly haproxyReplicas?: number;
  /** Load balancer port. @default a free port */
  readonly port?: number;
  /** `x-expires` of the replica queues. @default spec.rabbitmq.queueExpiresMs */
  readonly queueExpiresMs?: number;
  /** App LOG_LEVEL. @default spec.app.logLevel */
  readonly logLevel?: FeedkitSpec['app']['logLevel'];
  /** Seconds to wait for everything to be ready. @default 300 */
  readonly readyTimeoutSeconds?: number;
  /** Start app replicas only when the app exists; otherwise fail. @default false (fail) */
  readonly skipAppsIfMissing?: boolean;
}

/** A running twin. Every method waits with a timeout. */
export interface Twin {
  readonly workDir: string;
  readonly stateFile: string;
  readonly spec: FeedkitSpec;
  readonly queueMode: QueueMode;
  /** HS256 secret the app replicas verify tokens with. */
  readonly jwtSecret: string;
  readonly rabbit: RabbitCluster;
  readonly haproxies: readonly HaproxyInstance[];
  readonly postgres: PostgresServer;
  readonly apps: readonly AppReplica[];
  readonly loadBalancer: ManagedProcess;
  /** `http://127.0.0.1:<lb port>`: the HTTP API through the load balancer. */
  readonly baseUrl: string;
  /** `ws://127.0.0.1:<lb port>/post/feed/posted`. */
  readonly feedUrl: string;
  readonly haproxyCount: number;
  readonly appCount: number;
  readonly urls: TwinUrls;
  killApp(i: number): Promise<void>;
  /** Graceful stop (SIGTERM: the app closes sockets with 1012 and drains). */
  stopApp(i: number): Promise<void>;
  /** Starts replica i again (new REPLICA_ID, same port) and waits for its /readyz. */
  startApp(i: number): Promise<void>;
  killHaproxy(i: number): Promise<void>;
  /** Starts HAProxy i again with the same rendered config and ports. */
  startHaproxy(i: number): Promise<void>;
  /** Waits until every HAProxy runs, the cluster has all nodes running, and every app replica answers /readyz. */
  waitReady(timeoutMs: number): Promise<void>;
  /** The state as written to {@link stateFile}. */
  state(): TwinState;
  /** Rewrites the state file (done after every start/stop through this API). */
  writeState(): void;
  /** Leaves every process running after this Node process exits (for `local up`). */
  release(): void;
  /** Stops everything, apps first. */
  stop(): Promise<void>;
}

/** RabbitCluster methods after which the twin rewrites its state file. */
const PID_CHANGING_METHODS: ReadonlySet<string> = new Set(['killNode', 'stopNode', 'startNode', 'startAll', 'stopAll']);

function checkCount(field: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min || v > 50) throw new Error(`startTwin: ${field} must be a whole number from ${min} to 50, got ${v}`);
}

/** Resolves the spec the twin runs: installed RabbitMQ version, queue mode override. */
export function twinSpec(overrides: SpecOverrides = {}, queueMode?: QueueMode): FeedkitSpec {
  const version = installedRabbitmqVersion();
  return resolveSpec({
    ...overrides,
    rabbitmq: {
      ...(version ? { version } : {}),
      ...overrides.rabbitmq,
      ...(queueMode ? { queueMode } : {}),
    },
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer().catch(() => undefined);
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts the whole twin and waits until it is ready. On failure everything started is stopped
 * and the error names what did not come up (and its log file).
 */
export async function startTwin(opts: StartTwinOptions = {}): Promise<Twin> {
  const spec = twinSpec(opts.overrides, opts.queueMode);
  const queueMode = spec.rabbitmq.queueMode;
  const appCount = opts.appReplicas ?? spec.app.replicas;
  const haproxyCount = opts.haproxyReplicas ?? spec.haproxy.replicas;
  checkCount('appReplicas', appCount, 1);
  checkCount('haproxyReplicas', haproxyCount, 1);
  const readyTimeoutMs = (opts.readyTimeoutSeconds ?? 300) * 1000;
  const workDir = resolve(opts.workDir ?? TWIN_DIR);
  const stateFile = twinStateFile(workDir);
  const appEntry = join(REPO_ROOT, APP_ENTRY);
  const haveApp = existsSync(appEntry);
  if (!haveApp && !opts.skipAppsIfMissing) throw new Error(`the feed app entry ${appEntry} does not exist`);

  const previous = readTwinState(stateFile);
  if (previous?.processes.some(isRecordedAlive)) {
    throw new Error(`a twin recorded in ${stateFile} still runs. Fix: npm run local -- down --workdir ${workDir}`);
  }
  // A fresh twin every time: node names are random per cluster, so old RabbitMQ data is useless.
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  chmodSync(workDir, 0o755); // the postgres user must be able to reach its data dir
  const twinId = randomBytes(2).toString('hex');
  const jwtSecret = randomBytes(32).toString('hex');
  const createdAt = new Date().toISOString();
  const t0 = Date.now();
  progress(`twin ${twinId}: starting in ${workDir} (queue mode ${queueMode}, ${appCount} app replica(s), ${haproxyCount} HAProxy)`);

  let rabbit: RabbitCluster | undefined;
  let postgres: PostgresServer | undefined;
  const haproxies: HaproxyInstance[] = [];
  const haproxyPorts: { amqp: number; stats: number }[] = [];
  const apps: { index: number; replicaId: string; port: number; logFile: string; process: ManagedProcess | undefined; starts: number }[] = [];
  let loadBalancer: ManagedProcess | undefined;
  const lbPort = opts.port ?? (await freePort());
  const lbLog = join(workDir, 'load-balancer.log');

  const urls = (): TwinUrls => ({
    feedWebSocket: `ws://127.0.0.1:${lbPort}${Routes.FEED_SOCKET}`,
    httpApi: `http://127.0.0.1:${lbPort}`,
    appReplicas: apps.map((a) => `http://127.0.0.1:${a.port}`),
    amqpFronts: haproxyPorts.map((p) => `amqp://127.0.0.1:${p.amqp}`),
    haproxyStats: haproxies.map((h) => h.statsUrl),
    rabbitmqManagement: rabbit?.nodes.map((n) => n.managementUrl) ?? [],
    rabbitmqAmqp: rabbit?.nodes.map((n) => `amqp://127.0.0.1:${n.amqpPort}`) ?? [],
    postgres: postgres?.urlWithoutPassword ?? '',
  });

  const record = (role: TwinRole, name: string, proc: ManagedProcess | undefined, ports: number[], logFile: string): TwinProcessRecord[] =>
    proc?.running ? [{ role, name, pid: proc.pid, startTicks: processStartTicks(proc.pid), ports, logFile }] : [];

  const state = (): TwinState => ({
    version: 1,
    createdAt,
    updatedAt: new Date().toISOString(),
    workDir,
    queueMode,
    jwtSecret,
    rabbitmq: {
      username: rabbit?.username ?? '',
      password: rabbit?.password ?? '',
      cookie: rabbit?.cookie ?? '',
      epmdPort: rabbit?.epmdPort ?? 0,
      nodes: rabbit?.nodes.map((n) => n.nodename) ?? [],
    },
    postgres: {
      username: postgres?.username ?? '',
      password: postgres?.password ?? '',
      database: postgres?.database ?? '',
      port: postgres?.port ?? 0,
    },
    // Start order; `down` stops in reverse.
    processes: [
      ...record(TwinRole.POSTGRES, 'postgres', postgres?.process, postgres ? [postgres.port] : [], join(workDir, 'postgres', 'postgres.log')),
      ...record(TwinRole.EPMD, 'epmd', rabbit?.epmd, rabbit ? [rabbit.epmdPort] : [], join(workDir, 'rabbitmq', 'epmd.log')),
      ...(rabbit?.nodes.flatMap((n) =>
        n.groupPid === undefined
          ? []
          : [{ role: TwinRole.RABBITMQ, name: n.nodename, pid: n.groupPid, startTicks: processStartTicks(n.groupPid), ports: [n.amqpPort, n.managementPort, n.prometheusPort, n.distPort], logFile: n.logFile }],
      ) ?? []),
      ...haproxies.flatMap((h) => record(TwinRole.HAPROXY, h.name, h.process, [h.amqpPort, h.statsPort], h.logFile)),
      ...apps.flatMap((a) => record(TwinRole.APP, `app-${a.index}`, a.process, [a.port], a.logFile)),
      ...record(TwinRole.LOAD_BALANCER, 'load-balancer', loadBalancer, [lbPort], lbLog),
    ],
    urls: urls(),
  });

  const writeState = (): void => {
    const tmp = `${stateFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(state(), null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, stateFile);
  };

  const haproxyDir = join(workDir, 'haproxy');
  const launchHaproxy = async (i: number): Promise<HaproxyInstance> => {
    const ports = haproxyPorts[i]!;
    return startHaproxy({
      spec,
      workDir: haproxyDir,
      name: `haproxy-${i}`,
      amqpPort: ports.amqp,
      statsPort: ports.stats,
      servers: rabbit!.nodes.map((n) => ({ name: n.nodename.split('@')[0]!, host: '127.0.0.1', port: n.amqpPort })),
    });
  };

  const appEnv = (a: (typeof apps)[number]): Record<string, string | undefined> => ({
    // Nothing of the caller's app configuration leaks in: every AppEnv variable is set here or removed.
    ...Object.fromEntries(Object.values(AppEnv).map((k) => [k, undefined])),
    [AppEnv.PORT]: String(a.port),
    [AppEnv.REPLICA_ID]: a.replicaId,
    // Rotated per replica, as a Service spreads connections over the HAProxy pods: killing one front
    // then hits some replicas, never all (with one shared order every replica sat on front 0).
    [AppEnv.AMQP_URLS]: rotate(haproxyPorts, a.index).map((p) => `amqp://127.0.0.1:${p.amqp}`).join(','),
    [AppEnv.AMQP_USERNAME]: rabbit!.username,
    [AppEnv.AMQP_PASSWORD]: rabbit!.password,
    [AppEnv.DATABASE_URL]: postgres!.urlWithoutPassword,
    [AppEnv.PGPASSWORD]: postgres!.password,
    [AppEnv.JWT_SECRET]: jwtSecret,
    [AppEnv.QUEUE_MODE]: queueMode,
    [AppEnv.QUEUE_EXPIRES_MS]: String(opts.queueExpiresMs ?? spec.rabbitmq.queueExpiresMs),
    [AppEnv.PREFETCH]: String(spec.app.prefetch),
    [AppEnv.LOG_LEVEL]: opts.logLevel ?? spec.app.logLevel,
  });

  const waitAppReady = async (i: number, timeoutMs: number): Promise<void> => {
    const a = apps[i]!;
    await waitFor(`app replica ${i} (${a.replicaId}) /readyz on 127.0.0.1:${a.port} (log: ${a.logFile})`, async () => {
      if (!a.process?.running) throw new Error(`app replica ${i} exited (code ${String(await a.process?.exited)}); see ${a.logFile}`);
      return (await httpOk(`http://127.0.0.1:${a.port}${Routes.READY}`)) || undefined;
    }, { timeoutMs, intervalMs: 250 });
  };

  const launchApp = (i: number): void => {
    const a = apps[i]!;
    if (a.process?.running) throw new Error(`app replica ${i} is already running (pid ${a.process.pid})`);
    a.starts += 1;
    a.replicaId = `twin-${twinId}-app-${i}-${a.starts}`;
    a.process = spawnManaged(`app-${i}`, process.execPath, ['--import', 'tsx', appEntry], {
      cwd: REPO_ROOT,
      logFile: a.logFile,
      env: appEnv(a),
    });
  };

  const checkApp = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= apps.length) throw new Error(`app index ${i} is out of range: the twin has replicas 0..${apps.length - 1}`);
  };
  const checkHaproxy = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= haproxyPorts.length) throw new Error(`HAProxy index ${i} is out of range: the twin has 0..${haproxyPorts.length - 1}`);
  };

  const stopEverything = async (): Promise<void> => {
    await Promise.allSettled([
      ...apps.map((a) => a.process?.stop(20_000)),
      loadBalancer?.stop(5000),
    ]);
    await Promise.allSettled(haproxies.map((h) => h.stop()));
    await rabbit?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
  };

  try {
    // PostgreSQL and the cluster boot at the same time: they do not depend on each other.
    const [pgResult, rabbitResult] = await Promise.allSettled([
      startPostgres({ workDir: join(workDir, 'postgres'), database: spec.postgres.database, username: spec.postgres.username }),
      startRabbitCluster({ spec, workDir: join(workDir, 'rabbitmq'), namePrefix: 'twin' }),
    ]);
    if (pgResult.status === 'fulfilled') postgres = pgResult.value;
    if (rabbitResult.status === 'fulfilled') rabbit = rabbitResult.value;
    if (pgResult.status === 'rejected') throw pgResult.reason;
    if (rabbitResult.status === 'rejected') throw rabbitResult.reason;
    writeState();
    if (queueMode === QueueMode.MIRRORED) {
      // The policy comes from the rendered definitions at boot; check every node has it before any queue exists.
      const policyName = spec.rabbitmq.policy.name;
      for (const node of rabbit!.nodes) {
        await waitFor(`policy ${policyName} on ${node.nodename}`, async () => (await rabbit!.policy(node.index, policyName)) !== undefined || undefined, { timeoutMs: 30_000, intervalMs: 500 });
      }
    }
    progress(`twin: PostgreSQL and ${rabbit!.nodes.length} RabbitMQ nodes up after ${Math.round((Date.now() - t0) / 1000)} s`);

    for (let i = 0; i < haproxyCount; i++) haproxyPorts.push({ amqp: await freePort(), stats: await freePort() });
    for (let i = 0; i < haproxyCount; i++) haproxies.push(await launchHaproxy(i));
    writeState();

    for (let i = 0; i < appCount; i++) {
      apps.push({ index: i, replicaId: '', port: await freePort(), logFile: join(workDir, 'app', `app-${i}.log`), process: undefined, starts: 0 });
    }
    if (haveApp) {
      progress(`twin: starting ${appCount} app replica(s)`);
      for (let i = 0; i < appCount; i++) launchApp(i);
      writeState();
      await Promise.all(apps.map((_, i) => waitAppReady(i, readyTimeoutMs)));
    } else {
      progress(`twin: ${appEntry} does not exist yet: no app replicas started`);
    }

    loadBalancer = spawnManaged('load-balancer', process.execPath, ['--import', 'tsx', join(REPO_ROOT, LOAD_BALANCER_ENTRY), '--port', String(lbPort), '--backends', apps.map((a) => `127.0.0.1:${a.port}`).join(',')], {
      cwd: REPO_ROOT,
      logFile: lbLog,
    });
    writeState();
    await waitFor(`load balancer on 127.0.0.1:${lbPort} (log: ${lbLog})`, async () => {
      if (!loadBalancer!.running) throw new Error(`load balancer exited; see ${lbLog}`);
      if (!haveApp) return (await isPortAnswering(lbPort)) || undefined;
      return (await httpOk(`http://127.0.0.1:${lbPort}${Routes.READY}`)) || undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
  } catch (e) {
    progress(`twin: start failed, stopping what was started: ${(e as Error).message}`);
    await stopEverything();
    rmSync(stateFile, { force: true });
    throw e;
  }

  // Faults through the cluster handle change node pids: keep the state file (what `down` stops) current.
  const trackedRabbit = new Proxy(rabbit!, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || !PID_CHANGING_METHODS.has(String(prop))) return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          writeState();
        }
      };
    },
  });

  const twin: Twin = {
    workDir,
    stateFile,
    spec,
    queueMode,
    jwtSecret,
    rabbit: trackedRabbit,
    get haproxies() {
      return [...haproxies];
    },
    postgres: postgres!,
    get apps() {
      return apps.map((a) => ({ index: a.index, replicaId: a.replicaId, port: a.port, url: `http://127.0.0.1:${a.port}`, logFile: a.logFile, process: a.process?.running ? a.process : undefined }));
    },
    loadBalancer: loadBalancer!,
    baseUrl: `http://127.0.0.1:${lbPort}`,
    feedUrl: `ws://127.0.0.1:${lbPort}${Routes.FEED_SOCKET}`,
    haproxyCount,
    appCount,
    get urls() {
      return urls();
    },
    async killApp(i) {
      checkApp(i);
      const a = apps[i]!;
      progress(`twin: kill -9 app-${i} (pid ${a.process?.pid ?? '-'})`);
      await a.process?.kill9();
      writeState();
    },
    async stopApp(i) {
      checkApp(i);
      await apps[i]!.process?.stop(Math.max(10, spec.app.terminationGracePeriodSeconds) * 1000);
      writeState();
    },
    async startApp(i) {
      checkApp(i);
      if (!haveApp) throw new Error(`cannot start app replica ${i}: ${appEntry} does not exist`);
      launchApp(i);
      writeState();
      await waitAppReady(i, readyTimeoutMs);
    },
    async killHaproxy(i) {
      checkHaproxy(i);
      const h = haproxies[i]!;
      progress(`twin: kill -9 ${h.name} (pid ${h.process.pid})`);
      await h.process.kill9();
      writeState();
    },
    async startHaproxy(i) {
      checkHaproxy(i);
      if (haproxies[i]!.process.running) throw new Error(`${haproxies[i]!.name} is already running`);
      haproxies[i] = await launchHaproxy(i);
      writeState();
    },
    async waitReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const left = () => Math.max(1000, deadline - Date.now());
      await rabbit!.waitForRunningNodes(rabbit!.nodes.length, left());
      await waitFor('every HAProxy front to run', async () => haproxies.every((h) => h.process.running) || undefined, { timeoutMs: left() });
      for (const h of haproxies) await waitFor(`${h.name} to answer on ${h.amqpPort}`, async () => (await isPortAnswering(h.amqpPort)) || undefined, { timeoutMs: left() });
      if (haveApp) await Promise.all(apps.map((_, i) => waitAppReady(i, left())));
    },
    state,
    writeState,
    release() {
      for (const p of [postgres!.process, ...haproxies.map((h) => h.process), ...apps.map((a) => a.process), loadBalancer!]) p?.release();
      rabbit!.release();
    },
    async stop() {
      progress('twin: stopping');
      await stopEverything();
      rmSync(stateFile, { force: true });
    },
  };
  writeState();
  progress(`twin ${twinId}: ready after ${Math.round((Date.now() - t0) / 1000)} s`);
  return twin;
}

