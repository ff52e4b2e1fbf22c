/**
 * The replica registry (table `replicas`, migration 3): each live replica's heartbeat and queue.
 * Ages are measured with the database clock on both sides, so replicas' clocks need not agree.
 */
import type pg from 'pg';
import { QueueMode, ReplicaRouting } from '../../../shared/constants.js';

/** A registry row whose heartbeat is older than the stale threshold. */
export interface StaleReplica {
  readonly replicaId: string;
  readonly queue: string;
  /** How its queue was declared; undefined when unknown. */
  readonly queueMode?: QueueMode;
}

/** What the broker did with a stale replica's queue. */
export enum QueueReapOutcome {
  /** Deleted, or already gone: the row goes too. */
  DELETED = 'deleted',
  /** Still has a consumer (the replica is alive, its heartbeat merely late): the row stays. */
  IN_USE = 'in_use',
}

/**
 * When reaping waits: while any live replica bound or unbound a user within `quietMs`, for at most
 * `maxDeferMs` past the stale threshold. Deleting a queue removes all its bindings in Mnesia
 * transactions that contend with the survivors re-binding the same users.
 */
export interface ReapBusyPolicy {
  readonly quietMs: number;
  readonly maxDeferMs: number;
}

export class ReplicaRegistry {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Records that `replicaId` (owning `queue`, declared in `queueMode`) is alive now, and how long ago
   * it last bound or unbound a user (undefined: never). Both ages use the database clock.
   */
  async heartbeat(replicaId: string, queue: string, queueMode: QueueMode, msSinceBindingChange?: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO replicas (replica_id, queue_name, queue_mode, bindings_changed_at, routing)
       VALUES ($1, $2, $3, now() - ($4::bigint * interval '1 millisecond'), $5)
       ON CONFLICT (replica_id) DO UPDATE SET queue_name = EXCLUDED.queue_name, queue_mode = EXCLUDED.queue_mode,
         heartbeat_at = now(), bindings_changed_at = EXCLUDED.bindings_changed_at, routing = EXCLUDED.routing`,
      [replicaId, queue, queueMode, msSinceBindingChange === undefined ? null : Math.max(0, Math.round(msSinceBindingChange)), ReplicaRouting.BROADCAST],
    );
  }

  /**
   * Whether a replica of the previous release (bound per user: no routing recorded) has a heartbeat
   * younger than `staleMs`. Asked after the outbox rows are locked, so a replica registered before a
   * post was stored is always seen by the relay that publishes it.
   */
  async perUserRoutedReplicaLive(staleMs: number): Promise<boolean> {
    const { rows } = await this.pool.query<{ live: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM replicas WHERE routing IS NULL
                        AND heartbeat_at >= now() - ($1::bigint * interval '1 millisecond')) AS live`,
      [staleMs],
    );
    return rows[0]?.live === true;
  }

  /** Removes the row of `replicaId` (graceful shutdown). */
  async remove(replicaId: string): Promise<void> {
    await this.pool.query('DELETE FROM replicas WHERE replica_id = $1', [replicaId]);
  }

  /**
   * Locks up to `limit` rows (other than `self`) whose heartbeat is older than `staleMs` and hands
   * each to `reap`; rows it reports {@link QueueReapOutcome.DELETED} are removed. SKIP LOCKED lets
   * several replicas reap at once without touching the same row; a row whose replica came back
   * (a fresh heartbeat) waits for the lock and is no longer stale afterwards. Returns the reaped rows.
   */
  async reapStale(
    self: string,
    staleMs: number,
    reap: (replica: StaleReplica) => Promise<QueueReapOutcome>,
    limit = 20,
    busy: ReapBusyPolicy = { quietMs: 0, maxDeferMs: 0 },
  ): Promise<StaleReplica[]> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ replica_id: string; queue_name: string; queue_mode: string | null }>(
        `SELECT replica_id, queue_name, queue_mode FROM replicas
         WHERE replica_id <> $1 AND heartbeat_at < now() - ($2::bigint * interval '1 millisecond')
           AND (heartbeat_at < now() - (($2::bigint + $5::bigint) * interval '1 millisecond')
                OR NOT EXISTS (SELECT 1 FROM replicas live
                               WHERE live.heartbeat_at >= now() - ($2::bigint * interval '1 millisecond')
                                 AND live.bindings_changed_at > now() - ($4::bigint * interval '1 millisecond')))
         ORDER BY heartbeat_at LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [self, staleMs, limit, busy.quietMs, busy.maxDeferMs],
      );
      const reaped: StaleReplica[] = [];
      for (const r of rows) {
        const mode = Object.values(QueueMode).find((m) => m === r.queue_mode);
        const replica: StaleReplica = { replicaId: r.replica_id, queue: r.queue_name, ...(mode !== undefined ? { queueMode: mode } : {}) };
        if ((await reap(replica)) !== QueueReapOutcome.DELETED) continue;
        await client.query('DELETE FROM replicas WHERE replica_id = $1', [replica.replicaId]);
        reaped.push(replica);
      }
      await client.query('COMMIT');
      return reaped;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
}
