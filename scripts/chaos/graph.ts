/** Seeded randomness for the workload: the same seed gives the same users, follow graph and faults. */

/** mulberry32: a tiny, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max] drawn from `rand`. */
export function randomInt(rand: () => number, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

/** One element of a non-empty array. */
export function pick<T>(rand: () => number, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick: empty array');
  return items[Math.floor(rand() * items.length)]!;
}

/** Options of {@link followGraph}. */
export interface FollowGraphOptions {
  /** Least followees per user. @default 2 */
  readonly minFollows?: number;
  /** Most followees per user (capped at users − 1). @default 6 */
  readonly maxFollows?: number;
}

/**
 * A seeded random follow graph: each user follows between min and max distinct other users.
 * Returns edges `[follower, followee]` in a stable order.
 */
export function followGraph(users: readonly string[], seed: number, opts: FollowGraphOptions = {}): Array<[string, string]> {
  const rand = mulberry32(seed);
  const max = Math.min(opts.maxFollows ?? 6, users.length - 1);
  const min = Math.min(opts.minFollows ?? 2, max);
  const edges: Array<[string, string]> = [];
  for (const follower of users) {
    const others = users.filter((u) => u !== follower);
    const n = randomInt(rand, min, max);
    // Partial Fisher-Yates: the first n of a seeded shuffle.
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(rand() * (others.length - i));
      [others[i], others[j]] = [others[j]!, others[i]!];
      edges.push([follower, others[i]!]);
    }
  }
  return edges;
}
