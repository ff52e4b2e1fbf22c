/**
 * Mirrored mode on a 3-node cluster: the replica queue's master dies while the replica consumes
 * through a mirror. The consumer is cancelled (x-cancel-on-ha-failover), re-subscribes on the same
 * connection, and every acknowledged post still reaches every follower.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import amqp from 'amqplib';
import { AppEnv, QueueMode, replicaQueueArguments, replicaQueueName, Routes, sleep, waitFor } from '../../shared/index.js';
import type { FeedApp } from '../../app/src/index.js';
import { progress } from '../../scripts/local/process.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi, FeedClient } from '../support/feed-client.js';

const QUEUE_EXPIRES_MS = 600_000;
let backends: AppBackends;
let consumerSide: FeedApp;
let writerSide: FeedApp;
const clients: FeedClient[] = [];

async function metric(app: FeedApp, name: string): Promise<number> {
  const text = await (await fetch(new URL(Routes.METRICS, app.url))).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

before(async () => {
  backends = await startAppBackends('app-mirror-failover', 3);
  // Declare the consumer replica's queue through node 0 so its master lives there (client-local placement).
  const conn = await amqp.connect(backends.rabbit.nodes[0]!.amqpUrl);
  const ch = await conn.createChannel();
  await ch.assertQueue(replicaQueueName('mirror-consumer'), { durable: true, arguments: replicaQueueArguments(QueueMode.MIRRORED, QUEUE_EXPIRES_MS) });
  await conn.close();
  [consumerSide, writerSide] = await Promise.all([
    backends.startReplica('mirror-consumer', { [AppEnv.QUEUE_MODE]: QueueMode.MIRRORED, [AppEnv.QUEUE_EXPIRES_MS]: String(QUEUE_EXPIRES_MS), [AppEnv.AMQP_URLS]: backends.amqpUrls(1, 2) }),
    backends.startReplica('mirror-writer', { [AppEnv.QUEUE_MODE]: QueueMode.MIRRORED, [AppEnv.AMQP_URLS]: backends.amqpUrls(2, 1) }),
  ]);
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await backends?.stop();
});

it('GIVEN a replica consuming through a mirror WHEN the queue master node is killed THEN it re-subscribes without reconnecting and no acknowledged post is lost', async () => {
  const author = uniqueUser('author');
  const followers = ['m1', 'm2'].map(uniqueUser);
  for (const f of followers) assert.equal((await callApi(writerSide.url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(f) })).status, 200);
  const sockets = await Promise.all(followers.map(async (f) => FeedClient.connect(consumerSide.url, await backends.token(f))));
  clients.push(...sockets);

  const token = await backends.token(author);
  const acked: string[] = [];
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const r = await callApi<{ id: string }>(writerSide.url, 'POST', Routes.POST_CREATE, { token, body: { text: `mirrored ${i}` } });
      assert.equal(r.status, 200);
      acked.push(r.body.id);
      await sleep(20);
    }
  })();
  await waitFor('posts before the kill', async () => (acked.length >= 20 ? true : undefined), { timeoutMs: 30_000 });
  const reconnectsBefore = await metric(consumerSide, 'feed_amqp_reconnects_total');
  progress(`app-mirror-failover: killing node 0 (queue master) after ${acked.length} posts`);
  await backends.rabbit.killNode(0);
  const atKill = acked.length;
  await waitFor('posts after the kill', async () => (acked.length >= atKill + 40 ? true : undefined), { timeoutMs: 60_000 });
  writing = false;
  await writer;

  await Promise.all(sockets.map((s) => s.waitForPosts(acked, 90_000)));
  const ackedSet = new Set(acked);
  for (const [i, s] of sockets.entries()) {
    assert.deepEqual([...s.postIds()].filter((id) => !ackedSet.has(id)), [], `follower ${i}: nothing unexpected`);
    assert.equal(s.postIds().size, acked.length, `follower ${i}: every acknowledged post after dedupe`);
    progress(`app-mirror-failover: follower ${i} got ${s.frames.length} frames for ${acked.length} posts`);
  }
  assert.ok((await metric(consumerSide, 'feed_amqp_consumer_cancels_total')) >= 1, 'the broker cancelled the consumer on failover');
  assert.equal(await metric(consumerSide, 'feed_amqp_reconnects_total'), reconnectsBefore, 'the consumer recovered on its own connection');
});
