/** Load helpers shared by the scenarios: pacing, a concurrency pool, JSON over HTTP, tagged post texts. */
import { Routes, sleep } from '../../shared/index.js';

/** What {@link pace} did. */
export interface PaceResult {
  /** Calls started. */
  readonly started: number;
  /** Ticks skipped because `maxInFlight` calls were still running (the sender could not keep up). */
  readonly heldBack: number;
}

/**
 * Calls `fn` at `ratePerS` for `windowMs`, never more than `maxInFlight` at once (skipped calls are
 * counted, not queued, so a slow system cannot make the sender build a hidden queue). Waits for
 * the calls still running before it resolves.
 */
export async function pace(ratePerS: number, windowMs: number, maxInFlight: number, fn: (i: number) => Promise<unknown>): Promise<PaceResult> {
  if (!(ratePerS > 0)) throw new Error(`pace: ratePerS must be positive, got ${ratePerS}`);
  const intervalMs = 1000 / ratePerS;
  const start = Date.now();
  const end = start + windowMs;
  const inFlight = new Set<Promise<unknown>>();
  let due = start;
  let started = 0;
  let heldBack = 0;
  while (Date.now() < end) {
    const now = Date.now();
    while (due <= now && due < end) {
      due += intervalMs;
      if (inFlight.size >= maxInFlight) {
        heldBack++;
        continue;
      }
      const p: Promise<unknown> = fn(started++).catch(() => undefined).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await sleep(Math.max(1, Math.min(end, due) - Date.now()));
  }
  await Promise.allSettled([...inFlight]);
  return { started, heldBack };
}

/** Runs `fn` over `items` with at most `concurrency` at once; rejects on the first failure. */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Calls the feed API with a bearer token; throws with the status and body on a non-2xx answer. */
export async function api<T = unknown>(baseUrl: string, method: string, path: string, token: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const res = await fetch(new URL(path, baseUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** `follower` follows `author` (retries a few times: the app may be busy during a storm). */
export async function follow(baseUrl: string, followerToken: string, author: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await api(baseUrl, 'PUT', `${Routes.FRIEND_SET}${encodeURIComponent(author)}`, followerToken);
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await sleep(200 * attempt);
    }
  }
}

/** A post text that carries the step tag and the client send time, so the receiver computes latency on one clock. */
export function benchPostText(tag: string, sentAt: number, padTo = 0): string {
  const base = `bench tag=${tag} t=${sentAt}`;
  return base.length >= padTo ? base : `${base} ${'x'.repeat(padTo - base.length - 1)}`;
}

/** Tag and send time of a {@link benchPostText}; undefined for other texts. */
export function parseBenchPostText(text: unknown): { tag: string; sentAt: number } | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^bench tag=(\S+) t=(\d+)/.exec(text);
  return m ? { tag: m[1]!, sentAt: Number(m[2]) } : undefined;
}
