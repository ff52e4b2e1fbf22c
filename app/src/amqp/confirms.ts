/**
 * Publishing outbox entries with publisher confirms, bounded in time: which entries the broker
 * confirmed in full, and nothing else. A channel whose confirms stop coming (a quorum leader cut off
 * from the cluster, a mirrored queue failing over) is left behind: its unconfirmed entries go again
 * on a fresh channel, and an entry counts once either copy is confirmed (clients dedupe by postId).
 */
import type { ConfirmChannel } from 'amqplib';
import { EXCHANGE } from '../../../shared/constants.js';
import type { OutboxEntry } from '../db/store.js';
import type { AmqpConnection } from './connection.js';

/** One broker message of an outbox entry. */
export interface OutgoingMessage {
  /** The first recipient's routing key. */
  readonly routingKey: string;
  /** The other recipients' routing keys (sender-selected distribution: the broker routes on each). */
  readonly cc?: readonly string[];
  readonly body: Buffer;
}

/** What one publish call achieved. */
export interface PublishResult {
  /** Outbox ids whose every message the broker confirmed: these rows may be marked published. */
  readonly confirmed: readonly string[];
  /** Messages sent (confirmed or not), the copies sent again included. */
  readonly messages: number;
  /** Messages sent again on a fresh channel because the first one's confirms stopped. @default 0 */
  readonly resent?: number;
  /** Why some entries are not confirmed (nack, timeout, connection loss); undefined when all are. */
  readonly error?: string;
}

/** How long {@link publishConfirmed} waits. */
export interface ConfirmTiming {
  /** The whole call's bound: entries unconfirmed by then stay for the outbox's retry. */
  readonly confirmTimeoutMs: number;
  /** No confirm for this long on the channel, while some are due: send the unconfirmed entries again on a fresh channel. */
  readonly resendAfterMs: number;
}

/** amqplib's error for a `basic.nack` from the broker (a closing channel fails its callbacks with another). */
const NACK_MESSAGE = 'message nacked';

function isBrokerNack(err: unknown): boolean {
  return err instanceof Error && err.message === NACK_MESSAGE;
}

/**
 * Resolves when the channel can take more; rejects if it closes first or after `timeoutMs` (a relay
 * must never hang holding its rows: a hung node stops reading and keeps the socket open).
 */
function drained(ch: ConfirmChannel, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      ch.off('drain', onDrain);
      ch.off('close', onClose);
    };
    const onDrain = () => {
      done();
      resolve();
    };
    const onClose = () => {
      done();
      reject(new Error('channel closed while waiting for drain'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`channel not drained within ${timeoutMs} ms`));
    }, timeoutMs);
    ch.once('drain', onDrain);
    ch.once('close', onClose);
  });
}

/** Wakes the one waiter on any news (a confirm, a nack, the connection's loss), or after its own bound. */
class Wakeup {
  private wake: (() => void) | undefined;

  notify(): void {
    this.wake?.();
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref();
      this.wake = done;
    });
  }
}

/** Waits for `work` at most `ms`; true when it settled in time (a late one goes on unobserved). */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The entries one channel was given and what its confirms said of them. */
class ConfirmRound {
  /** Entries whose every message this channel confirmed. */
  readonly confirmed = new Set<string>();
  /** Entries with a message this channel has neither confirmed nor failed yet. */
  readonly pending = new Set<string>();
  /** Messages published on this channel. */
  messages = 0;
  /** The broker refused one of them (`basic.nack`): this channel is renewed after the call. */
  nacked = false;
  /** The first failure this channel saw: a nack, a failed publish, or its callbacks failed by a close. */
  error: string | undefined;
  /** When this channel last sent or heard a confirm: a long quiet with entries pending means it is stuck. */
  lastNewsAt = Date.now();

  constructor(
    readonly ch: ConfirmChannel,
    private readonly amqp: AmqpConnection,
    private readonly news: Wakeup,
  ) {}

  /** Publishes every entry's messages; false when a publish failed mid-way (the connection is being replaced). */
  async send(entries: readonly OutboxEntry[], messagesOf: (e: OutboxEntry) => readonly OutgoingMessage[], drainTimeoutMs: number): Promise<boolean> {
    for (const e of entries) {
      const outgoing = messagesOf(e);
      if (outgoing.length === 0) this.confirmed.add(e.outboxId);
      const settle = this.entryTracker(e.outboxId, outgoing.length);
      const timestamp = Math.floor(Date.parse(e.post.createdAt) / 1000);
      for (const m of outgoing) {
        const ok = this.publishOne(e, m, timestamp, settle);
        if (ok === undefined) return false;
        if (!ok) await drained(this.ch, drainTimeoutMs);
      }
    }
    this.lastNewsAt = Date.now();
    return true;
  }

  /** The callback of each message of one entry: the entry is confirmed when all of them are, failed at the first that is not. */
  private entryTracker(outboxId: string, messages: number): (err: unknown) => void {
    let waiting = messages;
    let failed = false;
    if (messages > 0) this.pending.add(outboxId);
    return (err: unknown) => {
      this.lastNewsAt = Date.now();
      if (err) {
        // amqplib fails the callbacks of a closing channel too ('channel closed'): only a broker nack counts here.
        const nack = isBrokerNack(err);
        this.nacked ||= nack;
        this.error ??= nack ? 'broker nacked a message' : `no confirm: ${String(err)}`;
        failed = true;
        this.pending.delete(outboxId);
      } else if (--waiting === 0 && !failed) {
        this.confirmed.add(outboxId);
        this.pending.delete(outboxId);
      }
      this.news.notify();
    };
  }

  /** Publishes one message; the channel's answer to `publish` (false: wait for drain), or undefined when publishing must stop. */
  private publishOne(e: OutboxEntry, m: OutgoingMessage, timestamp: number, settle: (err: unknown) => void): boolean | undefined {
    this.messages++;
    try {
      return this.ch.publish(
        EXCHANGE,
        m.routingKey,
        m.body,
        { persistent: true, contentType: 'application/json', messageId: e.post.id, timestamp, ...(m.cc !== undefined && m.cc.length > 0 ? { CC: [...m.cc] } : {}) },
        settle,
      );
    } catch (err) {
      if (this.amqp.channels?.publish !== this.ch) throw err; // the connection is gone (a closed channel throws): as before
      // amqplib throws while encoding a message it cannot send (e.g. an oversized header) after it
      // queued the confirm callback: later confirms would match the wrong messages. Stop, and
      // replace the connection; nothing unconfirmed counts, the outbox retries it.
      this.error ??= `could not publish a message: ${(err as Error).message}`;
      this.amqp.fail('publisher confirms out of step after a failed publish');
      return undefined;
    }
  }
}

/**
 * Publishes every entry's messages on the confirm channel and reports the entries whose messages
 * were all confirmed, on the first channel or on a fresh one they were sent again on. Stops waiting
 * on connection loss or after `confirmTimeoutMs`: those entries stay unconfirmed and the outbox
 * retries them.
 */
export async function publishConfirmed(
  amqp: AmqpConnection,
  timing: ConfirmTiming,
  entries: readonly OutboxEntry[],
  messagesOf: (e: OutboxEntry) => readonly OutgoingMessage[],
): Promise<PublishResult> {
  const ch = amqp.channels?.publish;
  if (!ch) throw new Error('amqp is down');
  return new ConfirmedPublish(amqp, timing, entries, messagesOf).run(ch);
}

/** One {@link publishConfirmed} call: its rounds, and the wait for their confirms. */
class ConfirmedPublish {
  private readonly news = new Wakeup();
  private readonly rounds: ConfirmRound[] = [];
  private readonly deadline: number;
  /** The connection went down (or is being replaced after a failed publish): nothing more will be confirmed. */
  private lost = false;
  /** Copies sent on fresh channels. */
  private resent = 0;
  /** Why the wait ended with entries unconfirmed (timeout, loss), ahead of any channel's own error. */
  private failure: string | undefined;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly timing: ConfirmTiming,
    private readonly entries: readonly OutboxEntry[],
    private readonly messagesOf: (e: OutboxEntry) => readonly OutgoingMessage[],
  ) {
    this.deadline = Date.now() + timing.confirmTimeoutMs;
  }

  async run(ch: ConfirmChannel): Promise<PublishResult> {
    const onDown = () => {
      this.lost = true;
      this.news.notify();
    };
    this.amqp.once('down', onDown);
    try {
      const round = new ConfirmRound(ch, this.amqp, this.news);
      this.rounds.push(round);
      // After a failed publish the connection is being replaced: what was sent may still be confirmed before it goes.
      const resendable = await round.send(this.entries, this.messagesOf, this.left());
      await this.awaitConfirms(resendable);
      return this.result();
    } finally {
      this.amqp.off('down', onDown);
    }
  }

  /** Milliseconds to the call's deadline (at least 1: a bound of 0 would not wait at all). */
  private left(): number {
    return Math.max(1, this.deadline - Date.now());
  }

  private get current(): ConfirmRound {
    return this.rounds[this.rounds.length - 1]!;
  }

  private isConfirmed(outboxId: string): boolean {
    return this.rounds.some((r) => r.confirmed.has(outboxId));
  }

  /** Entries no channel confirmed yet but some channel may still. */
  private unsettled(): OutboxEntry[] {
    return this.entries.filter((e) => !this.isConfirmed(e.outboxId) && this.rounds.some((r) => r.pending.has(e.outboxId)));
  }

  /**
   * Waits until every entry is confirmed somewhere or can no longer be, the connection is lost, or
   * the deadline. A resend is due when the current channel has confirms pending and has said
   * nothing for `resendAfterMs`; a channel that nacked everything it had is left to the retry.
   */
  private async awaitConfirms(resendable: boolean): Promise<void> {
    for (;;) {
      const due = this.unsettled();
      if (due.length === 0 || this.lost) return;
      const now = Date.now();
      if (now >= this.deadline) return this.giveUp(due.length);
      const quiet = resendable && this.current.pending.size > 0;
      const resendAt = quiet ? this.current.lastNewsAt + this.timing.resendAfterMs : this.deadline;
      if (now >= resendAt) await this.resend(due);
      else await this.news.wait(Math.min(this.deadline, resendAt) - now);
    }
  }

  /** The current channel went quiet with confirms due: send `due` again on a fresh channel. */
  private async resend(due: readonly OutboxEntry[]): Promise<void> {
    const stale = this.current;
    const fresh = await this.freshChannel(stale.ch, due.length);
    if (fresh === undefined) {
      stale.lastNewsAt = Date.now(); // no fresh channel now: the next try is one resend period later
      return;
    }
    const round = new ConfirmRound(fresh, this.amqp, this.news);
    this.rounds.push(round);
    const sent = await round.send(due, this.messagesOf, this.left()).catch((e: Error) => {
      round.error ??= `resend failed: ${e.message}`;
      return false;
    });
    this.resent += round.messages;
    if (!sent) {
      this.failure ??= round.error;
      this.lost = true;
    }
  }

  /**
   * A publish channel of the connection other than `stale` and every earlier round's: the current
   * one if someone renewed it meanwhile, else a renewed one; undefined when none came in time.
   */
  private async freshChannel(stale: ConfirmChannel, due: number): Promise<ConfirmChannel | undefined> {
    if (this.amqp.channels?.publish === stale) {
      const reason = `no publisher confirm for ${this.timing.resendAfterMs} ms with ${due} entr${due === 1 ? 'y' : 'ies'} due; sending them again on a fresh channel`;
      // Bounded by the deadline alone (a hung node never answers the open), not by news: a renewal
      // left behind would still retire the old channel and fail its callbacks after the call moved on.
      await settlesWithin(this.amqp.renewPublishChannel(reason, stale), this.left());
    }
    const fresh = this.amqp.channels?.publish;
    return fresh === undefined || this.rounds.some((r) => r.ch === fresh) ? undefined : fresh;
  }

  private giveUp(missing: number): void {
    this.failure = `${missing} entr${missing === 1 ? 'y' : 'ies'} without publisher confirms after ${this.timing.confirmTimeoutMs} ms`;
    // A channel stuck this way stays stuck (mirrored queue that lost its consumer): start the retry on a fresh one.
    void this.amqp.renewPublishChannel(this.failure, this.current.ch);
  }

  private result(): PublishResult {
    if (this.lost) this.failure ??= 'amqp connection lost before the confirms';
    // Seen in the quorum leader-kill chaos scenario (RabbitMQ 3.10): a channel that published while a
    // queue's leader was re-elected had every publish nacked for 7 s, until the killed node came back,
    // while a replica that connected 0.2 s later had none. The retry goes out on a fresh channel.
    const nacked = this.rounds.find((r) => r.nacked);
    if (nacked) void this.amqp.renewPublishChannel(nacked.error ?? 'broker nacked a message', nacked.ch);
    const confirmed = this.entries.filter((e) => this.isConfirmed(e.outboxId)).map((e) => e.outboxId);
    const messages = this.rounds.reduce((n, r) => n + r.messages, 0);
    const error = confirmed.length === this.entries.length ? undefined : this.why(nacked);
    return { confirmed, messages, resent: this.resent, ...(error !== undefined ? { error } : {}) };
  }

  /** Why entries stayed unconfirmed: a nack first (the broker's own answer), then the call's end, then the latest channel's error. */
  private why(nacked: ConfirmRound | undefined): string {
    const latest = [...this.rounds].reverse().find((r) => r.error !== undefined)?.error;
    return nacked?.error ?? this.failure ?? latest ?? 'unconfirmed';
  }
}
