/**
 * `failover-at-scale`: the delivery gap of one follower when its replica's AMQP connection is lost,
 * with K other users (one idle socket each, held by ws-holder child processes) on that replica. The
 * replica's only AMQP connection runs through the stack's HAProxy front; the front is killed -9
 * (every connection through it drops at once, as when its pod dies) and started again on the same
 * port, so the app reconnects to the address it already has. An author posts every 100 ms.
 *
 * Per cut: the gap (cut → first delivery to the follower of a post created after the cut, the chaos
 * checker's rule) and the longest the follower waited for ANY post created after the cut (so a
 * stall that the first delivery hides still shows). Sizes grow cumulatively on one replica.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import WebSocket from 'ws';
import { QueueMode, Routes, sleep, waitFor } from '../../shared/index.js';
import { mintToken } from '../chaos/workload.js';
import { gapsAfter } from './failover-gap.js';
import { startHolders, totalStatus, waitOpen, type Holder } from './holders.js';
import { api, follow } from './load.js';
import { figure, type Figure } from './report.js';
import type { AppReplica, BenchStack } from './stack.js';
import { summarize, type Summary } from './stats.js';

export interface FailoverAtScaleOptions {
  readonly mode: QueueMode;
  /** Other users (idle sockets) on the replica, ascending; each size adds to the previous one's sockets. */
  readonly userCounts: readonly number[];
  /** Cuts per size. */
  readonly cuts: number;
  readonly postIntervalMs: number;
  /** Seconds of posting after the first post-cut delivery before the cut is evaluated. */
  readonly afterS: number;
  /** Most seconds a cut may take to deliver every post created after it. */
  readonly cutTimeoutS: number;
  readonly openTimeoutS: number;
  readonly log: (line: string) => void;
}

/** A post the author created: request start, id once acknowledged, first receipt by the follower. */
interface AuthoredPost {
  readonly sentAt: number;
  id?: string;
  receivedAt?: number;
}

/**
 * The longest the follower waited for a post sent in [from, until) (ms; receipt − send), and how many
 * of those never arrived (pure). Unacknowledged posts (no id) are not promised and do not count.
 */
export function longestWait(items: ReadonlyArray<{ sentAt: number; id?: string; receivedAt?: number }>, from: number, until: number): { longestMs: number; posts: number; undelivered: number } {
  let longestMs = 0;
  let posts = 0;
  let undelivered = 0;
  for (const it of items) {
    if (it.id === undefined || it.sentAt < from || it.sentAt >= until) continue;
    posts++;
    if (it.receivedAt === undefined) undelivered++;
    else longestMs = Math.max(longestMs, it.receivedAt - it.sentAt);
  }
  return { longestMs, posts, undelivered };
}

/** The measured follower's socket (reconnects with `since` if the app closes it) and its author's posting loop. */
class FollowerAndAuthor {
  readonly posts: AuthoredPost[] = [];
  private readonly received = new Map<string, number>();
  private ws: WebSocket | undefined;
  private lastCursor: string | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  socketCloses = 0;
  postFailures = 0;

  private constructor(
    private readonly app: AppReplica,
    private readonly followerToken: string,
    private readonly authorToken: string,
  ) {}

  static async start(app: AppReplica, jwtSecret: string, run: string): Promise<FollowerAndAuthor> {
    const author = `fas-${run}-author`;
    const followerToken = await mintToken(jwtSecret, `fas-${run}-follower`);
    await follow(app.url, followerToken, author);
    const fa = new FollowerAndAuthor(app, followerToken, await mintToken(jwtSecret, author));
    await fa.connect();
    return fa;
  }

  private connect(): Promise<void> {
    const url = new URL(Routes.FEED_SOCKET, this.app.url.replace(/^http/, 'ws'));
    url.searchParams.set('token', this.followerToken);
    if (this.lastCursor !== undefined) url.searchParams.set('since', this.lastCursor);
    const ws = new WebSocket(url, { handshakeTimeout: 10_000, perMessageDeflate: false });
    this.ws = ws;
    ws.on('message', (data) => {
      const at = Date.now();
      const f = JSON.parse(String(data)) as { postId?: string; cursor?: string };
      if (typeof f.cursor === 'string') this.lastCursor = f.cursor;
      if (typeof f.postId === 'string' && !this.received.has(f.postId)) this.received.set(f.postId, at);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.stopped || this.ws !== ws) return;
      this.socketCloses++;
      setTimeout(() => void this.connect().catch(() => undefined), 200);
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  /** One post every `intervalMs`, not waiting for the previous one (a slow API must not slow the clock). */
  startPosting(intervalMs: number): void {
    this.timer = setInterval(() => {
      const post: AuthoredPost = { sentAt: Date.now() };
      this.posts.push(post);
      api<{ id: string }>(this.app.url, 'POST', Routes.POST_CREATE, this.authorToken, { text: `failover-at-scale ${post.sentAt}` }).then(
        (r) => void (post.id = r.id),
        () => void this.postFailures++,
      );
    }, intervalMs);
  }

  /** The posts with their receipt times filled in. */
  snapshot(): AuthoredPost[] {
    for (const p of this.posts) {
      if (p.id !== undefined && p.receivedAt === undefined) p.receivedAt = this.received.get(p.id);
    }
    return this.posts;
  }

  /** Waits until a post sent at or after `t` reached the follower; returns its receipt time. */
  async firstDeliveryAfter(t: number, timeoutMs: number, what: string): Promise<number> {
    return waitFor(what, async () => {
      const got = this.snapshot().filter((p) => p.sentAt >= t && p.receivedAt !== undefined);
      return got.length > 0 ? Math.min(...got.map((p) => p.receivedAt!)) : undefined;
    }, { timeoutMs, intervalMs: 10, onProgress: () => undefined });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.ws?.terminate();
  }
}

/** One cut of the replica's AMQP connection. */
export interface CutResult {
  readonly otherUsers: number;
  readonly gapMs: number | null;
  /** Longest wait of the follower for a post created after the cut (ms). */
  readonly longestWaitMs: number;
  readonly postsAfterCut: number;
  readonly undelivered: number;
  /** Kill of the front until the new one reported every node UP in its stats (ms); it accepts connections earlier. */
  readonly frontRestartMs: number;
  /** Idle sockets still open after the cut. */
  readonly idleOpen: number;
}

/** Cuts the front once and measures the follower's gap and longest wait. */
async function cutOnce(stack: BenchStack, fa: FollowerAndAuthor, holders: readonly Holder[], otherUsers: number, opts: FailoverAtScaleOptions): Promise<CutResult> {
  await fa.firstDeliveryAfter(Date.now(), 30_000, 'a delivery before the cut (flow is steady)');
  const cutAt = await stack.restartHaproxy();
  const frontRestartMs = Date.now() - cutAt;
  const firstAt = await fa.firstDeliveryAfter(cutAt, opts.cutTimeoutS * 1000, `the first delivery after the cut (${otherUsers} other users)`);
  await sleep(opts.afterS * 1000);
  const until = Date.now();
  // Every acknowledged post of the window must arrive; the longest wait covers the ones still coming.
  await waitFor('every post created after the cut delivered', async () => (longestWait(fa.snapshot(), cutAt, until).undelivered === 0 ? true : undefined), {
    timeoutMs: opts.cutTimeoutS * 1000,
    intervalMs: 50,
    onProgress: () => undefined,
  }).catch(() => undefined);
  const items = fa.snapshot();
  const wait = longestWait(items, cutAt, until);
  const gapS = gapsAfter([cutAt], items.filter((p) => p.id !== undefined))[0] ?? null;
  const idleOpen = holders.length > 0 ? (await totalStatus(holders)).open : 0;
  const r: CutResult = { otherUsers, gapMs: gapS === null ? null : Math.round(gapS * 1000), longestWaitMs: wait.longestMs, postsAfterCut: wait.posts, undelivered: wait.undelivered, frontRestartMs, idleOpen };
  opts.log(`failover-at-scale K=${otherUsers}: gap ${r.gapMs} ms (first delivery ${firstAt - cutAt} ms), longest wait ${r.longestWaitMs} ms over ${r.postsAfterCut} posts, ${r.undelivered} undelivered; front restarted (every node UP in its stats) after ${frontRestartMs} ms; ${idleOpen}/${otherUsers} idle sockets open`);
  return r;
}

export interface SizeResult {
  readonly otherUsers: number;
  readonly cuts: readonly CutResult[];
  readonly gapMs: Summary;
  readonly longestWaitMs: Summary;
  readonly openS: number;
}

export async function runFailoverAtScale(stack: BenchStack, opts: FailoverAtScaleOptions): Promise<{ figures: Figure[]; details: { mode: QueueMode; sizes: SizeResult[]; postFailures: number; followerSocketCloses: number } }> {
  const run = randomBytes(3).toString('hex');
  const app = await stack.startApp(`bench-fas-${run}`, { mode: opts.mode });
  const holders: Holder[] = [];
  const sizes: SizeResult[] = [];
  let fa: FollowerAndAuthor | undefined;
  try {
    fa = await FollowerAndAuthor.start(app, stack.jwtSecret, run);
    fa.startPosting(opts.postIntervalMs);
    let held = 0;
    for (const k of [...opts.userCounts].sort((a, b) => a - b)) {
      let openS = 0;
      if (k > held) {
        const users = Array.from({ length: k - held }, (_, i) => `fas-${run}-idle${held + i}`);
        const t0 = Date.now();
        holders.push(...(await startHolders(`fas-${run}-${k}`, users, { targets: [app.url.replace(/^http/, 'ws')], path: Routes.FEED_SOCKET, auth: true, concurrency: 100, reconnect: false }, join(stack.dir, 'failover-at-scale'), stack.jwtSecret)));
        await waitOpen(holders, k, opts.openTimeoutS * 1000, opts.log, `failover-at-scale K=${k}`);
        openS = Math.round((Date.now() - t0) / 100) / 10;
        opts.log(`failover-at-scale: ${k} idle sockets on ${app.replicaId} (${users.length} more opened in ${openS} s)`);
        held = k;
      }
      const cuts: CutResult[] = [];
      for (let c = 0; c < opts.cuts; c++) {
        cuts.push(await cutOnce(stack, fa, holders, k, opts));
        await sleep(1000);
      }
      sizes.push({ otherUsers: k, cuts, gapMs: summarize(cuts.flatMap((x) => (x.gapMs === null ? [] : [x.gapMs]))), longestWaitMs: summarize(cuts.map((x) => x.longestWaitMs)), openS });
    }
  } finally {
    fa?.stop();
    await Promise.allSettled(holders.map((h) => h.stop()));
    await stack.stopApps();
  }
  return { figures: failoverAtScaleFigures(sizes, opts), details: { mode: opts.mode, sizes, postFailures: fa?.postFailures ?? 0, followerSocketCloses: fa?.socketCloses ?? 0 } };
}

function failoverAtScaleFigures(sizes: readonly SizeResult[], opts: FailoverAtScaleOptions): Figure[] {
  const base = sizes.find((s) => s.otherUsers === 0) ?? sizes[0];
  const largest = sizes[sizes.length - 1];
  const baselineName = `${base?.otherUsers ?? 0} other users, same run`;
  const lost = (s: SizeResult) => s.cuts.reduce((n, c) => n + c.undelivered, 0);
  return sizes.flatMap((s) => [
    figure({
      scenario: 'failover-at-scale',
      name: `delivery gap after the replica's AMQP connection is cut (HAProxy front kill -9 + restart), ${s.otherUsers} other users, p50 over ${s.cuts.length} cuts, ${opts.mode}`,
      unit: 'ms',
      ours: s.gapMs.p50,
      baseline: base?.gapMs.p50,
      baselineName,
      ...(s === largest && s !== base ? { target: '≤ 1.5' } : {}),
      limit: `the app's reconnect backoff (the new front accepts before it reports every node UP, ${summarize(s.cuts.map((c) => c.frontRestartMs)).p50} ms p50) and its re-subscribe; posts every ${opts.postIntervalMs} ms`,
    }),
    figure({
      scenario: 'failover-at-scale',
      name: `delivery gap, ${s.otherUsers} other users, max over ${s.cuts.length} cuts`,
      unit: 'ms',
      ours: s.gapMs.max,
      baseline: base?.gapMs.max,
      baselineName,
      limit: `${s.otherUsers} idle sockets opened in ${s.openS} s before the cuts`,
    }),
    figure({
      scenario: 'failover-at-scale',
      name: `longest wait of the follower for any post created after the cut, ${s.otherUsers} other users, max over ${s.cuts.length} cuts`,
      unit: 'ms',
      ours: s.longestWaitMs.max,
      baseline: base?.longestWaitMs.max,
      baselineName,
      limit: `${lost(s)} post(s) created after a cut not delivered within ${opts.cutTimeoutS} s; ${s.cuts.map((c) => c.postsAfterCut).join('/')} posts per cut window`,
    }),
  ]);
}
