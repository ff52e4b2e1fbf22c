/**
 * What a chaos scenario needs from the system under test. The local twin and a Kubernetes cluster
 * (through kubectl) both implement it, so every scenario runs unchanged against either.
 */
import type { QueueMode } from '../../shared/index.js';

/** Thrown by a target for a fault it cannot inject; the scenario is reported as skipped with the reason. */
export class UnsupportedFault extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnsupportedFault';
  }
}

export interface ChaosTarget {
  /** `local` or `kubernetes`. */
  readonly kind: string;
  /** HTTP base URL of the front the workload uses (WebSocket URL derived from it). */
  readonly baseUrl: string;
  /** HS256 secret the app verifies tokens with. */
  readonly jwtSecret: string;
  readonly queueMode: QueueMode;
  readonly rabbitNodeCount: number;
  readonly haproxyCount: number;
  readonly appCount: number;
  /** Short label of node i for fault names, e.g. `rabbit-1` or the pod name. */
  rabbitLabel(i: number): string;
  /** Erlang node name of node i, as `rabbitmqctl list_queues` prints it. */
  rabbitNodeName(i: number): string;
  /** kill -9 of node i. */
  killRabbitNode(i: number): Promise<void>;
  /** Graceful stop of node i. */
  stopRabbitNode(i: number): Promise<void>;
  /** Brings node i back and waits until it runs as a cluster member. */
  startRabbitNode(i: number): Promise<void>;
  /** Starts every stopped node in parallel (no force_boot) and waits for the whole cluster. */
  startAllRabbitNodes(): Promise<void>;
  /** SIGSTOP of node i's VM. */
  pauseRabbitNode(i: number): Promise<void>;
  /** SIGCONT of node i's VM. */
  resumeRabbitNode(i: number): Promise<void>;
  /** Cuts node i off from the other nodes (both directions) while clients still reach it. */
  partitionRabbitNode(i: number): Promise<void>;
  /** Undoes {@link partitionRabbitNode}. */
  healPartition(i: number): Promise<void>;
  /** Restarts the nodes one at a time; `onStep` is called before each node goes down and after it is back. */
  rollingRestart(onStep: (i: number, phase: 'down' | 'up') => void): Promise<void>;
  /** `rabbitmqctl <args>` against node i; stdout. */
  rabbitmqctl(i: number, args: readonly string[]): Promise<string>;
  /**
   * `rabbitmqctl cluster_status --formatter json` answered by node i itself (never by another node,
   * since each side of a split sees a different cluster); stdout. Rejects when node i does not answer.
   */
  clusterStatus(i: number): Promise<string>;
  killHaproxy(i: number): Promise<void>;
  /** SIGSTOP of HAProxy AMQP front i (a hung front: the kernel still accepts its TCP connections). */
  pauseHaproxy(i: number): Promise<void>;
  /** SIGCONT of HAProxy AMQP front i. */
  resumeHaproxy(i: number): Promise<void>;
  startHaproxy(i: number): Promise<void>;
  killApp(i: number): Promise<void>;
  startApp(i: number): Promise<void>;
  /** Waits until all nodes run clustered, every front is up and the app is ready. */
  waitHealthy(timeoutMs: number): Promise<void>;
  /** Why this target cannot run `scenario` here (the scenario is then skipped), or undefined. */
  unsupportedReason(scenario: string): string | undefined;
  /** Milliseconds a paused node needs (also how long a paused HAProxy front is held) to be declared down by its peers (net_ticktime × 1.25 + margin). */
  readonly pauseMs: number;
}

/** Peers notice a silent node after 0.75–1.25 × net_ticktime; a pause or cut lasts past the worst case with a margin. */
export function netSplitPauseMs(netTicktimeSeconds: number): number {
  return Math.round(netTicktimeSeconds * 1.25 * 1000) + 10_000;
}
