/** Pure figures math of the benchmarks: percentiles, summaries, ratios and the rate-stepping rule. */

/** Nearest-rank percentile of an ascending array (q in [0, 1]); 0 for an empty array. */
export function percentile(sorted: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new Error(`percentile: q must be in [0, 1], got ${q}`);
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/** A distribution in milliseconds (or any unit), rounded to 0.1. */
export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

/** Summarizes `values` (any order; not modified). */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    count: sorted.length,
    min: round1(sorted[0] ?? 0),
    p50: round1(percentile(sorted, 0.5)),
    p90: round1(percentile(sorted, 0.9)),
    p99: round1(percentile(sorted, 0.99)),
    max: round1(sorted[sorted.length - 1] ?? 0),
    mean: round1(sorted.length ? sum / sorted.length : 0),
  };
}

/** ours / baseline rounded to 0.01; undefined when either side is missing or the baseline is 0. */
export function ratio(ours: number | undefined, baseline: number | undefined): number | undefined {
  if (ours === undefined || baseline === undefined || !Number.isFinite(ours) || !Number.isFinite(baseline) || baseline === 0) return undefined;
  return Math.round((ours / baseline) * 100) / 100;
}

/** Bytes per item of a memory delta, rounded to whole bytes; undefined for no items. */
export function perItem(beforeBytes: number, afterBytes: number, items: number): number | undefined {
  return items > 0 ? Math.round((afterBytes - beforeBytes) / items) : undefined;
}

/** What one fixed-rate step of a throughput search measured. */
export interface StepResult {
  /** Offered rate (items/s). */
  readonly offered: number;
  /** Items sent during the step. */
  readonly sent: number;
  /** Items delivered during the step window (not counting the drain). */
  readonly deliveredInWindow: number;
  /** Seconds of the step window. */
  readonly windowS: number;
  /** Items still outstanding when the window ended. */
  readonly backlogAtEnd: number;
  /** Items still not delivered when the drain limit passed (loss, or a backlog too deep to drain in time). */
  readonly undelivered: number;
  /** Seconds the drain after the window took (until nothing was outstanding or the drain limit). */
  readonly drainS: number;
  /** Sends that failed (HTTP error, nack); their items are not in `sent`. */
  readonly failed?: number;
  /** The first failure's message. */
  readonly firstError?: string;
  /** Machine CPU busy fraction during the window (0–1). */
  readonly machineCpuBusy?: number;
  /** Cores each part of the stack used during the window (rabbitmq, postgres, haproxy, app, load generator). */
  readonly coresByPart?: Readonly<Record<string, number>>;
}

/** The rule that decides whether a step was sustained. */
export interface SustainRule {
  /** Most seconds of work the backlog may hold when the window ends. @default 1 */
  readonly maxBacklogSeconds?: number;
  /** Delivered rate in the window must reach this fraction of the offered rate. @default 0.9 */
  readonly minDeliveredFraction?: number;
}

/** Delivered items per second during a step's window. */
export function deliveredRate(step: StepResult): number {
  return step.windowS > 0 ? step.deliveredInWindow / step.windowS : 0;
}

/**
 * A step is sustained when nothing was lost, the backlog at the end of the window is bounded (at
 * most `maxBacklogSeconds` of the offered rate) and the delivered rate kept up with what was sent.
 * Returns the reason it was not, or undefined when it was.
 */
export function unsustainedReason(step: StepResult, rule: SustainRule = {}): string | undefined {
  const maxBacklogS = rule.maxBacklogSeconds ?? 1;
  const minFraction = rule.minDeliveredFraction ?? 0.9;
  if (step.undelivered > 0) return `${step.undelivered} undelivered after the drain`;
  if ((step.failed ?? 0) > 0) return `${step.failed} sends failed (${step.firstError ?? 'no message'})`;
  const sentRate = step.windowS > 0 ? step.sent / step.windowS : 0;
  if (step.backlogAtEnd > Math.max(1, sentRate * maxBacklogS)) return `backlog ${step.backlogAtEnd} > ${maxBacklogS} s of work`;
  if (sentRate < step.offered * minFraction) return `sender reached only ${Math.round(sentRate)}/s of ${step.offered}/s`;
  if (deliveredRate(step) < sentRate * minFraction) return `delivered ${Math.round(deliveredRate(step))}/s of ${Math.round(sentRate)}/s sent`;
  return undefined;
}

/** The outcome of a stepped search. */
export interface RateSearch {
  /** Highest sustained delivered rate (items/s), 0 when even the first step failed. */
  readonly maxSustainedRate: number;
  /** Offered rate of that step. */
  readonly maxSustainedOffered: number;
  /** Why the search stopped. */
  readonly limit: string;
  readonly steps: ReadonlyArray<StepResult & { readonly sustained: boolean; readonly reason?: string }>;
}

/** Options of {@link searchMaxRate}. */
export interface SearchOptions extends SustainRule {
  readonly startRate: number;
  /** Each next offered rate is the previous times this until a step fails. @default 2 */
  readonly factor?: number;
  /** Most coarse steps. */
  readonly maxSteps: number;
  /** Bisection steps (geometric mean) between the last sustained and the first failed rate. @default 1 */
  readonly refineSteps?: number;
}

/** Next offered rate of a geometric search. */
export function nextRate(rate: number, factor: number): number {
  return Math.max(rate + 1, Math.round(rate * factor));
}

/** Geometric midpoint of a sustained and a failed rate (rounded), used to refine the search. */
export function midRate(sustained: number, failed: number): number {
  return Math.round(Math.sqrt(sustained * failed));
}

/**
 * Steps the offered rate up geometrically until a step is not sustained, then refines between the
 * last sustained and the first failed rate; `runStep` measures one step.
 */
export async function searchMaxRate(runStep: (offered: number) => Promise<StepResult>, opts: SearchOptions, log: (line: string) => void = () => undefined): Promise<RateSearch> {
  const steps: Array<StepResult & { sustained: boolean; reason?: string }> = [];
  let best: StepResult | undefined;
  let limit = `the highest step (${opts.maxSteps} steps) was still sustained: the load generator's ceiling, not the system's`;
  const measure = async (rate: number): Promise<string | undefined> => {
    const step = await runStep(rate);
    const reason = unsustainedReason(step, opts);
    steps.push({ ...step, sustained: reason === undefined, ...(reason !== undefined ? { reason } : {}) });
    log(`  step ${rate}/s: delivered ${Math.round(deliveredRate(step))}/s, backlog ${step.backlogAtEnd}, undelivered ${step.undelivered}, drain ${step.drainS} s${step.machineCpuBusy !== undefined ? `, machine CPU ${Math.round(step.machineCpuBusy * 100)}%` : ''}${step.coresByPart !== undefined ? `, cores ${Object.entries(step.coresByPart).map(([k, v]) => `${k} ${v}`).join(' ')}` : ''} → ${reason ?? 'sustained'}`);
    if (reason === undefined && (!best || deliveredRate(step) > deliveredRate(best))) best = step;
    return reason;
  };
  let rate = opts.startRate;
  let lastOk: number | undefined;
  let failed: number | undefined;
  for (let i = 0; i < opts.maxSteps; i++) {
    const reason = await measure(rate);
    if (reason !== undefined) {
      failed = rate;
      limit = `at ${rate}/s: ${reason}`;
      if (lastOk !== undefined || i === opts.maxSteps - 1) break;
      // The start was already too high: search downwards instead.
      const lower = Math.floor(rate / (opts.factor ?? 2));
      if (lower < 1) break;
      rate = lower;
      continue;
    }
    lastOk = rate;
    if (failed !== undefined) break;
    rate = nextRate(rate, opts.factor ?? 2);
  }
  if (failed !== undefined && lastOk !== undefined) {
    for (let i = 0; i < (opts.refineSteps ?? 1); i++) {
      const mid = midRate(lastOk, failed);
      if (mid <= lastOk || mid >= failed) break;
      const reason = await measure(mid);
      if (reason === undefined) lastOk = mid;
      else {
        failed = mid;
        limit = `at ${mid}/s: ${reason}`;
      }
    }
  }
  return {
    maxSustainedRate: best ? Math.round(deliveredRate(best)) : 0,
    maxSustainedOffered: best?.offered ?? 0,
    limit,
    steps,
  };
}
