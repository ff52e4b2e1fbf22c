/**
 * Waiting and retrying, one way for every part (app, scripts, tests): the platform's timer promise
 * as the sleep, {@link waitFor} to poll until something holds, {@link backoffMs} for the delay
 * before the next attempt.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds. */
  readonly timeoutMs: number;
  /**
   * Pause between probes.
   * @default 250
   */
  readonly intervalMs?: number;
  /**
   * Called after each probe that gave no value, with the elapsed time.
   * @default a "still waiting" line on stderr every 10 s
   */
  readonly onProgress?: (elapsedMs: number) => void;
}

/**
 * Thrown by a probe when what it waits for can no longer come (the process it waits on has exited):
 * {@link waitFor} rethrows it at once instead of polling out its timeout.
 */
export class WaitHopeless extends Error {
  override readonly name = 'WaitHopeless';
}

/**
 * Probes until it returns a value (anything but `undefined`); a probe that throws counts as not yet,
 * unless it throws {@link WaitHopeless}, which ends the wait at once (naming `what` and its message). After `timeoutMs`
 * throws an error naming `what` and the last probe error, so a timeout says what was awaited and
 * why it never came.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, opts: WaitForOptions): Promise<T> {
  const start = Date.now();
  const interval = opts.intervalMs ?? 250;
  const onProgress = opts.onProgress ?? stillWaitingLines(what, opts.timeoutMs);
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof WaitHopeless) throw new WaitHopeless(`gave up waiting for ${what}: ${e.message}`, { cause: e });
      lastError = e;
    }
    const elapsed = Date.now() - start;
    if (elapsed >= opts.timeoutMs) {
      const why = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${Math.round(elapsed / 1000)} s waiting for ${what}${why}`);
    }
    onProgress(elapsed);
    await sleep(Math.min(interval, Math.max(0, opts.timeoutMs - elapsed)));
  }
}

/** A long wait should not look like a hang: one line on stderr per 10 s. */
function stillWaitingLines(what: string, timeoutMs: number): (elapsedMs: number) => void {
  let lastReported = 0;
  return (elapsed) => {
    if (elapsed - lastReported < 10_000) return;
    lastReported = elapsed;
    process.stderr.write(`[wait ${new Date().toISOString().slice(11, 19)}] still waiting for ${what} (${Math.round(elapsed / 1000)} s of ${Math.round(timeoutMs / 1000)} s)\n`);
  };
}

/** How much of the exponential delay is randomized. */
export const Jitter = {
  /** Anywhere in [0, ceiling]: retries of many clients spread the most (AWS "full jitter"). */
  FULL: 'full',
  /** In [ceiling/2, ceiling]: spread, yet never much sooner than the exponential step. */
  EQUAL: 'equal',
  /** Exactly the ceiling: one caller retrying alone, nothing to spread. */
  NONE: 'none',
} as const;
export type Jitter = (typeof Jitter)[keyof typeof Jitter];

/** Options of {@link backoffMs}. */
export interface BackoffOptions {
  /** Ceiling of the first delay (attempt 0); it doubles with each attempt. */
  readonly baseMs: number;
  /** Largest ceiling. */
  readonly capMs: number;
  /** @default Jitter.FULL */
  readonly jitter?: Jitter;
  /**
   * Source of randomness in [0, 1) (a seeded one makes runs repeatable).
   * @default Math.random
   */
  readonly random?: () => number;
}

/**
 * Delay before retry `attempt` (0-based): the ceiling `min(cap, base × 2^attempt)`, randomized
 * per {@link BackoffOptions.jitter} so that clients which failed together do not retry in lockstep.
 */
export function backoffMs(attempt: number, opts: BackoffOptions): number {
  // The exponent is clamped only so that 2 ** attempt stays finite; the cap bounds the delay.
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  const random = opts.random ?? Math.random;
  switch (opts.jitter ?? Jitter.FULL) {
    case Jitter.FULL:
      return random() * ceiling;
    case Jitter.EQUAL:
      return ceiling / 2 + random() * (ceiling / 2);
    case Jitter.NONE:
      return ceiling;
  }
}
