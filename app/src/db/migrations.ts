/**
 * Versioned schema migrations. Every replica runs them at start; a session advisory lock makes
 * replicas that start together take turns, and the version table makes each step run once.
 */
import type pg from 'pg';

/** One schema step; `version` increases by one per step and a released step never changes. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'posts, friends, outbox',
    sql: `
      CREATE TABLE posts (
        cursor      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id          uuid NOT NULL UNIQUE,
        author_id   text NOT NULL,
        text        text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX posts_author_cursor ON posts (author_id, cursor);
      -- user_id follows friend_id: friend_id's posts are pushed to user_id.
      CREATE TABLE friends (
        user_id     text NOT NULL,
        friend_id   text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, friend_id)
      );
      CREATE INDEX friends_friend ON friends (friend_id);
      -- Followers are captured with the post, in its transaction: who was following when it was acknowledged.
      CREATE TABLE outbox (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        post_cursor   bigint NOT NULL REFERENCES posts (cursor),
        follower_ids  text[] NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        published_at  timestamptz
      );
      CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
      CREATE INDEX outbox_post ON outbox (post_cursor);
      CREATE INDEX outbox_published ON outbox (published_at);
    `,
  },
  {
    version: 2,
    name: 'outbox retry backoff per row',
    sql: `
      -- A row whose confirm stalls is retried on its own schedule instead of holding back fresh rows.
      ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
      ALTER TABLE outbox ADD COLUMN next_attempt_at timestamptz;
    `,
  },
  {
    version: 3,
    name: 'replica registry',
    sql: `
      -- Live replicas and their queues: a row whose heartbeat stops is a crashed replica whose queue
      -- any other replica deletes (if unused) instead of leaving it to x-expires.
      CREATE TABLE replicas (
        replica_id    text PRIMARY KEY,
        queue_name    text NOT NULL,
        started_at    timestamptz NOT NULL DEFAULT now(),
        heartbeat_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX replicas_heartbeat ON replicas (heartbeat_at);
    `,
  },
  {
    version: 4,
    name: 'replica registry: queue mode',
    sql: `
      -- A quorum queue refuses delete-if-unused (540, which closes the whole connection): the reaper
      -- must know the queue type. NULL (unknown) is treated like quorum.
      ALTER TABLE replicas ADD COLUMN queue_mode text;
    `,
  },
  {
    version: 5,
    name: 'replica registry: binding activity',
    sql: `
      -- When each live replica last bound or unbound a user: reaping a dead replica's queue waits
      -- while survivors re-bind its users, because both contend for the same Mnesia routing tables.
      ALTER TABLE replicas ADD COLUMN bindings_changed_at timestamptz;
    `,
  },
  {
    version: 6,
    name: 'replica registry: routing',
    sql: `
      -- How each replica's queue is bound ('broadcast': user.#). The previous release never writes it,
      -- so NULL marks a replica bound per user, which needs every recipient's key on each chunk.
      ALTER TABLE replicas ADD COLUMN routing text;
    `,
  },
  {
    version: 7,
    name: 'posts per user per minute',
    sql: `
      -- The creation times of each author's posts in the last minute (a sliding log, at most the
      -- limit long). Upserted in the post's statement: the row lock serialises one author's posts
      -- across replicas, so the limit is exact, and a post that fails leaves no stamp behind.
      CREATE TABLE post_rate (
        author_id  text PRIMARY KEY,
        stamps     timestamptz[] NOT NULL
      );
    `,
  },
];

/** Arbitrary constant key of the migration advisory lock ("feedmig" in ASCII). */
const MIGRATION_LOCK_KEY = 0x666565646d6967n;

/** Applies the migrations not yet applied; returns the versions this call applied. */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`);
      }
      applied.push(m.version);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
  }
  return applied;
}
