/**
 * How an outbox entry becomes broker messages. Behind an interface so the fan-out encoding is a
 * local change: one message per follower (the original encoding), or one message per chunk of
 * followers with the `CC` header (the default; see app/README.md#fan-out).
 */
import type { ConfirmChannel } from 'amqplib';
import { EXCHANGE, userRoutingKey } from '../../../shared/constants.js';
import type { OutboxEntry } from '../db/store.js';
import { encodeBatchedBody, toFrame } from '../ws/frame.js';
import type { AmqpConnection } from './connection.js';

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

/** One broker message of an outbox entry. */
export interface OutgoingMessage {
  /** The first recipient's routing key. */
  readonly routingKey: string;
  /** The other recipients' routing keys (sender-selected distribution: the broker routes on each). */
  readonly cc?: readonly string[];
  readonly body: Buffer;
}

/** amqplib's error for a `basic.nack` from the broker (a closing channel fails its callbacks with another). */
const NACK_MESSAGE = 'message nacked';

function isBrokerNack(err: unknown): boolean {
  return err instanceof Error && err.message === NACK_MESSAGE;
}

/**
 * Publishes every entry's messages on the confirm channel and reports the entries whose messages
 * were all confirmed. Stops waiting on connection loss or after `confirmTimeoutMs`: those entries
 * stay unconfirmed and the outbox retries them.
 */
async function publishTracked(
  amqp: AmqpConnection,
  confirmTimeoutMs: number,
  entries: readonly OutboxEntry[],
  messagesOf: (e: OutboxEntry) => readonly OutgoingMessage[],
): Promise<PublishResult> {
  const ch = amqp.channels?.publish;
  if (!ch) throw new Error('amqp is down');
  const confirmed: string[] = [];
  let messages = 0;
  let open = 0;
  let error: string | undefined;
  let nacked = false;
  let allSettled: (() => void) | undefined;
  const settledOne = () => {
    open--;
    if (open === 0) allSettled?.();
  };
  publishing: for (const e of entries) {
    const outgoing = messagesOf(e);
    let waiting = outgoing.length;
    let failed = false;
    if (waiting === 0) confirmed.push(e.outboxId);
    const timestamp = Math.floor(Date.parse(e.post.createdAt) / 1000);
    for (const m of outgoing) {
      open++;
      messages++;
      let ok: boolean;
      try {
        ok = ch.publish(
          EXCHANGE,
          m.routingKey,
          m.body,
          { persistent: true, contentType: 'application/json', messageId: e.post.id, timestamp, ...(m.cc !== undefined && m.cc.length > 0 ? { CC: [...m.cc] } : {}) },
          (err: unknown) => {
            if (err) {
              failed = true;
              // amqplib fails the callbacks of a closing channel too ('channel closed'): only a broker nack counts here.
              const nack = isBrokerNack(err);
              nacked ||= nack;
              error ??= nack ? 'broker nacked a message' : `no confirm: ${String(err)}`;
            } else if (--waiting === 0 && !failed) {
              confirmed.push(e.outboxId);
            }
            settledOne();
          },
        );
      } catch (err) {
        if (amqp.channels?.publish !== ch) throw err; // the connection is gone (a closed channel throws): as before
        // amqplib throws while encoding a message it cannot send (e.g. an oversized header) after it
        // queued the confirm callback: later confirms would match the wrong messages. Stop, and
        // replace the connection; nothing unconfirmed counts, the outbox retries it.
        error ??= `could not publish a message: ${(err as Error).message}`;
        amqp.fail('publisher confirms out of step after a failed publish');
        break publishing;
      }
      if (!ok) await drained(ch, confirmTimeoutMs);
    }
  }
  if (open > 0) {
    // Confirms pending when the connection drops may never settle: stop waiting on loss or timeout.
    let timer: NodeJS.Timeout | undefined;
    let onDown: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      allSettled = resolve;
      timer = setTimeout(() => {
        error ??= `${open} publisher confirm(s) missing after ${confirmTimeoutMs} ms`;
        // A channel stuck this way stays stuck (mirrored queue that lost its consumer): start the retry on a fresh one.
        void amqp.renewPublishChannel(error, ch);
        resolve();
      }, confirmTimeoutMs);
      onDown = () => {
        error ??= 'amqp connection lost before the confirms';
        resolve();
      };
      amqp.once('down', onDown);
    });
    clearTimeout(timer);
    if (onDown) amqp.off('down', onDown);
  }
  // Seen in the quorum leader-kill chaos scenario (RabbitMQ 3.10): a channel that published while a
  // queue's leader was re-elected had every publish nacked for 7 s, until the killed node came back,
  // while a replica that connected 0.2 s later had none. The retry goes out on a fresh channel.
  if (nacked) void amqp.renewPublishChannel(error ?? 'broker nacked a message', ch);
  return { confirmed: [...confirmed], messages, ...(error !== undefined ? { error } : {}) };
}

/** One message per follower, routing key `user.{followerId}`, body the frame. */
export class PerFollowerPublisher implements FeedPublisher {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly confirmTimeoutMs = 15_000,
  ) {}

  publish(entries: readonly OutboxEntry[]): Promise<PublishResult> {
    return publishTracked(this.amqp, this.confirmTimeoutMs, entries, (e) => {
      const body = Buffer.from(JSON.stringify(toFrame(e.post)));
      return e.followerIds.map((follower) => ({ routingKey: userRoutingKey(follower), body }));
    });
  }
}

/** Most recipients in one batched message. */
export const CC_BATCH_MAX_RECIPIENTS = 500;

/**
 * Most bytes the recipients' routing keys of one message may take encoded in the `CC` header (an
 * AMQP array of long strings: 5 bytes + the key each). Content headers must fit in one frame
 * (RabbitMQ's frame_max, 128 KiB), and amqplib encodes the headers table into a 64 KiB scratch
 * buffer, throwing beyond it: 500 keys of the longest user id (128 characters) would take 69 KB, so
 * such chunks are cut by bytes (about 445 ids); typical ids are cut by count.
 */
export const CC_BATCH_MAX_HEADER_BYTES = 60 * 1024;

/** Bytes `userId`'s routing key takes as an element of the `CC` array. */
function ccElementBytes(userId: string): number {
  return 5 + Buffer.byteLength(userRoutingKey(userId));
}

/**
 * Splits `ids` in order into chunks of at most `max` ids whose routing keys take at most `maxBytes`
 * in the `CC` header (none for no ids).
 */
export function chunkRecipients(ids: readonly string[], max: number = CC_BATCH_MAX_RECIPIENTS, maxBytes: number = CC_BATCH_MAX_HEADER_BYTES): string[][] {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`chunkRecipients: max must be an integer >= 1, got ${max}`);
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    const size = ccElementBytes(id);
    if (chunk.length > 0 && (chunk.length === max || bytes + size > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(id);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

export interface CcBatchPublisherProps {
  /** How long to wait for the broker's confirms before the entries count as unconfirmed. @default 15000 */
  readonly confirmTimeoutMs?: number;
  /** Most recipients per message. @default CC_BATCH_MAX_RECIPIENTS */
  readonly maxRecipientsPerMessage?: number;
  /**
   * Whether some live replica still binds per user (the previous release, during a rolling update):
   * then each chunk carries every recipient's key in `CC`. Asked once per publish call.
   * @default never: every queue is bound to all users, one routing key per chunk suffices
   */
  readonly perUserRoutedReplicaLive?: () => Promise<boolean>;
}

/**
 * One message per chunk of followers: routing key of the chunk's first follower, body the frame plus
 * the chunk's user ids; every replica queue (bound to `user.#`) gets one copy and its consumer hands
 * the frame to the listed users it holds sockets of. While a replica of the previous release is live
 * the others' keys go in `CC` too (its queue is bound per user); otherwise they are left out: the
 * topic exchange matches every CC key, which made publish+confirm 2-4x slower (bench `routing`). An
 * entry counts as confirmed only when every one of its chunks is.
 */
export class CcBatchPublisher implements FeedPublisher {
  private readonly confirmTimeoutMs: number;
  private readonly maxRecipients: number;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly props: CcBatchPublisherProps = {},
  ) {
    this.confirmTimeoutMs = props.confirmTimeoutMs ?? 15_000;
    this.maxRecipients = props.maxRecipientsPerMessage ?? CC_BATCH_MAX_RECIPIENTS;
    if (!Number.isInteger(this.maxRecipients) || this.maxRecipients < 1 || this.maxRecipients > CC_BATCH_MAX_RECIPIENTS) {
      throw new RangeError(`CcBatchPublisher: maxRecipientsPerMessage must be an integer from 1 to ${CC_BATCH_MAX_RECIPIENTS} (the CC header must fit in one AMQP frame), got ${props.maxRecipientsPerMessage}`);
    }
    if (!Number.isFinite(this.confirmTimeoutMs) || this.confirmTimeoutMs <= 0) {
      throw new RangeError(`CcBatchPublisher: confirmTimeoutMs must be a positive number of milliseconds, got ${props.confirmTimeoutMs}`);
    }
  }

  async publish(entries: readonly OutboxEntry[]): Promise<PublishResult> {
    const keys = (await this.props.perUserRoutedReplicaLive?.()) === true ? RecipientKeys.ALL : RecipientKeys.FIRST;
    return publishTracked(this.amqp, this.confirmTimeoutMs, entries, (e) => batchedMessages(e, this.maxRecipients, keys));
  }
}

/** Which recipients' routing keys a chunk carries. */
export enum RecipientKeys {
  /** The first one's as the routing key: enough for queues bound to every user. */
  FIRST = 'first',
  /** The others' in `CC` too: for queues bound per user (the previous release). */
  ALL = 'all',
}

/** The batched messages of one entry (pure; exported for tests). */
export function batchedMessages(e: OutboxEntry, maxRecipients: number = CC_BATCH_MAX_RECIPIENTS, keys: RecipientKeys = RecipientKeys.ALL): OutgoingMessage[] {
  const frame = toFrame(e.post);
  return chunkRecipients(e.followerIds, maxRecipients).map((chunk) => {
    const [first, ...rest] = chunk.map(userRoutingKey);
    return { routingKey: first!, ...(keys === RecipientKeys.ALL ? { cc: rest } : {}), body: encodeBatchedBody(frame, chunk) };
  });
}
