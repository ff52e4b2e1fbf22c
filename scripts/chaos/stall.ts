/**
 * The figures that show a stall the whole-run quantiles hide: the latency of posts created while a
 * fault was in force, and the longest time any one follower waited. A run where 2 % of deliveries
 * stall for a minute has a whole-run p50 of a few milliseconds; these figures make that minute the
 * headline. Pure functions of the checker's pairing of acknowledged posts with first receipts.
 */
import type { FaultEvent } from './history.js';

/** One expected (post, follower) pair as the checker paired it. */
export interface ExpectedPair {
  readonly follower: string;
  /** When the post's first create attempt was sent (client clock). */
  readonly sentAt: number;
  /** When the API acknowledged the post. */
  readonly ackAt: number;
  /** First receipt at this follower; undefined when it never arrived (lost). */
  readonly receivedAt?: number;
}

/** Epoch-ms interval `[from, to)`. */
export interface Interval {
  readonly from: number;
  readonly to: number;
}

/**
 * The fault windows of a run: each fault from its injection to the end of its heal action; a fault
 * never healed lasts until `loadEndedAt`. Overlapping windows (a rolling restart's steps, an
 * operator restart after a pause) are merged.
 */
export function faultWindows(faults: readonly FaultEvent[], loadEndedAt: number): Interval[] {
  return mergeIntervals(faults.map((f) => ({ from: f.at, to: Math.max(f.at, f.healedAt ?? loadEndedAt) })));
}

/** Sorts and merges overlapping or touching intervals. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.from - b.from);
  const merged: Interval[] = [];
  for (const iv of sorted) {
    const last = merged[merged.length - 1];
    if (last && iv.from <= last.to) merged[merged.length - 1] = { from: last.from, to: Math.max(last.to, iv.to) };
    else merged.push(iv);
  }
  return merged;
}

/**
 * Latencies (receive − ack, ms, ascending) of the delivered pairs whose post was created inside a
 * fault window: its first create attempt was sent at or after a fault and before that fault's heal
 * ended. Lost pairs have no latency; the checker counts them in `lost`.
 */
export function faultWindowLatencies(pairs: readonly ExpectedPair[], windows: readonly Interval[]): number[] {
  const inWindow = (t: number) => windows.some((w) => t >= w.from && t < w.to);
  return pairs
    .filter((p) => p.receivedAt !== undefined && inWindow(p.sentAt))
    .map((p) => Math.max(0, p.receivedAt! - p.ackAt))
    .sort((a, b) => a - b);
}

/** The longest wait of one follower. */
export interface FollowerWait {
  readonly follower: string;
  /** Length of the wait, ms. */
  readonly waitMs: number;
  /** Start and end of the wait, epoch ms. */
  readonly from: number;
  readonly to: number;
  /** Expected posts that were outstanding at some point of the wait. */
  readonly posts: number;
  /** True when the wait ran to the end of the run because a post never arrived. */
  readonly open: boolean;
}

/**
 * Each follower's longest wait: the longest interval during which it had at least one
 * acknowledged-but-undelivered post addressed to it. A post is outstanding at a follower from
 * `max(ack, subscribedAt)` (the workload subscribes every follower before load starts, so in
 * practice the ack) until its first receipt there, or until `endedAt` when it never arrived. The
 * union of a follower's outstanding intervals is taken, so a follower that keeps receiving newer
 * posts while an older one is still held waits for as long as the older one is held, and a chain
 * of overlapping stalls counts as one wait. A receipt before the ack (the frame beat the HTTP 200)
 * is not a wait. Followers with no expected post are left out.
 */
export function followerWaits(pairs: readonly ExpectedPair[], subscribedAt: number, endedAt: number): FollowerWait[] {
  const byFollower = new Map<string, Array<Interval & { open: boolean }>>();
  for (const p of pairs) {
    const from = Math.max(p.ackAt, subscribedAt);
    const open = p.receivedAt === undefined;
    const to = open ? Math.max(from, endedAt) : p.receivedAt!;
    let list = byFollower.get(p.follower);
    if (!list) byFollower.set(p.follower, (list = []));
    list.push({ from, to: Math.max(from, to), open });
  }
  return [...byFollower.entries()].map(([follower, list]) => longestWait(follower, list));
}

function longestWait(follower: string, list: ReadonlyArray<Interval & { open: boolean }>): FollowerWait {
  const sorted = [...list].sort((a, b) => a.from - b.from);
  let best: FollowerWait = { follower, waitMs: 0, from: sorted[0]?.from ?? 0, to: sorted[0]?.from ?? 0, posts: 0, open: false };
  let cur: { from: number; to: number; posts: number; open: boolean } | undefined;
  const close = () => {
    if (cur && cur.to - cur.from > best.waitMs) best = { follower, waitMs: cur.to - cur.from, from: cur.from, to: cur.to, posts: cur.posts, open: cur.open };
  };
  for (const iv of sorted) {
    if (iv.to <= iv.from) continue;
    if (cur && iv.from < cur.to) {
      cur = { from: cur.from, to: Math.max(cur.to, iv.to), posts: cur.posts + 1, open: cur.open || iv.open };
    } else {
      close();
      cur = { ...iv, posts: 1 };
    }
  }
  close();
  return best;
}
