/**
 * What one user may do, on real PostgreSQL and RabbitMQ: posts per minute across two replicas,
 * subscriptions per user per replica, inbound data on the feed socket, unstorable text, and a
 * property-based run of random and hostile requests against a replica running as its own process.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import { AppEnv, CloseCodes, Routes } from '../../shared/index.js';
import type { FeedApp } from '../../app/src/index.js';
import { startAppBackends, uniqueUser, type AppBackends, type ReplicaProcess } from '../support/app-backends.js';
import { callApi, FeedClient, UpgradeRefused } from '../support/feed-client.js';

const POSTS_PER_MINUTE = 20;
const SUBSCRIPTIONS = 3;
const LIMITS = { [AppEnv.POSTS_PER_USER_PER_MINUTE]: String(POSTS_PER_MINUTE), [AppEnv.SUBSCRIPTIONS_PER_USER]: String(SUBSCRIPTIONS) };
/** Random requests the property test sends; FEED_FUZZ_RUNS raises it for a longer hunt. */
const FUZZ_RUNS = Number(process.env['FEED_FUZZ_RUNS'] ?? 400);

let backends: AppBackends;
let replicaA: FeedApp;
let replicaB: FeedApp;
let db: pg.Client;
const clients: FeedClient[] = [];

before(async () => {
  backends = await startAppBackends('app-limits');
  [replicaA, replicaB] = await Promise.all([backends.startReplica('limits-a', LIMITS), backends.startReplica('limits-b', LIMITS)]);
  db = await backends.db();
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await backends?.stop();
});

async function postAs(app: FeedApp, token: string, text: string) {
  return callApi<{ error?: string; id?: string }>(app.url, 'POST', Routes.POST_CREATE, { token, body: { text } });
}

async function postCount(author: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM posts WHERE author_id = $1', [author]);
  return Number(rows[0]!.n);
}

describe('posts per user per minute', () => {
  it('GIVEN one author posting 3x the limit at once through two replicas WHEN counted THEN exactly the limit is accepted, the rest get 429 with Retry-After', async () => {
    const author = uniqueUser('eager');
    const token = await backends.token(author);
    const answers = await Promise.all(Array.from({ length: 3 * POSTS_PER_MINUTE }, (_, i) => postAs(i % 2 === 0 ? replicaA : replicaB, token, `burst ${i}`)));
    const accepted = answers.filter((r) => r.status === 200).length;
    const refused = answers.filter((r) => r.status === 429);
    // Tolerance across replicas: 0 (the author's row lock serialises the check with the insert).
    console.log(`# posts-per-minute: limit ${POSTS_PER_MINUTE}, ${answers.length} concurrent posts via 2 replicas: accepted ${accepted}, 429 ${refused.length}`);
    assert.equal(accepted, POSTS_PER_MINUTE);
    assert.equal(refused.length, 2 * POSTS_PER_MINUTE);
    for (const r of refused) assert.match(r.body.error ?? '', /at most 20 posts per minute/);
    assert.equal(await postCount(author), POSTS_PER_MINUTE, 'nothing refused was stored');
  });

  it('GIVEN an author at the limit WHEN it posts THEN Retry-After says when the oldest post leaves the window, and another author is unaffected', async () => {
    const author = uniqueUser('full');
    const token = await backends.token(author);
    for (let i = 0; i < POSTS_PER_MINUTE; i++) assert.equal((await postAs(replicaA, token, `p${i}`)).status, 200);
    const res = await fetch(new URL(Routes.POST_CREATE, replicaB.url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"text":"one more"}' });
    assert.equal(res.status, 429);
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${res.headers.get('retry-after')}`);
    assert.equal((await postAs(replicaB, await backends.token(uniqueUser('other')), 'not limited')).status, 200);
  });

  it('GIVEN an author whose posts have left the 60 s window WHEN it posts THEN it is accepted again', async () => {
    const author = uniqueUser('patient');
    const token = await backends.token(author);
    for (let i = 0; i < POSTS_PER_MINUTE; i++) assert.equal((await postAs(replicaA, token, `p${i}`)).status, 200);
    assert.equal((await postAs(replicaA, token, 'too soon')).status, 429);
    // Age the window instead of waiting a minute.
    await db.query(`UPDATE post_rate SET stamps = ARRAY(SELECT s - interval '61 seconds' FROM unnest(stamps) s) WHERE author_id = $1`, [author]);
    assert.equal((await postAs(replicaB, token, 'later')).status, 200);
  });
});

describe('unstorable text', () => {
  it('GIVEN text with a NUL or a lone surrogate WHEN posted THEN 400 with a JSON error naming it, nothing stored', async () => {
    const author = uniqueUser('nul');
    const token = await backends.token(author);
    for (const [body, what] of [['{"text":"a\\u0000b"}', /NUL/], ['{"text":"x\\ud800"}', /surrogate/], ['{"text":"\\udc00"}', /surrogate/]] as const) {
      const r = await callApi<{ error: string }>(replicaA.url, 'POST', Routes.POST_CREATE, { token, body });
      assert.equal(r.status, 400, body);
      assert.match(r.body.error, what);
    }
    assert.equal(await postCount(author), 0);
  });
});

describe('subscriptions per user per replica', () => {
  it('GIVEN a user at the cap on one replica WHEN it opens one more THEN 429 with Retry-After, while another replica and another user still admit', async () => {
    const user = uniqueUser('hoarder');
    const token = await backends.token(user);
    for (let i = 0; i < SUBSCRIPTIONS; i++) clients.push(await FeedClient.connect(replicaA.url, token));
    await assert.rejects(FeedClient.connect(replicaA.url, token), (e: unknown) => e instanceof UpgradeRefused && e.status === 429 && Number(e.headers['retry-after']) > 0);
    clients.push(await FeedClient.connect(replicaB.url, token));
    clients.push(await FeedClient.connect(replicaA.url, await backends.token(uniqueUser('modest'))));
  });

  it('GIVEN a user at the cap WHEN one of its sockets closes THEN a new one is admitted', async () => {
    const user = uniqueUser('cycler');
    const token = await backends.token(user);
    const open: FeedClient[] = [];
    for (let i = 0; i < SUBSCRIPTIONS; i++) open.push(await FeedClient.connect(replicaA.url, token));
    clients.push(...open);
    await open[0]!.close();
    clients.push(await FeedClient.connect(replicaA.url, token));
  });
});

describe('inbound data on the feed socket', () => {
  it('GIVEN an open feed socket WHEN the client sends a data frame THEN the socket is closed with 1008', async () => {
    const s = await FeedClient.connect(replicaA.url, await backends.token(uniqueUser('talker')));
    clients.push(s);
    s.ws.send('hello?');
    assert.equal(await s.closed, CloseCodes.POLICY_VIOLATION);
  });

  it('GIVEN a client flooding 20,000 frames WHEN the first arrives THEN the socket closes with 1008 at once', async () => {
    const s = await FeedClient.connect(replicaA.url, await backends.token(uniqueUser('flooder')));
    clients.push(s);
    const started = Date.now();
    for (let i = 0; i < 20_000 && s.ws.readyState === s.ws.OPEN; i++) s.ws.send('x');
    assert.equal(await s.closed, CloseCodes.POLICY_VIOLATION);
    assert.ok(Date.now() - started < 10_000, `closed after ${Date.now() - started} ms`);
  });

  it('GIVEN an open feed socket WHEN the client pings THEN it stays open (control frames are allowed)', async () => {
    const s = await FeedClient.connect(replicaA.url, await backends.token(uniqueUser('pinger')));
    clients.push(s);
    const pong = new Promise<void>((resolve) => s.ws.once('pong', () => resolve()));
    s.ws.ping();
    await pong;
    assert.equal(s.closeCode, undefined);
  });
});

/** One raw HTTP exchange (node:http, so hostile paths reach the server unnormalised). */
function rawRequest(base: string, req: HostileRequest): Promise<{ status: number; contentType: string; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const r = request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers: req.headers, timeout: 15_000, agent: false }, (res) => {
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        // A valid token opened the feed's event stream, which never ends: the answer is its head.
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body: '' });
        r.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`no answer to ${req.method} ${req.path}`)));
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

interface HostileRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

/** Strings that broke or could break parsers: NUL, lone surrogates, bad percent-encoding, URL syntax. */
const nasty = fc.constantFrom('\u0000', '\ud800', '\udfff', '%', '%E0%A4%A', '%00', '%uD800', '..', '//[', '[', ']', '?', '#', '\\', '\u202e', '😀', 'a'.repeat(300), '-1', '1e309', 'null', '{}');
/** Post texts: random, hostile, binary, one over the length limit. */
const postText = fc.oneof(fc.string({ maxLength: 50 }), nasty, fc.string({ unit: 'binary', maxLength: 50 }), fc.constant('x'.repeat(4001)));
const segment = fc.oneof(fc.string({ maxLength: 20 }), nasty, fc.uuid(), fc.constantFrom('post', 'feed', 'friend', 'get', 'create', 'set', 'delete', 'posted'));

/**
 * Percent-encodes what http.request refuses in a path (outside printable ASCII) and keeps the rest
 * raw, `%` included; a lone surrogate goes out as its WTF-8 bytes (%ED%A0%80), which is not UTF-8.
 */
function rawPath(p: string): string {
  let out = '';
  for (const ch of p) {
    const c = ch.codePointAt(0)!;
    if (c > 0x20 && c < 0x7f) out += ch;
    else if (c >= 0xd800 && c <= 0xdfff) out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
    else out += [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
  return out;
}

function pathArb(): fc.Arbitrary<string> {
  const known = fc.constantFrom(...Object.values(Routes));
  const prefixed = fc.tuple(fc.constantFrom(Routes.POST_GET, Routes.FRIEND_SET, Routes.FRIEND_DELETE), segment).map(([p, s]) => p + s);
  const random = fc.array(segment, { minLength: 0, maxLength: 4 }).map((parts) => `/${parts.join('/')}`);
  const query = fc.option(fc.array(fc.tuple(fc.constantFrom('offset', 'limit', 'since', 'token', 'x'), fc.oneof(segment, fc.integer().map(String))), { maxLength: 3 }), { nil: undefined });
  return fc.tuple(fc.oneof(known, prefixed, random, fc.constantFrom('//[', '/%', '/post/get/%zz', '*')), query).map(([p, q]) =>
    rawPath(q === undefined ? p : `${p}?${q.map(([k, v]) => `${k}=${v}`).join('&')}`),
  );
}

/** `/graphql` bodies: the schema's operations with hostile variables, and junk documents. */
function graphqlBodyArb(text: fc.Arbitrary<string>) {
  return fc.record(
    {
      query: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(
          'mutation ($t: String!) { createPost(text: $t) { id } }',
          'query ($id: ID!) { post(id: $id) { id text } }',
          'query ($o: Int, $l: Int) { feed(offset: $o, limit: $l) { id } }',
          'mutation ($u: String!) { follow(userId: $u) }',
          'mutation ($u: String!) { unfollow(userId: $u) }',
          'subscription { postAdded { postId } }',
          '{ __schema { types { name } } }',
        ) },
        { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
      ),
      variables: fc.oneof({ weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 4, arbitrary: fc.record({ t: text, id: fc.oneof(fc.uuid(), nasty), o: fc.integer(), l: fc.integer(), u: fc.oneof(nasty, fc.string({ maxLength: 10 })) }) }),
      operationName: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 5 }), fc.integer()) }),
    },
    { requiredKeys: ['query'] },
  );
}

function bodyArb(): fc.Arbitrary<Buffer | undefined> {
  const graphql = graphqlBodyArb(postText);
  const json = fc.oneof(fc.jsonValue({ maxDepth: 3 }), postText.map((t) => ({ text: t })), fc.record({ text: fc.jsonValue({ maxDepth: 2 }) }), graphql);
  return fc.option(
    fc.oneof(
      json.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      postText.map((t) => Buffer.from(t)),
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    ),
    { nil: undefined },
  );
}

/** POST /graphql with a JSON body, mostly with the good token, so the resolvers run. */
function graphqlRequestArb(goodToken: string): fc.Arbitrary<HostileRequest> {
  return fc.tuple(graphqlBodyArb(postText), fc.constantFrom(`Bearer ${goodToken}`, `Bearer ${goodToken}`, 'Bearer x')).map(([body, auth]) => ({
    method: 'POST',
    path: Routes.GRAPHQL,
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  }));
}

function requestArb(goodToken: string): fc.Arbitrary<HostileRequest> {
  const auth = fc.constantFrom<string | undefined>(undefined, `Bearer ${goodToken}`, 'Bearer x.y.z', 'Basic Zm9vOmJhcg==', 'Bearer', `Bearer ${goodToken}x`);
  const contentType = fc.constantFrom<string | undefined>(undefined, 'application/json', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data');
  return fc.record({ method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), path: pathArb(), auth, contentType, body: bodyArb() }).map(({ method, path, auth: a, contentType: ct, body }) => {
    const headers: Record<string, string> = {};
    if (a !== undefined) headers['authorization'] = a;
    if (ct !== undefined) headers['content-type'] = ct;
    return { method, path, headers, ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}) };
  });
}

describe('random and hostile requests', () => {
  let child: ReplicaProcess;
  before(async () => {
    child = await backends.startReplicaProcess('limits-child', { ...LIMITS, [AppEnv.LOG_LEVEL]: 'warn' });
  });

  it(`GIVEN a replica running as its own process WHEN ${FUZZ_RUNS} random and hostile requests hit its HTTP API THEN none gets a 5xx, every error is JSON, and it stays up`, async () => {
    const token = await backends.token(uniqueUser('fuzzer'));
    let sent = 0;
    let executed = 0;
    const out = await fc.check(
      fc.asyncProperty(fc.oneof({ arbitrary: requestArb(token), weight: 3 }, { arbitrary: graphqlRequestArb(token), weight: 1 }), async (req) => {
        sent++;
        const res = await rawRequest(child.url, req);
        assert.ok(res.status < 500, `${req.method} ${req.path} got ${res.status}: ${res.body.slice(0, 200)}`);
        // A resolver's unexpected failure is masked as "internal error" inside a 200: the GraphQL form of a 5xx.
        if (req.path === Routes.GRAPHQL && res.status === 200) executed++;
        if (req.path === Routes.GRAPHQL && res.status === 200) assert.doesNotMatch(res.body, /"internal error"/, `${req.body?.toString()}: ${res.body.slice(0, 300)}`);
        if (res.status >= 400 && req.method !== 'HEAD') {
          assert.match(res.contentType, /^application\/json/, `${req.method} ${req.path} ${res.status} ${res.contentType}: ${res.body.slice(0, 200)}`);
          assert.equal(typeof (JSON.parse(res.body) as { error?: unknown }).error, 'string', `${req.method} ${req.path}: ${res.body.slice(0, 200)}`);
        }
      }),
      { numRuns: FUZZ_RUNS, seed: Number(process.env['FEED_FUZZ_SEED'] ?? Date.now() % 2 ** 31) },
    );
    assert.ok(!out.failed, `${fc.defaultReportMessage(out)}\n${String((out.errorInstance as Error | undefined)?.message)}`);
    console.log(`# hostile requests: ${sent} sent to a replica process (${executed} GraphQL documents executed), no 5xx`);
    assert.ok(executed > 0, 'the GraphQL resolvers were reached');
    assert.ok(child.process.running, `the replica exited; see ${child.logFile}`);
    assert.equal((await callApi(child.url, 'GET', Routes.HEALTH)).status, 200);
  });
});
