/**
 * The feed app on a real PostgreSQL and a real single-node RabbitMQ: fan-out to followers, two
 * replicas, replay with `since`, bad tokens and input, graceful shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { CloseCodes, Routes, waitFor } from '../../shared/index.js';
import type { FeedApp } from '../../app/src/index.js';
import { join } from 'node:path';
import { AppEnv } from '../../shared/index.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { freePort } from '../../scripts/local/ports.js';
import { spawnManaged } from '../../scripts/local/process.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi, FeedClient, UpgradeRefused } from '../support/feed-client.js';

let backends: AppBackends;
let replicaA: FeedApp;
let replicaB: FeedApp;
let db: pg.Client;
const clients: FeedClient[] = [];

async function connect(app: FeedApp, userId: string, since?: string): Promise<FeedClient> {
  const c = await FeedClient.connect(app.url, await backends.token(userId), since !== undefined ? { since } : {});
  clients.push(c);
  return c;
}

async function follow(app: FeedApp, follower: string, author: string): Promise<void> {
  const r = await callApi(app.url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(follower) });
  assert.equal(r.status, 200);
}

async function post(app: FeedApp, author: string, text: string): Promise<string> {
  const r = await callApi<{ id: string }>(app.url, 'POST', Routes.POST_CREATE, { token: await backends.token(author), body: { text } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.id;
}

async function postCount(author: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM posts WHERE author_id = $1', [author]);
  return Number(rows[0]!.n);
}

before(async () => {
  backends = await startAppBackends('app-feed');
  // Both replicas migrate the same fresh database at once: the advisory lock makes that safe.
  // B's first AMQP URL has nothing listening: it must move on to the next one.
  const deadUrl = `amqp://127.0.0.1:${await freePort()}`;
  const liveUrl = backends.env('x')[AppEnv.AMQP_URLS]!;
  [replicaA, replicaB] = await Promise.all([backends.startReplica('feed-a'), backends.startReplica('feed-b', { [AppEnv.AMQP_URLS]: `${deadUrl},${liveUrl}` })]);
  db = new pg.Client({ connectionString: backends.pg.url });
  await db.connect();
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await db?.end().catch(() => undefined);
  await backends?.stop();
});

describe('fan-out', () => {
  it('GIVEN two followers, a non-follower and the author connected WHEN the author posts THEN only the followers receive it', async () => {
    const author = uniqueUser('author');
    const [f1, f2, stranger, marker] = ['f1', 'f2', 'stranger', 'marker'].map(uniqueUser) as [string, string, string, string];
    await follow(replicaA, f1, author);
    await follow(replicaA, f2, author);
    // The stranger and the author follow `marker` only: its later post proves their queue drained.
    await follow(replicaA, stranger, marker);
    await follow(replicaA, author, marker);
    const [s1, s2, sStranger, sAuthor] = await Promise.all([connect(replicaA, f1), connect(replicaA, f2), connect(replicaA, stranger), connect(replicaA, author)]);

    const postId = await post(replicaA, author, 'hello followers');
    await Promise.all([s1.waitForPosts([postId]), s2.waitForPosts([postId])]);
    const markerId = await post(replicaA, marker, 'marker');
    await Promise.all([sStranger.waitForPosts([markerId]), sAuthor.waitForPosts([markerId])]);

    assert.deepEqual([...sStranger.postIds()], [markerId]);
    assert.deepEqual([...sAuthor.postIds()], [markerId]);
    const frame = s1.frames.find((f) => f.postId === postId)!;
    assert.equal(frame.postText, 'hello followers');
    assert.equal(frame.author_user_id, author);
    assert.match(frame.cursor, /^\d+$/);
    assert.ok(!Number.isNaN(Date.parse(frame.createdAt)));
  });

  it('GIVEN an author who follows themselves WHEN they post THEN their own socket receives it', async () => {
    const author = uniqueUser('self');
    await follow(replicaA, author, author);
    const s = await FeedClient.connect(replicaA.url, await backends.token(author), { viaQuery: true });
    clients.push(s);
    const postId = await post(replicaA, author, 'note to self');
    await s.waitForPosts([postId]);
  });

  it('GIVEN a follower connected to replica B WHEN posts are created through replica A THEN B delivers every one', async () => {
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await follow(replicaA, follower, author);
    const onB = await connect(replicaB, follower);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await post(replicaA, author, `via A ${i}`));
    await onB.waitForPosts(ids);
    assert.equal(onB.frames.length, ids.length, 'each post exactly once');
  });
});

describe('replay with since', () => {
  it('GIVEN a follower who saw one post WHEN it reconnects with since THEN the posts it missed come in order, then live ones', async () => {
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await follow(replicaA, follower, author);
    const first = await connect(replicaA, follower);
    const seen = await post(replicaA, author, 'seen');
    await first.waitForPosts([seen]);
    const since = first.lastCursor()!;
    await first.close();

    const missed: string[] = [];
    for (let i = 0; i < 5; i++) missed.push(await post(replicaA, author, `missed ${i}`));
    const again = await connect(replicaB, follower, since);
    await again.waitForPosts(missed);
    const live = await post(replicaA, author, 'live');
    await again.waitForPosts([live]);

    const order = [...new Map(again.frames.map((f) => [f.postId, f])).keys()];
    assert.deepEqual(order, [...missed, live]);
    assert.ok(!again.postIds().has(seen), 'the post at since is not replayed');
  });

  it('GIVEN a gap larger than the replay limit WHEN the client reconnects with since THEN it gets the limit, a 4009 close, and the rest on the next reconnect', async () => {
    const small = await backends.startReplica('feed-small-replay', { REPLAY_LIMIT: '3' });
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await follow(small, follower, author);
    const first = await connect(small, follower);
    const seen = await post(small, author, 'seen');
    await first.waitForPosts([seen]);
    const since = first.lastCursor()!;
    await first.close();
    const missed: string[] = [];
    for (let i = 0; i < 5; i++) missed.push(await post(small, author, `missed ${i}`));

    const second = await connect(small, follower, since);
    assert.equal(await second.closed, CloseCodes.REPLAY_TRUNCATED);
    assert.deepEqual(second.frames.map((f) => f.postId), missed.slice(0, 3), 'the oldest missed posts, in order');
    const third = await connect(small, follower, second.lastCursor());
    await third.waitForPosts(missed.slice(3));
    await small.close();
  });
});

describe('authentication and input', () => {
  const badTokens = async (): Promise<Array<[string, string | undefined]>> => {
    const user = uniqueUser('intruder');
    const good = await backends.token(user);
    const { signToken } = await import('../../app/src/index.js');
    return [
      ['missing', undefined],
      ['malformed', 'not-a-jwt'],
      ['wrong signature', await signToken('x'.repeat(64), user, 3600)],
      ['expired', await signToken(backends.jwtSecret, user, -60)],
      ['tampered', good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA')],
    ];
  };

  it('GIVEN a bad token WHEN it calls the API or opens the socket THEN it gets 401 and nothing is stored', async () => {
    for (const [what, token] of await badTokens()) {
      const r = await callApi<{ error: string }>(replicaA.url, 'POST', Routes.POST_CREATE, { ...(token !== undefined ? { token } : {}), body: { text: 'sneaky' } });
      assert.equal(r.status, 401, `${what} token on the API`);
      assert.ok(r.body.error.length > 0);
      await assert.rejects(FeedClient.connect(replicaA.url, token), (e: unknown) => e instanceof UpgradeRefused && e.status === 401, `${what} token on the socket`);
    }
    const { rows } = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM posts WHERE text = 'sneaky'");
    assert.equal(rows[0]!.n, '0');
  });

  it('GIVEN bad input WHEN it is sent THEN each gets its status with a JSON error and nothing is stored', async () => {
    const user = uniqueUser('writer');
    const token = await backends.token(user);
    const cases: Array<[string, Promise<{ status: number; body: unknown }>, number]> = [
      ['malformed JSON', callApi(replicaA.url, 'POST', Routes.POST_CREATE, { token, body: '{"text": ' }), 400],
      ['not an object', callApi(replicaA.url, 'POST', Routes.POST_CREATE, { token, body: '["x"]' }), 400],
      ['empty text', callApi(replicaA.url, 'POST', Routes.POST_CREATE, { token, body: { text: '   ' } }), 400],
      ['text not a string', callApi(replicaA.url, 'POST', Routes.POST_CREATE, { token, body: { text: 42 } }), 400],
      ['text too long', callApi(replicaA.url, 'POST', Routes.POST_CREATE, { token, body: { text: 'x'.repeat(4001) } }), 413],
      ['body too large', callApi(replicaA.url, 'POST', Routes.POST_CREATE, { token, body: { text: 'x'.repeat(70_000) } }), 413],
      ['not JSON content', callApi(replicaA.url, 'POST', Routes.POST_CREATE, { token, body: 'text=hi', contentType: 'application/x-www-form-urlencoded' }), 415],
      ['wrong method', callApi(replicaA.url, 'GET', Routes.POST_CREATE, { token }), 405],
      ['unknown route', callApi(replicaA.url, 'GET', '/post/nope', { token }), 404],
      ['bad post id', callApi(replicaA.url, 'GET', `${Routes.POST_GET}not-a-uuid`, { token }), 400],
      ['unknown post', callApi(replicaA.url, 'GET', `${Routes.POST_GET}00000000-0000-4000-8000-000000000000`, { token }), 404],
      ['bad user id', callApi(replicaA.url, 'PUT', `${Routes.FRIEND_SET}a*b`, { token }), 400],
      ['bad limit', callApi(replicaA.url, 'GET', `${Routes.FEED}?limit=1000`, { token }), 400],
    ];
    for (const [what, pending, status] of cases) {
      const r = await pending;
      assert.equal(r.status, status, what);
      assert.equal(typeof (r.body as { error?: unknown }).error, 'string', `${what}: JSON error body`);
    }
    await assert.rejects(FeedClient.connect(replicaA.url, token, { since: 'yesterday' }), (e: unknown) => e instanceof UpgradeRefused && e.status === 400);
    assert.equal(await postCount(user), 0);
  });

  it('GIVEN a valid token WHEN posts are read back THEN get and feed return them, newest first', async () => {
    const author = uniqueUser('author');
    const reader = uniqueUser('reader');
    await follow(replicaA, reader, author);
    const one = await post(replicaA, author, 'one');
    const two = await post(replicaA, author, 'two');
    const token = await backends.token(reader);
    const got = await callApi<{ id: string; text: string; author_user_id: string }>(replicaB.url, 'GET', `${Routes.POST_GET}${one}`, { token });
    assert.deepEqual([got.status, got.body.text, got.body.author_user_id], [200, 'one', author]);
    const feed = await callApi<Array<{ id: string }>>(replicaB.url, 'GET', `${Routes.FEED}?offset=0&limit=10`, { token });
    assert.deepEqual(feed.body.map((p) => p.id), [two, one]);
    const unfollow = await callApi(replicaA.url, 'PUT', `${Routes.FRIEND_DELETE}${author}`, { token });
    assert.equal(unfollow.status, 200);
    const empty = await callApi<unknown[]>(replicaB.url, 'GET', Routes.FEED, { token });
    assert.deepEqual(empty.body, []);
  });
});

describe('socket limits', () => {
  it('GIVEN a token that expires while connected WHEN its exp passes THEN the socket is closed with 4001', async () => {
    const user = uniqueUser('short');
    const s = await FeedClient.connect(replicaA.url, await backends.token(user, 2));
    clients.push(s);
    assert.equal(await s.closed, CloseCodes.TOKEN_EXPIRED);
  });

  it('GIVEN a follower that stops reading WHEN posts keep coming THEN the replica closes it as a slow consumer instead of buffering', async () => {
    const slow = await backends.startReplica('feed-slow', { [AppEnv.WS_MAX_BUFFERED_BYTES]: '1024' });
    const author = uniqueUser('flood');
    const follower = uniqueUser('sleepy');
    const s = await connect(slow, follower);
    (s.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // Enough bytes to fill both loopback socket buffers, written straight to the outbox (the API path is tested above).
    await db.query(
      `WITH p AS (INSERT INTO posts (id, author_id, text) SELECT gen_random_uuid(), $1, repeat('x', 4000) FROM generate_series(1, 4000) RETURNING cursor)
       INSERT INTO outbox (post_cursor, follower_ids) SELECT cursor, ARRAY[$2] FROM p`,
      [author, follower],
    );
    await waitFor('a slow-consumer close', async () => {
      const text = await (await fetch(new URL(Routes.METRICS, slow.url))).text();
      return /^feed_ws_closes_total\{reason="slow_consumer"\} [1-9]/m.test(text) ? true : undefined;
    }, { timeoutMs: 60_000 });
    (s.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await s.closed;
    await slow.close();
  });

  it('GIVEN a client WHEN it sends an inbound frame above the limit THEN the socket is closed with 1009', async () => {
    const s = await connect(replicaA, uniqueUser('chatty'));
    s.ws.send('x'.repeat(64 * 1024));
    assert.equal(await s.closed, 1009);
  });
});

describe('operations', () => {
  it('GIVEN a running replica WHEN probed THEN healthz and readyz answer 200 and metrics name the feed series', async () => {
    assert.equal((await callApi(replicaA.url, 'GET', Routes.HEALTH)).status, 200);
    const ready = await callApi<{ ready: boolean }>(replicaA.url, 'GET', Routes.READY);
    assert.deepEqual([ready.status, ready.body.ready], [200, true]);
    const metrics = await (await fetch(new URL(Routes.METRICS, replicaA.url))).text();
    for (const name of ['feed_ws_connections', 'feed_deliveries_total', 'feed_delivery_latency_seconds', 'feed_outbox_backlog', 'feed_amqp_reconnects_total']) {
      assert.match(metrics, new RegExp(`^${name}`, 'm'), name);
    }
  });

  it('GIVEN a replica with open sockets and fresh posts WHEN it shuts down THEN sockets close with 1012 and no outbox row stays unpublished', async () => {
    const leaving = await backends.startReplica('feed-leaving');
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await follow(leaving, follower, author);
    const onLeaving = await connect(leaving, follower);
    const onA = await connect(replicaA, follower);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await post(leaving, author, `last words ${i}`));
    const shutdown = leaving.close();
    assert.equal(await onLeaving.closed, CloseCodes.SERVICE_RESTART);
    await shutdown;
    assert.equal((await fetch(new URL(Routes.HEALTH, leaving.url)).catch(() => undefined))?.status, undefined, 'no longer listening');
    await waitFor('outbox drained', async () => {
      const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox WHERE published_at IS NULL');
      return rows[0]!.n === '0' ? true : undefined;
    }, { timeoutMs: 30_000 });
    await onA.waitForPosts(ids);
  });

  it('GIVEN the app started as a process from its entry point WHEN it gets SIGTERM THEN it closes sockets with 1012 and exits 0', async () => {
    const port = await freePort();
    const proc = spawnManaged('feed-app-child', process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'app', 'src', 'main.ts')], {
      cwd: REPO_ROOT,
      logFile: join(backends.dir, 'feed-app-child.log'),
      env: backends.env('feed-child', { [AppEnv.PORT]: String(port), [AppEnv.LOG_LEVEL]: 'info' }),
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor('child replica ready', async () => ((await callApi(url, 'GET', Routes.READY)).status === 200 ? true : undefined), { timeoutMs: 60_000 });
    const s = await FeedClient.connect(url, await backends.token(uniqueUser('child-follower')));
    process.kill(proc.pid, 'SIGTERM');
    assert.equal(await s.closed, CloseCodes.SERVICE_RESTART);
    assert.equal(await proc.exited, 0);
  });
});
