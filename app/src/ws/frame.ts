/** The JSON frame a follower's socket receives (wire contract: the first three keys are the original ones). */
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

/** Parses a frame from a broker message body; undefined when it is not one. */
export function parseFrame(body: Buffer): FeedFrame | undefined {
  try {
    const f = JSON.parse(body.toString('utf8')) as Partial<FeedFrame>;
    return typeof f.postId === 'string' && typeof f.postText === 'string' && typeof f.author_user_id === 'string' && typeof f.cursor === 'string' && typeof f.createdAt === 'string'
      ? (f as FeedFrame)
      : undefined;
  } catch {
    return undefined;
  }
}
