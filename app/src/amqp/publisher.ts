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

export interface FeedPublisher {
  /** Publishes every entry persistently; resolves only after the broker confirmed all of them. */
  publish(entries: readonly OutboxEntry[]): Promise<number>;
}

/** One message per follower, routing key `user.{followerId}`. */
export class PerFollowerPublisher implements FeedPublisher {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly confirmTimeoutMs = 15_000,
  ) {}

  async publish(entries: readonly OutboxEntry[]): Promise<number> {
    const ch = this.amqp.channels?.publish;
    if (!ch) throw new Error('amqp is down');
    let count = 0;
    for (const e of entries) {
      const body = Buffer.from(JSON.stringify(toFrame(e.post)));
      for (const follower of e.followerIds) {
        const ok = ch.publish(EXCHANGE, userRoutingKey(follower), body, {
          persistent: true,
          contentType: 'application/json',
          messageId: e.post.id,
          timestamp: Math.floor(Date.parse(e.post.createdAt) / 1000),
        });
        count++;
        if (!ok) await drained(ch);
      }
    }
    // Confirms pending when the connection drops may never settle: give up on loss or timeout.
    let timer: NodeJS.Timeout | undefined;
    let onDown: (() => void) | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no publisher confirm within ${this.confirmTimeoutMs} ms`)), this.confirmTimeoutMs);
      onDown = () => reject(new Error('amqp connection lost before the confirms'));
      this.amqp.once('down', onDown);
    });
    try {
      await Promise.race([ch.waitForConfirms(), abandoned]);
    } finally {
      clearTimeout(timer);
      if (onDown) this.amqp.off('down', onDown);
    }
    return count;
  }
}
