/** The subscriber hub on a real PostgreSQL store: what a resubscribing client gets at the replay/live boundary. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { pino } from 'pino';
import { waitFor } from '../../shared/index.js';
import { createMetrics } from '../../app/src/metrics.js';
import { migrate } from '../../app/src/db/migrations.js';
import { createPool, FeedStore } from '../../app/src/db/store.js';
import { toFrame, type FeedFrame } from '../../app/src/ws/frame.js';
import { FeedSocketHub, type SubscriberSink } from '../../app/src/ws/hub.js';
import { startPostgres, type PostgresServer } from '../../scripts/local/postgres.js';
import { testWorkDir, uniqueUser } from '../support/app-backends.js';

/** Records what the hub sends; always open and never behind. */
class RecordingSink implements SubscriberSink {
  readonly frames: FeedFrame[] = [];
  readonly open = true;
  readonly bufferedBytes = 0;
  send(frame: FeedFrame): void {
    this.frames.push(frame);
  }
  end(): void {}
  probe(): boolean {
    return true;
  }
  terminate(): void {}
}

describe('feed hub on PostgreSQL', () => {
  const dir = testWorkDir('app-hub');
  let server: PostgresServer;
  let pool: pg.Pool;
  let store: FeedStore;
  let hub: FeedSocketHub;

  before(async () => {
    server = await startPostgres({ workDir: join(dir, 'pg') });
    pool = createPool(server.urlWithoutPassword, server.password, 4);
    const c = await pool.connect();
    try {
      await migrate(c);
    } finally {
      c.release();
    }
    store = new FeedStore(pool);
    hub = new FeedSocketHub({
      store,
      log: pino({ level: 'silent' }),
      metrics: createMetrics(async () => 0, false),
      replayLimit: 100,
      pingIntervalMs: 60_000,
      maxBufferedBytes: 1 << 20,
      maxPerUser: 4,
    });
  });

  after(async () => {
    hub?.stop();
    await pool?.end();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN a client that resubscribes with the cursor of a post WHEN that post\'s live fan-out arrives after the replay THEN the client does not get it again, and an earlier post it lacks still comes', async () => {
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await store.follow(follower, author);
    // Published an hour ago, so the replay does not carry it: only its (late) live copy can.
    const early = await store.createPost(author, 'an earlier post another relay published late');
    await pool.query("UPDATE outbox SET published_at = now() - interval '1 hour' WHERE post_cursor = $1", [early.cursor]);
    const held = await store.createPost(author, 'the post the client holds');
    const missed = await store.createPost(author, 'the post it missed');
    const sink = new RecordingSink();

    const sub = hub.subscribe({ userId: follower, expiresAt: Date.now() + 60_000 }, held.cursor, sink, 'test');
    try {
      await waitFor('the replay', async () => (sink.frames.length === 1 ? true : undefined), { timeoutMs: 5000 });
      hub.deliver(follower, toFrame(held));
      hub.deliver(follower, toFrame(early));
      const later = await store.createPost(author, 'a post after the resubscribe');
      hub.deliver(follower, toFrame(later));
    } finally {
      sub.ended();
    }

    assert.deepEqual(
      sink.frames.map((f) => f.postText),
      [missed.text, early.text, 'a post after the resubscribe'],
    );
  });
});
