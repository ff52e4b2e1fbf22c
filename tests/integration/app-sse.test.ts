/**
 * The feed as Server-Sent Events, on real PostgreSQL and RabbitMQ, read with the `eventsource`
 * client package: delivery after subscribe, resume with Last-Event-ID across a replica restart,
 * token expiry, the proxy headers and keep-alive, and the checks before the stream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import { AppEnv, CloseCodes, Routes, waitFor } from '../../shared/index.js';
import type { FeedApp, FeedFrame } from '../../app/src/index.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi } from '../support/feed-client.js';

let backends: AppBackends;
let replicaA: FeedApp;
const streams: FeedStream[] = [];

before(async () => {
  backends = await startAppBackends('app-sse');
  replicaA = await backends.startReplica('sse-a', { [AppEnv.SUBSCRIPTIONS_PER_USER]: '2' });
});

after(async () => {
  for (const s of streams) s.close();
  await backends?.stop();
});

/** An EventSource follower: the frames and ids it got, the close events, and each request it made. */
class FeedStream {
  readonly frames: FeedFrame[] = [];
  readonly ids: string[] = [];
  readonly closes: Array<{ code: number; reason: string }> = [];
  /** The Last-Event-ID header of each (re)connect, undefined on the first. */
  readonly lastEventIds: Array<string | undefined> = [];
  /** While set, reconnects wait for it (the test creates posts meanwhile). */
  gate: Promise<void> | undefined;
  readonly es: EventSource;

  /** `base()` is read on every (re)connect, so a reconnect can go to another replica. */
  constructor(base: () => string, token: string, opts: { viaHeader?: boolean; since?: string } = {}) {
    const url = () => {
      const u = new URL(Routes.FEED_EVENTS, base());
      if (!opts.viaHeader) u.searchParams.set('token', token);
      if (opts.since !== undefined) u.searchParams.set('since', opts.since);
      return u;
    };
    this.es = new EventSource(url(), {
      fetch: async (_input, init) => {
        const headers = new Headers(init?.headers);
        this.lastEventIds.push(headers.get('last-event-id') ?? undefined);
        if (opts.viaHeader) headers.set('authorization', `Bearer ${token}`);
        await this.gate;
        return fetch(url(), { ...init, headers });
      },
    });
    this.es.addEventListener('message', (e) => {
      this.frames.push(JSON.parse(e.data) as FeedFrame);
      this.ids.push(e.lastEventId);
    });
    this.es.addEventListener('close', (e) => this.closes.push(JSON.parse((e as { data: string }).data) as { code: number; reason: string }));
    streams.push(this);
  }

  /** Waits until the stream is open (the server answered 200 and subscribed it). */
  async opened(): Promise<void> {
    await waitFor('event stream open', async () => (this.es.readyState === EventSource.OPEN ? true : undefined), { timeoutMs: 20_000, intervalMs: 20 });
  }

  postIds(): string[] {
    return this.frames.map((f) => f.postId);
  }

  async waitForPosts(ids: readonly string[]): Promise<void> {
    await waitFor(`${ids.length} post(s) on an event stream`, async () => (ids.every((id) => this.postIds().includes(id)) ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
  }

  close(): void {
    this.es.close();
  }
}

async function follow(app: FeedApp, follower: string, author: string): Promise<void> {
  assert.equal((await callApi(app.url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(follower) })).status, 200);
}

async function post(app: FeedApp, author: string, text: string): Promise<string> {
  const r = await callApi<{ id: string }>(app.url, 'POST', Routes.POST_CREATE, { token: await backends.token(author), body: { text } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.id;
}

describe('delivery', () => {
  it('GIVEN a follower subscribed over SSE (token in the query) WHEN the author posts THEN the acknowledged post arrives once, with id = its cursor', async () => {
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await follow(replicaA, follower, author);
    const s = new FeedStream(() => replicaA.url, await backends.token(follower));
    await s.opened();
    const postId = await post(replicaA, author, 'hello over SSE');
    await s.waitForPosts([postId]);
    assert.deepEqual(s.postIds(), [postId]);
    const frame = s.frames[0]!;
    assert.deepEqual([frame.postText, frame.author_user_id], ['hello over SSE', author]);
    assert.equal(s.ids[0], frame.cursor);
    s.close();
  });

  it('GIVEN a follower subscribed with a Bearer header WHEN posts come from another replica THEN every one arrives', async () => {
    const replicaB = await backends.startReplica('sse-b');
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await follow(replicaA, follower, author);
    const s = new FeedStream(() => replicaB.url, await backends.token(follower), { viaHeader: true });
    await s.opened();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await post(replicaA, author, `via A ${i}`));
    await s.waitForPosts(ids);
    assert.deepEqual(s.postIds(), ids);
    s.close();
    await replicaB.close();
  });
});

describe('resume', () => {
  it('GIVEN a stream whose replica shuts down WHEN posts are created while it is away THEN it gets a 1012 close event, reconnects with Last-Event-ID and gets exactly the missed posts, in order', async () => {
    const leaving = await backends.startReplica('sse-leaving');
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await follow(replicaA, follower, author);
    let base = leaving.url;
    const s = new FeedStream(() => base, await backends.token(follower));
    await s.opened();
    const seen = await post(replicaA, author, 'seen');
    await s.waitForPosts([seen]);

    let openGate!: () => void;
    s.gate = new Promise((resolve) => (openGate = resolve));
    await leaving.close();
    await waitFor('the 1012 close event', async () => (s.closes.length > 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    assert.equal(s.closes[0]!.code, CloseCodes.SERVICE_RESTART);
    const missed: string[] = [];
    for (let i = 0; i < 5; i++) missed.push(await post(replicaA, author, `missed ${i}`));
    base = replicaA.url;
    openGate();

    await s.waitForPosts(missed);
    const live = await post(replicaA, author, 'live');
    await s.waitForPosts([live]);
    assert.equal(s.lastEventIds.at(-1), s.frames[0]!.cursor, 'the reconnect carried the cursor of the last post seen');
    assert.deepEqual(s.postIds(), [seen, ...missed, live], 'exactly the missed posts, in order, no duplicates');
    s.close();
  });

  it('GIVEN ?since= on the first request WHEN the stream opens THEN the posts after that cursor are replayed', async () => {
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await follow(replicaA, follower, author);
    const first = await callApi<{ cursor: string }>(replicaA.url, 'POST', Routes.POST_CREATE, { token: await backends.token(author), body: { text: 'old' } });
    const after1 = await post(replicaA, author, 'after 1');
    const after2 = await post(replicaA, author, 'after 2');
    const s = new FeedStream(() => replicaA.url, await backends.token(follower), { since: first.body.cursor });
    await s.waitForPosts([after1, after2]);
    assert.deepEqual(s.postIds(), [after1, after2]);
    s.close();
  });
});

describe('stream lifecycle and checks', () => {
  it('GIVEN a token that expires while streaming WHEN its exp passes THEN a final close event says 4001 token expired and the stream ends', async () => {
    const s = new FeedStream(() => replicaA.url, await backends.token(uniqueUser('short'), 2));
    await s.opened();
    await waitFor('the 4001 close event', async () => (s.closes.length > 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    assert.deepEqual(s.closes[0], { code: CloseCodes.TOKEN_EXPIRED, reason: 'token expired' });
    s.close();
  });

  it('GIVEN a raw request WHEN the stream opens THEN it has the proxy headers and keep-alive comments arrive', async () => {
    const quick = await backends.startReplica('sse-keepalive', { [AppEnv.WS_PING_INTERVAL_MS]: '200' });
    const ctrl = new AbortController();
    const res = await fetch(new URL(Routes.FEED_EVENTS, quick.url), { headers: { authorization: `Bearer ${await backends.token(uniqueUser('raw'))}` }, signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes(': keep-alive')) text += new TextDecoder().decode((await reader.read()).value);
    assert.match(text, /^retry: \d+\n/);
    ctrl.abort();
    await quick.close();
  });

  it('GIVEN bad requests WHEN they ask for a stream THEN each gets its JSON error before any stream starts', async () => {
    const user = uniqueUser('checked');
    const token = await backends.token(user);
    const get = (headers: Record<string, string>, query = '') => fetch(new URL(`${Routes.FEED_EVENTS}${query}`, replicaA.url), { headers });
    const cases: Array<[string, Promise<Response>, number]> = [
      ['no token', get({}), 401],
      ['bad Last-Event-ID', get({ authorization: `Bearer ${token}`, 'last-event-id': 'yesterday' }), 400],
      ['bad since', get({ authorization: `Bearer ${token}` }, '?since=-1'), 400],
    ];
    for (const [what, pending, status] of cases) {
      const r = await pending;
      assert.equal(r.status, status, what);
      assert.equal(typeof ((await r.json()) as { error?: unknown }).error, 'string', what);
    }
    const post405 = await fetch(new URL(Routes.FEED_EVENTS, replicaA.url), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(post405.status, 405);
  });

  it('GIVEN a user at the subscription cap WHEN it opens another stream THEN 429 with Retry-After', async () => {
    const user = uniqueUser('greedy');
    const token = await backends.token(user);
    const held = [new FeedStream(() => replicaA.url, token), new FeedStream(() => replicaA.url, token)];
    await Promise.all(held.map((h) => h.opened()));
    const r = await fetch(new URL(Routes.FEED_EVENTS, replicaA.url), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    for (const h of held) h.close();
  });
});
