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
import { QueueReapOutcome, type ReplicaRegistry, type StaleReplica } from '../db/replicas.js';
import { ReplyCode, replyCode, type AmqpConnection } from './connection.js';

export interface ReplicaReaperProps {
  readonly registry: ReplicaRegistry;
  readonly amqp: AmqpConnection;
  /** This replica's id; never reaped by itself. */
  readonly replicaId: string;
  /** This replica's queue, recorded with its heartbeat. */
  readonly queue: string;
  /** Heartbeat (and reap round) period. */
  readonly heartbeatMs: number;
  /** A heartbeat older than this marks a dead replica. */
  readonly staleMs: number;
  readonly log: Logger;
  /** Counts queues deleted. */
  readonly reaped: Counter;
  /** Counts stale queues kept because they still have a consumer. */
  readonly deferred: Counter;
}

export class ReplicaReaper {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly props: ReplicaReaperProps) {}

  /** Writes the first heartbeat (so this replica's queue is known before it exists), then runs a round every `heartbeatMs`. */
  async start(): Promise<void> {
    await this.props.registry.heartbeat(this.props.replicaId, this.props.queue);
    this.schedule();
  }

  /**
   * Stops the rounds (waiting for a running one). With `deregister` (the replica deleted its own
   * queue) it removes this replica's row; without, the row goes stale and another replica reaps.
   */
  async stop(deregister: boolean): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    if (deregister) await this.props.registry.remove(this.props.replicaId);
  }

  /** One heartbeat and one reap; resolves with the replicas reaped. Errors are logged, never thrown. */
  async runOnce(): Promise<StaleReplica[]> {
    const { registry, replicaId, queue, log } = this.props;
    try {
      await registry.heartbeat(replicaId, queue);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'reaper: heartbeat failed');
      return []; // Postgres unreachable: nothing to reap with either
    }
    if (this.props.amqp.channels === undefined) return [];
    try {
      return await registry.reapStale(replicaId, this.props.staleMs, (r) => this.deleteQueue(r));
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'reaper: round failed; retried next round');
      return [];
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.runOnce().then(() => this.schedule());
    }, this.props.heartbeatMs);
    this.timer.unref();
  }

  private async deleteQueue(r: StaleReplica): Promise<QueueReapOutcome> {
    try {
      const { messageCount } = await this.props.amqp.withScratchChannel((ch) => ch.deleteQueue(r.queue, { ifUnused: true }));
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
    }
  }
}
