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
  /** Runs of a required step before it counts as failed (a second run picks up where a failed one stopped); a best-effort step runs once. */
  readonly attempts: number;
}

/**
 * Runs of `drain`. On RabbitMQ 3.10 it fails when a client connection it is closing exits by itself
 * first (`{normal, {gen_server, call, [..., {shutdown, 'Node was put into maintenance mode'}]}}`,
 * seen in a full chaos run: HAProxy's health checks open and close a connection every second).
 * The node is in maintenance mode by then, so a second run closes what is left and moves the leaders.
 */
export const DRAIN_ATTEMPTS = 3;

/** Seconds between two runs of a step that failed. */
export const DRAIN_RETRY_PAUSE_SECONDS = 1;

/**
 * 1. Wait (at most `syncWaitSeconds`) until stopping this node leaves every queue with an in-sync
 *    replica elsewhere: mirrors in mirrored mode, a quorum of members in quorum mode.
 * 2. `drain` (up to {@link DRAIN_ATTEMPTS} runs): maintenance mode. The node suspends its client listeners, closes its client
 *    connections (clients reconnect through the front to the other nodes), then hands its quorum
 *    leaders to other nodes and stops its quorum replicas. Mirrored masters are not moved (3.8.x
 *    dropped that from drain: slow with many queues); the stop promotes a synchronised mirror.
 *    A restarted node leaves maintenance mode by itself.
 *
 * Measured and not kept: handing the primaries over before `drain` (`rabbitmqctl eval` of
 * `rabbit_maintenance`'s transfer functions) while clients are still connected. Rolling restart on
 * a fresh twin, 30 followers: mirrored p99 0.29 → 0.32 s, worst wait 0.8 → 1.0 s; quorum p99
 * 0.32 → 0.83 s, worst wait 1.3 → 1.6 s. No gain, and it leans on internal functions.
 */
export function drainSteps(mode: QueueMode, syncWaitSeconds: number): DrainStep[] {
  if (!Number.isInteger(syncWaitSeconds) || syncWaitSeconds < 1) {
    throw new RangeError(`drainSteps: syncWaitSeconds must be a whole number of seconds ≥ 1, got ${syncWaitSeconds}`);
  }
  const await_ = mode === QueueMode.MIRRORED ? 'await_online_synchronized_mirror' : 'await_online_quorum_plus_one';
  return [
    { args: [await_, '-t', String(syncWaitSeconds)], bestEffort: true, attempts: 1 },
    { args: ['drain'], bestEffort: false, attempts: DRAIN_ATTEMPTS },
  ];
}

/** The steps as one POSIX shell script (the preStop hook's command); it exits non-zero when a required step failed every run. */
export function drainScript(mode: QueueMode, syncWaitSeconds: number): string {
  return drainSteps(mode, syncWaitSeconds).map(stepScript).join('; ');
}

/** One step as shell: a best-effort step reports its failure and goes on; a required one is run again and exits with its last status. */
function stepScript(step: DrainStep): string {
  const cmd = [RABBITMQ_UPGRADE, ...step.args].join(' ');
  if (step.bestEffort) return `${cmd} || echo "preStop: '${cmd}' failed or timed out; draining anyway" >&2`;
  if (step.attempts === 1) return cmd;
  const again = `echo "preStop: '${cmd}' failed (run $n of ${step.attempts}); again" >&2; n=$((n + 1)); sleep ${DRAIN_RETRY_PAUSE_SECONDS}`;
  return `n=1; until ${cmd}; do rc=$?; [ "$n" -lt ${step.attempts} ] || exit "$rc"; ${again}; done`;
}
