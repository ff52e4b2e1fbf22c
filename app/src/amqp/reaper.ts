/**
 * Heartbeat and reaper of the replica registry. A replica killed without a graceful shutdown leaves
 * its queue bound with no consumer; in mirrored mode such a queue withholds publisher confirms while
 * messages keep arriving, which stalls every relay. So each replica heartbeats, and every replica
 * deletes the queue of any replica whose heartbeat went stale, long before `x-expires` (the backstop).
 * `ifUnused` keeps the queue of a live replica whose heartbeat is merely late (it still consumes);
 * a queue deleted anyway (a replica between connections) is recovered by the consumer's queue-loss check.
 */
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { QueueMode } from '../../../shared/constants.js';
import { QueueReapOutcome, type ReplicaRegistry, type StaleReplica } from '../db/replicas.js';
import { ReplyCode, replyCode, type AmqpConnection } from './connection.js';

export interface ReplicaReaperProps {
  readonly registry: ReplicaRegistry;
  readonly amqp: AmqpConnection;
  /** This replica's id; never reaped by itself. */
  readonly replicaId: string;
  /** This replica's queue, recorded with its heartbeat. */
  readonly queue: string;
  /** How this replica declares its queue, recorded with its heartbeat (decides how others delete it). */
  readonly queueMode: QueueMode;
  /** Heartbeat (and reap round) period. */
  readonly heartbeatMs: number;
  /** A heartbeat older than this marks a dead replica. */
  readonly staleMs: number;
  readonly log: Logger;
  /** Counts queues deleted. */
  readonly reaped: Counter;
  /** Counts stale queues kept because they still have a consumer. */
  readonly deferred: Counter;
  /** Longest wait for the broker to answer one queue delete before the round gives up (rows stay). @default 5000 */
  readonly deleteTimeoutMs?: number;
  /**
   * Binding-free time a reap waits for. Replicas of this release never bind per user and record no
   * binding activity; replicas of the previous release (during a rolling update) still do, and
   * deleting a queue with thousands of bindings contends with their re-binding in Mnesia (measured
   * with 5000 sockets: 88 s against 30 s), so the policy stays while they may run (ReapBusyPolicy).
   * @default 10000
   */
  readonly bindingQuietMs?: number;
  /** Longest reaping waits past the stale threshold for binding work to calm down. @default 60000 */
  readonly maxDeferMs?: number;
}

export class ReplicaReaper {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<boolean> | undefined;
  private reaping: Promise<StaleReplica[]> | undefined;
  /**
   * Deletes still running on the broker, by queue. Deleting a queue with thousands of bindings
   * takes longer than a round; a second delete of the same queue would only add Mnesia work while
   * the survivors are re-binding those users, so later rounds wait for the first one instead.
   */
  private readonly inFlight = new Map<string, Promise<{ messageCount: number }>>();
  private stopped = false;

  constructor(private readonly props: ReplicaReaperProps) {}

  /**
   * Writes the first heartbeat (so this replica's queue is known before it exists), then every
   * `heartbeatMs` a heartbeat and, unless the last one still runs, a reap. A slow reap (a broker
   * busy deleting) never delays the heartbeat: that would make this live replica look dead.
   */
  async start(): Promise<void> {
    await this.props.registry.heartbeat(this.props.replicaId, this.props.queue, this.props.queueMode);
    this.timer = setInterval(() => {
      void this.heartbeat();
      this.reaping ??= this.reap().finally(() => (this.reaping = undefined));
    }, this.props.heartbeatMs);
    this.timer.unref();
  }

  /**
   * Stops the rounds (waiting for a running one). With `deregister` (the replica deleted its own
   * queue) it removes this replica's row; without, the row goes stale and another replica reaps.
   */
  async stop(deregister: boolean): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([this.beating, this.reaping]);
    if (deregister) await this.props.registry.remove(this.props.replicaId);
  }

  /** One heartbeat and one reap; resolves with the replicas reaped. Errors are logged, never thrown. */
  async runOnce(): Promise<StaleReplica[]> {
    return (await this.heartbeat()) ? this.reap() : []; // Postgres unreachable: nothing to reap with either
  }

  /** Upserts this replica's heartbeat (one at a time); false when it failed. */
  private heartbeat(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    return (this.beating ??= this.props.registry
      .heartbeat(this.props.replicaId, this.props.queue, this.props.queueMode)
      .then(
        () => true,
        (e: Error) => {
          this.props.log.warn({ err: e.message }, 'reaper: heartbeat failed');
          return false;
        },
      )
      .finally(() => (this.beating = undefined)));
  }

  private async reap(): Promise<StaleReplica[]> {
    if (this.stopped || this.props.amqp.channels === undefined) return [];
    try {
      const busy = { quietMs: this.props.bindingQuietMs ?? 10_000, maxDeferMs: this.props.maxDeferMs ?? 60_000 };
      return await this.props.registry.reapStale(this.props.replicaId, this.props.staleMs, (r) => this.deleteQueue(r), 20, busy);
    } catch (e) {
      this.props.log.warn({ err: (e as Error).message }, 'reaper: round failed; retried next round');
      return [];
    }
  }

  /**
   * A classic (mirrored) queue is deleted with `ifUnused`: the broker refuses (406) while it has a
   * consumer. A quorum queue answers `ifUnused` with 540, which closes the whole connection, so it
   * is checked for consumers first and then deleted; a consumer that attaches in between (its
   * replica reconnecting) is cancelled, and that replica's queue-loss check sends its sockets to replay.
   */
  private async deleteIfUnused(r: StaleReplica): Promise<{ messageCount: number }> {
    const { amqp } = this.props;
    if (r.queueMode === QueueMode.MIRRORED) return amqp.withScratchChannel((ch) => ch.deleteQueue(r.queue, { ifUnused: true }));
    const { consumerCount } = await amqp.withScratchChannel((ch) => ch.checkQueue(r.queue));
    if (consumerCount > 0) throw Object.assign(new Error(`${r.queue} has ${consumerCount} consumer(s)`), { code: ReplyCode.PRECONDITION_FAILED });
    return amqp.withScratchChannel((ch) => ch.deleteQueue(r.queue));
  }

  private async deleteQueue(r: StaleReplica): Promise<QueueReapOutcome> {
    const timeoutMs = this.props.deleteTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`deleting ${r.queue} got no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      let deleting = this.inFlight.get(r.queue);
      if (deleting === undefined) {
        const started = this.deleteIfUnused(r);
        deleting = started;
        this.inFlight.set(r.queue, started);
        started.then(
          () => this.inFlight.delete(r.queue),
          () => this.inFlight.delete(r.queue), // after a timeout nobody else awaits it
        );
      }
      const { messageCount } = await Promise.race([deleting, timeout]);
      this.props.reaped.inc();
      this.props.log.info({ reapedReplica: r.replicaId, queue: r.queue, messages: messageCount }, 'reaper: deleted the queue of a dead replica');
      return QueueReapOutcome.DELETED;
    } catch (e) {
      const code = replyCode(e);
      if (code === ReplyCode.NOT_FOUND) return QueueReapOutcome.DELETED; // x-expires or another replica got there first
      if (code === ReplyCode.PRECONDITION_FAILED) {
        this.props.deferred.inc();
        this.props.log.debug({ reapedReplica: r.replicaId, queue: r.queue }, 'reaper: stale replica still consumes; kept');
        return QueueReapOutcome.IN_USE;
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}
