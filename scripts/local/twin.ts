/**
 * The local twin: the whole stack as real processes on loopback, from the same renderer output the
 * charts carry. 3 RabbitMQ nodes (one cluster, one cookie, own epmd), 2 HAProxy fronts, PostgreSQL
 * as the `postgres` user, N feed app replicas and an HAProxy app front in HTTP mode standing in for
 * the Service.
 * `startTwin` is the programmatic API (the chaos suite drives faults through it); `npm run local`
 * (scripts/local.ts) wraps it and records pids in the state file so `down` stops exactly those.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppEnv, appEnvironment, type FeedkitSpec, mergeOverrides, overridesFromEnv, QueueMode, resolveSpec, Routes, type SpecOverrides, waitFor } from '../../shared/index.js';
import { HaproxyFront, startHaproxy, type HaproxyInstance } from './haproxy.js';
import { REPO_ROOT, TWIN_DIR } from './paths.js';
import { freePort, isPortAnswering } from './ports.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { processStartTicks, progress, spawnManaged, waitAll, type ManagedProcess } from './process.js';
import { LivenessWatchdog } from './liveness.js';
import { installedRabbitmqVersion, KUBELET_RESTART_DELAY_MS, startRabbitCluster, type RabbitCluster } from './rabbitmq.js';
import { TwinRole, isRecordedAlive, readTwinState, twinStateFile, type TwinProcessRecord, type TwinState, type TwinUrls } from './state.js';

/** `items` starting at `start` (mod length) and wrapping around. */
export function rotate<T>(items: readonly T[], start: number): T[] {
  if (items.length === 0) return [];
  const k = ((start % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export * from './state.js';

/** Name of the app front's HAProxy (process, config and log file names). */
export const APP_FRONT_NAME = 'app-front';

/** Name of app replica `index` (process record, log file, server name in the app front). */
function appName(index: number): string {
  return `app-${index}`;
}

/** Entry point of the feed app, relative to the repository root. */
export const APP_ENTRY = join('app', 'src', 'main.ts');
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
  /** Port of the app front (HTTP API and feed WebSocket). @default a free port */
  readonly port?: number;
  /** `x-expires` of the replica queues. @default spec.rabbitmq.queueExpiresMs */
  readonly queueExpiresMs?: number;
  /** App LOG_LEVEL. @default spec.app.logLevel */
  readonly logLevel?: FeedkitSpec['app']['logLevel'];
  /** Seconds to wait for everything to be ready. @default 300 */
  readonly readyTimeoutSeconds?: number;
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
  /** HAProxy in HTTP mode before the app replicas, standing in for the Service. */
  readonly appFront: HaproxyInstance;
  /** `http://127.0.0.1:<front port>`: the HTTP API through the app front. */
  readonly baseUrl: string;
  /** `ws://127.0.0.1:<front port>/post/feed/posted`. */
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
  /** Waits until every HAProxy runs, the cluster has all nodes running, every app replica answers /readyz and the app front has it in rotation. */
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

function checkCount(field: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min || v > 50) throw new Error(`startTwin: ${field} must be a whole number from ${min} to 50, got ${v}`);
}

/**
 * Resolves the spec the twin runs: installed RabbitMQ version, `FEEDKIT_*` variables (as synth
 * reads them), then the caller's overrides and queue mode.
 */
export function twinSpec(callerOverrides: SpecOverrides = {}, queueMode?: QueueMode): FeedkitSpec {
  const version = installedRabbitmqVersion();
  const overrides = mergeOverrides(overridesFromEnv(process.env), callerOverrides);
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
  return LocalTwin.start(opts);
}

/** {@link StartTwinOptions} checked, with every default applied. */
interface TwinSettings {
  readonly spec: FeedkitSpec;
  readonly appCount: number;
  readonly haproxyCount: number;
  readonly readyTimeoutMs: number;
  readonly workDir: string;
}

function twinSettings(opts: StartTwinOptions): TwinSettings {
  // The options that are spec fields go into the spec, so the replicas get them like any other setting.
  const spec = twinSpec(mergeOverrides(opts.overrides ?? {}, { rabbitmq: { queueExpiresMs: opts.queueExpiresMs }, app: { logLevel: opts.logLevel } }), opts.queueMode);
  const settings: TwinSettings = {
    spec,
    appCount: opts.appReplicas ?? spec.app.replicas,
    haproxyCount: opts.haproxyReplicas ?? spec.haproxy.replicas,
    readyTimeoutMs: (opts.readyTimeoutSeconds ?? 300) * 1000,
    workDir: resolve(opts.workDir ?? TWIN_DIR),
  };
  checkCount('appReplicas', settings.appCount, 1);
  checkCount('haproxyReplicas', settings.haproxyCount, 1);
  return settings;
}

/** Empties the work folder; refused while a twin recorded there still runs. */
function prepareWorkDir(workDir: string): void {
  const stateFile = twinStateFile(workDir);
  if (readTwinState(stateFile)?.processes.some(isRecordedAlive)) {
    throw new Error(`a twin recorded in ${stateFile} still runs. Fix: npm run local -- down --workdir ${workDir}`);
  }
  // A fresh twin every time: node names are random per cluster, so old RabbitMQ data is useless.
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  chmodSync(workDir, 0o755); // the postgres user must be able to reach its data dir
}

/** One replica slot: its port and log stay, its process and REPLICA_ID change with each start. */
interface ReplicaSlot {
  readonly index: number;
  readonly port: number;
  readonly logFile: string;
  replicaId: string;
  process: ManagedProcess | undefined;
  starts: number;
}

/** The ports of one HAProxy front, chosen once so a restarted front keeps them. */
interface FrontPorts {
  readonly amqp: number;
  readonly stats: number;
}

/** A process record for the state file, or none while the process is not running. */
function record(role: TwinRole, name: string, proc: ManagedProcess | undefined, ports: number[], logFile: string): TwinProcessRecord[] {
  return proc?.running ? [{ role, name, pid: proc.pid, startTicks: processStartTicks(proc.pid), ports, logFile }] : [];
}

/** The twin behind {@link startTwin}. Every method that starts or stops a process rewrites the state file. */
class LocalTwin implements Twin {
  readonly stateFile: string;
  readonly queueMode: QueueMode;
  readonly jwtSecret = randomBytes(32).toString('hex');
  readonly baseUrl: string;
  readonly feedUrl: string;
  private readonly twinId = randomBytes(2).toString('hex');
  private readonly createdAt = new Date().toISOString();
  private readonly startedAt = Date.now();
  private rabbitCluster: RabbitCluster | undefined;
  private postgresServer: PostgresServer | undefined;
  private frontForApps: HaproxyInstance | undefined;
  private readonly fronts: HaproxyInstance[] = [];
  private readonly frontPorts: FrontPorts[] = [];
  private readonly replicas: ReplicaSlot[] = [];
  private liveness: LivenessWatchdog | undefined;

  static async start(opts: StartTwinOptions): Promise<LocalTwin> {
    const settings = twinSettings(opts);
    prepareWorkDir(settings.workDir);
    const twin = new LocalTwin(settings, opts.port ?? (await freePort()));
    try {
      await twin.boot();
    } catch (e) {
      progress(`twin: start failed, stopping what was started: ${(e as Error).message}`);
      await twin.stop();
      throw e;
    }
    progress(`twin ${twin.twinId}: ready after ${twin.secondsSinceStart()} s`);
    return twin;
  }

  private constructor(
    private readonly settings: TwinSettings,
    /** Port of the app front standing in for the Service. */
    private readonly frontPort: number,
  ) {
    this.stateFile = twinStateFile(settings.workDir);
    this.queueMode = settings.spec.rabbitmq.queueMode;
    this.baseUrl = `http://127.0.0.1:${frontPort}`;
    this.feedUrl = `ws://127.0.0.1:${frontPort}${Routes.FEED_SOCKET}`;
  }

  get workDir(): string {
    return this.settings.workDir;
  }
  get spec(): FeedkitSpec {
    return this.settings.spec;
  }
  get haproxyCount(): number {
    return this.settings.haproxyCount;
  }
  get appCount(): number {
    return this.settings.appCount;
  }
  get rabbit(): RabbitCluster {
    return started(this.rabbitCluster, 'the RabbitMQ cluster');
  }
  get postgres(): PostgresServer {
    return started(this.postgresServer, 'PostgreSQL');
  }
  get appFront(): HaproxyInstance {
    return started(this.frontForApps, 'the app front');
  }
  get haproxies(): HaproxyInstance[] {
    return [...this.fronts];
  }
  get apps(): AppReplica[] {
    return this.replicas.map((a) => ({ index: a.index, replicaId: a.replicaId, port: a.port, url: `http://127.0.0.1:${a.port}`, logFile: a.logFile, process: a.process?.running ? a.process : undefined }));
  }

  get urls(): TwinUrls {
    return {
      feedWebSocket: this.feedUrl,
      httpApi: this.baseUrl,
      appReplicas: this.replicas.map((a) => `http://127.0.0.1:${a.port}`),
      amqpFronts: this.frontPorts.map((p) => `amqp://127.0.0.1:${p.amqp}`),
      haproxyStats: this.fronts.map((h) => h.statsUrl),
      appFrontStats: this.frontForApps?.statsUrl ?? '',
      rabbitmqManagement: this.rabbitCluster?.nodes.map((n) => n.managementUrl) ?? [],
      rabbitmqAmqp: this.rabbitCluster?.nodes.map((n) => `amqp://127.0.0.1:${n.amqpPort}`) ?? [],
      postgres: this.postgresServer?.urlWithoutPassword ?? '',
    };
  }

  async killApp(i: number): Promise<void> {
    const a = this.replica(i);
    progress(`twin: kill -9 ${appName(i)} (pid ${a.process?.pid ?? '-'})`);
    await a.process?.kill9();
    this.writeState();
  }

  async stopApp(i: number): Promise<void> {
    await this.replica(i).process?.stop(Math.max(10, this.spec.app.terminationGracePeriodSeconds) * 1000);
    this.writeState();
  }

  async startApp(i: number): Promise<void> {
    this.launchApp(this.replica(i));
    await this.waitAppReady(i, this.settings.readyTimeoutMs);
  }

  async killHaproxy(i: number): Promise<void> {
    const h = this.front(i);
    progress(`twin: kill -9 ${h.name} (pid ${h.process.pid})`);
    await h.process.kill9();
    this.writeState();
  }

  async startHaproxy(i: number): Promise<void> {
    if (this.front(i).process.running) throw new Error(`${this.fronts[i]!.name} is already running`);
    this.fronts[i] = await this.launchHaproxy(i);
    this.writeState();
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1000, deadline - Date.now());
    await this.rabbit.waitForRunningNodes(this.rabbit.nodes.length, left());
    await waitFor('every HAProxy front to run', async () => this.fronts.every((h) => h.process.running) || undefined, { timeoutMs: left() });
    for (const h of this.fronts) await waitFor(`${h.name} to answer on ${h.port}`, async () => (await isPortAnswering(h.port)) || undefined, { timeoutMs: left() });
    await Promise.all(this.replicas.map((_, i) => this.waitAppReady(i, left())));
    await this.waitAppsInRotation(left());
  }

  state(): TwinState {
    const rabbit = this.rabbitCluster;
    const postgres = this.postgresServer;
    return {
      version: 1,
      createdAt: this.createdAt,
      updatedAt: new Date().toISOString(),
      workDir: this.workDir,
      queueMode: this.queueMode,
      jwtSecret: this.jwtSecret,
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
      processes: this.processRecords(),
      urls: this.urls,
    };
  }

  writeState(): void {
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state(), null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }

  release(): void {
    // The watchdog lives in this process: a released twin runs without it.
    void this.liveness?.stop();
    for (const p of [this.postgres.process, ...this.fronts.map((h) => h.process), ...this.replicas.map((a) => a.process), this.appFront.process]) p?.release();
    this.rabbit.release();
  }

  /** Stops everything, apps first; also what a failed start does with the parts it got to. */
  async stop(): Promise<void> {
    progress('twin: stopping');
    await Promise.allSettled([...this.replicas.map((a) => a.process?.stop(20_000)), this.frontForApps?.stop()]);
    await Promise.allSettled(this.fronts.map((h) => h.stop()));
    await this.liveness?.stop();
    await this.rabbitCluster?.stop().catch(() => undefined);
    await this.postgresServer?.stop().catch(() => undefined);
    rmSync(this.stateFile, { force: true });
  }

  /** Back ends first, then the AMQP fronts, the app replicas and the app front: each waits for what it connects to. */
  private async boot(): Promise<void> {
    const { workDir, appCount, haproxyCount } = this.settings;
    progress(`twin ${this.twinId}: starting in ${workDir} (queue mode ${this.queueMode}, ${appCount} app replica(s), ${haproxyCount} HAProxy)`);
    // PostgreSQL and the cluster boot at the same time: they do not depend on each other.
    await waitAll([this.startPostgres(), this.startRabbit()]);
    this.writeState();
    await this.waitForPolicy();
    this.startLiveness();
    progress(`twin: PostgreSQL and ${this.rabbit.nodes.length} RabbitMQ nodes up after ${this.secondsSinceStart()} s`);
    await this.startHaproxies();
    await this.startApps();
    await this.startAppFront();
  }

  private async startPostgres(): Promise<void> {
    const { spec, workDir } = this.settings;
    this.postgresServer = await startPostgres({ workDir: join(workDir, 'postgres'), database: spec.postgres.database, username: spec.postgres.username });
  }

  private async startRabbit(): Promise<void> {
    this.rabbitCluster = await startRabbitCluster({
      spec: this.spec,
      workDir: join(this.workDir, 'rabbitmq'),
      namePrefix: 'twin',
      // Faults through the cluster handle change node pids: the state file is what `down` stops.
      onProcessesChanged: () => this.writeState(),
      // The StatefulSet's pods restart a container that exits (restartPolicy Always).
      restartExitedAfterMs: KUBELET_RESTART_DELAY_MS,
    });
  }

  /** What the kubelet's liveness probe does to the chart's nodes (scripts/local/liveness.ts), when the spec turns it on. */
  private startLiveness(): void {
    const l = this.spec.rabbitmq.liveness;
    if (!l.enabled) return;
    this.liveness = new LivenessWatchdog(this.rabbit, l);
    progress(`twin: liveness check on every RabbitMQ node (every ${l.periodSeconds} s, restart after ${l.failureThreshold} failures)`);
  }

  /** In mirrored mode the policy comes from the rendered definitions at boot; every node must have it before any queue exists. */
  private async waitForPolicy(): Promise<void> {
    if (this.queueMode !== QueueMode.MIRRORED) return;
    const policyName = this.spec.rabbitmq.policy.name;
    for (const node of this.rabbit.nodes) {
      await waitFor(`policy ${policyName} on ${node.nodename}`, async () => (await this.rabbit.policy(node.index, policyName)) !== undefined || undefined, { timeoutMs: 30_000, intervalMs: 500 });
    }
  }

  private async startHaproxies(): Promise<void> {
    for (let i = 0; i < this.haproxyCount; i++) this.frontPorts.push({ amqp: await freePort(), stats: await freePort() });
    for (let i = 0; i < this.haproxyCount; i++) this.fronts.push(await this.launchHaproxy(i));
    this.writeState();
  }

  private async launchHaproxy(i: number): Promise<HaproxyInstance> {
    const ports = this.frontPorts[i]!;
    return startHaproxy({
      spec: this.spec,
      workDir: join(this.workDir, 'haproxy'),
      name: `haproxy-${i}`,
      port: ports.amqp,
      statsPort: ports.stats,
      servers: this.rabbit.nodes.map((n) => ({ name: n.nodename.split('@')[0]!, host: '127.0.0.1', port: n.amqpPort })),
    });
  }

  private async startApps(): Promise<void> {
    for (let index = 0; index < this.appCount; index++) {
      this.replicas.push({ index, replicaId: '', port: await freePort(), logFile: join(this.workDir, 'app', `${appName(index)}.log`), process: undefined, starts: 0 });
    }
    progress(`twin: starting ${this.appCount} app replica(s)`);
    for (const a of this.replicas) this.launchApp(a);
    await Promise.all(this.replicas.map((_, i) => this.waitAppReady(i, this.settings.readyTimeoutMs)));
  }

  /** Like a Deployment pod, each start gets a new REPLICA_ID; port and log file stay. */
  private launchApp(a: ReplicaSlot): void {
    if (a.process?.running) throw new Error(`app replica ${a.index} is already running (pid ${a.process.pid})`);
    a.starts += 1;
    a.replicaId = `twin-${this.twinId}-app-${a.index}-${a.starts}`;
    a.process = spawnManaged(appName(a.index), process.execPath, ['--import', 'tsx', join(REPO_ROOT, APP_ENTRY)], {
      cwd: REPO_ROOT,
      logFile: a.logFile,
      env: this.appEnvironment(a),
    });
    this.writeState();
  }

  /** The app replica's environment, as the app chart's ConfigMap and Secrets give it to a pod. */
  private appEnvironment(a: ReplicaSlot): Record<string, string | undefined> {
    return {
      // Nothing of the caller's app configuration leaks in: every AppEnv variable is set here or removed.
      ...Object.fromEntries(Object.values(AppEnv).map((k) => [k, undefined])),
      ...appEnvironment(this.spec),
      [AppEnv.PORT]: String(a.port),
      [AppEnv.REPLICA_ID]: a.replicaId,
      // Rotated per replica, as a Service spreads connections over the HAProxy pods: killing one front
      // then hits some replicas, never all (with one shared order every replica sat on front 0).
      [AppEnv.AMQP_URLS]: rotate(this.frontPorts, a.index).map((p) => `amqp://127.0.0.1:${p.amqp}`).join(','),
      [AppEnv.AMQP_USERNAME]: this.rabbit.username,
      [AppEnv.AMQP_PASSWORD]: this.rabbit.password,
      [AppEnv.DATABASE_URL]: this.postgres.urlWithoutPassword,
      [AppEnv.PGPASSWORD]: this.postgres.password,
      [AppEnv.JWT_SECRET]: this.jwtSecret,
    };
  }

  private async waitAppReady(i: number, timeoutMs: number): Promise<void> {
    const a = this.replicas[i]!;
    await waitFor(`app replica ${i} (${a.replicaId}) /readyz on 127.0.0.1:${a.port} (log: ${a.logFile})`, async () => {
      if (!a.process?.running) throw new Error(`app replica ${i} exited (code ${String(await a.process?.exited)}); see ${a.logFile}`);
      return (await httpOk(`http://127.0.0.1:${a.port}${Routes.READY}`)) || undefined;
    }, { timeoutMs, intervalMs: 250 });
  }

  /**
   * HAProxy in HTTP mode before the replicas, as the Service is in a cluster. Its server list is
   * static: a replica restarted by {@link startApp} keeps its port, and the readiness check brings it back.
   */
  private async startAppFront(): Promise<void> {
    this.frontForApps = await startHaproxy({
      spec: this.spec,
      front: HaproxyFront.APP,
      workDir: join(this.workDir, 'haproxy'),
      name: APP_FRONT_NAME,
      port: this.frontPort,
      servers: this.replicas.map((a) => ({ name: appName(a.index), host: '127.0.0.1', port: a.port })),
    });
    this.writeState();
    await this.waitAppsInRotation(30_000);
  }

  /** Waits until the app front marks every running replica UP (its readiness check passed). */
  private async waitAppsInRotation(timeoutMs: number): Promise<void> {
    const front = this.appFront;
    if (!front.process.running) throw new Error(`${front.name} is not running; see ${front.logFile}`);
    for (const a of this.replicas) if (a.process?.running) await front.waitForServerStatus(appName(a.index), 'UP', timeoutMs);
  }

  /** Start order; `down` stops in reverse. */
  private processRecords(): TwinProcessRecord[] {
    const { workDir } = this.settings;
    const postgres = this.postgresServer;
    const rabbit = this.rabbitCluster;
    return [
      ...record(TwinRole.POSTGRES, 'postgres', postgres?.process, postgres ? [postgres.port] : [], join(workDir, 'postgres', 'postgres.log')),
      ...record(TwinRole.EPMD, 'epmd', rabbit?.epmd, rabbit ? [rabbit.epmdPort] : [], join(workDir, 'rabbitmq', 'epmd.log')),
      ...(rabbit?.nodes.flatMap((n) =>
        n.groupPid === undefined
          ? []
          : [{ role: TwinRole.RABBITMQ, name: n.nodename, pid: n.groupPid, startTicks: processStartTicks(n.groupPid), ports: [n.amqpPort, n.managementPort, n.prometheusPort, n.distPort], logFile: n.logFile }],
      ) ?? []),
      ...this.fronts.flatMap((h) => record(TwinRole.HAPROXY, h.name, h.process, [h.port, h.statsPort], h.logFile)),
      ...this.replicas.flatMap((a) => record(TwinRole.APP, appName(a.index), a.process, [a.port], a.logFile)),
      ...(this.frontForApps ? record(TwinRole.APP_FRONT, this.frontForApps.name, this.frontForApps.process, [this.frontForApps.port, this.frontForApps.statsPort], this.frontForApps.logFile) : []),
    ];
  }

  private replica(i: number): ReplicaSlot {
    if (!Number.isInteger(i) || i < 0 || i >= this.replicas.length) throw new Error(`app index ${i} is out of range: the twin has replicas 0..${this.replicas.length - 1}`);
    return this.replicas[i]!;
  }

  private front(i: number): HaproxyInstance {
    if (!Number.isInteger(i) || i < 0 || i >= this.frontPorts.length) throw new Error(`HAProxy index ${i} is out of range: the twin has 0..${this.frontPorts.length - 1}`);
    return this.fronts[i]!;
  }

  private secondsSinceStart(): number {
    return Math.round((Date.now() - this.startedAt) / 1000);
  }
}

/** A part the twin starts in {@link LocalTwin.boot}; asking for it before then is a bug in the caller. */
function started<T>(part: T | undefined, what: string): T {
  if (part === undefined) throw new Error(`twin: ${what} is not started yet`);
  return part;
}
