/**
 * The local chaos target: the twin's real processes on loopback. RabbitMQ faults go through the
 * twin's cluster handle (kill -9 / SIGSTOP by pid, restart on the old data dir), HAProxy and app
 * faults through the twin's handles, and the workload goes through the twin's app front (HAProxy).
 */
import type { QueueMode } from '../../shared/index.js';
import type { RabbitCluster } from '../local/rabbitmq.js';
import type { Twin } from '../local/twin.js';
import { DEFAULT_SYNC_WAIT_SECONDS } from '../../rabbitmq-cluster/index.js';
import { LoopbackPartition } from './partition.js';
import { PARTITION_SCENARIOS } from './scenarios.js';
import { CLUSTER_STATUS_ARGS } from './split.js';
import { netSplitPauseMs, UnsupportedFault, type ChaosTarget } from './target.js';

/** What the chaos suite needs from a running local twin (a structural slice of {@link Twin}). */
export type LocalStack = Pick<
  Twin,
  'spec' | 'baseUrl' | 'jwtSecret' | 'queueMode' | 'rabbit' | 'haproxyCount' | 'appCount' | 'killHaproxy' | 'startHaproxy' | 'killApp' | 'startApp' | 'waitReady'
> &
  /** The AMQP fronts' handles, for `haproxy-pause`; a stack without them (the failover bench) cannot pause one. */
  Partial<Pick<Twin, 'haproxies'>>;

export class LocalTarget implements ChaosTarget {
  readonly kind = 'local';
  readonly baseUrl: string;
  readonly jwtSecret: string;
  readonly queueMode: QueueMode;
  readonly rabbitNodeCount: number;
  readonly haproxyCount: number;
  readonly appCount: number;
  readonly pauseMs: number;

  private readonly partitions = new Map<number, LoopbackPartition>();

  /**
   * @param partitionBlocker why a loopback partition cannot be made on this machine (from
   *   `partitionUnavailable()`); the partition scenario is then skipped with that reason.
   */
  constructor(
    private readonly stack: LocalStack,
    private readonly partitionBlocker?: string,
  ) {
    this.baseUrl = stack.baseUrl;
    this.jwtSecret = stack.jwtSecret;
    this.queueMode = stack.queueMode;
    this.rabbitNodeCount = stack.rabbit.nodes.length;
    this.haproxyCount = stack.haproxyCount;
    this.appCount = stack.appCount;
    this.pauseMs = netSplitPauseMs(stack.spec.rabbitmq.netTicktimeSeconds);
  }

  private get rabbit(): RabbitCluster {
    return this.stack.rabbit;
  }

  rabbitLabel(i: number): string {
    return `rabbit-${i}`;
  }

  rabbitNodeName(i: number): string {
    return this.rabbit.nodes[i]!.nodename;
  }

  unsupportedReason(scenario: string): string | undefined {
    return (PARTITION_SCENARIOS as ReadonlySet<string>).has(scenario) ? this.partitionBlocker : undefined;
  }

  killRabbitNode(i: number): Promise<void> {
    return this.rabbit.killNode(i);
  }

  stopRabbitNode(i: number): Promise<void> {
    return this.rabbit.stopNode(i);
  }

  startRabbitNode(i: number): Promise<void> {
    return this.rabbit.startNode(i);
  }

  async startAllRabbitNodes(): Promise<void> {
    await this.rabbit.startAll();
    await this.rabbit.waitForRunningNodes(this.rabbitNodeCount, 300_000);
  }

  async pauseRabbitNode(i: number): Promise<void> {
    this.rabbit.pauseNode(i);
  }

  async resumeRabbitNode(i: number): Promise<void> {
    this.rabbit.resumeNode(i);
  }

  async partitionRabbitNode(i: number): Promise<void> {
    const node = this.rabbit.nodes[i]!;
    if (node.pid === undefined) throw new Error(`${this.rabbitLabel(i)} is not running`);
    const partition = new LoopbackPartition(`n${i}`);
    this.partitions.set(i, partition);
    await partition.isolate(
      node.pid,
      node.distPort,
      this.rabbit.nodes.filter((n) => n.index !== i).map((n) => n.distPort),
    );
  }

  async healPartition(i: number): Promise<void> {
    await this.partitions.get(i)?.heal();
    this.partitions.delete(i);
  }

  async rollingRestart(onStep: (i: number, phase: 'down' | 'up') => void): Promise<void> {
    for (let i = 0; i < this.rabbitNodeCount; i++) {
      onStep(i, 'down');
      // What the chart's preStop does: wait for in-sync replicas elsewhere, then move clients and
      // quorum leaders off the node (rabbitmq-cluster/drain.ts).
      await this.rabbit.drainNode(i, DEFAULT_SYNC_WAIT_SECONDS);
      await this.rabbit.stopNode(i);
      await this.rabbit.startNode(i);
      await this.rabbit.waitForRunningNodes(this.rabbitNodeCount, 300_000);
      onStep(i, 'up');
    }
  }

  async rabbitmqctl(i: number, args: readonly string[]): Promise<string> {
    // Ask a running node when i is down; any member answers list_queues for the whole cluster.
    const order = [i, ...Array.from({ length: this.rabbitNodeCount }, (_, k) => k).filter((k) => k !== i)];
    let last: unknown;
    for (const k of order) {
      if (!this.rabbit.isUp(k)) continue;
      try {
        return await this.rabbit.rabbitmqctl(k, args);
      } catch (e) {
        last = e;
      }
    }
    throw last instanceof Error ? last : new Error(`rabbitmqctl ${args.join(' ')}: no node answered`);
  }

  async clusterStatus(i: number): Promise<string> {
    if (!this.rabbit.isUp(i)) throw new Error(`${this.rabbitLabel(i)} is not running`);
    return this.rabbit.rabbitmqctl(i, CLUSTER_STATUS_ARGS, 20_000);
  }

  killHaproxy(i: number): Promise<void> {
    return this.stack.killHaproxy(i);
  }

  startHaproxy(i: number): Promise<void> {
    return this.stack.startHaproxy(i);
  }

  async pauseHaproxy(i: number): Promise<void> {
    const h = this.haproxy(i);
    if (!h.process.running) throw new Error(`${h.name} is not running`);
    h.process.pause();
  }

  async resumeHaproxy(i: number): Promise<void> {
    this.haproxy(i).process.resume();
  }

  private haproxy(i: number) {
    if (!this.stack.haproxies) throw new UnsupportedFault('this stack gives no HAProxy handles to pause');
    const h = this.stack.haproxies[i];
    if (!h) throw new Error(`no HAProxy front ${i}: the twin has ${this.haproxyCount}`);
    return h;
  }

  killApp(i: number): Promise<void> {
    return this.stack.killApp(i);
  }

  startApp(i: number): Promise<void> {
    return this.stack.startApp(i);
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < this.rabbitNodeCount; i++) {
      if (!this.rabbit.isUp(i)) throw new Error(`${this.rabbitLabel(i)} is not running (a scenario left it down)`);
    }
    await this.rabbit.waitForRunningNodes(this.rabbitNodeCount, Math.max(1000, deadline - Date.now()));
    await this.stack.waitReady(Math.max(1000, deadline - Date.now()));
  }
}
