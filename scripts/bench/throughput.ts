/**
 * `throughput`: posts created over the HTTP API and delivered to followers' WebSockets through the
 * three-node cluster, against the raw broker path (amqplib publish → consume through the same
 * HAProxy front, same message size, persistent, with confirms). Both sides are searched the same
 * way: the offered delivery rate doubles until a step is not sustained (undelivered items, a
 * backlog of more than a second of work, or a delivered rate below what was sent), then one
 * refinement step; latency p50/p99 is then measured at half the highest sustained rate.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import WebSocket from 'ws';
import { EXCHANGE, EXCHANGE_TYPE, QueueMode, replicaQueueArguments, replicaQueueName, Routes, sleep, userRoutingKey } from '../../shared/index.js';
import { mintToken } from '../chaos/workload.js';
import { api, benchPostText, follow, pace, parseBenchPostText, pool } from './load.js';
import { figure, type Figure } from './report.js';
import { coresByPart, cpuBetween, cpuSnapshot, stackParts, type AppReplica, type BenchStack, type CpuSnapshot } from './stack.js';
import { searchMaxRate, summarize, type RateSearch, type StepResult, type Summary } from './stats.js';

/** Sizes and timings of the throughput scenario. */
export interface ThroughputOptions {
  readonly modes: readonly QueueMode[];
  /** App replicas serving the sockets and the API. */
  readonly replicas: number;
  readonly authors: number;
  /** Followers per author (each post is delivered this many times). */
  readonly followersPerAuthor: number;
  /** Seconds of each search step. */
  readonly windowS: number;
  /** Longest drain after a step. */
  readonly drainS: number;
  /** Seconds of the latency run at half the highest sustained rate. */
  readonly latencyWindowS: number;
  readonly maxSteps: number;
  /** Bisection steps after the doubling overshoots: each halves the uncertainty of the maximum. */
  readonly refineSteps: number;
  /** First offered delivery rate of our search and of the raw search (deliveries/s). */
  readonly oursStartRate: number;
  readonly rawStartRate: number;
  readonly log: (line: string) => void;
}

/** A system a rate search can drive. */
interface Driver {
  /** Offered deliveries/s for windowS; returns the step's counts and the latencies of this step's deliveries. */
  step(offered: number, windowS: number, drainS: number): Promise<{ result: StepResult; latencies: number[] }>;
  close(): Promise<void>;
}

/** Pads post texts so our frames and the raw messages have the same size. */
const TEXT_PAD = 160;

/** A frame shaped like the app's (same keys, same text): the raw path's message body. */
export function rawFrameBody(tag: string, sentAt: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      postId: randomUUID(),
      postText: benchPostText(tag, sentAt, TEXT_PAD),
      author_user_id: 'tp-author-raw-000',
      cursor: String(1_000_000 + (sentAt % 1_000_000)),
      createdAt: new Date(sentAt).toISOString(),
    }),
  );
}

/** Counts one step's items: `started` as sends begin, `sent` as they succeed, `delivered` as frames arrive. */
class StepCounter {
  started = 0;
  sent = 0;
  failed = 0;
  firstError: string | undefined;
  delivered = 0;
  readonly latencies: number[] = [];

  constructor(readonly tag: string) {}

  onDelivery(tag: string, sentAt: number, at: number): void {
    if (tag !== this.tag) return;
    this.delivered++;
    this.latencies.push(at - sentAt);
  }

  async drain(maxS: number): Promise<number> {
    const t0 = Date.now();
    while (this.delivered < this.sent && Date.now() - t0 < maxS * 1000) await sleep(50);
    return Math.round((Date.now() - t0) / 100) / 10;
  }
}

/**
 * One step: sends at `offered / itemsPerSend` for `windowS`; at the window's end takes the backlog
 * (items whose send started but that were not delivered yet, so publisher-side queues count too),
 * then waits for the sends in flight and drains for at most `drainS`.
 */
async function runStep(counter: StepCounter, offered: number, windowS: number, drainS: number, itemsPerSend: number, maxInFlight: number, send: () => Promise<void>, parts: Readonly<Record<string, readonly number[]>>): Promise<{ result: StepResult; latencies: number[] }> {
  let atEnd = { started: 0, delivered: 0 };
  const pids = Object.values(parts).flat();
  const cpu0 = cpuSnapshot(pids);
  let cpu1: CpuSnapshot | undefined;
  const snapshot = setTimeout(() => {
    atEnd = { started: counter.started, delivered: counter.delivered };
    cpu1 = cpuSnapshot(pids);
  }, windowS * 1000);
  await pace(offered / itemsPerSend, windowS * 1000, maxInFlight, () => {
    counter.started += itemsPerSend;
    return send().catch((e: unknown) => {
      counter.failed++;
      counter.firstError ??= e instanceof Error ? e.message : String(e);
    });
  });
  clearTimeout(snapshot);
  if (atEnd.started === 0) {
    atEnd = { started: counter.started, delivered: counter.delivered };
    cpu1 = cpuSnapshot(pids);
  }
  const cpu = cpuBetween(cpu0, cpu1 ?? cpuSnapshot(pids));
  const drained = await counter.drain(drainS);
  return {
    result: {
      offered,
      sent: counter.sent,
      deliveredInWindow: atEnd.delivered,
      windowS,
      backlogAtEnd: Math.max(0, atEnd.started - atEnd.delivered),
      undelivered: Math.max(0, counter.sent - counter.delivered),
      drainS: drained,
      ...(counter.failed > 0 ? { failed: counter.failed, firstError: counter.firstError } : {}),
      machineCpuBusy: cpu.machineBusy,
      coresByPart: coresByPart(parts, cpu0, cpu1 ?? cpu0),
    },
    latencies: counter.latencies,
  };
}

/** Raw broker path: one confirm-channel publisher and one consumer (prefetch as the app) through HAProxy. */
async function rawDriver(stack: BenchStack, mode: QueueMode, prefetch: number): Promise<Driver> {
  const id = `bench-raw-${mode}-${randomBytes(3).toString('hex')}`;
  const queue = replicaQueueName(id);
  const key = userRoutingKey(id);
  const pubConn: ChannelModel = await amqp.connect(stack.amqpUrl);
  const conConn: ChannelModel = await amqp.connect(stack.amqpUrl);
  const pub: ConfirmChannel = await pubConn.createConfirmChannel();
  const con: Channel = await conConn.createChannel();
  await con.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
  await con.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false, arguments: replicaQueueArguments(mode, 600_000) });
  await con.bindQueue(queue, EXCHANGE, key);
  await con.prefetch(prefetch);
  let counter = new StepCounter('none');
  await con.consume(queue, (msg) => {
    if (!msg) return;
    const at = Date.now();
    try {
      const parsed = parseBenchPostText((JSON.parse(msg.content.toString('utf8')) as { postText?: unknown }).postText);
      if (parsed) counter.onDelivery(parsed.tag, parsed.sentAt, at);
    } finally {
      con.ack(msg);
    }
  });
  let stepNo = 0;
  return {
    async step(offered, windowS, drainS) {
      const c = (counter = new StepCounter(`${id}-s${++stepNo}`));
      return runStep(c, offered, windowS, drainS, 1, 2000, () => {
        const sentAt = Date.now();
        const i = c.started;
        return new Promise<void>((resolve, reject) => {
          pub.publish(EXCHANGE, key, rawFrameBody(c.tag, sentAt), { persistent: true, contentType: 'application/json', messageId: `${c.tag}-${i}` }, (err) => {
            if (err) return reject(err);
            c.sent++;
            resolve();
          });
        });
      }, stackParts(stack, []));
    },
    async close() {
      await con.deleteQueue(queue).catch(() => undefined);
      await Promise.allSettled([pubConn.close(), conConn.close()]);
    },
  };
}

/** Our path: authors post over HTTP (round-robin over the replicas), followers read their sockets. */
async function oursDriver(stack: BenchStack, mode: QueueMode, opts: ThroughputOptions): Promise<{ driver: Driver; apps: AppReplica[] }> {
  const run = randomBytes(3).toString('hex');
  const apps: AppReplica[] = [];
  for (let i = 0; i < opts.replicas; i++) apps.push(await stack.startApp(`bench-tp-${mode}-${run}-${i}`, { mode }));
  const authors = Array.from({ length: opts.authors }, (_, a) => `tp-${run}-a${a}`);
  const followers = authors.flatMap((a) => Array.from({ length: opts.followersPerAuthor }, (_, f) => ({ user: `${a}-f${f}`, author: a })));
  const tokens = new Map<string, string>();
  for (const u of [...authors, ...followers.map((f) => f.user)]) tokens.set(u, await mintToken(stack.jwtSecret, u));
  opts.log(`throughput/${mode}: ${apps.length} replicas up; setting ${followers.length} follows`);
  await pool(followers, 16, async (f, i) => follow(apps[i % apps.length]!.url, tokens.get(f.user)!, f.author));

  let counter = new StepCounter('none');
  const sockets: WebSocket[] = [];
  await pool(followers, 32, async (f, i) => {
    const url = new URL(Routes.FEED_SOCKET, apps[i % apps.length]!.url.replace(/^http/, 'ws'));
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${tokens.get(f.user)}` }, handshakeTimeout: 10_000 });
    sockets.push(ws);
    ws.on('message', (data) => {
      const at = Date.now();
      const parsed = parseBenchPostText((JSON.parse(String(data)) as { postText?: unknown }).postText);
      if (parsed) counter.onDelivery(parsed.tag, parsed.sentAt, at);
    });
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  });
  opts.log(`throughput/${mode}: ${sockets.length} follower sockets open`);

  let stepNo = 0;
  let next = 0;
  const driver: Driver = {
    async step(offered, windowS, drainS) {
      const c = (counter = new StepCounter(`tp-${run}-s${++stepNo}`));
      return runStep(c, offered, windowS, drainS, opts.followersPerAuthor, 256, async () => {
        const n = next++;
        const author = authors[n % authors.length]!;
        const app = apps[n % apps.length]!;
        await api(app.url, 'POST', Routes.POST_CREATE, tokens.get(author)!, { text: benchPostText(c.tag, Date.now(), TEXT_PAD) });
        c.sent += opts.followersPerAuthor;
      }, stackParts(stack, apps));
    },
    async close() {
      for (const ws of sockets) ws.terminate();
    },
  };
  // Prime: one post per author reaches every follower, so the bindings and the path are warm.
  const primed = await driver.step(Math.max(opts.followersPerAuthor, authors.length * opts.followersPerAuthor), 1, 30);
  if (primed.result.undelivered > 0) throw new Error(`throughput/${mode}: ${primed.result.undelivered} primer deliveries missing after 30 s`);
  return { driver, apps };
}

/** Details of one side (ours or raw) in one mode. */
export interface SideResult {
  readonly search: RateSearch;
  /** Latency at half the highest sustained rate (ms, send → receive on the client clock). */
  readonly latencyAtHalf?: { readonly offered: number; readonly deliveredRate: number; readonly latencyMs: Summary };
}

async function measureSide(name: string, driver: Driver, startRate: number, opts: ThroughputOptions): Promise<SideResult> {
  opts.log(`${name}: searching the highest sustained rate from ${startRate}/s`);
  const search = await searchMaxRate(async (rate) => (await driver.step(rate, opts.windowS, opts.drainS)).result, { startRate, maxSteps: opts.maxSteps, refineSteps: opts.refineSteps }, opts.log);
  opts.log(`${name}: highest sustained ${search.maxSustainedRate}/s (${search.limit})`);
  if (search.maxSustainedOffered === 0) return { search };
  const half = Math.max(1, Math.round(search.maxSustainedOffered / 2));
  const { result, latencies } = await driver.step(half, opts.latencyWindowS, opts.drainS);
  const latencyMs = summarize(latencies);
  opts.log(`${name}: at ${half}/s latency p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms`);
  return { search, latencyAtHalf: { offered: half, deliveredRate: Math.round(result.deliveredInWindow / result.windowS), latencyMs } };
}

export interface ThroughputDetails {
  readonly options: Omit<ThroughputOptions, 'log'>;
  readonly messageBytes: number;
  readonly modes: Record<string, { readonly ours?: SideResult; readonly raw?: SideResult; readonly error?: string }>;
}

/** Runs the scenario in every mode; returns the figures and details. */
export async function runThroughput(stack: BenchStack, opts: ThroughputOptions): Promise<{ figures: Figure[]; details: ThroughputDetails }> {
  const figures: Figure[] = [];
  const details: ThroughputDetails = { options: { ...opts, log: undefined } as unknown as Omit<ThroughputOptions, 'log'>, messageBytes: rawFrameBody('x'.repeat(12), Date.now()).length, modes: {} };
  for (const mode of opts.modes) {
    const entry: { ours?: SideResult; raw?: SideResult; error?: string } = {};
    details.modes[mode] = entry;
    let raw: Driver | undefined;
    let ours: { driver: Driver; apps: AppReplica[] } | undefined;
    try {
      raw = await rawDriver(stack, mode, 200);
      entry.raw = await measureSide(`throughput/${mode}/raw`, raw, opts.rawStartRate, opts);
      await raw.close();
      raw = undefined;
      ours = await oursDriver(stack, mode, opts);
      entry.ours = await measureSide(`throughput/${mode}/ours`, ours.driver, opts.oursStartRate, opts);
    } catch (e) {
      entry.error = e instanceof Error ? e.message : String(e);
      opts.log(`throughput/${mode}: ERROR ${entry.error}`);
    } finally {
      await raw?.close().catch(() => undefined);
      await ours?.driver.close().catch(() => undefined);
      await stack.stopApps();
    }
    const limitOurs = entry.ours?.search.limit ?? entry.error ?? 'not measured';
    figures.push(
      figure({
        scenario: 'throughput',
        name: `max sustained delivery rate, ${mode}`,
        unit: 'deliveries/s',
        ours: entry.ours?.search.maxSustainedRate,
        baseline: entry.raw?.search.maxSustainedRate,
        baselineName: 'raw amqplib publish→consume',
        target: '≥ 0.8',
        limit: `ours ${limitOurs}; raw ${entry.raw?.search.limit ?? 'not measured'}`,
      }),
      figure({
        scenario: 'throughput',
        name: `delivery latency p50 at 50% of max, ${mode}`,
        unit: 'ms',
        ours: entry.ours?.latencyAtHalf?.latencyMs.p50,
        baseline: entry.raw?.latencyAtHalf?.latencyMs.p50,
        baselineName: 'raw at 50% of its max',
        limit: 'ours includes HTTP, a Postgres transaction, the outbox relay poll/wake and the WebSocket hop',
      }),
      figure({
        scenario: 'throughput',
        name: `delivery latency p99 at 50% of max, ${mode}`,
        unit: 'ms',
        ours: entry.ours?.latencyAtHalf?.latencyMs.p99,
        baseline: entry.raw?.latencyAtHalf?.latencyMs.p99,
        baselineName: 'raw at 50% of its max',
        limit: 'tail set by relay batching (100 rows per confirm wait) and CPU sharing on 2 cores',
      }),
    );
  }
  return { figures, details };
}
