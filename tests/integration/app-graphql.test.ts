/**
 * GraphQL at /graphql on real PostgreSQL and RabbitMQ: the HTTP queries and mutations mirroring the
 * API, and the postAdded subscription read with graphql-ws's own client (delivery after subscribe,
 * resume with since, token in connectionParams or the upgrade request, the per-user subscription
 * and connection caps).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { AppEnv, CloseCodes, Routes, waitFor } from '../../shared/index.js';
import type { FeedApp } from '../../app/src/index.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';

let backends: AppBackends;
let app: FeedApp;
const clients: Client[] = [];

before(async () => {
  backends = await startAppBackends('app-graphql');
  app = await backends.startReplica('graphql-a', { [AppEnv.SUBSCRIPTIONS_PER_USER]: '2' });
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.dispose()));
  await backends?.stop();
});

interface GqlAnswer<T> {
  readonly status: number;
  readonly data?: T;
  readonly errors?: Array<{ message: string; extensions?: { status?: number } }>;
}

async function gql<T = Record<string, unknown>>(token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<GqlAnswer<T>> {
  const res = await fetch(new URL(Routes.GRAPHQL, app.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

interface Added {
  postId: string;
  postText: string;
  authorUserId: string;
  cursor: string;
}

const POST_ADDED = 'subscription ($since: String) { postAdded(since: $since) { postId postText authorUserId cursor createdAt } }';

/** A graphql-ws subscriber: what it got, and the error or completion that ended it. */
class Subscription {
  readonly posts: Added[] = [];
  error: unknown;
  /** The server acknowledged the connection (connection_ack). */
  connected = false;
  readonly client: Client;

  /** `client`: subscribe on that client's connection instead of opening a new one. */
  constructor(opts: { token?: string; tokenInUrl?: string; since?: string; client?: Client }) {
    const url = new URL(Routes.GRAPHQL, app.url.replace(/^http/, 'ws'));
    if (opts.tokenInUrl !== undefined) url.searchParams.set('token', opts.tokenInUrl);
    this.client = opts.client ?? createClient({ url: url.toString(), webSocketImpl: WebSocket, retryAttempts: 0, ...(opts.token !== undefined ? { connectionParams: { token: opts.token } } : {}) });
    clients.push(this.client);
    this.client.on('connected', () => (this.connected = true));
    this.client.subscribe<{ postAdded: Added }>(
      { query: POST_ADDED, variables: opts.since !== undefined ? { since: opts.since } : {} },
      { next: (r) => (r.data ? this.posts.push(r.data.postAdded) : (this.error = r.errors)), error: (e) => (this.error = e), complete: () => undefined },
    );
  }

  /** Waits for connection_ack, or the error that refused the connection. */
  async settled(): Promise<void> {
    await waitFor('connection ack or refusal', async () => (this.connected || this.error !== undefined ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
  }

  async waitForPosts(ids: readonly string[]): Promise<void> {
    await waitFor(`${ids.length} post(s) on a GraphQL subscription`, async () => (ids.every((id) => this.posts.some((p) => p.postId === id)) ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
  }
}

/** graphql-ws does not acknowledge a subscribe: wait until the replica counts `n` GraphQL subscriptions. */
async function subscriptionsOpen(n: number): Promise<void> {
  await waitFor(`${n} GraphQL subscription(s)`, async () => {
    const text = await (await fetch(new URL(Routes.METRICS, app.url))).text();
    const m = /^feed_subscriptions\{transport="graphql"\} (\d+)/m.exec(text);
    return m && Number(m[1]) >= n ? true : undefined;
  }, { timeoutMs: 20_000, intervalMs: 50 });
}

async function openCount(): Promise<number> {
  const text = await (await fetch(new URL(Routes.METRICS, app.url))).text();
  return Number(/^feed_subscriptions\{transport="graphql"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('GraphQL over HTTP', () => {
  it('GIVEN a token WHEN it follows, posts, reads and unfollows THEN each operation mirrors the HTTP API', async () => {
    const author = uniqueUser('author');
    const reader = uniqueUser('reader');
    const [ta, tr] = [await backends.token(author), await backends.token(reader)];
    assert.deepEqual((await gql(tr, 'mutation ($u: String!) { follow(userId: $u) }', { u: author })).data, { follow: true });
    const created = await gql<{ createPost: { id: string; cursor: string } }>(ta, 'mutation { createPost(text: "hello graph") { id cursor createdAt } }');
    const id = created.data!.createPost.id;
    const got = await gql<{ post: { text: string; authorUserId: string } }>(tr, 'query ($id: ID!) { post(id: $id) { text authorUserId cursor } }', { id });
    assert.deepEqual(got.data!.post, { text: 'hello graph', authorUserId: author, cursor: created.data!.createPost.cursor });
    const feed = await gql<{ feed: Array<{ id: string }> }>(tr, '{ feed(limit: 5) { id } }');
    assert.deepEqual(feed.data!.feed.map((p) => p.id), [id]);
    assert.deepEqual((await gql(tr, 'mutation ($u: String!) { unfollow(userId: $u) }', { u: author })).data, { unfollow: true });
    assert.deepEqual((await gql<{ feed: unknown[] }>(tr, '{ feed { id } }')).data!.feed, []);
  });

  it('GIVEN bad requests WHEN sent THEN each gets the API status (HTTP or in extensions) and never a 5xx', async () => {
    const token = await backends.token(uniqueUser('bad'));
    assert.equal((await gql(undefined, '{ feed { id } }')).status, 401);
    assert.equal((await gql(token, '{ feed { id ')).status, 400, 'parse error');
    assert.equal((await gql(token, '{ nope }')).status, 400, 'validation error');
    assert.equal((await gql(token, POST_ADDED)).status, 400, 'a subscription over HTTP');
    const wide = `{ ${Array.from({ length: 200 }, (_, i) => `f${i}: feed(limit: 100) { id }`).join(' ')} }`;
    assert.equal((await gql(token, wide)).status, 400, 'two hundred aliases');
    const cases: Array<[string, string, Record<string, unknown>, number]> = [
      ['NUL in text', 'mutation ($t: String!) { createPost(text: $t) { id } }', { t: 'a\u0000b' }, 400],
      ['bad post id', 'query { post(id: "x") { id } }', {}, 400],
      ['bad user id', 'mutation { follow(userId: "a*b") }', {}, 400],
      ['limit too big', '{ feed(limit: 1000) { id } }', {}, 400],
    ];
    for (const [what, query, variables, status] of cases) {
      const r = await gql(token, query, variables);
      assert.equal(r.status, 200, what);
      assert.equal(r.errors?.[0]?.extensions?.status, status, `${what}: ${JSON.stringify(r.errors)}`);
    }
    assert.deepEqual((await gql(token, 'query { post(id: "00000000-0000-4000-8000-000000000000") { id } }')).data, { post: null });
  });
});

describe('GraphQL subscriptions (graphql-ws)', () => {
  it('GIVEN a follower subscribed with the token in connectionParams WHEN the author posts THEN the acknowledged post arrives once', async () => {
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    await gql(await backends.token(follower), 'mutation ($u: String!) { follow(userId: $u) }', { u: author });
    const before = await openCount();
    const s = new Subscription({ token: await backends.token(follower) });
    await subscriptionsOpen(before + 1);
    const created = await gql<{ createPost: { id: string } }>(await backends.token(author), 'mutation { createPost(text: "over graphql-ws") { id } }');
    const id = created.data!.createPost.id;
    await s.waitForPosts([id]);
    assert.deepEqual(s.posts.map((p) => [p.postId, p.postText, p.authorUserId]), [[id, 'over graphql-ws', author]]);
    await s.client.dispose();
  });

  it('GIVEN a subscriber that went away WHEN it resubscribes with since THEN it gets exactly the posts it missed, in order', async () => {
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    const ta = await backends.token(author);
    await gql(await backends.token(follower), 'mutation ($u: String!) { follow(userId: $u) }', { u: author });
    const before = await openCount();
    const first = new Subscription({ tokenInUrl: await backends.token(follower) });
    await subscriptionsOpen(before + 1);
    const seen = (await gql<{ createPost: { id: string } }>(ta, 'mutation { createPost(text: "seen") { id } }')).data!.createPost.id;
    await first.waitForPosts([seen]);
    const since = first.posts[0]!.cursor;
    await first.client.dispose();
    const missed: string[] = [];
    for (let i = 0; i < 4; i++) missed.push((await gql<{ createPost: { id: string } }>(ta, `mutation { createPost(text: "missed ${i}") { id } }`)).data!.createPost.id);
    const again = new Subscription({ token: await backends.token(follower), since });
    await again.waitForPosts(missed);
    assert.deepEqual(again.posts.map((p) => p.postId), missed);
  });

  it('GIVEN a bad token WHEN connecting THEN the connection is refused and no subscription opens', async () => {
    const s = new Subscription({ token: 'not-a-jwt' });
    await waitFor('the refusal', async () => (s.error !== undefined ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    assert.equal((s.error as { code?: number }).code, 4403);
  });

  it('GIVEN a user at the subscription cap WHEN it subscribes again on its connection THEN that subscription gets a 429 error', async () => {
    const token = await backends.token(uniqueUser('greedy'));
    const before = await openCount();
    const first = new Subscription({ token });
    const held = [first, new Subscription({ client: first.client })];
    await subscriptionsOpen(before + 2);
    const third = new Subscription({ client: first.client });
    await waitFor('the cap error', async () => (third.error !== undefined ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    assert.equal((third.error as Array<{ extensions?: { status?: number } }>)[0]?.extensions?.status, 429);
    await Promise.all(held.map((h) => h.client.dispose()));
  });

  it('GIVEN a user holding the most graphql-ws connections WHEN another upgrade carries its token THEN it is refused with 429 before the upgrade, and admitted once one closed', async () => {
    const token = await backends.token(uniqueUser('sockets'));
    const held = [new Subscription({ tokenInUrl: token }), new Subscription({ tokenInUrl: token })];
    await Promise.all(held.map((h) => h.settled()));
    assert.ok(held.every((h) => h.connected), 'two connections are within the cap');
    for (const via of ['header', 'query'] as const) {
      const refused = await rawUpgrade(token, via);
      assert.equal(refused.status, 429, `token in the ${via}`);
      assert.equal(refused.retryAfter, '5');
      assert.match(refused.error ?? '', /at most 2 graphql-ws connections per user/);
    }
    await held[0]!.client.dispose();
    await waitFor('a place after a close', async () => ((await rawUpgrade(token, 'header')).status === 101 ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 });
    await held[1]!.client.dispose();
  });

  it('GIVEN a user holding the most graphql-ws connections WHEN another brings its token in connectionParams THEN it is closed with 4429, and admitted once one closed', async () => {
    const token = await backends.token(uniqueUser('params'));
    const held = [new Subscription({ token }), new Subscription({ token })];
    await Promise.all(held.map((h) => h.settled()));
    assert.ok(held.every((h) => h.connected), 'two connections are within the cap');
    const third = new Subscription({ token });
    await third.settled();
    assert.equal(third.connected, false);
    const closed = third.error as { code?: number; reason?: string };
    assert.equal(closed.code, CloseCodes.TOO_MANY_CONNECTIONS);
    assert.match(closed.reason ?? '', /at most 2 graphql-ws connections per user/);
    await held[0]!.client.dispose();
    // The place frees when the server sees the close: retry until a new connection is acknowledged.
    await waitFor('a place after a close', async () => {
      const next = new Subscription({ token });
      await next.settled();
      if (next.connected) return true;
      assert.equal((next.error as { code?: number }).code, CloseCodes.TOO_MANY_CONNECTIONS);
      return undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    await held[1]!.client.dispose();
  });
});

/** A bare graphql-ws upgrade with the token in the Authorization header or `?token=`: 101 when upgraded (then closed), else the refusal. */
async function rawUpgrade(token: string, via: 'header' | 'query'): Promise<{ status: number; retryAfter?: string; error?: string }> {
  const url = new URL(Routes.GRAPHQL, app.url.replace(/^http/, 'ws'));
  if (via === 'query') url.searchParams.set('token', token);
  const ws = new WebSocket(url, 'graphql-transport-ws', via === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        ws.terminate();
        resolve({ status: res.statusCode ?? 0, ...(res.headers['retry-after'] !== undefined ? { retryAfter: String(res.headers['retry-after']) } : {}), error: (JSON.parse(body) as { error?: string }).error });
      });
    });
    ws.once('error', reject);
  });
}
