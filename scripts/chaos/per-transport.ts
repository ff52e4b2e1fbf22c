/**
 * The checker's figures split by the followers' transport (`--clients`), so a mixed run shows
 * whether one transport lost or duplicated what the others did not. Pure, like the checker.
 */
import { ClientKind } from './followers/kind.js';
import type { History } from './history.js';
import { quantile } from './quantile.js';
import type { ExpectedPair } from './stall.js';

/** What one transport's followers expected and got. */
export interface TransportFigures {
  /** Followers subscribed with this transport. */
  readonly followers: number;
  /** Expected (post, follower) pairs of those followers. */
  readonly expected: number;
  /** Distinct expected pairs received. */
  readonly delivered: number;
  /** Expected pairs never received. Must be 0. */
  readonly lost: number;
  /** Raw frames minus distinct (follower, post) pairs. */
  readonly duplicates: number;
  /** Median latency (receive − ack) of this transport's delivered pairs; absent when none was delivered. */
  readonly p50Ms?: number;
  /** 99th percentile of the same latencies; absent when none was delivered. */
  readonly p99Ms?: number;
}

/** Transport of a follower in a history written before `--clients` existed: they all used the WebSocket. */
export const LEGACY_TRANSPORT: string = ClientKind.WS;

/**
 * Figures per transport, in the order the history lists its followers. `pairs` are the checker's
 * expected pairs (a pair with `receivedAt` was delivered).
 */
export function perTransport(history: History, pairs: readonly ExpectedPair[]): Record<string, TransportFigures> {
  const transportOf = new Map<string, string>();
  for (const f of history.followers ?? []) transportOf.set(f.user, f.transport);
  const of = (user: string) => transportOf.get(user) ?? LEGACY_TRANSPORT;
  const rows = new Map<string, { followers: Set<string>; expected: number; delivered: number; latencies: number[]; frames: number; distinct: Set<string> }>();
  const row = (transport: string) => {
    let r = rows.get(transport);
    if (!r) rows.set(transport, (r = { followers: new Set(), expected: 0, delivered: 0, latencies: [], frames: 0, distinct: new Set() }));
    return r;
  };
  for (const f of history.followers ?? []) row(f.transport).followers.add(f.user);
  for (const p of pairs) {
    const r = row(of(p.follower));
    r.followers.add(p.follower);
    r.expected++;
    if (p.receivedAt === undefined) continue;
    r.delivered++;
    r.latencies.push(Math.max(0, p.receivedAt - p.ackAt));
  }
  for (const d of history.deliveries) {
    const r = row(of(d.user));
    r.frames++;
    r.distinct.add(`${d.user}\u0000${d.postId}`);
  }
  const out: Record<string, TransportFigures> = {};
  for (const [transport, r] of rows) {
    const sorted = r.latencies.sort((a, b) => a - b);
    const latency = sorted.length > 0 ? { p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) } : {};
    out[transport] = { followers: r.followers.size, expected: r.expected, delivered: r.delivered, lost: r.expected - r.delivered, duplicates: r.frames - r.distinct.size, ...latency };
  }
  return out;
}
