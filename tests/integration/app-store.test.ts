/** The app's store on a real PostgreSQL: what concurrent writers and the replay rely on. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createPool, FeedStore } from '../../app/src/db/store.js';
import { migrate } from '../../app/src/db/migrations.js';
import { startPostgres, type PostgresServer } from '../../scripts/local/postgres.js';
import { testWorkDir, uniqueUser } from '../support/app-backends.js';

describe('feed store on PostgreSQL', () => {
  const dir = testWorkDir('app-store');
  let server: PostgresServer;
  // Two pools stand for two replicas writing at once.
  let pools: pg.Pool[] = [];

  before(async () => {
    server = await startPostgres({ workDir: join(dir, 'pg') });
    pools = [createPool(server.urlWithoutPassword, server.password, 10), createPool(server.urlWithoutPassword, server.password, 10)];
    const c = await pools[0]!.connect();
    try {
      await migrate(c);
    } finally {
      c.release();
    }
  });

  after(async () => {
    await Promise.allSettled(pools.map((p) => p.end()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN posts created concurrently by two replicas WHEN a reader looks at any moment THEN it sees a prefix of the cursor order, never a later cursor before an earlier one', async () => {
    const POSTS = 2000;
    const WAVE = 200;
    const author = uniqueUser('burst');
    const stores = pools.map((p) => new FeedStore(p));
    const snapshots: string[][] = [];
    let writing = true;
    // Its own connection, so it never waits behind the writers for a pool slot.
    const readerClient = await pools[1]!.connect();
    const reader = (async () => {
      while (writing) {
        const { rows } = await readerClient.query<{ c: string }>('SELECT cursor::text AS c FROM posts WHERE author_id = $1 ORDER BY cursor', [author]);
        snapshots.push(rows.map((r) => r.c));
      }
    })();
    try {
      // Waves of concurrent creates, not all 2,000 at once: every create waits for a pool slot, and
      // behind 1,000 others on a slow moment that wait passed the pool's 5 s connect timeout (CI).
      for (let wave = 0; wave < POSTS; wave += WAVE) {
        await Promise.all(Array.from({ length: WAVE }, (_, k) => stores[(wave + k) % 2]!.createPost(author, `post ${wave + k}`)));
      }
    } finally {
      writing = false;
      await reader;
      readerClient.release();
    }
    const { rows } = await pools[0]!.query<{ c: string }>('SELECT cursor::text AS c FROM posts WHERE author_id = $1 ORDER BY cursor', [author]);
    const final = rows.map((r) => r.c);
    assert.equal(final.length, POSTS);
    assert.ok(snapshots.length > 10, `the reader took only ${snapshots.length} snapshots`);
    for (const s of snapshots) assert.deepEqual(s, final.slice(0, s.length), 'a snapshot skipped a cursor that committed later');
  });

  it('GIVEN an author with followers WHEN a post is created THEN its outbox row lists exactly the followers, unpublished', async () => {
    const author = uniqueUser('author');
    const [a, b] = [uniqueUser('fa'), uniqueUser('fb')];
    const store = new FeedStore(pools[0]!);
    await store.follow(b, author);
    await store.follow(a, author);
    await store.follow(a, uniqueUser('someone-else'));
    const post = await store.createPost(author, 'hello');
    const { rows } = await pools[0]!.query<{ follower_ids: string[]; published_at: Date | null }>(
      'SELECT follower_ids, published_at FROM outbox WHERE post_cursor = $1',
      [post.cursor],
    );
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0]!.follower_ids, [a, b].sort());
    assert.equal(rows[0]!.published_at, null);
    assert.deepEqual(await store.getPost(post.id), post);
  });

  it('GIVEN an author nobody follows WHEN a post is created THEN its outbox row has an empty follower list', async () => {
    const store = new FeedStore(pools[1]!);
    const post = await store.createPost(uniqueUser('lonely'), 'anyone?');
    const { rows } = await pools[1]!.query<{ follower_ids: string[] }>('SELECT follower_ids FROM outbox WHERE post_cursor = $1', [post.cursor]);
    assert.deepEqual(rows.map((r) => r.follower_ids), [[]]);
  });
});
