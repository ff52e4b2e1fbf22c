/**
 * A rolling update from the release that bound `user.{id}` per socket to this one (every replica
 * queue bound once to `user.#`), on a real RabbitMQ and PostgreSQL. The previous release's replica
 * is reproduced at the broker as it behaved: its queue declared with the same arguments and bound
 * only to the keys of its local users, its relay publishing CC chunks (and the release before it,
 * one message per follower). Old and new side by side lose nothing and duplicate nothing, and a new
 * replica's sockets add no binding.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import pg from 'pg';
import { ALL_USERS_BINDING_KEY, AppEnv, canaryRoutingKey, DEFAULT_SPEC, EXCHANGE, EXCHANGE_TYPE, QueueMode, Routes, replicaQueueArguments, replicaQueueName, userRoutingKey, waitFor } from '../../shared/index.js';
import type { FeedApp, FeedFrame } from '../../app/src/index.js';
import { decodeFeedMessage, encodeBatchedBody } from '../../app/src/ws/frame.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi, FeedClient, UpgradeRefused } from '../support/feed-client.js';
import { freePort } from '../../scripts/local/ports.js';

let backends: AppBackends;
let replica: FeedApp;
let conn: ChannelModel;
let ch: Channel;
let db: pg.Pool;
const clients: FeedClient[] = [];

/** What a queue received: decoded recipients and frame, and the CC header, per message. */
interface Received {
  readonly recipients: readonly string[];
  readonly frame: FeedFrame;
  readonly cc: readonly string[] | undefined;
}

/** Declares `queue` bound to `keys` and records what arrives. */
async function recordQueue(queue: string, keys: readonly string[]): Promise<Received[]> {
  await ch.assertQueue(queue, { durable: true, arguments: replicaQueueArguments(QueueMode.MIRRORED, DEFAULT_SPEC.rabbitmq.queueExpiresMs) });
  for (const k of keys) await ch.bindQueue(queue, EXCHANGE, k);
  const received: Received[] = [];
  await ch.consume(queue, (msg: ConsumeMessage | null) => {
    if (!msg) return;
    const decoded = decodeFeedMessage(msg.content, msg.fields.routingKey);
    const cc = msg.properties.headers?.['CC'] as string[] | undefined;
    if (decoded) received.push({ recipients: decoded.recipients, frame: decoded.frame, cc });
    ch.ack(msg);
  });
  return received;
}

/**
 * A replica of the previous release: its registry row as its heartbeat wrote it (no routing
 * recorded), its queue bound only to its local users' keys, as its BindingRegistry did.
 */
async function startOldReplica(localUsers: readonly string[]): Promise<Received[]> {
  const id = `previous-release-${randomUUID().slice(0, 8)}`;
  await db.query('INSERT INTO replicas (replica_id, queue_name, queue_mode) VALUES ($1, $2, $3)', [id, replicaQueueName(id), QueueMode.MIRRORED]);
  return recordQueue(replicaQueueName(id), localUsers.map(userRoutingKey));
}

/** Removes the previous-release rows: the rollout is over. */
async function finishRollout(): Promise<void> {
  await db.query('DELETE FROM replicas WHERE routing IS NULL');
}

async function post(author: string, text: string): Promise<string> {
  const r = await callApi<{ id: string }>(replica.url, 'POST', Routes.POST_CREATE, { token: await backends.token(author), body: { text } });
  assert.equal(r.status, 200);
  return r.body.id;
}

async function copiesOf(received: Received[], postId: string, what: string): Promise<Received[]> {
  return waitFor(what, async () => {
    const copies = received.filter((m) => m.frame.postId === postId);
    return copies.length > 0 ? copies : undefined;
  }, { timeoutMs: 15_000, intervalMs: 50 });
}

async function follow(follower: string, author: string): Promise<void> {
  const r = await callApi(replica.url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(follower) });
  assert.equal(r.status, 200);
}

async function connect(userId: string): Promise<FeedClient> {
  const c = await FeedClient.connect(replica.url, await backends.token(userId));
  clients.push(c);
  return c;
}

function frameOf(text: string): FeedFrame {
  return { postId: randomUUID(), postText: text, author_user_id: 'previous-release-author', cursor: '1', createdAt: new Date().toISOString() };
}

/** Bindings of `queue` from the management API (the default exchange's implicit one left out). */
async function bindingKeys(queue: string): Promise<string[]> {
  const node = backends.rabbit.nodes[0]!;
  const auth = Buffer.from(`${backends.rabbit.username}:${backends.rabbit.password}`).toString('base64');
  const res = await fetch(`${node.managementUrl}/api/queues/%2F/${encodeURIComponent(queue)}/bindings`, { headers: { authorization: `Basic ${auth}` } });
  assert.equal(res.status, 200);
  const rows = (await res.json()) as Array<{ source: string; routing_key: string }>;
  return rows.filter((b) => b.source === EXCHANGE).map((b) => b.routing_key).sort();
}

before(async () => {
  backends = await startAppBackends('app-rolling-update');
  replica = await backends.startReplica('new-release');
  const { rabbit } = backends;
  conn = await amqp.connect(`amqp://${encodeURIComponent(rabbit.username)}:${encodeURIComponent(rabbit.password)}@127.0.0.1:${rabbit.nodes[0]!.amqpPort}`);
  ch = await conn.createChannel();
  await ch.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
  db = new pg.Pool({ connectionString: backends.pg.url, max: 2 });
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await conn?.close().catch(() => undefined);
  await db?.end();
  await backends?.stop();
});

describe('rolling update from per-user bindings', () => {
  it('GIVEN followers on a previous-release replica and on a new one WHEN the new release publishes a post THEN each follower gets it once, wherever it is', async () => {
    const author = uniqueUser('author');
    const onOld = uniqueUser('on-old');
    const onNew = uniqueUser('on-new');
    await follow(onOld, author);
    await follow(onNew, author);
    const old = await startOldReplica([onOld]);
    const socket = await connect(onNew);
    try {
      const postId = await post(author, 'during the rollout');
      await socket.waitForPosts([postId]);
      const oldCopies = await copiesOf(old, postId, 'the post in the previous-release queue');
      assert.equal(oldCopies.length, 1, 'the old replica got one copy');
      assert.ok(oldCopies[0]!.recipients.includes(onOld), 'and it lists its follower');
      assert.deepEqual(oldCopies[0]!.cc?.length, oldCopies[0]!.recipients.length - 1, 'while a previous-release replica is live, every other recipient key rides in CC');
      assert.equal(socket.frames.filter((f) => f.postId === postId).length, 1, 'the new replica delivered once');
    } finally {
      await finishRollout();
    }
  });

  it('GIVEN no previous-release replica is live WHEN a post goes out THEN its chunk carries one routing key and no CC (the slow part of topic routing), and still reaches every follower', async () => {
    const author = uniqueUser('author');
    const followers = [uniqueUser('a'), uniqueUser('b'), uniqueUser('c')];
    for (const f of followers) await follow(f, author);
    const sockets = await Promise.all(followers.map((f) => connect(f)));
    const probe = await recordQueue(replicaQueueName(`probe-${randomUUID().slice(0, 8)}`), [ALL_USERS_BINDING_KEY]);

    const postId = await post(author, 'after the rollout');
    await Promise.all(sockets.map((s) => s.waitForPosts([postId])));
    const [chunk] = await copiesOf(probe, postId, 'the chunk in a probe queue bound to every user');
    assert.deepEqual([...chunk!.recipients].sort(), [...followers].sort());
    assert.equal(chunk!.cc, undefined);
  });

  it('GIVEN a follower on a new replica WHEN a previous-release relay publishes a CC chunk and an older one a per-follower message THEN the follower gets both once', async () => {
    const follower = uniqueUser('follower');
    const elsewhere = uniqueUser('elsewhere');
    const socket = await connect(follower);
    const chunk = frameOf('CC chunk from the previous release');
    const perFollower = frameOf('per-follower message from the release before');
    const confirm = await conn.createConfirmChannel();
    const opts = { persistent: true, contentType: 'application/json' };
    // The previous release routed a chunk by its first recipient's key plus the others' in CC.
    confirm.publish(EXCHANGE, userRoutingKey(elsewhere), encodeBatchedBody(chunk, [elsewhere, follower]), { ...opts, messageId: chunk.postId, CC: [userRoutingKey(follower)] });
    confirm.publish(EXCHANGE, userRoutingKey(follower), Buffer.from(JSON.stringify(perFollower)), { ...opts, messageId: perFollower.postId });
    await confirm.waitForConfirms();
    await confirm.close();

    await socket.waitForPosts([chunk.postId, perFollower.postId]);
    for (const id of [chunk.postId, perFollower.postId]) assert.equal(socket.frames.filter((f) => f.postId === id).length, 1, `${id} once`);
  });

  it('GIVEN a new replica WHEN sockets of many users open and close THEN its queue keeps the same two bindings: every user, and its own delivery canary', async () => {
    const queue = replicaQueueName('new-release');
    const expected = [canaryRoutingKey('new-release'), ALL_USERS_BINDING_KEY].sort();
    const users = Array.from({ length: 40 }, (_, i) => uniqueUser(`u${i}`));
    const sockets = await Promise.all(users.map((u) => connect(u)));
    assert.deepEqual(await bindingKeys(queue), expected);
    await Promise.all(sockets.map((s) => s.close()));
    assert.deepEqual(await bindingKeys(queue), expected);
  });
});

describe('open means subscribed', () => {
  it('GIVEN a replica whose queue was never declared (no broker reachable) WHEN a socket opens THEN the upgrade is refused with 503, while HTTP still serves', async () => {
    const nowhere = await freePort();
    const cutOff = await backends.startReplica('never-declared', { [AppEnv.AMQP_URLS]: `amqp://127.0.0.1:${nowhere}` });
    const token = await backends.token(uniqueUser('early'));
    await assert.rejects(FeedClient.connect(cutOff.url, token), (e: unknown) => e instanceof UpgradeRefused && e.status === 503);
    const r = await callApi(cutOff.url, 'GET', `${Routes.FEED}?offset=0&limit=1`, { token });
    assert.equal(r.status, 200);
  });
});
