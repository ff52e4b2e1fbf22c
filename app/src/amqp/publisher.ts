/**
 * How an outbox entry becomes broker messages. Behind an interface so the fan-out encoding (one
 * message per follower today; CC-header batching later) is a local change.
 */
import type { ConfirmChannel } from 'amqplib';
import { EXCHANGE, userRoutingKey } from '../../../spec/index.js';
import type { OutboxEntry } from '../db/store.js';
import { toFrame } from '../ws/frame.js';
import type { AmqpConnection } from './connection.js';

/** Resolves when the channel can take more, rejects if it closes first (a relay must never hang holding its rows). */
function drained(ch: ConfirmChannel): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      ch.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      ch.off('drain', onDrain);
      reject(new Error('channel closed while waiting for drain'));
    };
    ch.once('drain', onDrain);
    ch.once('close', onClose);
  });
}

/** What one publish call achieved. */
export interface PublishResult {
  /** Outbox ids whose every message the broker confirmed: these rows may be marked published. */
  readonly confirmed: readonly string[];
  /** Messages sent (confirmed or not). */
  readonly messages: number;
  /** Why some entries are not confirmed (nack, timeout, connection loss); undefined when all are. */
  readonly error?: string;
}

export interface FeedPublisher {
  /**
   * Publishes every entry persistently and reports which entries the broker confirmed in full.
   * One stuck message (e.g. routed to a queue that never confirms) holds back only its own entry.
   */
  publish(entries: readonly OutboxEntry[]): Promise<PublishResult>;
}

/** One message per follower, routing key `user.{followerId}`. */
export class PerFollowerPublisher implements FeedPublisher {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly confirmTimeoutMs = 15_000,
  ) {}

  async publish(entries: readonly OutboxEntry[]): Promise<PublishResult> {
    const ch = this.amqp.channels?.publish;
    if (!ch) throw new Error('amqp is down');
    const confirmed: string[] = [];
    let messages = 0;
    let open = 0;
    let error: string | undefined;
    let allSettled: (() => void) | undefined;
    const settledOne = () => {
      open--;
      if (open === 0) allSettled?.();
    };
    for (const e of entries) {
      let waiting = e.followerIds.length;
      let failed = false;
      if (waiting === 0) confirmed.push(e.outboxId);
      const body = Buffer.from(JSON.stringify(toFrame(e.post)));
      for (const follower of e.followerIds) {
        open++;
        messages++;
        const ok = ch.publish(
          EXCHANGE,
          userRoutingKey(follower),
          body,
          { persistent: true, contentType: 'application/json', messageId: e.post.id, timestamp: Math.floor(Date.parse(e.post.createdAt) / 1000) },
          (err: unknown) => {
            if (err) {
              failed = true;
              error ??= `broker nacked a message: ${String(err)}`;
            } else if (--waiting === 0 && !failed) {
              confirmed.push(e.outboxId);
            }
            settledOne();
          },
        );
        if (!ok) await drained(ch);
      }
    }
    if (open > 0) {
      // Confirms pending when the connection drops may never settle: stop waiting on loss or timeout.
      let timer: NodeJS.Timeout | undefined;
      let onDown: (() => void) | undefined;
      await new Promise<void>((resolve) => {
        allSettled = resolve;
        timer = setTimeout(() => {
          error ??= `${open} publisher confirm(s) missing after ${this.confirmTimeoutMs} ms`;
          resolve();
        }, this.confirmTimeoutMs);
        onDown = () => {
          error ??= 'amqp connection lost before the confirms';
          resolve();
        };
        this.amqp.once('down', onDown);
      });
      clearTimeout(timer);
      if (onDown) this.amqp.off('down', onDown);
    }
    return { confirmed: [...confirmed], messages, ...(error !== undefined ? { error } : {}) };
  }
}
