/**
 * The delivery canary on a real 3-node RabbitMQ cluster (quorum queues): SIGSTOP the node a
 * replica's connection is on. The TCP connection stays up and nothing errors; the canary's confirm
 * stops coming, so within its own bound the replica reports not-ready, moves its connection to
 * another node (never the paused one), turns ready again, sends its sockets to replay what the old
 * consumer held, and a post created after the pause reaches its follower there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import { AppEnv, CloseCodes, QueueMode, replicaQueueArguments, replicaQueueName, Routes, sleep, waitFor } from '../../shared/index.js';
import type { FeedApp } from '../../app/src/index.js';
import { probeNode } from '../../app/src/amqp/node-probe.js';
import { progress } from '../../scripts/local/process.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi, FeedClient } from '../support/feed-client.js';

const QUEUE_EXPIRES_MS = 600_000;
/** Canary interval + timeout + a reconnect, with room for a loaded 2-core machine. */
const MOVE_BOUND_MS = 15_000;
const PAUSED = 1;

let backends: AppBackends;
/** Node hash (what the app reports) → node index, from a probe straight to each node. */
const nodeIndex = new Map<string, number>();
const clients: FeedClient[] = [];

async function metric(app: FeedApp, name: string): Promise<number> {
  const text = await (await fetch(new URL(Routes.METRICS, app.url))).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm');
  let sum = 0;
  for (const hit of text.matchAll(m)) sum += Number(hit[1]);
  return sum;
}

/** Polls /readyz every 100 ms and records each change of status with its time. */
function watchReadiness(app: FeedApp): { transitions: Array<{ at: number; status: number; body: unknown }>; stop: () => Promise<void> } {
  const transitions: Array<{ at: number; status: number; body: unknown }> = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const r = await callApi(app.url, 'GET', Routes.READY).catch(() => undefined);
      if (r && transitions.at(-1)?.status !== r.status) transitions.push({ at: Date.now(), status: r.status, body: r.body });
      await sleep(100);
    }
  })();
  return {
    transitions,
    stop: async () => {
      on = false;
      await loop;
    },
  };
}

before(async () => {
  backends = await startAppBackends('app-canary', 3);
  for (const node of backends.rabbit.nodes) {
    const conn = await amqp.connect(node.amqpUrl);
    try {
      const hash = await probeNode(conn, 5000);
      assert.ok(hash, `node ${node.index} answered the probe with a readable address`);
      nodeIndex.set(hash, node.index);
    } finally {
      await conn.close();
    }
  }
  assert.equal(nodeIndex.size, 3, 'each node has its own hash');
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await backends?.stop();
});

describe('delivery canary', () => {
  it('GIVEN a replica on node 1 with its quorum queue led from node 0 WHEN node 1 is SIGSTOPped THEN within the bound it is not ready, moves to another node, is ready again and delivers a post created after the pause', async () => {
    const label = 'canary-a';
    // Leader on node 0 (client-local placement), so the pause hits the connection's node only.
    const conn = await amqp.connect(backends.rabbit.nodes[0]!.amqpUrl);
    await (await conn.createChannel()).assertQueue(replicaQueueName(label), { durable: true, arguments: replicaQueueArguments(QueueMode.QUORUM, QUEUE_EXPIRES_MS) });
    await conn.close();
    const consumerSide = await backends.startReplica(label, { [AppEnv.QUEUE_MODE]: QueueMode.QUORUM, [AppEnv.QUEUE_EXPIRES_MS]: String(QUEUE_EXPIRES_MS), [AppEnv.AMQP_URLS]: backends.amqpUrls(1, 2, 0) });
    const writerSide = await backends.startReplica(`${label}-writer`, { [AppEnv.QUEUE_MODE]: QueueMode.QUORUM, [AppEnv.AMQP_URLS]: backends.amqpUrls(2, 0) });
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    assert.equal((await callApi(writerSide.url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(follower) })).status, 200);
    const socket = await FeedClient.connect(consumerSide.url, await backends.token(follower));
    clients.push(socket);
    const token = await backends.token(author);

    await waitFor('a canary round trip before the pause', async () => ((await metric(consumerSide, 'feed_canary_round_trip_seconds')) > 0 ? true : undefined), { timeoutMs: 15_000 });
    const before = consumerSide.amqpNode();
    assert.equal(nodeIndex.get(before ?? ''), PAUSED, 'the replica is connected to node 1 (first URL)');
    const first = await callApi<{ id: string }>(writerSide.url, 'POST', Routes.POST_CREATE, { token, body: { text: 'before the pause' } });
    await socket.waitForPosts([first.body.id], 15_000);

    const readiness = watchReadiness(consumerSide);
    const pausedAt = Date.now();
    backends.rabbit.pauseNode(PAUSED);
    progress(`app-canary: SIGSTOP node ${PAUSED} (the replica's connection)`);
    try {
      const post = await callApi<{ id: string }>(writerSide.url, 'POST', Routes.POST_CREATE, { token, body: { text: 'after the pause' } });
      assert.equal(post.status, 200);
      await waitFor('the replica on another node, ready again', async () => {
        const node = consumerSide.amqpNode();
        const last = readiness.transitions.at(-1);
        return node !== undefined && node !== before && last?.status === 200 && readiness.transitions.some((t) => t.status === 503) ? true : undefined;
      }, { timeoutMs: MOVE_BOUND_MS, intervalMs: 50 });
      const movedAt = Date.now();
      // What the queue handed the old consumer is stuck on the paused node: the socket is sent to replay it.
      assert.equal(await socket.closed, CloseCodes.SERVICE_RESTART);
      const again = await FeedClient.connect(consumerSide.url, await backends.token(follower), { since: socket.lastCursor() });
      clients.push(again);
      await again.waitForPosts([post.body.id], MOVE_BOUND_MS - (Date.now() - pausedAt));
      const deliveredAt = Date.now();
      const live = await callApi<{ id: string }>(writerSide.url, 'POST', Routes.POST_CREATE, { token, body: { text: 'after the move' } });
      await again.waitForPosts([live.body.id], 5000);
      const liveAt = Date.now();
      await readiness.stop();

      const after = nodeIndex.get(consumerSide.amqpNode() ?? '');
      assert.notEqual(after, undefined, 'the new node is one of the cluster');
      assert.notEqual(after, PAUSED, 'never back on the paused node');
      const notReady = readiness.transitions.find((t) => t.status === 503)!;
      assert.match(JSON.stringify(notReady.body), /silent|"amqp":false/, 'readyz says why');
      assert.ok((await metric(consumerSide, 'feed_canary_failures_total')) >= 1, 'the failure is counted');
      assert.ok((await metric(consumerSide, 'feed_amqp_node_moves_total')) >= 1, 'the move is counted');
      progress(
        `app-canary: not ready after ${notReady.at - pausedAt} ms (${JSON.stringify(notReady.body)}), ready on node ${after} after ${movedAt - pausedAt} ms, ` +
          `post delivered after ${deliveredAt - pausedAt} ms (replay), next post live in ${liveAt - deliveredAt} ms; readyz transitions ${readiness.transitions.map((t) => `${t.status}@+${t.at - pausedAt}ms`).join(' ')}`,
      );
    } finally {
      await readiness.stop();
      backends.rabbit.resumeNode(PAUSED);
    }
    await backends.rabbit.waitForNode(PAUSED, 120_000);
  });
});
