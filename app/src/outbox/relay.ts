/**
 * The outbox relay every replica runs: takes unpublished rows with FOR UPDATE SKIP LOCKED (replicas
 * share the work), publishes them with confirms, marks them published only after the confirm. While
 * the broker is away rows wait; the write path never depends on the broker.
 */
import type { Logger } from 'pino';
import { backoffMs, Jitter, sleep } from '../../../shared/retry.js';
import type { FeedPublisher } from '../amqp/publisher.js';
import type { FeedStore } from '../db/store.js';
import type { FeedMetrics } from '../metrics.js';

export interface OutboxRelayProps {
  readonly store: FeedStore;
  readonly publisher: FeedPublisher;
  /** True while the broker connection is usable. */
  readonly brokerUp: () => boolean;
  readonly log: Logger;
  readonly metrics: FeedMetrics;
  /** Rows per transaction. @default 100 */
  readonly batchSize?: number;
  /** Poll for rows other replicas left (crash, outage) this often. @default 500 */
  readonly pollIntervalMs?: number;
  /** Published rows are deleted after this long. @default 1 hour */
  readonly retainPublishedMs?: number;
}

export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pending = false;
  private lastPrune = 0;

  constructor(private readonly props: OutboxRelayProps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** A post was just stored (or the broker came back): publish now instead of at the next poll. */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  /** Stops the loop, then publishes what is left for at most `timeoutMs`; returns the rows handled. */
  async flush(timeoutMs: number): Promise<number> {
    await this.stop();
    const deadline = Date.now() + timeoutMs;
    let total = 0;
    while (Date.now() < deadline && this.props.brokerUp()) {
      try {
        const n = await this.batch();
        total += n;
        if (n === 0) break;
      } catch (e) {
        this.props.log.warn({ err: (e as Error).message }, 'outbox: flush batch failed; rows stay for another replica');
        break;
      }
    }
    return total;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
  }

  /** One batch; resolves with the rows marked published, rejects when any row stays unconfirmed. */
  private async batch(): Promise<number> {
    let error: string | undefined;
    const { locked, published } = await this.props.store.publishOutboxBatch(this.props.batchSize ?? 100, async (entries) => {
      const r = await this.props.publisher.publish(entries);
      this.props.metrics.published.inc(r.confirmed.length);
      this.props.metrics.resent.inc(r.resent ?? 0);
      error = r.error;
      return r.confirmed;
    });
    if (published < locked) {
      // Not a relay failure: those rows got their own backoff; keep going with the others.
      this.props.log.warn({ unconfirmed: locked - published, locked, err: error }, 'outbox: some rows unconfirmed; retried later with backoff');
      if (published === 0) throw new Error(`no row of ${locked} confirmed (${error ?? 'unknown'})`);
    }
    return locked;
  }

  private async run(): Promise<void> {
    const poll = this.props.pollIntervalMs ?? 500;
    let failures = 0;
    while (this.running) {
      this.pending = false;
      let more = false;
      if (this.props.brokerUp()) {
        try {
          const n = await this.batch();
          more = n >= (this.props.batchSize ?? 100);
          if (n > 0) this.props.log.debug({ rows: n }, 'outbox: published');
          failures = 0;
          await this.prune();
        } catch (e) {
          failures++;
          this.props.log.warn({ err: (e as Error).message, failures }, 'outbox: publish failed; rows stay unpublished and are retried');
        }
      }
      if (more || (this.pending && failures === 0)) continue;
      await this.sleep(failures > 0 ? backoffMs(Math.min(failures, 4), { baseMs: poll, capMs: 5000, jitter: Jitter.NONE }) : poll);
    }
  }

  private async prune(): Promise<void> {
    if (Date.now() - this.lastPrune < 60_000) return;
    this.lastPrune = Date.now();
    await this.props.store.pruneOutbox(this.props.retainPublishedMs ?? 3600_000);
  }

  /** Sleeps `ms`, or less when wake() or stop() wakes it: a new post should not wait for the next poll. */
  private async sleep(ms: number): Promise<void> {
    const early = new AbortController();
    this.wakeUp = () => early.abort();
    await sleep(ms, undefined, { signal: early.signal }).catch(() => undefined);
    this.wakeUp = undefined;
  }
}
