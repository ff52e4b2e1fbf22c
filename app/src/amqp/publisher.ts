/**
 * How an outbox entry becomes broker messages. Behind an interface so the fan-out encoding is a
 * local change: one message per follower (the original encoding), or one message per chunk of
 * followers with the `CC` header (the default; see app/README.md#fan-out).
 */
import { userRoutingKey } from '../../../shared/constants.js';
import type { OutboxEntry } from '../db/store.js';
import { encodeBatchedBody, toFrame } from '../ws/frame.js';
import { CANARY_RESEND_DIVISOR } from './canary.js';
import { publishConfirmed, type ConfirmTiming, type OutgoingMessage, type PublishResult } from './confirms.js';
import type { AmqpConnection } from './connection.js';

export type { OutgoingMessage, PublishResult } from './confirms.js';

export interface FeedPublisher {
  /**
   * Publishes every entry persistently and reports which entries the broker confirmed in full.
   * One stuck message (e.g. routed to a queue that never confirms) holds back only its own entry.
   */
  publish(entries: readonly OutboxEntry[]): Promise<PublishResult>;
}

/** How long a publisher waits for confirms. */
export interface ConfirmWaitProps {
  /** How long to wait for the broker's confirms before the entries count as unconfirmed. @default 15000 */
  readonly confirmTimeoutMs?: number;
  /**
   * A channel that has confirmed nothing for this long while confirms are due is left behind, and
   * the unconfirmed entries go again on a fresh one (the canary's trick, for the same reason).
   * @default confirmTimeoutMs / {@link CANARY_RESEND_DIVISOR}
   */
  readonly resendAfterMs?: number;
}

/** The timing `props` ask for, validated (the error names the publisher and the field). */
function confirmTiming(publisher: string, props: ConfirmWaitProps): ConfirmTiming {
  // The constructor took the timeout as a bare number before: a JavaScript caller must not silently get the default.
  if (typeof props !== 'object' || props === null) throw new TypeError(`${publisher}: pass the confirm wait as { confirmTimeoutMs, resendAfterMs }, got ${String(props)}`);
  const confirmTimeoutMs = props.confirmTimeoutMs ?? 15_000;
  if (!Number.isFinite(confirmTimeoutMs) || confirmTimeoutMs <= 0) {
    throw new RangeError(`${publisher}: confirmTimeoutMs must be a positive number of milliseconds, got ${props.confirmTimeoutMs}`);
  }
  const resendAfterMs = props.resendAfterMs ?? Math.round(confirmTimeoutMs / CANARY_RESEND_DIVISOR);
  if (!Number.isFinite(resendAfterMs) || resendAfterMs <= 0) {
    throw new RangeError(`${publisher}: resendAfterMs must be a positive number of milliseconds, got ${props.resendAfterMs}`);
  }
  return { confirmTimeoutMs, resendAfterMs };
}

/** One message per follower, routing key `user.{followerId}`, body the frame. */
export class PerFollowerPublisher implements FeedPublisher {
  private readonly timing: ConfirmTiming;

  constructor(
    private readonly amqp: AmqpConnection,
    props: ConfirmWaitProps = {},
  ) {
    this.timing = confirmTiming('PerFollowerPublisher', props);
  }

  publish(entries: readonly OutboxEntry[]): Promise<PublishResult> {
    return publishConfirmed(this.amqp, this.timing, entries, (e) => {
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

export interface CcBatchPublisherProps extends ConfirmWaitProps {
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
  private readonly timing: ConfirmTiming;
  private readonly maxRecipients: number;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly props: CcBatchPublisherProps = {},
  ) {
    this.timing = confirmTiming('CcBatchPublisher', props);
    this.maxRecipients = props.maxRecipientsPerMessage ?? CC_BATCH_MAX_RECIPIENTS;
    if (!Number.isInteger(this.maxRecipients) || this.maxRecipients < 1 || this.maxRecipients > CC_BATCH_MAX_RECIPIENTS) {
      throw new RangeError(`CcBatchPublisher: maxRecipientsPerMessage must be an integer from 1 to ${CC_BATCH_MAX_RECIPIENTS} (the CC header must fit in one AMQP frame), got ${props.maxRecipientsPerMessage}`);
    }
  }

  async publish(entries: readonly OutboxEntry[]): Promise<PublishResult> {
    const keys = (await this.props.perUserRoutedReplicaLive?.()) === true ? RecipientKeys.ALL : RecipientKeys.FIRST;
    return publishConfirmed(this.amqp, this.timing, entries, (e) => batchedMessages(e, this.maxRecipients, keys));
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
