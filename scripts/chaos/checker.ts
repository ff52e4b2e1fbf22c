/**
 * The chaos checker, after Jepsen's total-queue checker: every post the API acknowledged is
 * expected at every follower of its author (all followers are subscribed for the whole run: the
 * follow graph is set before load and `since` resume covers reconnect gaps). Pure: a function of a
 * {@link History}, so it is unit-tested with hand-built histories.
 */
import type { AckedPost, Delivery, FaultEvent, History } from './history.js';
import { perTransport, type TransportFigures } from './per-transport.js';
import { quantile } from './quantile.js';
import { faultWindowLatencies, faultWindows, followerWaits, type ExpectedPair } from './stall.js';

/** What the latency figures measure. */
export const LATENCY_BASIS = 'client receive time minus client ack time (first receipt per follower)';

/** Latency quantiles in milliseconds. */
export interface LatencySummary {
  readonly basis: string;
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Recovery after one fault. */
export interface FaultGap {
  readonly name: string;
  /** Seconds from the start of load to the fault. */
  readonly atS: number;
  /** Seconds from the fault to the heal action's end; undefined when there is none. */
  readonly healedAfterS?: number;
  /**
   * Seconds from the fault until deliveries flow again: the first receipt of a post created after
   * the fault. Null when no post created after the fault was ever delivered.
   */
  readonly flowAgainS: number | null;
  /**
   * Seconds from the fault until the backlog is drained: the last receipt of a stalled delivery
   * (latency above {@link stallThresholdMs}) of a post acknowledged from just before this fault
   * until the next fault; equals `flowAgainS` when nothing stalled. Null when part of that window
   * never arrived (it is then counted in `lost`).
   */
  readonly drainedS: number | null;
}

/**
 * Latency of the deliveries of posts created while a fault was in force (first create attempt sent
 * between a fault and the end of its heal); see {@link faultWindows}. `count` 0 when no post
 * created then was delivered (or the run had no fault).
 */
export interface FaultWindowLatency extends LatencySummary {
  /** Seconds covered by the (merged) fault windows. */
  readonly windowS: number;
}

/** The longest time one subscribed follower waited; see {@link followerWaits} for the definition. */
export interface WorstWait {
  readonly follower: string;
  readonly waitMs: number;
  /** Seconds since load start when the wait began and ended. */
  readonly fromS: number;
  readonly toS: number;
  /** Expected posts outstanding at some point of the wait. */
  readonly posts: number;
  /** True when a post never arrived, so the wait lasted until the end of the run. */
  readonly open: boolean;
}

/** Follower waits of a run. */
export interface WaitSummary {
  /** The follower that waited longest; undefined when no follower expected anything. */
  readonly worst?: WorstWait;
  /** Median over followers of each one's longest wait (ms): what a typical follower saw. */
  readonly p50Ms: number;
  /** Followers with at least one expected post. */
  readonly followers: number;
}

/** One point of the latency-over-time plot: a one-second bucket of receive times. */
export interface LatencyPoint {
  /** Seconds since load start (bucket start). */
  readonly t: number;
  readonly count: number;
  readonly p50Ms: number;
  readonly maxMs: number;
}

/** A missing or unexpected delivery, for the report's samples. */
export interface DeliveryRef {
  readonly postId: string;
  readonly user: string;
  readonly reason?: string;
}

export interface CheckResult {
  readonly acknowledged: number;
  /** Creates with an unknown outcome (never counted as acknowledged). */
  readonly indeterminate: number;
  /** Deliveries of indeterminate creates that did show up (legitimate, not unexpected). */
  readonly indeterminateDelivered: number;
  readonly expectedDeliveries: number;
  /** Distinct expected (post, follower) pairs received. */
  readonly delivered: number;
  /** Expected pairs never received. Must be 0. */
  readonly lost: number;
  /** Raw frames minus distinct (follower, post) pairs: what the client's postId dedupe hid. */
  readonly duplicates: number;
  /** Expected, delivered, lost and duplicates per follower transport. Absent in reports written before `--clients`. */
  readonly byTransport?: Readonly<Record<string, TransportFigures>>;
  /** Frames of unknown posts, or to users who do not follow the author. Must be 0. */
  readonly unexpected: number;
  readonly latency: LatencySummary;
  /** Latency of posts created between a fault and its heal. Absent in reports written before it existed. */
  readonly faultWindow?: FaultWindowLatency;
  /** Longest follower waits. Absent in reports written before it existed. */
  readonly waits?: WaitSummary;
  readonly faults: readonly FaultGap[];
  /** Latency above which a delivery counts as stalled by a fault (ms). */
  readonly stallThresholdMs: number;
  readonly series: readonly LatencyPoint[];
  /** Up to 20 lost pairs. */
  readonly lostSample: readonly DeliveryRef[];
  /** Up to 20 unexpected frames. */
  readonly unexpectedSample: readonly DeliveryRef[];
  /** True when nothing was lost and nothing unexpected arrived. */
  readonly ok: boolean;
}

const SAMPLE = 20;


function pairKey(user: string, postId: string): string {
  return `${user}\u0000${postId}`;
}

/** Checks a history; see the module comment for the model. */
export function check(history: History): CheckResult {
  const followersOf = new Map<string, Set<string>>();
  for (const [follower, followee] of history.follows) {
    if (follower === followee) continue;
    let set = followersOf.get(followee);
    if (!set) followersOf.set(followee, (set = new Set()));
    set.add(follower);
  }
  const ackedById = new Map<string, AckedPost>();
  for (const post of history.acked) ackedById.set(post.postId, post);
  const indeterminateNonces = new Set(history.indeterminate.map((p) => p.nonce));

  // First receipt per (follower, post); everything else is a duplicate.
  const firstReceipt = new Map<string, Delivery>();
  let duplicates = 0;
  let unexpected = 0;
  const unexpectedSample: DeliveryRef[] = [];
  const indeterminateSeen = new Set<string>();
  const noteUnexpected = (d: Delivery, reason: string): void => {
    unexpected++;
    if (unexpectedSample.length < SAMPLE) unexpectedSample.push({ postId: d.postId, user: d.user, reason });
  };
  const ordered = [...history.deliveries].sort((a, b) => a.receivedAt - b.receivedAt);
  for (const d of ordered) {
    const key = pairKey(d.user, d.postId);
    if (firstReceipt.has(key)) {
      duplicates++;
      continue;
    }
    firstReceipt.set(key, d);
    const post = ackedById.get(d.postId);
    if (!post) {
      if (d.nonce !== undefined && indeterminateNonces.has(d.nonce) && followersOf.get(d.author)?.has(d.user)) {
        indeterminateSeen.add(d.nonce);
      } else {
        noteUnexpected(d, 'unknown post');
      }
      continue;
    }
    if (!followersOf.get(post.author)?.has(d.user)) noteUnexpected(d, `${d.user} does not follow ${post.author}`);
    else if (d.author !== post.author) noteUnexpected(d, `author ${d.author} differs from acknowledged ${post.author}`);
  }

  const { pairs, received, lostSample } = pairExpected(history, followersOf, firstReceipt);
  const expectedDeliveries = pairs.length;
  const delivered = received.length;
  const latencies = received.map((r) => r.latency).sort((a, b) => a - b);
  const lost = expectedDeliveries - delivered;
  const firstFault = history.faults.reduce((m, f) => Math.min(m, f.at), Number.POSITIVE_INFINITY);
  const baseline = received.filter((r) => r.ackAt < firstFault && r.at < firstFault).map((r) => r.latency).sort((a, b) => a - b);
  const thresholdMs = stallThresholdMs(baseline.length ? quantile(baseline, 0.99) : undefined);

  return {
    acknowledged: history.acked.length,
    indeterminate: history.indeterminate.length,
    indeterminateDelivered: indeterminateSeen.size,
    expectedDeliveries,
    delivered,
    lost,
    duplicates,
    byTransport: perTransport(history, pairs),
    unexpected,
    latency: {
      basis: LATENCY_BASIS,
      ...latencySummary(latencies),
    },
    faultWindow: faultWindowLatency(history, pairs),
    waits: waitSummary(history, pairs),
    stallThresholdMs: thresholdMs,
    faults: history.faults.map((f, i) => faultGap(f, history.faults[i + 1]?.at ?? Number.POSITIVE_INFINITY, thresholdMs, history, followersOf, firstReceipt)),
    series: latencySeries(received, history.startedAt),
    lostSample,
    unexpectedSample,
    ok: lost === 0 && unexpected === 0,
  };
}

/** Every expected (post, follower) pair with its first receipt; the delivered ones with their latency; a sample of the lost. */
function pairExpected(
  history: History,
  followersOf: ReadonlyMap<string, ReadonlySet<string>>,
  firstReceipt: ReadonlyMap<string, Delivery>,
): { pairs: ExpectedPair[]; received: Array<{ at: number; ackAt: number; latency: number }>; lostSample: DeliveryRef[] } {
  const pairs: ExpectedPair[] = [];
  const received: Array<{ at: number; ackAt: number; latency: number }> = [];
  const lostSample: DeliveryRef[] = [];
  for (const post of history.acked) {
    for (const follower of followersOf.get(post.author) ?? []) {
      const d = firstReceipt.get(pairKey(follower, post.postId));
      pairs.push({ follower, sentAt: post.sentAt, ackAt: post.ackAt, ...(d ? { receivedAt: d.receivedAt } : {}) });
      if (d) received.push({ at: d.receivedAt, ackAt: post.ackAt, latency: Math.max(0, d.receivedAt - post.ackAt) });
      else if (lostSample.length < SAMPLE) lostSample.push({ postId: post.postId, user: follower });
    }
  }
  return { pairs, received, lostSample };
}

function latencySummary(sorted: readonly number[]): Omit<LatencySummary, 'basis'> {
  return { count: sorted.length, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted.length ? sorted[sorted.length - 1]! : 0 };
}

function faultWindowLatency(history: History, pairs: readonly ExpectedPair[]): FaultWindowLatency {
  const windows = faultWindows(history.faults, history.loadEndedAt);
  const windowMs = windows.reduce((sum, w) => sum + (w.to - w.from), 0);
  return { basis: LATENCY_BASIS, ...latencySummary(faultWindowLatencies(pairs, windows)), windowS: Math.round(windowMs / 100) / 10 };
}

function waitSummary(history: History, pairs: readonly ExpectedPair[]): WaitSummary {
  // The workload subscribes every follower before load starts (see the module comment).
  const waits = followerWaits(pairs, history.startedAt, history.endedAt);
  const longest = waits.reduce<(typeof waits)[number] | undefined>((a, w) => (!a || w.waitMs > a.waitMs ? w : a), undefined);
  const s = (t: number) => Math.round((t - history.startedAt) / 100) / 10;
  return {
    ...(longest ? { worst: { follower: longest.follower, waitMs: longest.waitMs, fromS: s(longest.from), toS: s(longest.to), posts: longest.posts, open: longest.open } } : {}),
    p50Ms: quantile(waits.map((w) => w.waitMs).sort((a, b) => a - b), 0.5),
    followers: waits.length,
  };
}

/** Deliveries slower than this count as stalled by a fault: 3 × the pre-fault p99, at least 1 s. */
export function stallThresholdMs(baselineP99Ms: number | undefined): number {
  return Math.max(1000, 3 * (baselineP99Ms ?? 0));
}

function faultGap(
  fault: FaultEvent,
  nextFaultAt: number,
  thresholdMs: number,
  history: History,
  followersOf: ReadonlyMap<string, ReadonlySet<string>>,
  firstReceipt: ReadonlyMap<string, Delivery>,
): FaultGap {
  const seconds = (ms: number): number => Math.round(ms / 10) / 100;
  let flowAgainAt = Number.POSITIVE_INFINITY;
  let lastStalledAt = Number.NEGATIVE_INFINITY;
  let drained = true;
  for (const post of history.acked) {
    const inWindow = post.ackAt >= fault.at - thresholdMs && post.ackAt < nextFaultAt;
    for (const follower of followersOf.get(post.author) ?? []) {
      const d = firstReceipt.get(pairKey(follower, post.postId));
      if (post.sentAt >= fault.at && d && d.receivedAt < flowAgainAt) flowAgainAt = d.receivedAt;
      if (!inWindow) continue;
      if (!d) drained = false;
      else if (d.receivedAt - post.ackAt > thresholdMs && d.receivedAt > lastStalledAt) lastStalledAt = d.receivedAt;
    }
  }
  const flowAgainS = Number.isFinite(flowAgainAt) ? seconds(flowAgainAt - fault.at) : null;
  let drainedS: number | null = null;
  if (drained) drainedS = Number.isFinite(lastStalledAt) ? Math.max(seconds(lastStalledAt - fault.at), flowAgainS ?? 0) : (flowAgainS ?? 0);
  return {
    name: fault.name,
    atS: seconds(fault.at - history.startedAt),
    ...(fault.healedAt !== undefined ? { healedAfterS: seconds(fault.healedAt - fault.at) } : {}),
    flowAgainS,
    drainedS,
  };
}

function latencySeries(received: ReadonlyArray<{ at: number; latency: number }>, startedAt: number): LatencyPoint[] {
  const buckets = new Map<number, number[]>();
  for (const r of received) {
    const t = Math.floor((r.at - startedAt) / 1000);
    let b = buckets.get(t);
    if (!b) buckets.set(t, (b = []));
    b.push(r.latency);
  }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, values]) => {
      values.sort((a, b) => a - b);
      return { t, count: values.length, p50Ms: quantile(values, 0.5), maxMs: values[values.length - 1]! };
    });
}
