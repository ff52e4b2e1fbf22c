/**
 * The steps that take a RabbitMQ node out of service before it stops, shared by the chart's
 * preStop hook and the local twin's rolling restart, so both drain the same way. Pure: the caller
 * runs each step as `rabbitmq-upgrade [-n node] ...args`.
 */
import { QueueMode } from '../shared/index.js';

/** Seconds the first step may wait for replicas to catch up (the chart's default; its grace period is longer). */
export const DEFAULT_SYNC_WAIT_SECONDS = 300;

/** The CLI every step runs. */
export const RABBITMQ_UPGRADE = 'rabbitmq-upgrade';

/** One `rabbitmq-upgrade` call. */
export interface DrainStep {
  /** Arguments after `rabbitmq-upgrade` (and `-n node` when the caller targets a node). */
  readonly args: readonly string[];
  /**
   * The stop goes on when this step fails: waiting for replicas is bounded, and a node must
   * still stop when they never catch up (Kubernetes kills it after the grace period anyway).
   */
  readonly bestEffort: boolean;
}

/**
 * 1. Wait (at most `syncWaitSeconds`) until stopping this node leaves every queue with an in-sync
 *    replica elsewhere: mirrors in mirrored mode, a quorum of members in quorum mode.
 * 2. `drain`: maintenance mode. The node suspends its client listeners, closes its client
 *    connections (clients reconnect through the front to the other nodes) and hands its
 *    mirrored-queue masters and quorum leaders to other nodes, so the stop itself moves nothing.
 *    A restarted node leaves maintenance mode by itself.
 */
export function drainSteps(mode: QueueMode, syncWaitSeconds: number): DrainStep[] {
  if (!Number.isInteger(syncWaitSeconds) || syncWaitSeconds < 1) {
    throw new RangeError(`drainSteps: syncWaitSeconds must be a whole number of seconds ≥ 1, got ${syncWaitSeconds}`);
  }
  const await_ = mode === QueueMode.MIRRORED ? 'await_online_synchronized_mirror' : 'await_online_quorum_plus_one';
  return [
    { args: [await_, '-t', String(syncWaitSeconds)], bestEffort: true },
    { args: ['drain'], bestEffort: false },
  ];
}

/** The steps as one POSIX shell script (the preStop hook's command). */
export function drainScript(mode: QueueMode, syncWaitSeconds: number): string {
  return drainSteps(mode, syncWaitSeconds)
    .map((step) => {
      const cmd = [RABBITMQ_UPGRADE, ...step.args].join(' ');
      return step.bestEffort ? `${cmd} || echo "preStop: '${cmd}' failed or timed out; draining anyway" >&2` : cmd;
    })
    .join('; ');
}
