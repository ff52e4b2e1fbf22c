/**
 * The replica registry: a live replica deletes the queue of a replica whose heartbeat went stale
 * (a kill -9 leaves it bound with no consumer, which stalls mirrored-mode publisher confirms), but
 * never a queue that still has a consumer. And a replica whose own queue was deleted behind its
 * back (reaped, expired, deleted by hand) sends its sockets away with 1012 so they replay from
 * Postgres: no acknowledged post is lost.
 */
import assert from 'node:assert/strict';
import { createServer, Socket, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import amqp, { type ChannelModel } from 'amqplib';
import pg from 'pg';
import { AppEnv, CloseCodes, EXCHANGE, EXCHANGE_TYPE, QueueMode, replicaQueueArguments, replicaQueueName, Routes, sleep, userRoutingKey, waitFor } from '../../shared/index.js';
import type { FeedApp } from '../../app/src/index.js';
import { AmqpConnection } from '../../app/src/amqp/connection.js';
import { migrate } from '../../app/src/db/migrations.js';
import { QueueReapOutcome, ReplicaRegistry } from '../../app/src/db/replicas.js';
import { progress } from '../../scripts/local/process.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi, FeedClient } from '../support/feed-client.js';

const FAST_REAPER = { [AppEnv.REPLICA_HEARTBEAT_MS]: '200', [AppEnv.REPLICA_STALE_MS]: '1000' };
const QUEUE_EXPIRES_MS = 600_000;

let backends: AppBackends;
let db: pg.Pool;
let broker: ChannelModel;
let live: FeedApp;
const clients: FeedClient[] = [];
const extra: Array<() => Promise<unknown>> = [];

async function metric(app: FeedApp, name: string): Promise<number> {
  const text = await (await fetch(new URL(Routes.METRICS, app.url))).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Passive check on a throwaway channel (a 404 closes it). */
async function queueExists(queue: string): Promise<boolean> {
  const ch = await broker.createChannel();
  ch.on('error', () => undefined);
  try {
    await ch.checkQueue(queue);
    await ch.close();
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return false;
    throw e;
  }
}

async function registryRow(replicaId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM replicas WHERE replica_id = $1', [replicaId]);
  return rowCount === 1;
}

/** A dead replica's leftovers: its queue (declared in `mode`) bound to `userId`, and a registry row whose heartbeat is an hour old. */
async function leaveDeadReplica(replicaId: string, userId: string, mode = QueueMode.MIRRORED): Promise<string> {
  const queue = replicaQueueName(replicaId);
  const ch = await broker.createChannel();
  await ch.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
  await ch.assertQueue(queue, { durable: true, arguments: replicaQueueArguments(mode, QUEUE_EXPIRES_MS) });
  await ch.bindQueue(queue, EXCHANGE, userRoutingKey(userId));
  await ch.close();
  await db.query(`INSERT INTO replicas (replica_id, queue_name, queue_mode, heartbeat_at) VALUES ($1, $2, $3, now() - interval '1 hour')`, [replicaId, queue, mode]);
  return queue;
}

/** The code the server closed `client` with (waits at most 60 s). */
function closeCodeOf(client: FeedClient): Promise<number> {
  return waitFor('the follower socket to be closed by the server', async () => client.closeCode, { timeoutMs: 60_000, intervalMs: 50 });
}

/** Follows `author` as `follower` and opens a socket on `app`. */
async function follow(app: FeedApp, follower: string, author: string): Promise<FeedClient> {
  assert.equal((await callApi(app.url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(follower) })).status, 200);
  const c = await FeedClient.connect(app.url, await backends.token(follower));
  clients.push(c);
  return c;
}

/** Posts as `author` through `app` until stopped (at the latest when the file ends); `stop` returns the acknowledged ids. */
function writer(app: FeedApp, author: string) {
  const acked: string[] = [];
  const failures: string[] = [];
  let writing = true;
  const done = (async () => {
    const token = await backends.token(author);
    for (let i = 0; writing; i++) {
      const r = await callApi<{ id: string }>(app.url, 'POST', Routes.POST_CREATE, { token, body: { text: `reaper ${i}` } }).catch((e: Error) => e);
      if (r instanceof Error || r.status !== 200) failures.push(r instanceof Error ? r.message : `HTTP ${r.status}`);
      else acked.push(r.body.id);
      await sleep(20);
    }
  })();
  extra.push(() => ((writing = false), done));
  return {
    acked,
    async until(n: number, what: string) {
      await waitFor(what, async () => (acked.length >= n ? true : undefined), { timeoutMs: 30_000 });
    },
    async stop() {
      writing = false;
      await done;
      assert.deepEqual(failures, [], 'no post creation failed');
      return [...acked];
    },
  };
}

/** A TCP relay to the broker that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private open = true;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    let proxy: CuttableProxy | undefined;
    const server = createServer((client) => {
      if (!proxy?.open) return void client.destroy();
      const upstream = new Socket();
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('error', () => undefined);
        s.once('close', () => {
          proxy?.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      upstream.connect(targetPort, '127.0.0.1', () => {
        client.pipe(upstream);
        upstream.pipe(client);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    proxy = new CuttableProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  cut(): void {
    this.open = false;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.open = true;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

before(async () => {
  backends = await startAppBackends('app-replica-reaper');
  broker = await amqp.connect(backends.rabbit.nodes[0]!.amqpUrl);
  db = new pg.Pool({ connectionString: backends.pg.url, max: 2 });
  live = await backends.startReplica('reaper-live', FAST_REAPER);
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await Promise.allSettled(extra.map((f) => f()));
  await broker?.close().catch(() => undefined);
  await db?.end();
  await backends?.stop();
});

describe('reaper', () => {
  it('GIVEN a stale registry row whose queue exists bound with no consumer WHEN a live replica reaps THEN the queue is deleted and the row removed', async () => {
    const before = await metric(live, 'feed_replica_queues_reaped_total');
    const queue = await leaveDeadReplica('reaper-dead', uniqueUser('orphan'));
    assert.equal(await queueExists(queue), true);

    await waitFor('the dead replica queue to be deleted', async () => ((await queueExists(queue)) ? undefined : true), { timeoutMs: 30_000 });
    await waitFor('the dead replica row to be removed', async () => ((await registryRow('reaper-dead')) ? undefined : true), { timeoutMs: 30_000 });
    assert.ok((await metric(live, 'feed_replica_queues_reaped_total')) > before, 'counted in feed_replica_queues_reaped_total');
    assert.equal(await registryRow(live.replicaId), true, 'the live replica keeps its own row');
  });

  it('GIVEN a stale registry row whose queue still has a consumer WHEN a live replica reaps THEN the queue and the row are kept, and reaped once the consumer is gone', async () => {
    const queue = await leaveDeadReplica('reaper-late', uniqueUser('late'));
    const consumerChannel = await broker.createChannel();
    await consumerChannel.consume(queue, () => undefined, { noAck: true });
    const before = await metric(live, 'feed_replica_reaps_deferred_total');

    // Two deferred rounds: the reaper saw the row at least twice and kept going past it.
    await waitFor('the reaper to defer the busy queue twice', async () => ((await metric(live, 'feed_replica_reaps_deferred_total')) >= before + 2 ? true : undefined), { timeoutMs: 30_000 });
    assert.equal(await queueExists(queue), true, 'a queue with a consumer is never deleted');
    assert.equal(await registryRow('reaper-late'), true, 'its row stays for the next round');

    await consumerChannel.close();
    await waitFor('the queue to be reaped once unused', async () => ((await queueExists(queue)) ? undefined : true), { timeoutMs: 30_000 });
    await waitFor('its row to be removed', async () => ((await registryRow('reaper-late')) ? undefined : true), { timeoutMs: 30_000 });
  });

  it('GIVEN stale quorum-mode rows, one queue unused and one consumed WHEN a live replica reaps THEN the unused one is deleted, the consumed one kept, and the reaper keeps its connection', async () => {
    const reconnects = await metric(live, 'feed_amqp_reconnects_total');
    const busy = await leaveDeadReplica('reaper-quorum-busy', uniqueUser('qbusy'), QueueMode.QUORUM);
    const consumerChannel = await broker.createChannel();
    await consumerChannel.consume(busy, () => undefined, { noAck: true });
    const deferred = await metric(live, 'feed_replica_reaps_deferred_total');
    const dead = await leaveDeadReplica('reaper-quorum-dead', uniqueUser('qdead'), QueueMode.QUORUM);

    await waitFor('the unused quorum queue to be deleted', async () => ((await queueExists(dead)) ? undefined : true), { timeoutMs: 30_000 });
    await waitFor('its row to be removed', async () => ((await registryRow('reaper-quorum-dead')) ? undefined : true), { timeoutMs: 30_000 });
    await waitFor('the consumed quorum queue to be deferred twice', async () => ((await metric(live, 'feed_replica_reaps_deferred_total')) >= deferred + 2 ? true : undefined), { timeoutMs: 30_000 });
    assert.equal(await queueExists(busy), true, 'a quorum queue with a consumer is never deleted');
    assert.equal(await registryRow('reaper-quorum-busy'), true);
    // Delete-if-unused on a quorum queue would have been a 540 that closes the reaper's connection.
    assert.equal(await metric(live, 'feed_amqp_reconnects_total'), reconnects, 'the reaping replica never lost its connection');
    assert.equal(live.brokerUp(), true);
    await consumerChannel.close();
  });

  it('GIVEN a replica WHEN it shuts down gracefully THEN its registry row is removed', async () => {
    const app = await backends.startReplica('reaper-graceful', FAST_REAPER);
    assert.equal(await registryRow('reaper-graceful'), true, 'registered at start');
    await app.close();
    assert.equal(await registryRow('reaper-graceful'), false);
    assert.equal(await queueExists(replicaQueueName('reaper-graceful')), false);
  });
});

describe('reaping waits for re-binding', () => {
  /**
   * A registry in a schema of its own: the replicas this file runs (live, and those of other tests)
   * heartbeat and bind in the shared table, and one bind within the quiet time would hold every row back.
   */
  async function isolatedRegistry(): Promise<{ registry: ReplicaRegistry; pool: pg.Pool; drop(): Promise<void> }> {
    const schema = `reap_wait_${Date.now()}`;
    await db.query(`CREATE SCHEMA ${schema}`);
    const pool = new pg.Pool({ connectionString: backends.pg.url, max: 2, options: `-c search_path=${schema}` });
    const client = await pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
    return {
      registry: new ReplicaRegistry(pool),
      pool,
      async drop() {
        await pool.end();
        await db.query(`DROP SCHEMA ${schema} CASCADE`);
      },
    };
  }

  it('GIVEN a stale row WHEN another live replica bound a user within the quiet time THEN the row is not handed out until bindings calm down or the deferral runs out', async () => {
    const { registry, pool, drop } = await isolatedRegistry();
    try {
      const [dead, busy] = ['reap-wait-dead', 'reap-wait-busy'];
      const policy = { quietMs: 10_000, maxDeferMs: 60_000 };
      await registry.heartbeat(dead, replicaQueueName(dead), QueueMode.MIRRORED);
      await pool.query(`UPDATE replicas SET heartbeat_at = now() - interval '20 s' WHERE replica_id = $1`, [dead]);
      await registry.heartbeat(busy, replicaQueueName(busy), QueueMode.MIRRORED, 500);
      const whileBusy: string[] = [];
      await registry.reapStale('nobody', 5_000, async (r) => (whileBusy.push(r.replicaId), QueueReapOutcome.IN_USE), 100, policy);
      assert.ok(!whileBusy.includes(dead), 'a stale row was handed out while a live replica was re-binding');
      await registry.heartbeat(busy, replicaQueueName(busy), QueueMode.MIRRORED, 30_000);
      const seen: string[] = [];
      await registry.reapStale('nobody', 5_000, async (r) => (seen.push(r.replicaId), QueueReapOutcome.IN_USE), 100, { ...policy, quietMs: 1_000 });
      assert.ok(seen.includes(dead), 'the stale row was not handed out once bindings were quiet');
      await registry.heartbeat(busy, replicaQueueName(busy), QueueMode.MIRRORED, 0);
      await pool.query(`UPDATE replicas SET heartbeat_at = now() - interval '2 min' WHERE replica_id = $1`, [dead]);
      const late: string[] = [];
      await registry.reapStale('nobody', 5_000, async (r) => (late.push(r.replicaId), QueueReapOutcome.IN_USE), 100, policy);
      assert.ok(late.includes(dead), 'the deferral did not run out after maxDeferMs');
    } finally {
      await drop();
    }
  });
});

describe('queue loss', () => {
  /** The follower's frames across the socket that was closed and the one that replayed with since. */
  async function assertNoLoss(first: FeedClient, second: FeedClient, acked: readonly string[]): Promise<void> {
    await second.waitForPosts(acked.filter((id) => !first.postIds().has(id)), 60_000);
    const got = new Set([...first.postIds(), ...second.postIds()]);
    const ackedSet = new Set(acked);
    assert.deepEqual(acked.filter((id) => !got.has(id)), [], 'every acknowledged post reached the follower');
    assert.deepEqual([...got].filter((id) => !ackedSet.has(id)), [], 'nothing that was not acknowledged');
  }

  it('GIVEN a follower on replica A WHEN A queue is deleted while A consumes THEN the socket closes with 1012 and a since reconnect gets every post', async () => {
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    const a = await backends.startReplica('loss-cancel', FAST_REAPER);
    const first = await follow(a, follower, author);
    const w = writer(live, author);
    await w.until(10, 'posts before the delete');
    await first.waitForPosts(w.acked.slice(0, 5));

    const ch = await broker.createChannel();
    await ch.deleteQueue(replicaQueueName(a.replicaId));
    await ch.close();
    progress(`app-replica-reaper: deleted ${replicaQueueName(a.replicaId)} under its consumer after ${w.acked.length} posts`);
    assert.equal(await closeCodeOf(first), CloseCodes.SERVICE_RESTART);

    const second = await FeedClient.connect(a.url, await backends.token(follower), { since: first.lastCursor()! });
    clients.push(second);
    await w.until(w.acked.length + 10, 'posts after the reconnect');
    const acked = await w.stop();
    await assertNoLoss(first, second, acked);
    assert.ok((await metric(a, 'feed_replica_queue_losses_total')) >= 1, 'counted in feed_replica_queue_losses_total');
  });

  it('GIVEN a follower on replica A WHEN A queue is deleted while A is disconnected and A reconnects THEN the socket closes with 1012 and a since reconnect gets the posts created meanwhile', async () => {
    const proxy = await CuttableProxy.start(backends.rabbit.nodes[0]!.amqpPort);
    extra.push(() => proxy.close());
    const author = uniqueUser('author');
    const follower = uniqueUser('follower');
    const a = await backends.startReplica('loss-reconnect', { ...FAST_REAPER, [AppEnv.AMQP_URLS]: `amqp://127.0.0.1:${proxy.port}` });
    const first = await follow(a, follower, author);
    const w = writer(live, author);
    await w.until(10, 'posts before the cut');
    await first.waitForPosts(w.acked.slice(0, 5));

    proxy.cut();
    await waitFor('replica A to see the broker gone', async () => (a.brokerUp() ? undefined : true), { timeoutMs: 30_000 });
    const ch = await broker.createChannel();
    await ch.deleteQueue(replicaQueueName(a.replicaId));
    await ch.close();
    const cutAt = w.acked.length;
    await w.until(cutAt + 10, 'posts while A is disconnected and its queue gone');
    progress(`app-replica-reaper: ${w.acked.length - cutAt} posts routed while ${replicaQueueName(a.replicaId)} was gone; restoring A's broker link`);
    assert.equal(first.closeCode, undefined, 'the socket stays open while only the broker is away');
    proxy.restore();

    assert.equal(await closeCodeOf(first), CloseCodes.SERVICE_RESTART);
    assert.equal(await queueExists(replicaQueueName(a.replicaId)), true, 'the queue is declared again');
    const second = await FeedClient.connect(a.url, await backends.token(follower), { since: first.lastCursor()! });
    clients.push(second);
    await w.until(w.acked.length + 10, 'posts after the reconnect');
    const acked = await w.stop();
    await assertNoLoss(first, second, acked);
  });
});

describe('publish channel renewal', () => {
  it('GIVEN a live connection WHEN its publish channel is renewed THEN the connection stays up and the new channel gets confirms', async () => {
    const conn = new AmqpConnection({ urls: [backends.rabbit.nodes[0]!.amqpUrl], log: pino({ level: 'silent' }) });
    extra.push(() => conn.close());
    let downs = 0;
    conn.on('down', () => downs++);
    conn.start();
    assert.equal(await conn.waitUp(30_000), true);
    const { publish: old, consume } = conn.channels!;
    const oldClosed = new Promise<void>((resolve) => old.once('close', () => resolve()));

    await conn.renewPublishChannel('test');
    await oldClosed;
    const renewed = conn.channels!;
    assert.notEqual(renewed.publish, old, 'a new confirm channel');
    assert.equal(renewed.consume, consume, 'the consume channel is untouched');
    await renewed.publish.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
    renewed.publish.publish(EXCHANGE, userRoutingKey(uniqueUser('nobody')), Buffer.from('{}'), { persistent: true });
    await renewed.publish.waitForConfirms();
    assert.equal(downs, 0, 'the connection was not dropped');
    assert.equal(conn.channels?.publish, renewed.publish);
  });
});
