/**
 * The JSON frame a follower's socket receives (wire contract: the first three keys are the original
 * ones), and the two broker message formats that carry it: per-follower (the body is the frame, the
 * user is in the routing key) and batched (the body is the frame plus the recipients list).
 */
import { userIdFromRoutingKey } from '../../../shared/constants.js';
import type { Post } from '../db/store.js';

export interface FeedFrame {
  readonly postId: string;
  readonly postText: string;
  readonly author_user_id: string;
  /** Opaque and increasing: pass the last one back as `?since=` on reconnect. */
  readonly cursor: string;
  /** ISO-8601. */
  readonly createdAt: string;
}

export function toFrame(post: Post): FeedFrame {
  return { postId: post.id, postText: post.text, author_user_id: post.authorId, cursor: post.cursor, createdAt: post.createdAt };
}

/** Exactly the contract keys of `value`, or undefined when one is missing or not a string (extra keys never reach a client). */
function frameOf(value: unknown): FeedFrame | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const f = value as Partial<Record<keyof FeedFrame, unknown>>;
  return typeof f.postId === 'string' && typeof f.postText === 'string' && typeof f.author_user_id === 'string' && typeof f.cursor === 'string' && typeof f.createdAt === 'string'
    ? { postId: f.postId, postText: f.postText, author_user_id: f.author_user_id, cursor: f.cursor, createdAt: f.createdAt }
    : undefined;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Parses a frame from a per-follower message body; undefined when it is not one. */
export function parseFrame(body: Buffer): FeedFrame | undefined {
  return frameOf(parseJson(body));
}

/** Body of a batched message: the frame nested (so a consumer that predates it drops it instead of leaking `recipients`). */
export interface BatchedBody {
  readonly frame: FeedFrame;
  /** User ids this message is for; a replica hands the frame to those of them it holds sockets of. */
  readonly recipients: readonly string[];
}

/** Encodes a batched message body. */
export function encodeBatchedBody(frame: FeedFrame, recipients: readonly string[]): Buffer {
  const body: BatchedBody = { frame, recipients };
  return Buffer.from(JSON.stringify(body));
}

/** A broker message decoded: the frame and the users it is for. */
export interface FeedMessage {
  readonly frame: FeedFrame;
  readonly recipients: readonly string[];
}

/**
 * Decodes either format: a body with `recipients` is batched; otherwise the body is the frame and the
 * user comes from the routing key (per-follower, the format before batching). Undefined when it is neither.
 */
export function decodeFeedMessage(body: Buffer, routingKey: string): FeedMessage | undefined {
  const value = parseJson(body);
  if (typeof value === 'object' && value !== null && 'recipients' in value) {
    const { frame, recipients } = value as { frame?: unknown; recipients?: unknown };
    const f = frameOf(frame);
    if (f === undefined || !Array.isArray(recipients) || !recipients.every((r): r is string => typeof r === 'string' && r !== '')) return undefined;
    return { frame: f, recipients };
  }
  const frame = frameOf(value);
  const userId = userIdFromRoutingKey(routingKey);
  return frame !== undefined && userId !== undefined ? { frame, recipients: [userId] } : undefined;
}
