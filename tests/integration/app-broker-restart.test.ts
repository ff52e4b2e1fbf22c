/**
 * The broker restarts while posts are being created: every acknowledged post still reaches every
 * connected follower, exactly once after dedupe by postId, and no write fails meanwhile. Replica A
 * uses a mirrored-mode (classic) queue, replica B a quorum queue, so both declare paths recover.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { AppEnv, QueueMode, Routes, sleep, waitFor } from '../../shared/index.js';
import type { FeedApp } from '../../app/src/index.js';
import { progress } from '../../scripts/local/process.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi, FeedClient } from '../support/feed-client.js';

let backends: AppBackends;
let replicaA: FeedApp;
let replicaB: FeedApp;
const clients: FeedClient[] = [];

before(async () => {
  backends = await startAppBackends('app-broker-restart');
  [replicaA, replicaB] = await Promise.all([
    backends.startReplica('restart-a', { [AppEnv.QUEUE_MODE]: QueueMode.MIRRORED }),
    backends.startReplica('restart-b', { [AppEnv.QUEUE_MODE]: QueueMode.QUORUM }),
  ]);
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await backends?.stop();
});

it('GIVEN followers on two replicas WHEN the broker restarts while posts are created THEN every acknowledged post reaches every follower exactly once after dedupe', async () => {
  const author = uniqueUser('author');
  const followers = ['f1', 'f2', 'f3', 'f4'].map(uniqueUser);
  for (const f of followers) {
    const r = await callApi(replicaA.url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(f) });
    assert.equal(r.status, 200);
  }
  const sockets = await Promise.all(followers.map(async (f, i) => FeedClient.connect((i % 2 === 0 ? replicaA : replicaB).url, await backends.token(f))));
  clients.push(...sockets);

  const authorToken = await backends.token(author);
  const acked: string[] = [];
  const failures: number[] = [];
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const r = await callApi<{ id: string }>((i % 2 === 0 ? replicaA : replicaB).url, 'POST', Routes.POST_CREATE, { token: authorToken, body: { text: `post ${i}` } });
      if (r.status === 200) acked.push(r.body.id);
      else failures.push(r.status);
      await sleep(20);
    }
  })();

  await waitFor('posts before the restart', async () => (acked.length >= 20 ? true : undefined), { timeoutMs: 30_000 });
  progress(`app-broker-restart: stopping the broker after ${acked.length} posts`);
  await backends.rabbit.stopNode(0);
  await waitFor('readyz reports the broker down', async () => {
    const r = await callApi<{ amqp: boolean }>(replicaA.url, 'GET', Routes.READY);
    return r.status === 503 && r.body.amqp === false ? true : undefined;
  }, { timeoutMs: 30_000 });
  const duringOutage = acked.length;
  await waitFor('posts during the outage', async () => (acked.length >= duringOutage + 20 ? true : undefined), { timeoutMs: 30_000 });
  progress(`app-broker-restart: starting the broker (${acked.length} posts acknowledged so far)`);
  await backends.rabbit.startNode(0);
  await waitFor('both replicas reconnected', async () => (replicaA.brokerUp() && replicaB.brokerUp() ? true : undefined), { timeoutMs: 60_000 });
  assert.equal((await callApi(replicaA.url, 'GET', Routes.READY)).status, 200);
  const afterRestart = acked.length;
  await waitFor('posts after the restart', async () => (acked.length >= afterRestart + 20 ? true : undefined), { timeoutMs: 30_000 });
  writing = false;
  await writer;
  progress(`app-broker-restart: ${acked.length} posts acknowledged; waiting for every follower`);

  assert.deepEqual(failures, [], 'a broker outage never fails a write');
  await Promise.all(sockets.map((s) => s.waitForPosts(acked, 90_000)));
  const ackedSet = new Set(acked);
  for (const [i, s] of sockets.entries()) {
    const unexpected = [...s.postIds()].filter((id) => !ackedSet.has(id));
    assert.deepEqual(unexpected, [], `follower ${i}: nothing that was not acknowledged`);
    assert.equal(s.postIds().size, acked.length, `follower ${i}: every acknowledged post once after dedupe`);
    assert.equal(s.closeCode, undefined, `follower ${i}: the socket stayed open through the broker restart`);
    progress(`app-broker-restart: follower ${i} got ${s.frames.length} frames for ${acked.length} posts (${s.frames.length - acked.length} duplicates)`);
  }
});
