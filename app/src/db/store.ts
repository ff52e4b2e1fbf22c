/** Every query of the app: posts, friendships, the outbox and the replay. */
import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** A stored post as the API and the frames show it. */
export interface Post {
  readonly id: string;
  readonly authorId: string;
  readonly text: string;
  /** Opaque, increasing in commit order. */
  readonly cursor: string;
  readonly createdAt: string;
}

/** An outbox row locked for publishing. */
export interface OutboxEntry {
  readonly outboxId: string;
  readonly post: Post;
  readonly followerIds: readonly string[];
}

interface PostRow {
  id: string;
  author_id: string;
  text: string;
  cursor: string;
  created_at: Date;
}

const POST_COLUMNS = 'p.id, p.author_id, p.text, p.cursor::text AS cursor, p.created_at';

function toPost(r: PostRow): Post {
  return { id: r.id, authorId: r.author_id, text: r.text, cursor: r.cursor, createdAt: r.created_at.toISOString() };
}

/**
 * Key of the transaction lock that serialises post inserts, so cursor order equals commit order:
 * otherwise a replay `cursor > since` could skip a post whose smaller cursor committed later.
 */
const POST_ORDER_LOCK_KEY = '7378063726592870000';

/** Creates the pool; the password comes separately (PGPASSWORD), never in the URL. */
export function createPool(databaseUrl: string, password: string | undefined, max = 10): pg.Pool {
  // pg lets the connection string override a separate `password`, so it goes into the URL here.
  const url = new URL(databaseUrl);
  if (password !== undefined) url.password = encodeURIComponent(password);
  return new pg.Pool({
    connectionString: url.toString(),
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  });
}

/** The author already created `limit` posts in the last 60 s; nothing was stored. */
export class PostRateLimited extends Error {
  constructor(
    readonly limit: number,
    /** When the oldest of those posts leaves the window. */
    readonly retryAfterMs: number,
  ) {
    super(`at most ${limit} posts per minute; retry in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = 'PostRateLimited';
  }
}

export class FeedStore {
  constructor(readonly pool: pg.Pool) {}

  /**
   * Stores the post and its outbox row (with the author's current followers) in one statement, so
   * one transaction and one round trip: the order lock is held only while the statement runs,
   * not across client round trips (with four round trips under it, inserts topped out near
   * 300 posts/s on the 2-core twin).
   *
   * The same statement enforces `postsPerMinute`: it upserts the author's sliding log of post times
   * (`post_rate`), which fails its WHERE when the last 60 s already hold the limit; then nothing is
   * inserted and {@link PostRateLimited} is thrown. The upsert's row lock serialises one author's
   * posts across replicas until commit, so the limit is exact (the clock is the database's).
   */
  async createPost(authorId: string, text: string, postsPerMinute = Number.MAX_SAFE_INTEGER): Promise<Post> {
    // The rate row is locked first, then (only when admitted) the order lock; followers are read
    // before the lock; the lock is taken before the identity value is drawn; every insert runs to
    // completion and commits with the statement.
    const { rows } = await this.pool.query<PostRow>(
      `WITH rate AS (
         INSERT INTO post_rate AS r (author_id, stamps) VALUES ($2, ARRAY[now()])
         ON CONFLICT (author_id) DO UPDATE
           SET stamps = ARRAY(SELECT s FROM unnest(r.stamps) s WHERE s > now() - interval '1 minute') || now()
           WHERE (SELECT count(*) FROM unnest(r.stamps) s WHERE s > now() - interval '1 minute') < $5::bigint
         RETURNING 1 AS admitted
       ), followers AS (
         SELECT coalesce(array_agg(user_id ORDER BY user_id), '{}') AS ids FROM friends WHERE friend_id = $2
       ), ordered AS (
         SELECT pg_advisory_xact_lock($4::bigint) AS locked, ids FROM followers, rate
       ), p AS (
         INSERT INTO posts (id, author_id, text) SELECT $1, $2, $3 FROM ordered
         RETURNING id, author_id, text, cursor, created_at
       ), o AS (
         INSERT INTO outbox (post_cursor, follower_ids) SELECT p.cursor, ordered.ids FROM p, ordered
       )
       SELECT ${POST_COLUMNS} FROM p`,
      [randomUUID(), authorId, text, POST_ORDER_LOCK_KEY, postsPerMinute],
    );
    if (rows[0] === undefined) throw new PostRateLimited(postsPerMinute, await this.rateRetryAfterMs(authorId));
    return toPost(rows[0]);
  }

  /** Milliseconds until the oldest post of the author's last minute leaves the window (at least 1 s). */
  private async rateRetryAfterMs(authorId: string): Promise<number> {
    const { rows } = await this.pool.query<{ ms: string | null }>(
      `SELECT ceil(extract(epoch FROM min(s) + interval '1 minute' - now()) * 1000)::text AS ms
       FROM post_rate r, unnest(r.stamps) s WHERE r.author_id = $1 AND s > now() - interval '1 minute'`,
      [authorId],
    );
    return Math.max(1000, Number(rows[0]?.ms ?? 0));
  }

  async getPost(id: string): Promise<Post | undefined> {
    const { rows } = await this.pool.query<PostRow>(`SELECT ${POST_COLUMNS} FROM posts p WHERE p.id = $1`, [id]);
    return rows[0] === undefined ? undefined : toPost(rows[0]);
  }

  /** Posts of the users `userId` follows, newest first. */
  async feed(userId: string, offset: number, limit: number): Promise<Post[]> {
    const { rows } = await this.pool.query<PostRow>(
      `SELECT ${POST_COLUMNS} FROM posts p JOIN friends f ON f.friend_id = p.author_id
       WHERE f.user_id = $1 ORDER BY p.cursor DESC OFFSET $2 LIMIT $3`,
      [userId, offset, limit],
    );
    return rows.map(toPost);
  }

  /**
   * What a client holding cursor `since` may lack, oldest first: up to `limit` posts (of the users
   * `userId` follows) with cursor > `since` (`truncated` when there are more), preceded by up to
   * `limit` older posts published (or still unpublished) after `reorderWindowMs` before the post
   * `since` was. Relays of different replicas publish concurrently, so a client can see cursor N
   * before N-1; the overlap is deduped by postId on the client. Only the first part counts against
   * the bound, so reconnecting with the last cursor always makes progress.
   */
  async replay(userId: string, since: string, limit: number, reorderWindowMs = 5_000): Promise<{ posts: Post[]; truncated: boolean }> {
    const late = await this.pool.query<PostRow>(
      `SELECT ${POST_COLUMNS} FROM posts p JOIN friends f ON f.friend_id = p.author_id
       WHERE f.user_id = $1 AND p.cursor IN (
         SELECT o.post_cursor FROM outbox o
         WHERE o.post_cursor < $2 AND (o.published_at IS NULL OR o.published_at >
           (SELECT coalesce(max(s.published_at), now()) FROM outbox s WHERE s.post_cursor = $2)
           - ($4::bigint * interval '1 millisecond')))
       ORDER BY p.cursor ASC LIMIT $3`,
      [userId, since, limit, reorderWindowMs],
    );
    const ahead = await this.pool.query<PostRow>(
      `SELECT ${POST_COLUMNS} FROM posts p JOIN friends f ON f.friend_id = p.author_id
       WHERE f.user_id = $1 AND p.cursor > $2 ORDER BY p.cursor ASC LIMIT $3`,
      [userId, since, limit + 1],
    );
    return { posts: [...late.rows, ...ahead.rows.slice(0, limit)].map(toPost), truncated: ahead.rows.length > limit };
  }

  async follow(userId: string, friendId: string): Promise<void> {
    await this.pool.query('INSERT INTO friends (user_id, friend_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, friendId]);
  }

  async unfollow(userId: string, friendId: string): Promise<void> {
    await this.pool.query('DELETE FROM friends WHERE user_id = $1 AND friend_id = $2', [userId, friendId]);
  }

  async outboxBacklog(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox WHERE published_at IS NULL');
    return Number(rows[0]!.n);
  }

  /**
   * Locks up to `limit` unpublished rows (other replicas skip them) and hands them to `publish`,
   * which returns the outbox ids the broker confirmed; only those are marked published, the rest
   * are unlocked for a retry. Returns how many rows were locked and how many were marked.
   */
  async publishOutboxBatch(limit: number, publish: (entries: OutboxEntry[]) => Promise<readonly string[]>): Promise<{ locked: number; published: number }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<PostRow & { outbox_id: string; follower_ids: string[] }>(
        `SELECT o.id::text AS outbox_id, o.follower_ids, ${POST_COLUMNS}
         FROM outbox o JOIN posts p ON p.cursor = o.post_cursor
         WHERE o.published_at IS NULL AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
         ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        return { locked: 0, published: 0 };
      }
      const confirmed = await publish(rows.map((r) => ({ outboxId: r.outbox_id, post: toPost(r), followerIds: r.follower_ids })));
      if (confirmed.length > 0) await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [confirmed]);
      const done = new Set(confirmed);
      const retry = rows.map((r) => r.outbox_id).filter((id) => !done.has(id));
      if (retry.length > 0) {
        // Exponential per-row backoff (0.5 s … 30 s): fresh rows keep flowing past a stuck one.
        await client.query(
          `UPDATE outbox SET attempts = attempts + 1,
             next_attempt_at = now() + least(30000, 500 * power(2, least(attempts, 10))) * interval '1 millisecond'
           WHERE id = ANY($1::bigint[])`,
          [retry],
        );
      }
      await client.query('COMMIT');
      return { locked: rows.length, published: confirmed.length };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  /** Deletes rows published more than `olderThanMs` ago (kept a while for inspection). */
  async pruneOutbox(olderThanMs: number): Promise<void> {
    await this.pool.query(`DELETE FROM outbox WHERE published_at < now() - ($1::bigint * interval '1 millisecond')`, [olderThanMs]);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }
}
