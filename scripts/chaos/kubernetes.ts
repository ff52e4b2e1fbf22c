/**
 * The Kubernetes chaos target: the same faults as the local twin, injected with `kubectl` against
 * the synthesized object names ({@link objectNames}) in the spec's namespace. The workload runs
 * against a URL the user gives. Every call runs the `kubectl` found on PATH through zx's `$`
 * ({@link run}), so tests put a stand-in there.
 */
import { expBackoff, retry } from 'zx';
import { NODE_NAME_PREFIX, rabbitmqHostnameSuffix } from '../../rabbitmq-cluster/index.js';
import { objectNames, Ports, SecretKeys, waitFor, type FeedkitSpec, type QueueMode } from '../../shared/index.js';
import { run } from '../shell.js';
import { CLUSTER_STATUS_ARGS, parseRunningNodes } from './split.js';
import { netSplitPauseMs, UnsupportedFault, type ChaosTarget } from './target.js';

/** Name of the container that runs RabbitMQ in the StatefulSet's pods (charts/rabbitmq). */
export const RABBITMQ_CONTAINER = 'rabbitmq';
/** NetworkPolicy the partition scenario applies and deletes. */
export const PARTITION_POLICY_PREFIX = 'feedkit-chaos-partition-';
/** Label the StatefulSet controller puts on each of its pods. */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

export const PAUSE_UNSUPPORTED =
  'SIGSTOP needs a signal to the Erlang VM, which is PID 1 of its container; the kernel ignores SIGSTOP sent to a PID namespace init from inside the pod, so kubectl exec cannot pause it';

/** Name of the container that runs HAProxy in its Deployment's pods (charts/haproxy). */
export const HAPROXY_CONTAINER = 'haproxy';

/**
 * Shell run in an HAProxy pod to signal its worker: the official image starts HAProxy in
 * master-worker mode (`-W`), so PID 1 is the master (which the kernel protects from SIGSTOP sent
 * inside the pod) and the worker that carries the traffic is its child. Uses only builtins (the
 * image has no procps): every process whose `comm` is haproxy, except PID 1; prints the pids.
 */
export function haproxySignalScript(signal: 'STOP' | 'CONT'): string {
  return `for p in /proc/[0-9]*; do pid=\${p#/proc/}; [ "$pid" = 1 ] && continue; read -r c < "$p/comm" 2>/dev/null || continue; [ "$c" = haproxy ] || continue; kill -${signal} "$pid" && echo "$pid"; done; true`;
}

export const HAPROXY_PAUSE_UNSUPPORTED =
  'no HAProxy worker besides PID 1 in the pod (HAProxy not in master-worker mode); the kernel ignores SIGSTOP sent to a PID namespace init from inside the pod';

/** Options of {@link KubernetesTarget}. */
export interface KubernetesTargetOptions {
  readonly spec: FeedkitSpec;
  /** HTTP base URL of the feed app (Ingress or port-forwarded Service). */
  readonly url: string;
  /** HS256 secret; when absent it is read from the app Secret with kubectl. */
  readonly jwtSecret?: string;
  /** Queue mode the cluster was deployed with. @default spec.rabbitmq.queueMode */
  readonly queueMode?: QueueMode;
  /** kubectl executable. @default kubectl (from PATH) */
  readonly kubectl?: string;
  /** Extra global kubectl flags, e.g. `--context`. @default [] */
  readonly kubectlFlags?: readonly string[];
  /** Poll interval while waiting for pods. @default 2000 */
  readonly pollMs?: number;
  /** Milliseconds a partition is held. @default 90000 */
  readonly partitionMs?: number;
  readonly log?: (line: string) => void;
}

interface PodJson {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

function ready(pod: PodJson): boolean {
  return !pod.metadata.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}


/** How often a read is tried before its error counts: an API server can drop a call (leader change, restart). */
export const KUBECTL_READ_ATTEMPTS = 3;

const isNotFound = (e: unknown): boolean => /not ?found/i.test((e as Error).message);

/** A {@link ChaosTarget} driving a Kubernetes cluster through kubectl. */
export class KubernetesTarget implements ChaosTarget {
  readonly kind = 'kubernetes';
  readonly baseUrl: string;
  readonly queueMode: QueueMode;
  readonly rabbitNodeCount: number;
  readonly haproxyCount: number;
  readonly appCount: number;
  /** Peers declare a node down after net_ticktime × 1.25 at worst; the default pause adds a margin. */
  readonly pauseMs: number;
  private secret: string | undefined;
  private readonly names: ReturnType<typeof objectNames>;
  private readonly ns: string;
  private readonly pollMs: number;

  constructor(private readonly opts: KubernetesTargetOptions) {
    if (!/^https?:\/\/\S+$/.test(opts.url)) {
      throw new Error(`--url: "${opts.url}" is not an http(s) URL; give the feed app's URL, e.g. http://localhost:${Ports.APP_HTTP} after kubectl port-forward`);
    }
    this.baseUrl = opts.url;
    this.secret = opts.jwtSecret;
    this.queueMode = opts.queueMode ?? opts.spec.rabbitmq.queueMode;
    this.names = objectNames(opts.spec.name);
    this.ns = opts.spec.namespace;
    this.rabbitNodeCount = opts.spec.rabbitmq.replicas;
    this.haproxyCount = opts.spec.haproxy.replicas;
    this.appCount = opts.spec.app.replicas;
    this.pollMs = opts.pollMs ?? 2000;
    this.pauseMs = opts.partitionMs ?? netSplitPauseMs(opts.spec.rabbitmq.netTicktimeSeconds);
  }

  get jwtSecret(): string {
    if (this.secret === undefined) throw new Error('jwtSecret: call resolveJwtSecret() first, or pass --jwt-secret / JWT_SECRET');
    return this.secret;
  }

  /** Uses the given secret, else reads `jwt-secret` from the app Secret. */
  async resolveJwtSecret(): Promise<string> {
    if (this.secret === undefined) {
      const b64 = await this.read(['get', 'secret', this.names.appSecret, '-o', `jsonpath={.data.${SecretKeys.JWT_SECRET}}`]);
      const value = Buffer.from(b64.trim(), 'base64').toString('utf8');
      if (!value) throw new Error(`secret ${this.ns}/${this.names.appSecret} has no "${SecretKeys.JWT_SECRET}" key; pass --jwt-secret or set JWT_SECRET`);
      this.secret = value;
    }
    return this.secret;
  }

  /** Runs `kubectl [flags] -n <namespace> ...args`; stdout. Errors name the command line and kubectl's stderr. */
  kubectl(args: readonly string[], input?: string, timeoutMs = 120_000): Promise<string> {
    const argv = [...(this.opts.kubectlFlags ?? []), '-n', this.ns, ...args];
    return run(this.opts.kubectl ?? 'kubectl', argv, { timeoutMs, ...(input !== undefined ? { input } : {}) });
  }

  /**
   * A read-only call (`get`), tried {@link KUBECTL_READ_ATTEMPTS} times with exponential backoff, so
   * one dropped API call does not fail a scenario. NotFound is an answer, not a hiccup: thrown at once.
   * Calls that change the cluster are not retried (a delete that did happen must not run twice).
   */
  private async read(args: readonly string[]): Promise<string> {
    const r = await retry(KUBECTL_READ_ATTEMPTS, expBackoff('5s', '500ms'), async () => {
      try {
        return { stdout: await this.kubectl(args) };
      } catch (e) {
        if (isNotFound(e)) return { notFound: e };
        throw e;
      }
    });
    if ('notFound' in r) throw r.notFound;
    return r.stdout;
  }

  rabbitPod(i: number): string {
    return `${this.names.rabbitmq}-${i}`;
  }

  rabbitLabel(i: number): string {
    return this.rabbitPod(i);
  }

  rabbitNodeName(i: number): string {
    return `${NODE_NAME_PREFIX}@${this.rabbitPod(i)}${rabbitmqHostnameSuffix(this.opts.spec)}`;
  }

  unsupportedReason(scenario: string): string | undefined {
    return scenario === 'node-pause' || scenario === 'leader-pause' ? PAUSE_UNSUPPORTED : undefined;
  }

  private async getPod(name: string): Promise<PodJson | undefined> {
    try {
      return JSON.parse(await this.read(['get', 'pod', name, '-o', 'json'])) as PodJson;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Pods whose names start with `<prefix>-`, sorted by name (a Deployment's pods). */
  async podsOf(prefix: string): Promise<PodJson[]> {
    const list = JSON.parse(await this.read(['get', 'pods', '-o', 'json'])) as { items: PodJson[] };
    return list.items.filter((p) => p.metadata.name.startsWith(`${prefix}-`) && !p.metadata.deletionTimestamp).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  private async forceDelete(pod: string): Promise<void> {
    await this.kubectl(['delete', 'pod', pod, '--grace-period=0', '--force', '--wait=false']);
  }

  /** Polls every `pollMs` without progress lines: the chaos run reports its own progress. */
  private async waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
    await waitFor(what, async () => (await probe()) || undefined, { timeoutMs, intervalMs: this.pollMs, onProgress: () => undefined });
  }

  /** Waits until pod `name` exists with a uid other than `oldUid` and is Ready. */
  private async waitReplaced(name: string, oldUid: string | undefined, timeoutMs = 600_000): Promise<void> {
    await this.waitUntil(`pod ${name} to come back Ready`, timeoutMs, async () => {
      const pod = await this.getPod(name);
      return pod !== undefined && pod.metadata.uid !== oldUid && ready(pod);
    });
  }

  private readonly lastUid = new Map<string, string | undefined>();

  async killRabbitNode(i: number): Promise<void> {
    const pod = this.rabbitPod(i);
    this.lastUid.set(pod, (await this.getPod(pod))?.metadata.uid);
    await this.forceDelete(pod);
  }

  async stopRabbitNode(i: number): Promise<void> {
    const pod = this.rabbitPod(i);
    this.lastUid.set(pod, (await this.getPod(pod))?.metadata.uid);
    await this.kubectl(['delete', 'pod', pod, '--wait=true'], undefined, 600_000);
  }

  /** The StatefulSet recreates a deleted pod; wait for the new one to be Ready. */
  async startRabbitNode(i: number): Promise<void> {
    const pod = this.rabbitPod(i);
    await this.waitReplaced(pod, this.lastUid.get(pod));
  }

  async startAllRabbitNodes(): Promise<void> {
    // podManagementPolicy Parallel: the controller recreates all pods at once, which is what lets them re-form.
    await Promise.all(Array.from({ length: this.rabbitNodeCount }, (_, i) => this.startRabbitNode(i)));
    await this.waitClusterFormed(600_000);
  }

  async pauseRabbitNode(): Promise<void> {
    throw new UnsupportedFault(PAUSE_UNSUPPORTED);
  }

  async resumeRabbitNode(): Promise<void> {
    throw new UnsupportedFault(PAUSE_UNSUPPORTED);
  }

  /** A NetworkPolicy on the pod that allows AMQP in and DNS out, so Erlang distribution is cut both ways. */
  partitionPolicy(i: number): Record<string, unknown> {
    const ports = this.opts.spec.rabbitmq.ports;
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${PARTITION_POLICY_PREFIX}${this.rabbitPod(i)}`, namespace: this.ns },
      spec: {
        podSelector: { matchLabels: { [POD_NAME_LABEL]: this.rabbitPod(i) } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: ports.amqp }] }],
        egress: [{ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }],
      },
    };
  }

  async partitionRabbitNode(i: number): Promise<void> {
    await this.kubectl(['apply', '-f', '-'], JSON.stringify(this.partitionPolicy(i)));
  }

  async healPartition(i: number): Promise<void> {
    await this.kubectl(['delete', 'networkpolicy', `${PARTITION_POLICY_PREFIX}${this.rabbitPod(i)}`, '--ignore-not-found']);
  }

  /** `kubectl rollout restart` of the StatefulSet; steps are observed from pod uids (highest ordinal first). */
  async rollingRestart(onStep: (i: number, phase: 'down' | 'up') => void): Promise<void> {
    const n = this.rabbitNodeCount;
    const before = await Promise.all(Array.from({ length: n }, async (_, i) => (await this.getPod(this.rabbitPod(i)))?.metadata.uid));
    await this.kubectl(['rollout', 'restart', `statefulset/${this.names.rabbitmq}`]);
    const state: Array<'old' | 'down' | 'up'> = Array.from({ length: n }, () => 'old');
    await this.waitUntil(`rollout restart of statefulset/${this.names.rabbitmq}`, 1_800_000, async () => {
      for (let i = 0; i < n; i++) {
        if (state[i] === 'up') continue;
        const pod = await this.getPod(this.rabbitPod(i));
        const replaced = pod !== undefined && pod.metadata.uid !== before[i];
        if (state[i] === 'old' && (!pod || replaced || pod.metadata.deletionTimestamp || !ready(pod))) {
          state[i] = 'down';
          onStep(i, 'down');
        }
        if (state[i] === 'down' && pod && replaced && ready(pod)) {
          state[i] = 'up';
          onStep(i, 'up');
        }
      }
      return state.every((s) => s === 'up');
    });
    await this.kubectl(['rollout', 'status', `statefulset/${this.names.rabbitmq}`, '--timeout=600s'], undefined, 660_000);
  }

  async rabbitmqctl(i: number, args: readonly string[]): Promise<string> {
    return this.kubectl(['exec', this.rabbitPod(i), '-c', RABBITMQ_CONTAINER, '--', 'rabbitmqctl', ...args]);
  }

  clusterStatus(i: number): Promise<string> {
    return this.rabbitmqctl(i, CLUSTER_STATUS_ARGS);
  }

  private async killNth(prefix: string, i: number): Promise<void> {
    const pods = await this.podsOf(prefix);
    const victim = pods[i % Math.max(1, pods.length)];
    if (!victim) throw new Error(`no pods named ${prefix}-* in namespace ${this.ns}`);
    this.opts.log?.(`deleting pod ${victim.metadata.name} with zero grace`);
    await this.forceDelete(victim.metadata.name);
  }

  /** Waits until the Deployment `name` has its desired number of Ready pods again. */
  private async waitDeployment(name: string, timeoutMs = 600_000): Promise<void> {
    await this.waitUntil(`deployment/${name} to be fully Ready`, timeoutMs, async () => {
      const d = JSON.parse(await this.read(['get', 'deployment', name, '-o', 'json'])) as { spec?: { replicas?: number } };
      const want = d.spec?.replicas ?? 1;
      const pods = await this.podsOf(name);
      return pods.filter(ready).length >= want;
    });
  }

  killHaproxy(i: number): Promise<void> {
    return this.killNth(this.names.haproxy, i);
  }

  startHaproxy(): Promise<void> {
    return this.waitDeployment(this.names.haproxy);
  }

  private readonly pausedHaproxy = new Map<number, string>();

  /**
   * SIGSTOP of the worker of HAProxy pod i (see {@link haproxySignalScript}). Its liveness probe
   * (the stats page, served by the worker) then fails and the kubelet restarts the container while
   * it is paused: that is Kubernetes' own remedy for a hung front, so the scenario measures it.
   */
  async pauseHaproxy(i: number): Promise<void> {
    const pods = await this.podsOf(this.names.haproxy);
    const pod = pods[i % Math.max(1, pods.length)]?.metadata.name;
    if (!pod) throw new Error(`no pods named ${this.names.haproxy}-* in namespace ${this.ns}`);
    const stopped = await this.kubectl(['exec', pod, '-c', HAPROXY_CONTAINER, '--', 'sh', '-c', haproxySignalScript('STOP')]);
    if (!stopped.trim()) throw new UnsupportedFault(HAPROXY_PAUSE_UNSUPPORTED);
    this.pausedHaproxy.set(i, pod);
    this.opts.log?.(`SIGSTOP of HAProxy worker pid ${stopped.trim().split(/\s+/).join(', ')} in pod ${pod}`);
  }

  /** SIGCONT in the pod paused by {@link pauseHaproxy} (a no-op if the kubelet restarted it), then waits for the Deployment. */
  async resumeHaproxy(i: number): Promise<void> {
    const pod = this.pausedHaproxy.get(i);
    this.pausedHaproxy.delete(i);
    if (pod) await this.kubectl(['exec', pod, '-c', HAPROXY_CONTAINER, '--', 'sh', '-c', haproxySignalScript('CONT')]);
    await this.waitDeployment(this.names.haproxy);
  }

  killApp(i: number): Promise<void> {
    return this.killNth(this.names.app, i);
  }

  startApp(): Promise<void> {
    return this.waitDeployment(this.names.app);
  }

  /** Waits until node 0 sees every node running. */
  private async waitClusterFormed(timeoutMs: number): Promise<void> {
    await this.waitUntil(`${this.rabbitNodeCount} running RabbitMQ nodes`, timeoutMs, async () => {
      return parseRunningNodes(await this.clusterStatus(0)).length >= this.rabbitNodeCount;
    });
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    await this.waitUntil(`statefulset/${this.names.rabbitmq} pods Ready`, timeoutMs, async () => {
      const pods = await Promise.all(Array.from({ length: this.rabbitNodeCount }, (_, i) => this.getPod(this.rabbitPod(i))));
      return pods.every((p) => p !== undefined && ready(p));
    });
    await this.waitClusterFormed(timeoutMs);
    await this.waitDeployment(this.names.haproxy, timeoutMs);
    await this.waitDeployment(this.names.app, timeoutMs);
  }
}
