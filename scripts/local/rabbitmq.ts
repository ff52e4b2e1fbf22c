/**
 * A RabbitMQ cluster of real Debian `rabbitmq-server` nodes on loopback, booted from the same
 * renderer output the charts carry (classic peer discovery, loopback listeners, local paths).
 * Each cluster has its own epmd, node names with a random suffix, dynamic ports and its own
 * cookie, so several clusters (other engineers', other tests') share this machine safely.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type FeedkitSpec, MIN_COOKIE_LENGTH, POLICY_NAME, sleep, waitFor, WaitHopeless } from '../../shared/index.js';
import {
  DEFAULT_USER_DEFINITIONS_FILE,
  DEFINITIONS_FILE,
  DRAIN_RETRY_PAUSE_SECONDS,
  drainSteps,
  type DrainStep,
  PeerDiscoveryKind,
  RABBITMQ_UPGRADE,
  renderDefaultUserConf,
  renderDefaultUserDefinitions,
  renderDefinitions,
  renderEnabledPlugins,
  renderRabbitmqConf,
} from '../../rabbitmq-cluster/index.js';
import { freePort, isPortAnswering } from './ports.js';
import { isPidAlive, progress, spawnManaged, stoppingAllManaged, waitAll, type ManagedProcess } from './process.js';
import { CommandError, run } from '../shell.js';

/** Debian's RabbitMQ scripts (run directly: /usr/sbin/rabbitmq-server would switch to the rabbitmq user). */
export const RABBITMQ_BIN_DIR = '/usr/lib/rabbitmq/bin';
/** Erlang's port mapper daemon. */
export const EPMD_BIN = 'epmd';
/** Host part of every local node name. */
export const LOCAL_NODE_HOST = 'localhost';
/** Loopback address every listener binds. */
export const LOOPBACK = '127.0.0.1';

/**
 * How long after a node's process exits on its own it is started again: the kubelet's first
 * CrashLoopBackOff delay for a container with `restartPolicy: Always` (the StatefulSet's pods).
 */
export const KUBELET_RESTART_DELAY_MS = 10_000;

/** CrashLoopBackOff's ceiling: the delay doubles with each exit that follows a restart, up to this. */
export const KUBELET_RESTART_DELAY_MAX_MS = 300_000;

/** One node of a {@link RabbitCluster}. */
export interface RabbitNode {
  /** 0-based position in the cluster. */
  readonly index: number;
  /** Erlang node name, e.g. `rfk-3f2a-1@localhost`. */
  readonly nodename: string;
  readonly amqpPort: number;
  readonly managementPort: number;
  readonly prometheusPort: number;
  /** Erlang distribution port. */
  readonly distPort: number;
  /** Pid of the Erlang VM while the node runs (from its pid file), else `undefined`. */
  readonly pid: number | undefined;
  /** Pid of the wrapper process (leader of the node's process group) while it runs. */
  readonly groupPid: number | undefined;
  /** Being drained or stopped on purpose (a terminating pod, which the kubelet no longer probes). */
  readonly terminating: boolean;
  /** Its process exited on its own and is due to be started again ({@link StartRabbitClusterOptions.restartExitedAfterMs}). */
  readonly restartPending: boolean;
  /** `amqp://user:pass@127.0.0.1:port` (carries the password: never print it). */
  readonly amqpUrl: string;
  /** `http://127.0.0.1:port` of the management UI and HTTP API. */
  readonly managementUrl: string;
  /** Folder of this node: config, mnesia, logs. */
  readonly dir: string;
  /** The node's own log file (RabbitMQ's log, not stdout). */
  readonly logFile: string;
}

/** A running cluster; every method waits with a timeout. */
export interface RabbitCluster {
  readonly nodes: readonly RabbitNode[];
  readonly username: string;
  readonly password: string;
  readonly cookie: string;
  /** Port of this cluster's own epmd. */
  readonly epmdPort: number;
  /** Process of this cluster's epmd. */
  readonly epmd: ManagedProcess;
  /** SIGKILL the node's VM (and its process group); returns once it is gone. */
  killNode(i: number): Promise<void>;
  /** Graceful stop (SIGTERM), SIGKILL after 60 s. */
  stopNode(i: number): Promise<void>;
  /**
   * Takes node i out of service before a planned stop, with the chart preStop's own steps
   * ({@link drainSteps}): waits at most `syncWaitSeconds` for in-sync replicas elsewhere, then drains it.
   * The node counts as terminating until it is stopped.
   */
  drainNode(i: number, syncWaitSeconds: number): Promise<void>;
  /** Start a stopped node on its old data dir; waits until it runs and sees every other live node. */
  startNode(i: number): Promise<void>;
  /** SIGSTOP the node's process group. */
  pauseNode(i: number): void;
  /** SIGCONT the node's process group. */
  resumeNode(i: number): void;
  /** Start every stopped node in parallel (how a fully stopped cluster re-forms without force_boot); waits for all. */
  startAll(): Promise<void>;
  /** Stop every node (in parallel, gracefully). */
  stopAll(): Promise<void>;
  /** Runs `rabbitmqctl -n <node i> ...args` with this cluster's cookie and epmd; returns stdout. */
  rabbitmqctl(i: number, args: readonly string[], timeoutMs?: number): Promise<string>;
  /** GET on node i's management HTTP API (path like `/api/nodes`); JSON body, throws on non-2xx. */
  managementApi<T = unknown>(i: number, path: string): Promise<T>;
  /** Waits until node i runs, answers AMQP and sees every other node that is up (e.g. after resumeNode). */
  waitForNode(i: number, timeoutMs: number): Promise<void>;
  /**
   * Waits until exactly `count` node processes run unpaused and each answers for itself that
   * `count` members run. A node cut off or paused by pause_minority keeps its process running, so
   * a smaller `count` cannot be met while one is.
   */
  waitForRunningNodes(count: number, timeoutMs: number): Promise<void>;
  /** Names of running members as node i sees them (throws when node i does not answer). */
  runningNodes(i: number): Promise<string[]>;
  /** The `ha-feed` policy as node i sees it, or `undefined` when absent. */
  policy(i: number, name?: string): Promise<RabbitPolicy | undefined>;
  /** True while node i's process runs and is not paused. */
  isUp(i: number): boolean;
  /** Leaves the nodes and epmd running after this Node process exits (for `npm run local -- up`). */
  release(): void;
  /** Stops every node and epmd. */
  stop(): Promise<void>;
}

/** A policy as the management API returns it. */
export interface RabbitPolicy {
  readonly name: string;
  readonly pattern: string;
  readonly 'apply-to': string;
  readonly definition: Record<string, unknown>;
  readonly priority: number;
}

/** Options of {@link startRabbitCluster}. */
export interface StartRabbitClusterOptions {
  /** The resolved spec (queue mode, policy, heartbeat); its ports are replaced by free loopback ports. */
  readonly spec: FeedkitSpec;
  /** Folder for the nodes' config, data and logs; created. */
  readonly workDir: string;
  /**
   * Number of nodes.
   * @default spec.rabbitmq.replicas (1 is allowed for tests)
   */
  readonly nodes?: number;
  /** @default feedkit */
  readonly username?: string;
  /** @default generated */
  readonly password?: string;
  /** @default generated (48 hex characters) */
  readonly cookie?: string;
  /**
   * Prefix of the node names, followed by a random suffix and the node number.
   * @default rfk
   */
  readonly namePrefix?: string;
  /**
   * Seconds to wait for each node to boot.
   * @default 180
   */
  readonly bootTimeoutSeconds?: number;
  /**
   * Called whenever a node process starts or stops through the cluster's methods (not during the
   * first formation), so an owner that records pids, like the twin's state file, stays current.
   * @default nothing
   */
  readonly onProcessesChanged?: () => void;
  /**
   * `total_memory_available_override_value` of every node, as the charts set it from the container
   * limit (`memoryAvailableOverrideBytes`).
   * @default none: each node measures the machine
   */
  readonly totalMemoryAvailableBytes?: number;
  /**
   * A node whose process exits on its own (not through {@link RabbitCluster.killNode},
   * {@link RabbitCluster.stopNode} or a stop of the cluster) is started again this long after, as
   * the kubelet restarts a container; a wait for that node's boot keeps waiting meanwhile. The delay
   * doubles while the node keeps exiting before it boots, up to {@link KUBELET_RESTART_DELAY_MAX_MS}.
   * Only once the cluster has formed: a node that cannot boot at all fails the start at once. The
   * twin passes {@link KUBELET_RESTART_DELAY_MS}.
   * @default undefined: an exited node stays down, and a wait for its boot gives up at once
   */
  readonly restartExitedAfterMs?: number;
}

interface NodeState {
  readonly base: Omit<RabbitNode, 'pid' | 'groupPid' | 'terminating' | 'restartPending'>;
  readonly env: Record<string, string>;
  proc: ManagedProcess | undefined;
  beamPid: number | undefined;
  paused: boolean;
  terminating: boolean;
  /** The cluster itself stops or kills the current process: its exit is not a crash. */
  exitExpected: boolean;
  restartPending: boolean;
  /** Exits on its own since the node last booted: the backoff's exponent. */
  exitsSinceBoot: number;
}

const EXTRA_ERL_ARGS = `-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}`;

/** Writes a node's config files from the renderers; the same text the charts put in ConfigMaps. */
function writeNodeConfig(settings: ClusterSettings, dir: string, allNodes: readonly string[], ports: { amqp: number; management: number; prometheus: number }): { conf: string; confD: string; plugins: string } {
  const { spec, username, password } = settings;
  const conf = join(dir, 'rabbitmq.conf');
  const confD = join(dir, 'conf.d');
  const plugins = join(dir, 'enabled_plugins');
  // A directory: a node with definitions to load does not seed the default user, so the user is a definitions file too.
  const definitions = join(dir, 'definitions');
  mkdirSync(confD, { recursive: true });
  mkdirSync(definitions, { recursive: true });
  writeFileSync(join(definitions, DEFINITIONS_FILE), renderDefinitions(spec));
  writeFileSync(join(definitions, DEFAULT_USER_DEFINITIONS_FILE), renderDefaultUserDefinitions(username, password), { mode: 0o600 });
  writeFileSync(
    conf,
    renderRabbitmqConf(spec, {
      peerDiscovery: { kind: PeerDiscoveryKind.CLASSIC, nodes: allNodes },
      definitionsPath: definitions,
      amqp: { host: LOOPBACK, port: ports.amqp },
      management: { host: LOOPBACK, port: ports.management },
      prometheus: { host: LOOPBACK, port: ports.prometheus },
      ...(settings.totalMemoryAvailableBytes !== undefined && { totalMemoryAvailableBytes: settings.totalMemoryAvailableBytes }),
    }),
  );
  writeFileSync(join(confD, '10-default-user.conf'), renderDefaultUserConf(username, password), { mode: 0o600 });
  writeFileSync(plugins, renderEnabledPlugins(PeerDiscoveryKind.CLASSIC));
  return { conf, confD, plugins };
}

function checkIndex(nodes: readonly unknown[], i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= nodes.length) {
    throw new Error(`node index ${i} is out of range: the cluster has nodes 0..${nodes.length - 1}`);
  }
}

/**
 * Starts a cluster: its own epmd, then node 0, then the others together, and waits until every
 * node runs as a member. Throws (after stopping what it started) when a node does not come up.
 */
export async function startRabbitCluster(opts: StartRabbitClusterOptions): Promise<RabbitCluster> {
  return LocalRabbitCluster.start(opts);
}

/** What a cluster keeps from its options once they are checked and the generated values chosen. */
interface ClusterSettings {
  readonly spec: FeedkitSpec;
  readonly workDir: string;
  readonly count: number;
  /** Node name prefix with this cluster's random suffix, e.g. `rfk-3f2a`. */
  readonly prefix: string;
  readonly username: string;
  readonly password: string;
  readonly cookie: string;
  readonly totalMemoryAvailableBytes: number | undefined;
  readonly bootTimeoutMs: number;
  readonly onProcessesChanged: () => void;
  readonly restartExitedAfterMs: number | undefined;
}

function clusterSettings(opts: StartRabbitClusterOptions): ClusterSettings {
  const count = opts.nodes ?? opts.spec.rabbitmq.replicas;
  if (!Number.isInteger(count) || count < 1) throw new Error(`startRabbitCluster: nodes must be a positive whole number, got ${count}`);
  const cookie = opts.cookie ?? randomBytes(24).toString('hex');
  const restartMs = opts.restartExitedAfterMs;
  if (restartMs !== undefined && (!Number.isFinite(restartMs) || restartMs < 0)) {
    throw new Error(`startRabbitCluster: restartExitedAfterMs must be a number of milliseconds >= 0, got ${restartMs}. Fix: omit it to leave exited nodes down`);
  }
  if (cookie.length < MIN_COOKIE_LENGTH || !/^[A-Za-z0-9]+$/.test(cookie)) {
    throw new Error(`startRabbitCluster: cookie must be at least ${MIN_COOKIE_LENGTH} letters or digits. Fix: omit it to generate one`);
  }
  return {
    spec: opts.spec,
    workDir: resolve(opts.workDir),
    count,
    // A random suffix per cluster: several clusters (other engineers', other tests') share this machine's node names.
    prefix: `${opts.namePrefix ?? 'rfk'}-${randomBytes(2).toString('hex')}`,
    username: opts.username ?? 'feedkit',
    password: opts.password ?? randomBytes(24).toString('hex'),
    totalMemoryAvailableBytes: opts.totalMemoryAvailableBytes,
    cookie,
    bootTimeoutMs: (opts.bootTimeoutSeconds ?? 180) * 1000,
    onProcessesChanged: opts.onProcessesChanged ?? (() => undefined),
    restartExitedAfterMs: opts.restartExitedAfterMs,
  };
}

/** Writes the shared cookie and an empty env file; returns the environment every node and CLI call shares but for epmd. */
function prepareErlangHome(settings: ClusterSettings): { readonly home: string; readonly confEnvFile: string } {
  const home = join(settings.workDir, 'home');
  mkdirSync(home, { recursive: true });
  const cookieFile = join(home, '.erlang.cookie');
  writeFileSync(cookieFile, settings.cookie, { mode: 0o600 });
  chmodSync(cookieFile, 0o600);
  // rabbitmq-env sources this file; an empty one keeps /etc/rabbitmq/rabbitmq-env.conf out.
  const confEnvFile = join(settings.workDir, 'rabbitmq-env.conf');
  writeFileSync(confEnvFile, '# intentionally empty: every setting comes from the environment\n');
  return { home, confEnvFile };
}

/** Our own epmd in the foreground: stoppable by pid, and no name clash with other clusters. */
async function startEpmd(workDir: string): Promise<{ readonly epmd: ManagedProcess; readonly epmdPort: number }> {
  const epmdPort = await freePort();
  const logFile = join(workDir, 'epmd.log');
  const epmd = spawnManaged(`epmd:${epmdPort}`, EPMD_BIN, ['-port', String(epmdPort), '-address', LOOPBACK], { logFile });
  await waitFor(`epmd on ${LOOPBACK}:${epmdPort}`, async () => {
    if (!epmd.running) throw new Error(`epmd exited; see ${logFile}`);
    return (await isPortAnswering(epmdPort)) || undefined;
  }, { timeoutMs: 10_000, intervalMs: 100 });
  return { epmd, epmdPort };
}

/** Free ports, rendered config files and the environment of node `i`; nothing runs yet. */
async function planNode(settings: ClusterSettings, i: number, nodeNames: readonly string[], commonEnv: Readonly<Record<string, string>>): Promise<NodeState> {
  const { username, password } = settings;
  const nodename = nodeNames[i]!;
  const dir = join(settings.workDir, `node-${i + 1}`);
  const ports = { amqp: await freePort(), management: await freePort(), prometheus: await freePort(), dist: await freePort() };
  const files = writeNodeConfig(settings, dir, nodeNames, ports);
  const mnesiaBase = join(dir, 'mnesia');
  const logBase = join(dir, 'log');
  mkdirSync(mnesiaBase, { recursive: true });
  mkdirSync(logBase, { recursive: true });
  const env: Record<string, string> = {
    ...commonEnv,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: LOOPBACK,
    RABBITMQ_NODE_PORT: String(ports.amqp),
    RABBITMQ_DIST_PORT: String(ports.dist),
    RABBITMQ_MNESIA_BASE: mnesiaBase,
    RABBITMQ_LOG_BASE: logBase,
    RABBITMQ_CONFIG_FILE: files.conf,
    RABBITMQ_CONFIG_FILES: files.confD,
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: files.plugins,
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: EXTRA_ERL_ARGS,
  };
  const enc = encodeURIComponent;
  const base = {
    index: i,
    nodename,
    amqpPort: ports.amqp,
    managementPort: ports.management,
    prometheusPort: ports.prometheus,
    distPort: ports.dist,
    amqpUrl: `amqp://${enc(username)}:${enc(password)}@${LOOPBACK}:${ports.amqp}`,
    managementUrl: `http://${LOOPBACK}:${ports.management}`,
    dir,
    logFile: join(logBase, `${nodename}.log`),
  };
  return { base, env, proc: undefined, beamPid: undefined, paused: false, terminating: false, exitExpected: false, restartPending: false, exitsSinceBoot: 0 };
}

/** The cluster behind {@link startRabbitCluster}: node processes, their bookkeeping and the faults on them. */
class LocalRabbitCluster implements RabbitCluster {
  readonly username: string;
  readonly password: string;
  readonly cookie: string;
  private readonly authHeader: string;
  /** Stopped or released: nothing is restarted any more. */
  private closed = false;
  /** The first formation is over: from here an exit is restarted (before, it fails the start). */
  private formed = false;

  /** Boots a new cluster; on failure stops what it started and rethrows. */
  static async start(opts: StartRabbitClusterOptions): Promise<LocalRabbitCluster> {
    const settings = clusterSettings(opts);
    const { home, confEnvFile } = prepareErlangHome(settings);
    const { epmd, epmdPort } = await startEpmd(settings.workDir);
    const commonEnv: Record<string, string> = {
      HOME: home,
      ERL_EPMD_PORT: String(epmdPort),
      RABBITMQ_CONF_ENV_FILE: confEnvFile,
      RABBITMQ_USE_LONGNAME: 'false',
      RABBITMQ_CTL_ERL_ARGS: EXTRA_ERL_ARGS,
    };
    const nodeNames = Array.from({ length: settings.count }, (_, i) => `${settings.prefix}-${i + 1}@${LOCAL_NODE_HOST}`);
    const states: NodeState[] = [];
    for (let i = 0; i < settings.count; i++) states.push(await planNode(settings, i, nodeNames, commonEnv));
    const cluster = new LocalRabbitCluster(settings, epmd, epmdPort, commonEnv, states);
    try {
      await cluster.form();
    } catch (e) {
      await cluster.stop().catch(() => undefined);
      throw e;
    }
    return cluster;
  }

  private constructor(
    private readonly settings: ClusterSettings,
    readonly epmd: ManagedProcess,
    readonly epmdPort: number,
    /** Environment shared by the nodes and every rabbitmqctl call (cookie home, epmd port). */
    private readonly commonEnv: Readonly<Record<string, string>>,
    private readonly states: readonly NodeState[],
  ) {
    this.username = settings.username;
    this.password = settings.password;
    this.cookie = settings.cookie;
    this.authHeader = `Basic ${Buffer.from(`${settings.username}:${settings.password}`).toString('base64')}`;
  }

  get nodes(): RabbitNode[] {
    return this.states.map((s) => ({
      ...s.base,
      pid: s.proc?.running ? s.beamPid : undefined,
      groupPid: s.proc?.running ? s.proc.pid : undefined,
      terminating: s.terminating,
      restartPending: s.restartPending,
    }));
  }

  async killNode(i: number): Promise<void> {
    const s = this.node(i);
    if (!s.proc?.running) throw new Error(`${s.base.nodename} is not running`);
    progress(`rabbitmq: kill -9 ${s.base.nodename} (pid ${s.beamPid ?? s.proc.pid})`);
    s.exitExpected = true;
    // The VM first: killing only the wrapper's group could leave a VM that escaped it.
    if (s.beamPid !== undefined && isPidAlive(s.beamPid)) process.kill(s.beamPid, 'SIGKILL');
    await s.proc.kill9();
    s.beamPid = undefined;
    s.paused = false;
    this.settings.onProcessesChanged();
  }

  async stopNode(i: number): Promise<void> {
    await this.stopNodeProcess(i);
    this.settings.onProcessesChanged();
  }

  async startNode(i: number): Promise<void> {
    progress(`rabbitmq: starting ${this.node(i).base.nodename}`);
    this.spawnNode(i);
    this.settings.onProcessesChanged();
    await this.waitNodeReady(i, this.settings.bootTimeoutMs);
  }

  pauseNode(i: number): void {
    const s = this.node(i);
    if (!s.proc?.running) throw new Error(`${s.base.nodename} is not running`);
    s.proc.pause();
    s.paused = true;
  }

  resumeNode(i: number): void {
    const s = this.node(i);
    s.proc?.resume();
    s.paused = false;
  }

  async startAll(): Promise<void> {
    const stopped = this.states.map((_, i) => i).filter((i) => !this.states[i]!.proc?.running);
    progress(`rabbitmq: starting ${stopped.length} node(s) in parallel`);
    for (const i of stopped) this.spawnNode(i);
    this.settings.onProcessesChanged();
    // A node that was not the last to stop waits for its peers; all of them must run for any to finish booting.
    await this.waitAllReady(stopped);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.states.map((_, i) => this.stopNodeProcess(i)));
    this.settings.onProcessesChanged();
  }

  rabbitmqctl(i: number, args: readonly string[], timeoutMs = 60_000): Promise<string> {
    return this.cli('rabbitmqctl', i, args, timeoutMs);
  }

  async drainNode(i: number, syncWaitSeconds: number): Promise<void> {
    const s = this.node(i);
    // The preStop hook runs as part of termination: from here until the stop, nobody restarts it.
    s.terminating = true;
    for (const step of drainSteps(this.settings.spec.rabbitmq.queueMode, syncWaitSeconds)) {
      try {
        await this.runDrainStep(i, step, syncWaitSeconds);
      } catch (e) {
        if (!step.bestEffort) throw e;
        progress(`rabbitmq: ${s.base.nodename}: ${step.args[0]} did not finish (${(e as Error).message.split('\n')[0]}); draining anyway`);
      }
    }
  }

  /** Runs one drain step up to its `attempts`, as the preStop script does; throws the last failure. */
  private async runDrainStep(i: number, step: DrainStep, syncWaitSeconds: number): Promise<void> {
    const name = this.node(i).base.nodename;
    for (let run = 1; ; run++) {
      progress(`rabbitmq: ${name}: ${RABBITMQ_UPGRADE} ${step.args.join(' ')}`);
      try {
        await this.cli(RABBITMQ_UPGRADE, i, step.args, (syncWaitSeconds + 60) * 1000);
        return;
      } catch (e) {
        // A step that ran out of time is not run again: the pod's grace period would not allow it.
        const exited = e instanceof CommandError && e.exitCode !== null;
        if (run >= step.attempts || !exited) throw e;
        progress(`rabbitmq: ${name}: ${step.args[0]} failed (run ${run} of ${step.attempts}: ${e.stderr.trim().split('\n').at(-1) ?? ''}); again`);
        await sleep(DRAIN_RETRY_PAUSE_SECONDS * 1000);
      }
    }
  }

  /** Runs a RabbitMQ CLI tool against node i with this cluster's cookie and epmd; returns stdout. */
  private async cli(tool: string, i: number, args: readonly string[], timeoutMs: number): Promise<string> {
    const s = this.node(i);
    // Each CLI call is a hidden Erlang node: give it its own dist port instead of the default range
    // next to the node's, which concurrent calls (and other clusters) would exhaust.
    const cliPort = await freePort();
    const env = { ...process.env, ...this.commonEnv, RABBITMQ_CTL_DIST_PORT_MIN: String(cliPort), RABBITMQ_CTL_DIST_PORT_MAX: String(cliPort) };
    return run(join(RABBITMQ_BIN_DIR, tool), ['-n', s.base.nodename, ...args], { env, timeoutMs });
  }

  async managementApi<T = unknown>(i: number, path: string): Promise<T> {
    const s = this.node(i);
    const res = await fetch(`${s.base.managementUrl}${path}`, { headers: { authorization: this.authHeader }, signal: AbortSignal.timeout(5000) });
    if (res.status === 404) throw Object.assign(new Error(`${s.base.nodename} ${path}: 404`), { status: 404 });
    if (!res.ok) throw new Error(`${s.base.nodename} ${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  async waitForNode(i: number, timeoutMs: number): Promise<void> {
    this.node(i);
    await this.waitNodeReady(i, timeoutMs);
  }

  async waitForRunningNodes(want: number, timeoutMs: number): Promise<void> {
    await waitFor(`${want} running RabbitMQ node(s) in cluster ${this.settings.prefix}, each answering for itself`, async () => {
      const up = this.states.map((_, i) => i).filter((i) => this.isUp(i));
      if (up.length !== want) throw new Error(`${up.length} node process(es) run unpaused`);
      const problems = (await Promise.all(up.map((i) => this.ownViewProblem(i, want)))).filter((p) => p !== undefined);
      if (problems.length > 0) throw new Error(problems.join('; '));
      return true;
    }, { timeoutMs, intervalMs: 500 });
  }

  /**
   * What is wrong with node i's own view of the cluster, if anything. Asked of every node: one
   * that is still booting (its Erlang VM already listed as running by the others, its rabbit app
   * not up) does not answer, and one cut off sees too few.
   */
  private async ownViewProblem(i: number, want: number): Promise<string | undefined> {
    const nodename = this.states[i]!.base.nodename;
    try {
      const running = await this.runningNodes(i);
      return running.length === want ? undefined : `${nodename} sees ${running.length}: [${running.join(', ')}]`;
    } catch (e) {
      return `${nodename}: ${(e as Error).message}`;
    }
  }

  async runningNodes(i: number): Promise<string[]> {
    const nodes = await this.managementApi<{ name: string; running: boolean }[]>(i, '/api/nodes');
    return nodes.filter((n) => n.running).map((n) => n.name).sort();
  }

  async policy(i: number, name = this.settings.spec.rabbitmq.policy.name ?? POLICY_NAME): Promise<RabbitPolicy | undefined> {
    try {
      return await this.managementApi<RabbitPolicy>(i, `/api/policies/%2F/${encodeURIComponent(name)}`);
    } catch (e) {
      if ((e as { status?: number }).status === 404) return undefined;
      throw e;
    }
  }

  isUp(i: number): boolean {
    const s = this.states[i]!;
    return s.proc !== undefined && s.proc.running && !s.paused;
  }

  release(): void {
    // The restarts live in this process: a released cluster runs without them, as without the liveness check.
    this.closed = true;
    for (const s of this.states) s.proc?.release();
    this.epmd.release();
  }

  async stop(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.states.map((_, i) => this.stopNodeProcess(i)));
    await this.epmd.stop(5000);
  }

  /** First formation: node 1 alone, so it forms the cluster; then the others together. */
  private async form(): Promise<void> {
    const { prefix, count, workDir, spec } = this.settings;
    progress(`rabbitmq: cluster ${prefix} of ${count} node(s) (epmd ${this.epmdPort}, queue mode ${spec.rabbitmq.queueMode}) in ${workDir}`);
    // Each later node joins the first reachable member in the rendered list, which is node 1, so no
    // second cluster can form (starting all blank nodes at once could).
    this.spawnNode(0);
    await this.waitAllReady([0]);
    const rest = this.states.map((_, i) => i).slice(1);
    for (const i of rest) this.spawnNode(i);
    await this.waitAllReady(rest);
    await this.waitForRunningNodes(count, 30_000);
    this.formed = true;
  }

  /** Waits for every node booting, so none is left unobserved when one fails. */
  private async waitAllReady(indices: readonly number[]): Promise<void> {
    await waitAll(indices.map((i) => this.waitNodeReady(i, this.settings.bootTimeoutMs)));
  }

  /** The node's state; an index outside the cluster is an error naming the range. */
  private node(i: number): NodeState {
    checkIndex(this.states, i);
    return this.states[i]!;
  }

  private spawnNode(i: number): void {
    const s = this.states[i]!;
    if (s.proc?.running) throw new Error(`${s.base.nodename} is already running (pid ${s.proc.pid})`);
    // A stale pid file would be read as the new VM's pid.
    rmSync(s.env['RABBITMQ_PID_FILE']!, { force: true });
    s.paused = false;
    s.terminating = false;
    s.exitExpected = false;
    s.restartPending = false;
    s.beamPid = undefined;
    const proc = spawnManaged(`rabbitmq:${s.base.nodename}`, join(RABBITMQ_BIN_DIR, 'rabbitmq-server'), [], {
      env: s.env,
      cwd: s.base.dir,
      logFile: join(s.base.dir, 'stdout.log'),
    });
    s.proc = proc;
    void proc.exited.then((code) => this.exitedOnItsOwn(i, proc, code));
  }

  /** Whether a node whose process is gone will be started again by the cluster (it exited on its own, and restarts are on). */
  private restartsAfterExit(s: NodeState): boolean {
    // A terminating pod is not restarted either; and the exits of a shutdown (a signal) are not crashes.
    return this.settings.restartExitedAfterMs !== undefined && this.formed && !this.closed && !s.exitExpected && !s.terminating && !stoppingAllManaged();
  }

  /**
   * The kubelet's part for a container that exits (RabbitMQ 3.10 stops the VM with code 0 on a
   * feature-flag sync race during a parallel boot): started again after the delay, unless the
   * cluster stopped, killed or started it meanwhile.
   */
  private exitedOnItsOwn(i: number, proc: ManagedProcess, code: unknown): void {
    const s = this.states[i]!;
    const baseMs = this.settings.restartExitedAfterMs;
    if (baseMs === undefined || s.proc !== proc || !this.restartsAfterExit(s)) return;
    const delayMs = Math.min(KUBELET_RESTART_DELAY_MAX_MS, baseMs * 2 ** Math.min(s.exitsSinceBoot, 16));
    s.exitsSinceBoot++;
    progress(`rabbitmq: ${s.base.nodename} exited on its own (code ${String(code)}); starting it again in ${(delayMs / 1000).toFixed(1)} s, as the kubelet would`);
    s.beamPid = undefined;
    s.paused = false;
    s.restartPending = true;
    this.processesChanged();
    setTimeout(() => this.restartExited(i, proc), delayMs).unref();
  }

  private restartExited(i: number, exited: ManagedProcess): void {
    const s = this.states[i]!;
    if (s.proc !== exited || !this.restartsAfterExit(s)) return;
    try {
      this.spawnNode(i);
    } catch (e) {
      progress(`rabbitmq: could not start ${s.base.nodename} again: ${(e as Error).message}`);
      return;
    }
    this.processesChanged();
    const restarted = s.proc;
    this.waitNodeReady(i, this.settings.bootTimeoutMs).catch((e: Error) => {
      // A kill or stop of the cluster's own ends the wait too: that is no failure of the restart.
      if (s.proc === restarted && !s.exitExpected) progress(`rabbitmq: ${s.base.nodename} did not come back after its restart: ${e.message}`);
    });
  }

  /** Tells the owner, from a timer or an exit handler: its failure is logged, never thrown into an event callback. */
  private processesChanged(): void {
    try {
      this.settings.onProcessesChanged();
    } catch (e) {
      progress(`rabbitmq: recording the node processes failed: ${(e as Error).message}`);
    }
  }

  private async stopNodeProcess(i: number): Promise<void> {
    const s = this.node(i);
    s.exitExpected = true;
    s.restartPending = false;
    if (s.proc?.running) {
      progress(`rabbitmq: stopping ${s.base.nodename}`);
      s.terminating = true;
      try {
        await s.proc.stop(60_000);
      } finally {
        s.terminating = false;
      }
    }
    s.beamPid = undefined;
    s.paused = false;
  }

  /** Waits until node i runs the rabbit app, answers AMQP, and sees every other node we believe is up. */
  private async waitNodeReady(i: number, timeoutMs: number): Promise<void> {
    const s = this.states[i]!;
    const t0 = Date.now();
    const booting = s.proc;
    await waitFor(`RabbitMQ node ${s.base.nodename} to run and join the cluster (log: ${s.base.logFile})`, async () => {
      // The process this wait began with exited or was stopped (by the twin's own stop, too): no
      // boot to wait out. A process started in its place since is still waited for.
      if (!s.proc?.running && s.proc === booting && !this.restartsAfterExit(s)) throw new WaitHopeless(`${s.base.nodename} exited (code ${String(await s.proc?.exited)}); see ${s.base.logFile} and ${join(s.base.dir, 'stdout.log')}`);
      const running = await this.runningNodes(i);
      const expected = this.states.filter((_, j) => this.isUp(j)).map((o) => o.base.nodename);
      if (!expected.every((n) => running.includes(n))) throw new Error(`${s.base.nodename} sees running [${running.join(', ')}], expected [${expected.join(', ')}]`);
      if (!(await isPortAnswering(s.base.amqpPort))) throw new Error(`AMQP port ${s.base.amqpPort} does not answer yet`);
      return true;
    }, { timeoutMs, intervalMs: 500, onProgress: everyTenSeconds(`node ${s.base.nodename}`) });
    s.beamPid = readPidFile(s.env['RABBITMQ_PID_FILE']!);
    s.exitsSinceBoot = 0;
    progress(`rabbitmq: ${s.base.nodename} running (amqp ${s.base.amqpPort}, management ${s.base.managementPort}) after ${Math.round((Date.now() - t0) / 1000)} s`);
  }
}

/** Version of the installed RabbitMQ server (from its lib folder name), e.g. `3.10.8`; `undefined` when not installed. */
export function installedRabbitmqVersion(): string | undefined {
  try {
    const entry = readdirSync('/usr/lib/rabbitmq/lib').find((d) => d.startsWith('rabbitmq_server-'));
    return entry?.slice('rabbitmq_server-'.length);
  } catch {
    return undefined;
  }
}

function readPidFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function everyTenSeconds(what: string): (elapsedMs: number) => void {
  let last = 0;
  return (elapsed) => {
    if (elapsed - last >= 10_000) {
      last = elapsed;
      progress(`waiting for ${what} (${Math.round(elapsed / 1000)} s)`);
    }
  };
}

