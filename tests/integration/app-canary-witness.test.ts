/**
 * The canary witness on a real 3-node mirrored cluster. A node left without a majority still
 * serves its mirrored queues (their masters move to it) and confirms what is published there, which
 * an autoheal after a partition would discard; the quorum witness it cannot commit makes the
 * replica's canary silent, so the replica reports not-ready and its outbox relay publishes nothing
 * through that node until a majority is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppEnv, CANARY_WITNESS_BINDING_KEY, CANARY_WITNESS_QUEUE, EXCHANGE, PartitionHandling, QueueMode, resolveSpec, Routes, sleep, waitFor } from '../../shared/index.js';
import type { FeedApp } from '../../app/src/index.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi } from '../support/feed-client.js';

let backends: AppBackends;
let replica: FeedApp;

before(async () => {
  // autoheal: the witness defends against its minority that keeps serving (pause_minority's would pause).
  backends = await startAppBackends('app-witness', 3, resolveSpec({ rabbitmq: { partitionHandling: PartitionHandling.AUTOHEAL } }));
  replica = await backends.startReplica('witness-a', { [AppEnv.QUEUE_MODE]: QueueMode.MIRRORED, [AppEnv.AMQP_URLS]: backends.amqpUrls(0) });
});

after(async () => {
  await backends?.stop();
});

/** GET on node 0's management API, as JSON. */
async function management<T>(path: string): Promise<T> {
  const node = backends.rabbit.nodes[0]!;
  const auth = Buffer.from(`${backends.rabbit.username}:${backends.rabbit.password}`).toString('base64');
  const res = await fetch(`${node.managementUrl}${path}`, { headers: { authorization: `Basic ${auth}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
}

async function readiness(): Promise<{ status: number; body: { canary?: string; amqp?: boolean } }> {
  return callApi<{ canary?: string; amqp?: boolean }>(replica.url, 'GET', Routes.READY);
}

/** When the outbox row of post `id` was published, or null while it waits. */
async function publishedAt(id: string): Promise<Date | null> {
  const db = await backends.db();
  const { rows } = await db.query<{ published_at: Date | null }>('SELECT o.published_at FROM outbox o JOIN posts p ON p.cursor = o.post_cursor WHERE p.id = $1', [id]);
  assert.equal(rows.length, 1, 'the post has its outbox row');
  return rows[0]!.published_at;
}

describe('canary witness (mirrored mode)', () => {
  it('GIVEN a mirrored replica WHEN it has started THEN the witness is a quorum queue bound to every canary key and the replica is ready', async () => {
    await waitFor('the replica ready', async () => ((await readiness()).status === 200 ? true : undefined), { timeoutMs: 30_000 });
    const queue = await management<{ type: string }>(`/api/queues/%2F/${encodeURIComponent(CANARY_WITNESS_QUEUE)}`);
    assert.equal(queue.type, 'quorum');
    const bindings = await management<Array<{ source: string; routing_key: string }>>(`/api/queues/%2F/${encodeURIComponent(CANARY_WITNESS_QUEUE)}/bindings`);
    assert.ok(bindings.some((b) => b.source === EXCHANGE && b.routing_key === CANARY_WITNESS_BINDING_KEY), `bound to ${EXCHANGE} with ${CANARY_WITNESS_BINDING_KEY}: ${JSON.stringify(bindings)}`);
  });

  it('GIVEN two of three nodes stopped WHEN a post is created on the replica of the last node THEN it is not ready and the post stays unpublished until a majority is back', async () => {
    await Promise.all([backends.rabbit.stopNode(1), backends.rabbit.stopNode(2)]);
    // Connected (the last node is the only one left to land on) yet silent: a relay gated only on
    // the connection would publish from here on.
    await waitFor('the replica connected to the last node, its canary silent', async () => {
      const r = await readiness();
      return r.status === 503 && r.body.canary === 'silent' && r.body.amqp === true ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });

    const token = await backends.token(uniqueUser('witness-author'));
    const post = await callApi<{ id: string }>(replica.url, 'POST', Routes.POST_CREATE, { token, body: { text: 'while the last node has no majority' } });
    assert.equal(post.status, 200, 'the write path does not depend on the broker');
    // Held for several canary rounds: a relay gated only on "connected" would publish at once.
    for (let i = 0; i < 10; i++) {
      assert.equal(await publishedAt(post.body.id), null, `not published through a node without a majority (check ${i + 1} of 10)`);
      await sleep(500);
    }

    await backends.rabbit.startNode(1);
    await waitFor('the replica ready again', async () => ((await readiness()).status === 200 ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    await waitFor('the post published', async () => ((await publishedAt(post.body.id)) !== null ? true : undefined), { timeoutMs: 15_000, intervalMs: 200 });
  });
});
