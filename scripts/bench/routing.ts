/**
 * `routing`: how a post's CC-batched chunks reach R replica queues under three routing designs,
 * measured with amqplib on the real cluster (queues declared like replica queues, so the `^post_feed`
 * policy mirrors them in mirrored mode):
 *
 * - broadcast: every queue bound `user.#`; chunks keep the followers' `user.{id}` keys (routing key
 *   + `CC`), so every queue gets every chunk and its consumer keeps the recipients it holds;
 * - presence-routed: every queue bound `replica.{id}` once; a chunk carries the keys of the replicas
 *   that hold its recipients (routing key + `CC`), known from a presence record user → replica;
 * - per-user (today): every queue bound `user.{id}` of each of its users; chunks as in broadcast.
 * - broadcast-one-key (a variant): broadcast bindings, each chunk with its first key only, no `CC`
 *   (each CC key is matched against the topic bindings, `#` included, although one key reaches all).
 *
 * Per post it counts the copies the queues received, times publish+confirm and the consumers'
 * drain, and checks every follower got the post once. Separately: the connect cost of each design
 * (a bind+unbind on the broker, a presence upsert+delete in PostgreSQL, nothing) and the time to
 * bind every user (what the per-user design redoes after each AMQP reconnect).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import pg from 'pg';
import { CC_BATCH_MAX_RECIPIENTS, batchedMessages, chunkRecipients, type OutgoingMessage } from '../../app/src/amqp/publisher.js';
import type { OutboxEntry } from '../../app/src/db/store.js';
import { decodeFeedMessage, encodeBatchedBody, toFrame } from '../../app/src/ws/frame.js';
import { ALL_USERS_BINDING_KEY, EXCHANGE, EXCHANGE_TYPE, QueueMode, replicaQueueArguments, replicaQueueName, sleep, userRoutingKey, waitFor } from '../../shared/index.js';
import { figure, type Figure } from './report.js';
import type { BenchStack } from './stack.js';
import { summarize, type Summary } from './stats.js';

export enum RoutingDesign {
  BROADCAST = 'broadcast',
  /** Broadcast bindings, but each chunk published with one routing key and no `CC` (the body already lists the recipients). */
  BROADCAST_ONE_KEY = 'broadcast-one-key',
  PRESENCE = 'presence-routed',
  PER_USER = 'per-user',
}


/** Presence-routed: the one key each replica queue is bound to. */
export function presenceRoutingKey(replicaId: string): string {
  return `replica.${replicaId}`;
}

/**
 * The broker messages of one post in a design (pure). Broadcast and per-user publish what the app's
 * CcBatchPublisher publishes; presence-routed keeps its chunks and bodies but addresses each chunk to
 * the distinct replicas holding its recipients.
 */
export function designMessages(design: RoutingDesign, entry: OutboxEntry, replicaOf: (userId: string) => string): OutgoingMessage[] {
  if (design === RoutingDesign.BROADCAST_ONE_KEY) return batchedMessages(entry).map(({ routingKey, body }) => ({ routingKey, body }));
  if (design !== RoutingDesign.PRESENCE) return batchedMessages(entry);
  const frame = toFrame(entry.post);
  return chunkRecipients(entry.followerIds).map((chunk) => {
    const [first, ...rest] = [...new Set(chunk.map((u) => presenceRoutingKey(replicaOf(u))))];
    return { routingKey: first!, cc: rest, body: encodeBatchedBody(frame, chunk) };
  });
}

/** Copies the broker should route for one post's messages (pure): every queue per chunk for broadcast, else the distinct replicas of each chunk. */
export function expectedCopies(design: RoutingDesign, followerIds: readonly string[], replicaOf: (userId: string) => string, replicas: number): number {
  const chunks = chunkRecipients(followerIds);
  if (design === RoutingDesign.BROADCAST || design === RoutingDesign.BROADCAST_ONE_KEY) return chunks.length * replicas;
  return chunks.reduce((s, chunk) => s + new Set(chunk.map(replicaOf)).size, 0);
}

export interface RoutingOptions {
  readonly modes: readonly QueueMode[];
  readonly replicaCounts: readonly number[];
  readonly followerCounts: readonly number[];
  /** Measured posts per cell, after one warm-up post (not counted). */
  readonly postsPerCell: number;
  /** Sockets whose connect cost is sampled (one bind+unbind, one presence upsert+delete each). */
  readonly connectSamples: number;
  readonly log: (line: string) => void;
}

/** One (mode, R, F, design) cell. */
export interface RoutingCell {
  readonly mode: QueueMode;
  readonly replicas: number;
  readonly followers: number;
  readonly design: RoutingDesign;
  readonly posts: number;
  /** Messages published per post (chunks). */
  readonly messagesPerPost: number;
  /** Copies the queues received per post (measured). */
  readonly copiesPerPost: number;
  readonly expectedCopiesPerPost: number;
  /** Publish of every chunk until every confirm (ms). */
  readonly publishMs: Summary;
  /** Publish start until the last copy was consumed (ms). */
  readonly drainMs: Summary;
  readonly deliveriesPerPost: number;
}

/** Binding work of one (mode, R) set of queues. */
export interface BindCost {
  readonly mode: QueueMode;
  readonly replicas: number;
  /** Per-user: one bind per user, one after another on one channel (the app's re-bind path). */
  readonly perUserBinds: number;
  readonly perUserBindMs: number;
  readonly perUserBindEachMs: Summary;
  /** Broadcast: one `user.#` bind per queue. */
  readonly broadcastBinds: number;
  readonly broadcastBindMs: number;
}

/** What opening and closing one socket costs in each design. */
export interface ConnectCost {
  readonly mode: QueueMode;
  readonly samples: number;
  /** queue.bind + queue.unbind of one `user.{id}` (per-user). */
  readonly bindUnbindMs: Summary;
  /** Presence row upsert + delete, autocommit each (presence-routed). */
  readonly presenceUpsertDeleteMs?: Summary;
  /** Broker operations per open+close in broadcast: measured as none issued. */
  readonly broadcastBrokerOps: 0;
}

interface PostTrack {
  copies: number;
  deliveries: number;
  lastAt: number;
}

/** R replica queues with a consumer each that counts copies and local deliveries per post. */
interface QueueSet {
  readonly mode: QueueMode;
  readonly replicaIds: readonly string[];
  readonly queues: readonly string[];
  readonly tracks: Map<string, PostTrack>;
  readonly consumers: Channel[];
}

async function declareQueueSet(setup: Channel, conConn: ChannelModel, mode: QueueMode, run: string, replicas: number, localUsers: (r: number) => ReadonlySet<string>): Promise<QueueSet> {
  const replicaIds = Array.from({ length: replicas }, (_, r) => `bench-route-${mode}-${run}-r${replicas}-${r}`);
  const queues = replicaIds.map(replicaQueueName);
  const tracks = new Map<string, PostTrack>();
  const consumers: Channel[] = [];
  for (const [r, q] of queues.entries()) {
    await setup.assertQueue(q, { durable: true, exclusive: false, autoDelete: false, arguments: replicaQueueArguments(mode, 600_000) });
    const ch = await conConn.createChannel();
    await ch.prefetch(200);
    const local = localUsers(r);
    await ch.consume(q, (msg) => {
      if (!msg) return;
      const decoded = decodeFeedMessage(msg.content, msg.fields.routingKey);
      const t = decoded ? tracks.get(decoded.frame.postId) : undefined;
      if (t && decoded) {
        t.copies++;
        // The replica's hand-off: only the listed recipients it holds sockets of.
        for (const u of decoded.recipients) if (local.has(u)) t.deliveries++;
        t.lastAt = performance.now();
      }
      ch.ack(msg);
    });
    consumers.push(ch);
  }
  return { mode, replicaIds, queues, tracks, consumers };
}

async function deleteQueueSet(setup: Channel, set: QueueSet): Promise<void> {
  for (const ch of set.consumers) await ch.close().catch(() => undefined);
  for (const q of set.queues) await setup.deleteQueue(q).catch(() => undefined);
}

/** Publishes one post's messages, waits for the confirms and for every follower's delivery. */
async function measurePost(pub: ConfirmChannel, set: QueueSet, messages: readonly OutgoingMessage[], postId: string, followers: number): Promise<{ publishMs: number; drainMs: number; copies: number; deliveries: number }> {
  const track: PostTrack = { copies: 0, deliveries: 0, lastAt: 0 };
  set.tracks.set(postId, track);
  const t0 = performance.now();
  for (const m of messages) {
    const ok = pub.publish(EXCHANGE, m.routingKey, m.body, { persistent: true, contentType: 'application/json', messageId: postId, ...(m.cc && m.cc.length > 0 ? { CC: [...m.cc] } : {}) });
    if (!ok) await new Promise<void>((r) => pub.once('drain', () => r()));
  }
  await pub.waitForConfirms();
  const publishMs = performance.now() - t0;
  await waitFor(`post ${postId}: ${followers} deliveries`, async () => (track.deliveries >= followers ? true : undefined), { timeoutMs: 30_000, intervalMs: 2, onProgress: () => undefined });
  await sleep(20); // stray extra copies show up before counting
  set.tracks.delete(postId);
  return { publishMs, drainMs: track.lastAt - t0, copies: track.copies, deliveries: track.deliveries };
}

/** Binds the design's keys; returns the time each bind took. */
async function bindDesign(ch: Channel, set: QueueSet, design: RoutingDesign, users: readonly string[], replicaOf: (u: string) => number): Promise<number[]> {
  const each: number[] = [];
  const bind = async (q: string, key: string) => {
    const t0 = performance.now();
    await ch.bindQueue(q, EXCHANGE, key);
    each.push(performance.now() - t0);
  };
  if (design === RoutingDesign.BROADCAST) for (const q of set.queues) await bind(q, ALL_USERS_BINDING_KEY);
  else if (design === RoutingDesign.PRESENCE) for (const [r, q] of set.queues.entries()) await bind(q, presenceRoutingKey(set.replicaIds[r]!));
  else for (const u of users) await bind(set.queues[replicaOf(u)]!, userRoutingKey(u));
  return each;
}

/** Removes the design's fixed bindings (per-user bindings go with the queues). */
async function unbindDesign(ch: Channel, set: QueueSet, design: RoutingDesign): Promise<void> {
  if (design === RoutingDesign.BROADCAST) for (const q of set.queues) await ch.unbindQueue(q, EXCHANGE, ALL_USERS_BINDING_KEY);
  if (design === RoutingDesign.PRESENCE) for (const [r, q] of set.queues.entries()) await ch.unbindQueue(q, EXCHANGE, presenceRoutingKey(set.replicaIds[r]!));
}

/** Every design and follower count on one set of R queues. */
async function measureQueueSet(
  ch: Channel,
  pub: ConfirmChannel,
  set: QueueSet,
  users: readonly string[],
  replicaOf: (u: string) => number,
  opts: RoutingOptions,
): Promise<{ cells: RoutingCell[]; bind: BindCost }> {
  const R = set.queues.length;
  const cells: RoutingCell[] = [];
  let broadcastBinds: number[] = [];
  let perUserBinds: number[] = [];
  for (const design of [RoutingDesign.BROADCAST, RoutingDesign.BROADCAST_ONE_KEY, RoutingDesign.PRESENCE, RoutingDesign.PER_USER]) {
    const t0 = Date.now();
    // The one-key variant publishes onto the broadcast bindings, still in place.
    const binds = design === RoutingDesign.BROADCAST_ONE_KEY ? [] : await bindDesign(ch, set, design, users, replicaOf);
    opts.log(`routing/${set.mode} R=${R} ${design}: ${binds.length} bind(s) in ${Date.now() - t0} ms`);
    if (design === RoutingDesign.BROADCAST) broadcastBinds = binds;
    if (design === RoutingDesign.PER_USER) perUserBinds = binds;
    for (const f of opts.followerCounts) {
      const followers = users.slice(0, f);
      const publishMs: number[] = [];
      const drainMs: number[] = [];
      let copies = 0;
      let deliveries = 0;
      let messages = 0;
      const replicaIdOf = (u: string) => set.replicaIds[replicaOf(u)]!;
      for (let p = -1; p < opts.postsPerCell; p++) {
        const postId = randomUUID();
        const entry: OutboxEntry = { outboxId: postId, post: { id: postId, authorId: 'route-author', text: 'x'.repeat(120), cursor: String(p + 2), createdAt: new Date().toISOString() }, followerIds: followers };
        const msgs = designMessages(design, entry, replicaIdOf);
        const r = await measurePost(pub, set, msgs, postId, f);
        if (p < 0) continue; // warm-up: the first post of a cell pays for cold paths (binding tables, queue processes)
        publishMs.push(r.publishMs);
        drainMs.push(r.drainMs);
        copies += r.copies;
        deliveries += r.deliveries;
        messages += msgs.length;
      }
      const per = (v: number) => Math.round((v / opts.postsPerCell) * 10) / 10;
      const cell: RoutingCell = {
        mode: set.mode,
        replicas: R,
        followers: f,
        design,
        posts: opts.postsPerCell,
        messagesPerPost: per(messages),
        copiesPerPost: per(copies),
        expectedCopiesPerPost: expectedCopies(design, followers, replicaIdOf, R),
        publishMs: summarize(publishMs),
        drainMs: summarize(drainMs),
        deliveriesPerPost: per(deliveries),
      };
      if (cell.deliveriesPerPost !== f) throw new Error(`routing/${set.mode} R=${R} F=${f} ${design}: ${cell.deliveriesPerPost} deliveries per post, expected ${f} (each follower once)`);
      cells.push(cell);
      opts.log(`routing/${set.mode} R=${R} F=${f} ${design}: ${cell.copiesPerPost} copies/post (expected ${cell.expectedCopiesPerPost}), publish+confirm p50 ${cell.publishMs.p50} p99 ${cell.publishMs.p99} ms, drain p50 ${cell.drainMs.p50} ms`);
    }
    if (design !== RoutingDesign.BROADCAST) await unbindDesign(ch, set, design === RoutingDesign.BROADCAST_ONE_KEY ? RoutingDesign.BROADCAST : design);
  }
  const sum = (xs: number[]) => Math.round(xs.reduce((s, v) => s + v, 0));
  return {
    cells,
    bind: { mode: set.mode, replicas: R, perUserBinds: perUserBinds.length, perUserBindMs: sum(perUserBinds), perUserBindEachMs: summarize(perUserBinds), broadcastBinds: broadcastBinds.length, broadcastBindMs: sum(broadcastBinds) },
  };
}

/** N sockets' worth of bind+unbind of a user key on one queue (what per-user does per open and close). */
async function sampleBindUnbind(ch: Channel, queue: string, run: string, samples: number): Promise<Summary> {
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) {
    const key = userRoutingKey(`route-conn-${run}-${i}`);
    const t0 = performance.now();
    await ch.bindQueue(queue, EXCHANGE, key);
    await ch.unbindQueue(queue, EXCHANGE, key);
    ms.push(performance.now() - t0);
  }
  return summarize(ms);
}

/** N sockets' worth of presence upsert + delete in a throwaway table of the bench database. */
async function samplePresence(stack: BenchStack, run: string, samples: number, replicaId: string): Promise<Summary> {
  const client = new pg.Client({ connectionString: stack.postgres.url });
  await client.connect();
  const table = client.escapeIdentifier(`bench_presence_${run}`);
  try {
    await client.query(`CREATE TABLE ${table} (user_id text PRIMARY KEY, replica_id text NOT NULL, seen_at timestamptz NOT NULL DEFAULT now())`);
    const ms: number[] = [];
    for (let i = 0; i < samples; i++) {
      const user = `route-conn-${run}-${i}`;
      const t0 = performance.now();
      await client.query(`INSERT INTO ${table} (user_id, replica_id) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET replica_id = EXCLUDED.replica_id, seen_at = now()`, [user, replicaId]);
      await client.query(`DELETE FROM ${table} WHERE user_id = $1 AND replica_id = $2`, [user, replicaId]);
      ms.push(performance.now() - t0);
    }
    return summarize(ms);
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/** Mean over follower counts of `design`'s / presence-routed's value at R replicas (pure); undefined without both. */
function meanRatio(cells: readonly RoutingCell[], replicas: number, pickValue: (c: RoutingCell) => number, design = RoutingDesign.BROADCAST): number | undefined {
  const ratios: number[] = [];
  for (const b of cells.filter((c) => c.replicas === replicas && c.design === design)) {
    const p = cells.find((c) => c.mode === b.mode && c.replicas === replicas && c.followers === b.followers && c.design === RoutingDesign.PRESENCE);
    if (p && pickValue(p) > 0) ratios.push(pickValue(b) / pickValue(p));
  }
  return ratios.length > 0 ? Math.round((ratios.reduce((s, v) => s + v, 0) / ratios.length) * 100) / 100 : undefined;
}

/**
 * One line per replica count saying what the numbers favour (pure): broadcast when its
 * publish+confirm stays within `tolerance` of presence-routed's (it then wins on connects: no write
 * at all), presence-routed otherwise, at the cost of its presence write per connect.
 */
export function routingConclusion(cells: readonly RoutingCell[], connect: readonly ConnectCost[], tolerance = 1.25): string[] {
  const presence = connect.find((c) => c.presenceUpsertDeleteMs !== undefined)?.presenceUpsertDeleteMs;
  const bind = connect[0]?.bindUnbindMs;
  const lines: string[] = [];
  for (const R of [...new Set(cells.map((c) => c.replicas))].sort((a, b) => a - b)) {
    const copies = meanRatio(cells, R, (c) => c.copiesPerPost);
    const publish = meanRatio(cells, R, (c) => Math.max(1, c.publishMs.p50));
    const drain = meanRatio(cells, R, (c) => Math.max(1, c.drainMs.p50));
    const oneKey = meanRatio(cells, R, (c) => Math.max(1, c.publishMs.p50), RoutingDesign.BROADCAST_ONE_KEY);
    if (publish === undefined) continue;
    const verdict =
      publish <= tolerance
        ? `broadcast (publish+confirm within ${Math.round((tolerance - 1) * 100)} % of presence-routed, and no write per connect)`
        : `presence-routed on delivery (broadcast ${publish}× its publish+confirm), paying ${presence ? `${presence.p50} ms p50` : 'one'} Postgres write pair per connect`;
    lines.push(
      `at ${R} replicas: broadcast/presence-routed copies ${copies ?? '-'}×, publish+confirm p50 ${publish}× (${oneKey ?? '-'}× with one routing key, no CC), drain p50 ${drain ?? '-'}× (mean over F) → favours ${verdict}`,
    );
  }
  if (bind) lines.push(`connect: per-user bind+unbind p50 ${bind.p50} ms p99 ${bind.p99} ms (replicated metadata), presence upsert+delete ${presence ? `p50 ${presence.p50} ms p99 ${presence.p99} ms` : '-'}, broadcast 0 operations`);
  return lines;
}

export interface RoutingDetails {
  readonly cells: RoutingCell[];
  readonly binds: BindCost[];
  readonly connect: ConnectCost[];
  readonly conclusion: string[];
  readonly chunkMaxRecipients: number;
}

export async function runRouting(stack: BenchStack, opts: RoutingOptions): Promise<{ figures: Figure[]; details: RoutingDetails }> {
  const cells: RoutingCell[] = [];
  const binds: BindCost[] = [];
  const connect: ConnectCost[] = [];
  const run = randomBytes(3).toString('hex');
  const maxF = Math.max(...opts.followerCounts);
  const users = Array.from({ length: maxF }, (_, j) => `route-${run}-u${j}`);
  const index = new Map(users.map((u, j) => [u, j]));
  for (const mode of opts.modes) {
    const conn: ChannelModel = await amqp.connect(stack.amqpUrl, { noDelay: true });
    const conConn: ChannelModel = await amqp.connect(stack.amqpUrl, { noDelay: true });
    try {
      const setup: Channel = await conn.createChannel();
      await setup.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
      const pub: ConfirmChannel = await conn.createConfirmChannel();
      for (const R of opts.replicaCounts) {
        // Followers spread uniformly: user j lives on replica j mod R.
        const replicaOf = (u: string) => index.get(u)! % R;
        const set = await declareQueueSet(setup, conConn, mode, run, R, (r) => new Set(users.filter((u) => replicaOf(u) === r)));
        try {
          const measured = await measureQueueSet(setup, pub, set, users, replicaOf, opts);
          cells.push(...measured.cells);
          binds.push(measured.bind);
          opts.log(`routing/${mode} R=${R}: ${measured.bind.perUserBinds} per-user binds took ${measured.bind.perUserBindMs} ms (p50 ${measured.bind.perUserBindEachMs.p50} ms each) vs ${measured.bind.broadcastBinds} broadcast binds ${measured.bind.broadcastBindMs} ms`);
        } finally {
          // Deleted before the next set: its per-user bindings would otherwise take copies of the next set's posts.
          await deleteQueueSet(setup, set);
        }
      }
      const connQueue = replicaQueueName(`bench-route-${mode}-${run}-connect`);
      await setup.assertQueue(connQueue, { durable: true, exclusive: false, autoDelete: false, arguments: replicaQueueArguments(mode, 600_000) });
      try {
        const bindUnbindMs = await sampleBindUnbind(setup, connQueue, run, opts.connectSamples);
        connect.push({ mode, samples: opts.connectSamples, bindUnbindMs, broadcastBrokerOps: 0 });
        opts.log(`routing/${mode} connect: bind+unbind of a user key p50 ${bindUnbindMs.p50} ms p99 ${bindUnbindMs.p99} ms over ${opts.connectSamples} sockets`);
      } finally {
        await setup.deleteQueue(connQueue).catch(() => undefined);
      }
    } finally {
      await Promise.allSettled([conn.close(), conConn.close()]);
    }
  }
  const presence = await samplePresence(stack, run, opts.connectSamples, `bench-route-${run}`);
  opts.log(`routing connect: presence upsert+delete p50 ${presence.p50} ms p99 ${presence.p99} ms over ${opts.connectSamples} sockets`);
  const connectCosts = connect.map((c, i) => (i === 0 ? { ...c, presenceUpsertDeleteMs: presence } : c));
  const conclusion = routingConclusion(cells, connectCosts);
  for (const line of conclusion) opts.log(`routing conclusion: ${line}`);
  return { figures: routingFigures(cells, binds, connectCosts, presence), details: { cells, binds, connect: connectCosts, conclusion, chunkMaxRecipients: CC_BATCH_MAX_RECIPIENTS } };
}

function routingFigures(cells: readonly RoutingCell[], binds: readonly BindCost[], connect: readonly ConnectCost[], presence: Summary): Figure[] {
  const figures: Figure[] = [];
  const cellOf = (mode: QueueMode, R: number, f: number, d: RoutingDesign) => cells.find((c) => c.mode === mode && c.replicas === R && c.followers === f && c.design === d);
  const vs = { baselineName: 'presence-routed' } as const;
  for (const b of cells.filter((c) => c.design === RoutingDesign.BROADCAST)) {
    const p = cellOf(b.mode, b.replicas, b.followers, RoutingDesign.PRESENCE);
    const u = cellOf(b.mode, b.replicas, b.followers, RoutingDesign.PER_USER);
    const at = `R=${b.replicas}, F=${b.followers}, ${b.mode}`;
    figures.push(
      figure({ scenario: 'routing', name: `broker copies per post, ${at} (broadcast vs presence-routed)`, unit: 'copies', ours: b.copiesPerPost, baseline: p?.copiesPerPost, ...vs, limit: `per-user (today) ${u?.copiesPerPost ?? '-'}; broadcast: every queue per chunk (${b.messagesPerPost} chunk(s) of ≤ ${CC_BATCH_MAX_RECIPIENTS})` }),
      figure({ scenario: 'routing', name: `publish+confirm per post p50, ${at} (broadcast vs presence-routed)`, unit: 'ms', ours: b.publishMs.p50, baseline: p?.publishMs.p50, ...vs, limit: `per-user (today) ${u?.publishMs.p50 ?? '-'} ms; a confirm waits for every queue (and mirror/Raft follower) the chunk went to` }),
      figure({ scenario: 'routing', name: `publish+confirm per post p99, ${at} (broadcast vs presence-routed)`, unit: 'ms', ours: b.publishMs.p99, baseline: p?.publishMs.p99, ...vs, limit: `per-user (today) ${u?.publishMs.p99 ?? '-'} ms; ${b.posts} posts per cell` }),
      figure({ scenario: 'routing', name: `consumer drain per post p50 (publish → last copy consumed), ${at} (broadcast vs presence-routed)`, unit: 'ms', ours: b.drainMs.p50, baseline: p?.drainMs.p50, ...vs, limit: `per-user (today) ${u?.drainMs.p50 ?? '-'} ms; every copy is decoded (recipient list) and filtered by its consumer` }),
    );
  }
  for (const b of cells.filter((c) => c.design === RoutingDesign.BROADCAST && c.followers === Math.max(...cells.map((x) => x.followers)))) {
    const one = cellOf(b.mode, b.replicas, b.followers, RoutingDesign.BROADCAST_ONE_KEY);
    figures.push(
      figure({
        scenario: 'routing',
        name: `broadcast publish+confirm per post p50, R=${b.replicas}, F=${b.followers}, ${b.mode}: one routing key (no CC) vs CC user keys`,
        unit: 'ms',
        ours: one?.publishMs.p50,
        baseline: b.publishMs.p50,
        baselineName: 'broadcast with CC user keys',
        limit: `same ${b.copiesPerPost} copies; each CC key is matched against the topic bindings although one key already reaches every queue bound ${ALL_USERS_BINDING_KEY}`,
      }),
    );
  }
  for (const b of binds) {
    figures.push(
      figure({
        scenario: 'routing',
        name: `bind every user, R=${b.replicas}, ${b.mode}: ${b.perUserBinds} per-user binds vs ${b.broadcastBinds} broadcast binds (one channel)`,
        unit: 'ms',
        ours: b.perUserBindMs,
        baseline: b.broadcastBindMs,
        baselineName: `broadcast ${ALL_USERS_BINDING_KEY} per queue`,
        limit: `per-user redoes this after every AMQP reconnect of a replica (p50 ${b.perUserBindEachMs.p50} ms per bind); presence-routed: ${b.broadcastBinds} binds like broadcast`,
      }),
    );
  }
  for (const c of connect) {
    figures.push(
      figure({
        scenario: 'routing',
        name: `connect cost p50 per socket open+close, ${c.mode}: per-user bind+unbind vs presence upsert+delete`,
        unit: 'ms',
        ours: c.bindUnbindMs.p50,
        baseline: presence.p50,
        baselineName: 'presence row in PostgreSQL',
        limit: `p99 ${c.bindUnbindMs.p99} vs ${presence.p99} ms over ${c.samples} sockets; broadcast: ${c.broadcastBrokerOps} operations; the twin's Postgres runs fsync=off`,
      }),
    );
  }
  return figures;
}
