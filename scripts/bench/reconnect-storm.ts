/**
 * `reconnect-storm`: an app replica holding N sockets is killed (-9); its clients reconnect to the
 * other replicas with `since` and catch up. Measures the time until all are back and until all
 * have the post made right after the kill, and the binding operations per second the broker
 * sustained while they re-bound (each socket open is one completed bind: the app binds before the
 * upgrade completes). The app has no broadcast mode, so per-user bindings are compared with a
 * broadcast binding (`user.*`, filtered locally) on the broker directly with amqplib.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { ALL_USERS_BINDING_KEY, EXCHANGE, EXCHANGE_TYPE, QueueMode, replicaQueueArguments, replicaQueueName, Routes, sleep, userRoutingKey, waitFor } from '../../shared/index.js';
import { mintToken } from '../chaos/workload.js';
import { HOLDER_HANDSHAKE_TIMEOUT_MS, startHolders, totalStatus, waitOpen, type Holder } from './holders.js';
import { api, follow, pool } from './load.js';
import { figure, type Figure } from './report.js';
import type { BenchStack } from './stack.js';
import { summarize, type Summary } from './stats.js';

export interface StormOptions {
  readonly sockets: number;
  readonly mode: QueueMode;
  /** Messages published per layout in the broker-side broadcast comparison. */
  readonly broadcastMessages: number;
  /** Binds timed per sample in the broker-side comparison (sequential; twice as many in parallel). */
  readonly bindSample: number;
  readonly timeoutS: number;
  readonly log: (line: string) => void;
}

/** Highest number of events in any 1-second bucket of ascending times. */
export function peakPerSecond(times: readonly number[]): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

export interface StormResult {
  readonly sockets: number;
  readonly reconnected: number;
  /** Connect attempts that failed during the storm (refused by the dead replica, handshake timeouts). */
  readonly failedAttempts: number;
  /** Client handshake timeout (s): a bind queue longer than this makes clients give up and retry elsewhere. */
  readonly handshakeTimeoutS: number;
  /** Kill → last socket re-opened on another replica (s). */
  readonly allReconnectedS: number;
  /** Kill → last socket received the post made right after the kill (s). */
  readonly allCaughtUpS: number;
  /** Re-opens (= completed binds) per second over the storm, and the best 1-second window. */
  readonly bindsPerSecondAvg: number;
  readonly bindsPerSecondPeak: number;
  /** Bindings reported by the surviving replicas' /metrics over time. */
}

export interface BroadcastComparison {
  /** Users the re-bind cost is projected for (the storm's socket count). */
  readonly users: number;
  /** Binds timed one after another on one channel (what one replica's re-bind path does). */
  readonly sequentialSample: number;
  readonly sequentialBindsPerSecond: number;
  /** Binds timed over {@link BIND_CHANNELS} channels at once (several replicas re-binding). */
  readonly parallelSample: number;
  readonly parallelBindsPerSecond: number;
  /** `users` binds at the sequential rate (seconds): one replica re-binding everyone. */
  readonly perUserBindS: number;
  /** One `user.*` bind. */
  readonly broadcastBindMs: number;
  /** Three replica queues; messages routed with per-user keys; copies the broker made per message. */
  readonly perUserCopiesPerMessage: number;
  readonly broadcastCopiesPerMessage: number;
  /** Publish → all copies consumed for `messages` messages (s). */
  readonly perUserDeliverS: number;
  readonly broadcastDeliverS: number;
  readonly messages: number;
  readonly publishConfirmMs: { readonly perUser: Summary; readonly broadcast: Summary };
}

async function runStorm(stack: BenchStack, opts: StormOptions): Promise<StormResult> {
  const run = randomBytes(3).toString('hex');
  const [a, b, c] = [
    await stack.startApp(`bench-storm-${run}-a`, { mode: opts.mode }),
    await stack.startApp(`bench-storm-${run}-b`, { mode: opts.mode }),
    await stack.startApp(`bench-storm-${run}-c`, { mode: opts.mode }),
  ];
  const author = `storm-${run}-author`;
  const users = Array.from({ length: opts.sockets }, (_, i) => `storm-${run}-u${i}`);
  opts.log(`reconnect-storm: ${users.length} users follow ${author}`);
  await pool(users, 32, async (u, i) => follow([b, c][i % 2]!.url, await mintToken(stack.jwtSecret, u), author));
  const authorToken = await mintToken(stack.jwtSecret, author);
  let holders: Holder[] = [];
  try {
    holders = await startHolders(`storm-${run}`, users, {
      targets: [a, b, c].map((x) => x.url.replace(/^http/, 'ws')),
      initialTarget: 0,
      path: Routes.FEED_SOCKET,
      auth: true,
      concurrency: 100,
      reconnect: true,
    }, join(stack.dir, 'storm'), stack.jwtSecret);
    const openS = await waitOpen(holders, users.length, opts.timeoutS * 1000, opts.log, 'reconnect-storm');
    opts.log(`reconnect-storm: ${users.length} sockets on ${a.replicaId} after ${Math.round(openS)} s; priming cursors`);
    const p1 = await api<{ id: string }>(b.url, 'POST', Routes.POST_CREATE, authorToken, { text: 'storm primer' });
    for (const h of holders) await h.setMarker(p1.id);
    await waitFor('primer post on every socket', async () => ((await totalStatus(holders)).marker >= users.length ? true : undefined), { timeoutMs: opts.timeoutS * 1000, intervalMs: 500 });

    const killedAt = Date.now();
    await a.process.kill9();
    opts.log(`reconnect-storm: killed ${a.replicaId} (pid ${a.process.pid}) holding ${users.length} sockets`);
    const p2 = await api<{ id: string }>(b.url, 'POST', Routes.POST_CREATE, authorToken, { text: 'storm catch-up marker' });
    for (const h of holders) await h.setMarker(p2.id);
    let lastLog = Date.now();
    await waitFor('every socket reconnected and caught up', async () => {
      const s = await totalStatus(holders);
      if (Date.now() - lastLog >= 5000) {
        lastLog = Date.now();
        opts.log(`reconnect-storm: ${s.reopenTimes.length}/${users.length} re-opened, ${s.marker} caught up`);
      }
      return s.open >= users.length && s.marker >= users.length ? s : undefined;
    }, { timeoutMs: opts.timeoutS * 1000, intervalMs: 250, onProgress: () => undefined });
    const s = await totalStatus(holders);
    const reopens = s.reopenTimes;
    const span = reopens.length > 1 ? (reopens[reopens.length - 1]! - reopens[0]!) / 1000 : 0;
    return {
      sockets: users.length,
      reconnected: reopens.length,
      failedAttempts: s.connectFailures,
      handshakeTimeoutS: HOLDER_HANDSHAKE_TIMEOUT_MS / 1000,
      allReconnectedS: Math.round(((reopens[reopens.length - 1] ?? killedAt) - killedAt) / 100) / 10,
      allCaughtUpS: Math.round((s.lastMarkerAt - killedAt) / 100) / 10,
      bindsPerSecondAvg: span > 0 ? Math.round(reopens.length / span) : reopens.length,
      bindsPerSecondPeak: peakPerSecond(reopens),
    };
  } finally {
    await Promise.allSettled(holders.map((h) => h.stop()));
    await stack.stopApps();
    // The survivors' reapers stopped with them: delete the killed replica's queue as they would have.
    // Left behind, bound to every user and without a consumer, a mirrored queue withholds the
    // confirms of whatever is published next (RabbitMQ 3.10).
    await deleteQueue(stack, replicaQueueName(a.replicaId)).catch((e: Error) => opts.log(`reconnect-storm: could not delete the killed replica's queue: ${e.message}`));
  }
}

async function deleteQueue(stack: BenchStack, queue: string): Promise<void> {
  const conn = await amqp.connect(stack.amqpUrl);
  try {
    const ch = await conn.createChannel();
    await ch.deleteQueue(queue);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Per-user bindings against one broadcast binding, on the broker directly. */
async function compareBroadcast(stack: BenchStack, opts: StormOptions): Promise<BroadcastComparison> {
  const run = randomBytes(3).toString('hex');
  const users = Array.from({ length: opts.sockets }, (_, i) => `bcast-${run}-u${i}`);
  const conn: ChannelModel = await amqp.connect(stack.amqpUrl);
  const pubConn: ChannelModel = await amqp.connect(stack.amqpUrl);
  const queues: string[] = [];
  try {
    const ch: Channel = await conn.createChannel();
    await ch.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
    const declare = async (name: string) => {
      const q = replicaQueueName(`bench-bcast-${opts.mode}-${run}-${name}`);
      await ch.assertQueue(q, { durable: true, exclusive: false, autoDelete: false, arguments: replicaQueueArguments(opts.mode, 600_000) });
      queues.push(q);
      return q;
    };
    // Bind cost, sampled (binds run at tens per second on a busy machine): one channel, then several.
    const seqKeys = users.slice(0, Math.min(users.length, opts.bindSample)).map(userRoutingKey);
    const parKeys = users.slice(seqKeys.length, seqKeys.length + Math.min(users.length, opts.bindSample * 2)).map(userRoutingKey);
    const perUserQ = await declare('bind-per-user');
    const seqS = await bindAll([ch], perUserQ, seqKeys);
    const bindChannels = await Promise.all(Array.from({ length: BIND_CHANNELS }, () => conn.createChannel()));
    const parS = parKeys.length > 0 ? await bindAll(bindChannels, perUserQ, parKeys) : seqS;
    const sequentialBindsPerSecond = seqKeys.length / seqS;
    const parallelBindsPerSecond = parKeys.length > 0 ? parKeys.length / parS : sequentialBindsPerSecond;
    const perUserBindS = users.length / sequentialBindsPerSecond;
    opts.log(`reconnect-storm/broadcast: binds ${Math.round(sequentialBindsPerSecond)}/s on one channel, ${Math.round(parallelBindsPerSecond)}/s over ${BIND_CHANNELS}; ${users.length} users ≈ ${perUserBindS.toFixed(1)} s on one channel`);
    const bq = await declare('bind-broadcast');
    const t1 = Date.now();
    await ch.bindQueue(bq, EXCHANGE, ALL_USERS_BINDING_KEY);
    const broadcastBindMs = Date.now() - t1;
    await ch.deleteQueue(perUserQ);
    await ch.deleteQueue(bq);

    // Delivery cost with three replicas: per-user keys reach one queue; `user.*` reaches all three.
    const pub: ConfirmChannel = await pubConn.createConfirmChannel();
    const layout = async (name: string, bind: (queues: string[]) => Promise<void>, keys: readonly string[]) => {
      const qs = [await declare(`${name}-0`), await declare(`${name}-1`), await declare(`${name}-2`)];
      await bind(qs);
      let consumed = 0;
      const consumers: Channel[] = [];
      for (const q of qs) {
        const cch = await conn.createChannel();
        await cch.prefetch(200);
        await cch.consume(q, (msg) => {
          if (!msg) return;
          consumed++;
          cch.ack(msg);
        });
        consumers.push(cch);
      }
      const confirmMs: number[] = [];
      const start = Date.now();
      const batch = 100;
      for (let i = 0; i < opts.broadcastMessages; i += batch) {
        const tb = Date.now();
        for (let k = i; k < Math.min(opts.broadcastMessages, i + batch); k++) {
          pub.publish(EXCHANGE, keys[k % keys.length]!, Buffer.from(`{"n":${k}}`), { persistent: true });
        }
        await pub.waitForConfirms();
        confirmMs.push(Date.now() - tb);
      }
      await waitFor(`${name}: every copy consumed`, async () => {
        await sleep(0);
        return consumed >= opts.broadcastMessages ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 20 });
      await sleep(300); // extra copies (broadcast) keep arriving after the first N
      const settled = consumed;
      const deliverS = (Date.now() - start - 300) / 1000;
      for (const cch of consumers) await cch.close().catch(() => undefined);
      for (const q of qs) await ch.deleteQueue(q).catch(() => undefined);
      return { copies: settled / opts.broadcastMessages, deliverS, confirmMs };
    };
    // Per-user layout over a subset of users (the messages cycle over them): binds are the slow part.
    const layoutUsers = users.slice(0, Math.min(users.length, opts.bindSample)).map(userRoutingKey);
    const perUser = await layout('deliver-per-user', async (qs) => {
      await bindAll(bindChannels, (i) => qs[i % 3]!, layoutUsers);
    }, layoutUsers);
    for (const bc of bindChannels) await bc.close().catch(() => undefined);
    const broadcast = await layout('deliver-broadcast', async (qs) => {
      for (const q of qs) await ch.bindQueue(q, EXCHANGE, ALL_USERS_BINDING_KEY);
    }, layoutUsers);
    return {
      users: users.length,
      sequentialSample: seqKeys.length,
      sequentialBindsPerSecond: Math.round(sequentialBindsPerSecond),
      parallelSample: parKeys.length,
      parallelBindsPerSecond: Math.round(parallelBindsPerSecond),
      perUserBindS: Math.round(perUserBindS * 100) / 100,
      broadcastBindMs,
      perUserCopiesPerMessage: Math.round(perUser.copies * 100) / 100,
      broadcastCopiesPerMessage: Math.round(broadcast.copies * 100) / 100,
      perUserDeliverS: Math.round(perUser.deliverS * 100) / 100,
      broadcastDeliverS: Math.round(broadcast.deliverS * 100) / 100,
      messages: opts.broadcastMessages,
      publishConfirmMs: { perUser: summarize(perUser.confirmMs), broadcast: summarize(broadcast.confirmMs) },
    };
  } finally {
    await Promise.allSettled([conn.close(), pubConn.close()]);
  }
}

/** Channels the parallel bind sample uses. */
export const BIND_CHANNELS = 4;

/** Binds `keys` to `queue`, spread over `channels` (each channel runs its binds one after another). */
async function bindAll(channels: readonly Channel[], queue: string | ((i: number) => string), keys: readonly string[]): Promise<number> {
  const t0 = Date.now();
  let next = 0;
  await Promise.all(
    channels.map(async (ch) => {
      for (let i = next++; i < keys.length; i = next++) await ch.bindQueue(typeof queue === 'string' ? queue : queue(i), EXCHANGE, keys[i]!);
    }),
  );
  return (Date.now() - t0) / 1000;
}

export async function runReconnectStorm(stack: BenchStack, opts: StormOptions): Promise<{ figures: Figure[]; details: { storm?: StormResult; broadcast?: BroadcastComparison; appHasBroadcastMode: false; errors: string[] } }> {
  const errors: string[] = [];
  let storm: StormResult | undefined;
  let broadcast: BroadcastComparison | undefined;
  try {
    storm = await runStorm(stack, opts);
    opts.log(`reconnect-storm: all ${storm.sockets} back after ${storm.allReconnectedS} s, caught up after ${storm.allCaughtUpS} s; ${storm.bindsPerSecondAvg} binds/s (peak ${storm.bindsPerSecondPeak})`);
  } catch (e) {
    errors.push(`storm: ${e instanceof Error ? e.message : String(e)}`);
    opts.log(`reconnect-storm: ERROR ${errors[errors.length - 1]}`);
  }
  try {
    broadcast = await compareBroadcast(stack, opts);
    opts.log(`reconnect-storm/broadcast: bind ${broadcast.users} keys ≈${broadcast.perUserBindS} s vs 1 wildcard ${broadcast.broadcastBindMs} ms; copies/msg ${broadcast.perUserCopiesPerMessage} vs ${broadcast.broadcastCopiesPerMessage}; deliver ${broadcast.messages} msgs ${broadcast.perUserDeliverS} s vs ${broadcast.broadcastDeliverS} s`);
  } catch (e) {
    errors.push(`broadcast comparison: ${e instanceof Error ? e.message : String(e)}`);
    opts.log(`reconnect-storm: ERROR ${errors[errors.length - 1]}`);
  }
  if (errors.length === 2) throw new Error(errors.join('; '));
  const figures: Figure[] = [
    figure({
      scenario: 'reconnect-storm',
      name: `kill -9 a replica with ${opts.sockets} sockets: all reconnected and caught up (${opts.mode})`,
      unit: 's',
      ours: storm?.allCaughtUpS,
      baseline: broadcast ? Math.round((broadcast.users / broadcast.parallelBindsPerSecond) * 10) / 10 : undefined,
      baselineName: `broker alone: ${opts.sockets} binds at the ${BIND_CHANNELS}-channel rate`,
      limit: 'clients back off 100 ms–3 s with jitter; each open does no broker work (routing by replica), then a Postgres replay query',
    }),
    figure({
      scenario: 'reconnect-storm',
      name: `sockets re-opened per second during the storm (ours, no bind each) vs amqplib binds over ${BIND_CHANNELS} channels (what per-user routing paid per socket)`,
      unit: 'per s',
      ours: storm?.bindsPerSecondAvg,
      baseline: broadcast?.parallelBindsPerSecond,
      baselineName: `amqplib bindQueue, ${BIND_CHANNELS} channels`,
      limit: 'the clients\' backoff and the replay queries; per-user bindings went through Mnesia on every node',
    }),
    figure({
      scenario: 'reconnect-storm',
      name: `re-bind cost on one channel: ${opts.sockets} per-user binds (projected from the sampled rate) vs 1 broadcast bind`,
      unit: 'ms',
      ours: broadcast ? Math.round(broadcast.perUserBindS * 1000) : undefined,
      baseline: broadcast?.broadcastBindMs,
      baselineName: `broadcast ${ALL_USERS_BINDING_KEY}`,
      limit: 'broadcast pays instead at delivery: every message is copied to every replica queue',
    }),
    figure({
      scenario: 'reconnect-storm',
      name: `broker copies per message with 3 replicas: per-user vs broadcast (${opts.broadcastMessages} msgs)`,
      unit: 'copies',
      ours: broadcast?.perUserCopiesPerMessage,
      baseline: broadcast?.broadcastCopiesPerMessage,
      baselineName: `broadcast ${ALL_USERS_BINDING_KEY}`,
      limit: `delivery time ${broadcast?.perUserDeliverS ?? '-'} s (per-user) vs ${broadcast?.broadcastDeliverS ?? '-'} s (broadcast)`,
    }),
  ];
  return { figures, details: { ...(storm ? { storm } : {}), ...(broadcast ? { broadcast } : {}), appHasBroadcastMode: false, errors } };
}
