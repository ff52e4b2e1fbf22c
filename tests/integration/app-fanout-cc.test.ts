/**
 * Batched (CC-header) fan-out on a real PostgreSQL and RabbitMQ: an author with more followers than
 * one message carries, spread over two replicas (one mirrored-mode queue, one quorum queue), reaches
 * every follower exactly once with the wire-contract frame; a replica still delivers the old
 * per-follower format (rolling upgrade) and survives malformed messages; followers with the longest
 * user ids are published in chunks whose CC header the client library and the broker accept.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import { pino } from 'pino';
import { AppEnv, EXCHANGE, QueueMode, Routes, userRoutingKey, waitFor } from '../../shared/index.js';
import type { FeedApp, FeedFrame } from '../../app/src/index.js';
import { AmqpConnection } from '../../app/src/amqp/connection.js';
import { CC_BATCH_MAX_RECIPIENTS, CcBatchPublisher, chunkRecipients } from '../../app/src/amqp/publisher.js';
import type { OutboxEntry } from '../../app/src/db/store.js';
import { decodeFeedMessage, encodeBatchedBody } from '../../app/src/ws/frame.js';
import { progress } from '../../scripts/local/process.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi, FeedClient } from '../support/feed-client.js';
import { TcpFront } from '../support/tcp-front.js';

const CONTRACT_KEYS = ['author_user_id', 'createdAt', 'cursor', 'postId', 'postText'];

let backends: AppBackends;
let replicaA: FeedApp;
let replicaB: FeedApp;
const clients: FeedClient[] = [];

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

async function follow(follower: string, author: string): Promise<void> {
  const r = await callApi(replicaA.url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(follower) });
  assert.equal(r.status, 200);
}

async function connect(app: FeedApp, userId: string): Promise<FeedClient> {
  const c = await FeedClient.connect(app.url, await backends.token(userId));
  clients.push(c);
  return c;
}

async function post(author: string, text: string): Promise<string> {
  const r = await callApi<{ id: string }>(replicaA.url, 'POST', Routes.POST_CREATE, { token: await backends.token(author), body: { text } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.id;
}

/** An AMQP URL with the test broker's credentials, to its node or to another port forwarding there. */
function brokerUrl(port: number = backends.rabbit.nodes[0]!.amqpPort): string {
  const { rabbit } = backends;
  return `amqp://${encodeURIComponent(rabbit.username)}:${encodeURIComponent(rabbit.password)}@127.0.0.1:${port}`;
}

before(async () => {
  backends = await startAppBackends('app-fanout-cc');
  // No publisher option: the app's default fan-out encoding is under test.
  [replicaA, replicaB] = await Promise.all([
    backends.startReplica('cc-a', { [AppEnv.QUEUE_MODE]: QueueMode.MIRRORED }),
    backends.startReplica('cc-b', { [AppEnv.QUEUE_MODE]: QueueMode.QUORUM }),
  ]);
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await backends?.stop();
});

describe('batched fan-out', () => {
  it('GIVEN an author with more followers than one message carries, over two replicas WHEN they post THEN every follower gets exactly one contract frame and a non-follower none', async () => {
    const author = uniqueUser('author');
    const marker = uniqueUser('marker');
    const stranger = uniqueUser('stranger');
    const followers = Array.from({ length: CC_BATCH_MAX_RECIPIENTS + 7 }, (_, i) => uniqueUser(`f${i}`));
    progress(`fanout-cc: ${followers.length} followers follow the author and a marker author`);
    await inBatches(followers, 50, async (f) => {
      await follow(f, author);
      await follow(f, marker);
    });
    await follow(stranger, marker);
    // Every follower's socket is on A or B; the stranger shares replica A with half of them.
    const sockets = await inBatches(followers, 50, (f) => connect(followers.indexOf(f) % 2 === 0 ? replicaA : replicaB, f));
    const strangerSocket = await connect(replicaA, stranger);

    const postId = await post(author, 'to many followers');
    progress('fanout-cc: waiting for the post on every follower socket');
    await Promise.all(sockets.map((s) => s.waitForPosts([postId])));
    // The marker's messages follow every chunk of the post in each queue: once it is in, a duplicate would be too.
    const markerId = await post(marker, 'marker');
    await Promise.all([...sockets, strangerSocket].map((s) => s.waitForPosts([markerId])));

    for (const [i, s] of sockets.entries()) {
      const copies = s.frames.filter((f) => f.postId === postId);
      assert.equal(copies.length, 1, `follower ${followers[i]} got ${copies.length} copies`);
      assert.deepEqual(Object.keys(copies[0]!).sort(), CONTRACT_KEYS, 'no recipients list (or anything else) leaks to the client');
      assert.equal(copies[0]!.postText, 'to many followers');
      assert.equal(copies[0]!.author_user_id, author);
    }
    assert.deepEqual([...strangerSocket.postIds()], [markerId], 'the non-follower got only the marker');
  });
});

describe('rolling upgrade and bad input', () => {
  it('GIVEN a follower on a replica WHEN an old per-follower message, a malformed one and a batched one arrive THEN it gets both good frames, once each, and the replica keeps consuming', async () => {
    const follower = uniqueUser('old-format');
    const other = uniqueUser('other');
    const socket = await connect(replicaA, follower);
    const frameOf = (text: string): FeedFrame => ({ postId: randomUUID(), postText: text, author_user_id: 'legacy-author', cursor: '1', createdAt: new Date().toISOString() });
    const oldFormat = frameOf('published by a replica of the previous version');
    const batched = frameOf('published batched');

    const conn = await amqp.connect(brokerUrl());
    try {
      const ch = await conn.createConfirmChannel();
      const key = userRoutingKey(follower);
      const opts = { persistent: true, contentType: 'application/json' };
      ch.publish(EXCHANGE, key, Buffer.from('{"postId": '), opts);
      ch.publish(EXCHANGE, key, Buffer.from(JSON.stringify({ frame: oldFormat, recipients: 'not a list' })), opts);
      ch.publish(EXCHANGE, key, Buffer.from(JSON.stringify(oldFormat)), { ...opts, messageId: oldFormat.postId });
      ch.publish(EXCHANGE, key, encodeBatchedBody(batched, [other, follower]), { ...opts, messageId: batched.postId, CC: [userRoutingKey(other)] });
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }

    await socket.waitForPosts([oldFormat.postId, batched.postId]);
    assert.deepEqual(socket.frames.find((f) => f.postId === oldFormat.postId), oldFormat);
    assert.deepEqual(socket.frames.find((f) => f.postId === batched.postId), batched);
    // Still consuming after the malformed ones: a real post arrives too.
    const author = uniqueUser('author');
    await follow(follower, author);
    const live = await post(author, 'after the malformed ones');
    await socket.waitForPosts([live]);
    assert.equal(socket.frames.length, 3, 'each good message exactly once, nothing from the malformed ones');
  });
});

describe('CcBatchPublisher on the broker', () => {
  it('GIVEN 500 followers with the longest user ids, 1001 followers and none, and a previous-release replica live (CC keys sent) WHEN published THEN every entry is confirmed and a queue bound to a CC key gets its chunk once', async () => {
    const log = pino({ level: 'silent' });
    const conn = new AmqpConnection({ urls: [brokerUrl()], log });
    conn.onUp(async (ch) => {
      await ch.consume.assertExchange(EXCHANGE, 'topic', { durable: true });
    });
    conn.start();
    assert.ok(await conn.waitUp(10_000), 'connected');
    const probe = await amqp.connect(brokerUrl());
    try {
      const longest = Array.from({ length: CC_BATCH_MAX_RECIPIENTS }, (_, i) => `${randomUUID()}-${i}-`.padEnd(128, 'x'));
      const many = Array.from({ length: 2 * CC_BATCH_MAX_RECIPIENTS + 1 }, (_, i) => uniqueUser(`m${i}`));
      const probeCh = await probe.createChannel();
      const { queue } = await probeCh.assertQueue('', { exclusive: true });
      const lastKey = userRoutingKey(longest.at(-1)!);
      await probeCh.bindQueue(queue, EXCHANGE, lastKey);
      const postOf = (id: string) => ({ id: randomUUID(), authorId: 'author', text: `post ${id}`, cursor: id, createdAt: new Date().toISOString() });
      const entries: OutboxEntry[] = [
        { outboxId: '1', post: postOf('1'), followerIds: longest },
        { outboxId: '2', post: postOf('2'), followerIds: many },
        { outboxId: '3', post: postOf('3'), followerIds: [] },
      ];
      const result = await new CcBatchPublisher(conn, { perUserRoutedReplicaLive: async () => true }).publish(entries);
      assert.equal(result.error, undefined);
      assert.deepEqual([...result.confirmed].sort(), ['1', '2', '3']);
      const longChunks = chunkRecipients(longest);
      assert.equal(result.messages, longChunks.length + 3, 'the long ids cut by header bytes, three chunks for 1001 followers, none without followers');

      const got = await probeCh.get(queue, { noAck: true });
      assert.ok(got, 'the queue bound to a CC key got the message');
      const lastChunk = longChunks.at(-1)!;
      assert.equal(got.fields.routingKey, userRoutingKey(lastChunk[0]!), "routed on its chunk's first key, matched by CC");
      const decoded = decodeFeedMessage(got.content, got.fields.routingKey)!;
      assert.equal(decoded.frame.postId, entries[0]!.post.id);
      assert.deepEqual(decoded.recipients, lastChunk);
      assert.equal(await probeCh.get(queue, { noAck: true }), false, 'one copy only');
    } finally {
      await probe.close().catch(() => undefined);
      await conn.close();
    }
  });

  it('GIVEN a queue that refuses every publish (reject-publish at length 0) WHEN a batch routed to it is nacked THEN the entry stays unconfirmed and the retry goes out on a fresh channel', async () => {
    const conn = new AmqpConnection({ urls: [brokerUrl()], log: pino({ level: 'silent' }) });
    conn.onUp(async (ch) => {
      await ch.consume.assertExchange(EXCHANGE, 'topic', { durable: true });
    });
    conn.start();
    assert.ok(await conn.waitUp(10_000), 'connected');
    const probe = await amqp.connect(brokerUrl());
    try {
      const recipient = uniqueUser('refused');
      const probeCh = await probe.createChannel();
      const { queue } = await probeCh.assertQueue('', { exclusive: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
      await probeCh.bindQueue(queue, EXCHANGE, userRoutingKey(recipient));
      const entry = (id: string): OutboxEntry => ({ outboxId: id, post: { id: randomUUID(), authorId: 'author', text: `post ${id}`, cursor: id, createdAt: new Date().toISOString() }, followerIds: [recipient] });
      const publisher = new CcBatchPublisher(conn, { perUserRoutedReplicaLive: async () => true });
      const nackedOn = conn.channels!.publish;

      const refused = await publisher.publish([entry('n1')]);
      assert.deepEqual(refused.confirmed, []);
      assert.match(refused.error ?? '', /nacked/);
      await waitFor('a fresh publish channel', async () => (conn.channels?.publish !== nackedOn ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });

      await probeCh.unbindQueue(queue, EXCHANGE, userRoutingKey(recipient));
      const retried = await publisher.publish([entry('n2')]);
      assert.deepEqual(retried.confirmed, ['n2'], 'the fresh channel publishes and gets confirms');
    } finally {
      await probe.close().catch(() => undefined);
      await conn.close();
    }
  });

  it('GIVEN a broker that goes silent after taking the batch (a hung node behind its front) WHEN the confirms do not come THEN the publisher gives up at its confirm timeout and leaves the entry unconfirmed for a retry', async () => {
    const front = await TcpFront.open(backends.rabbit.nodes[0]!.amqpPort);
    const conn = new AmqpConnection({ urls: [brokerUrl(front.port)], log: pino({ level: 'silent' }) });
    conn.onUp(async (ch) => {
      await ch.consume.assertExchange(EXCHANGE, 'topic', { durable: true });
    });
    conn.start();
    try {
      assert.ok(await conn.waitUp(10_000), 'connected through the front');
      const confirmTimeoutMs = 500;
      const post = { id: randomUUID(), authorId: 'author', text: 'post s1', cursor: 's1', createdAt: new Date().toISOString() };
      front.silenceReplies();
      const started = Date.now();
      const result = await new CcBatchPublisher(conn, { confirmTimeoutMs }).publish([{ outboxId: 's1', post, followerIds: [uniqueUser('silent')] }]);
      const tookMs = Date.now() - started;
      assert.deepEqual(result.confirmed, []);
      assert.equal(result.error, `1 entry without publisher confirms after ${confirmTimeoutMs} ms`);
      // The bound is the publisher's own: a silent node answers nothing that would end the wait sooner or later.
      assert.ok(tookMs >= confirmTimeoutMs && tookMs < confirmTimeoutMs + 2000, `gave up after ${tookMs} ms`);
    } finally {
      await conn.close();
      await front.close();
    }
  });

  it('GIVEN a publish channel whose confirms stop (a channel stuck on a cut-off quorum leader) WHEN entries are published THEN they go again on a fresh channel and are confirmed there, long before the timeout', async () => {
    const front = await TcpFront.open(backends.rabbit.nodes[0]!.amqpPort);
    const conn = new AmqpConnection({ urls: [brokerUrl(front.port)], log: pino({ level: 'silent' }) });
    conn.onUp(async (ch) => {
      await ch.consume.assertExchange(EXCHANGE, 'topic', { durable: true });
    });
    conn.start();
    const probe = await amqp.connect(brokerUrl());
    try {
      assert.ok(await conn.waitUp(10_000), 'connected through the front');
      const recipient = uniqueUser('stuck');
      const probeCh = await probe.createChannel();
      const { queue } = await probeCh.assertQueue('', { exclusive: true });
      await probeCh.bindQueue(queue, EXCHANGE, userRoutingKey(recipient));
      const stuck = conn.channels!.publish;
      front.withholdChannel((stuck as unknown as { ch: number }).ch);
      const post = { id: randomUUID(), authorId: 'author', text: 'post r1', cursor: 'r1', createdAt: new Date().toISOString() };
      const timing = { confirmTimeoutMs: 10_000, resendAfterMs: 1000 };

      const started = Date.now();
      const result = await new CcBatchPublisher(conn, timing).publish([{ outboxId: 'r1', post, followerIds: [recipient] }]);
      const tookMs = Date.now() - started;

      assert.deepEqual(result.confirmed, ['r1']);
      assert.equal(result.error, undefined);
      // Once, unless the fresh channel too was quiet for a second (a loaded machine).
      assert.ok((result.resent ?? 0) >= 1, `its one message sent again (${result.resent} copies)`);
      assert.notEqual(conn.channels!.publish, stuck, 'the stuck channel was left behind');
      assert.ok(tookMs < timing.confirmTimeoutMs / 2, `confirmed after ${tookMs} ms`);
      // The stuck channel's publish reached the broker too (only its confirms were withheld): every copy is queued, one postId.
      const copies = 1 + result.resent!;
      await waitFor(`${copies} copies in the queue`, async () => ((await probeCh.checkQueue(queue)).messageCount === copies ? true : undefined), { timeoutMs: 5000 });
    } finally {
      await probe.close().catch(() => undefined);
      await conn.close();
      await front.close();
    }
  });
});
