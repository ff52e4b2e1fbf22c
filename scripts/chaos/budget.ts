/**
 * Stall budgets: how long a scenario may hold deliveries up and still PASS. "Nothing lost" alone
 * passed a partition whose p99 was 75 s; with a budget the verdict also fails a run in which
 * somebody waited too long. Defaults are issue 13's targets per scenario and queue mode; the CLI
 * overrides them (`--budget`, `--no-budget`). Pure: the verdict is a function of a check result.
 */
import { QueueMode } from '../../shared/index.js';
import { UsageError } from '../cli-args.js';
import type { CheckResult } from './checker.js';
import type { ScenarioName } from './scenarios.js';

/** Limits of one scenario run, in ms; an absent figure is not judged. */
export interface Budget {
  /** Fault-window p99: latency of posts created between a fault and its heal. */
  readonly p99Ms?: number;
  /** Worst follower wait (longest time any follower had an acknowledged post outstanding). */
  readonly waitMs?: number;
  /** Longest `drained` over the run's faults. */
  readonly drainedMs?: number;
}

/** The figures a budget limits, as `--budget` names them. */
export enum BudgetKey {
  P99 = 'p99',
  WAIT = 'wait',
  DRAINED = 'drained',
}

const FIELD: Readonly<Record<BudgetKey, keyof Budget>> = { [BudgetKey.P99]: 'p99Ms', [BudgetKey.WAIT]: 'waitMs', [BudgetKey.DRAINED]: 'drainedMs' };

/** A clean failure (kill -9 of a node, a front or a replica): issue 13's "p99 ≤ 1.5 s and drained ≤ 2 s". */
const CLEAN_FAILURE: Budget = { p99Ms: 1500, waitMs: 2000, drainedMs: 2000 };
/** A planned restart: "p99 ≤ 1 s"; nobody should wait longer than that either. */
const PLANNED: Budget = { p99Ms: 1000, waitMs: 1000 };
/**
 * A silent part (hung node, cut-off node, hung front): "quorum p99 ≤ 15 s; mirrored p99 ≤ 30 s"
 * (a hung mirror blocks confirms until the node is declared down). The wait gets the same bound.
 */
const SILENT: Readonly<Record<QueueMode, Budget>> = {
  [QueueMode.QUORUM]: { p99Ms: 15_000, waitMs: 15_000 },
  [QueueMode.MIRRORED]: { p99Ms: 30_000, waitMs: 30_000 },
};

/**
 * Default budget per scenario and queue mode (issue 13's targets). The wait bound is the drained
 * target where the issue gives one, else the p99 target. `all-nodes` has none: with every node
 * down nothing can flow until the cluster re-forms, so only loss is judged.
 */
export const DEFAULT_BUDGETS: Readonly<Record<ScenarioName, Readonly<Record<QueueMode, Budget>> | undefined>> = {
  'node-kill': { [QueueMode.MIRRORED]: CLEAN_FAILURE, [QueueMode.QUORUM]: CLEAN_FAILURE },
  'leader-kill': { [QueueMode.MIRRORED]: CLEAN_FAILURE, [QueueMode.QUORUM]: CLEAN_FAILURE },
  'haproxy-kill': { [QueueMode.MIRRORED]: CLEAN_FAILURE, [QueueMode.QUORUM]: CLEAN_FAILURE },
  'app-kill': { [QueueMode.MIRRORED]: CLEAN_FAILURE, [QueueMode.QUORUM]: CLEAN_FAILURE },
  'rolling-restart': { [QueueMode.MIRRORED]: PLANNED, [QueueMode.QUORUM]: PLANNED },
  'node-pause': SILENT,
  'leader-pause': SILENT,
  partition: SILENT,
  'leader-partition': SILENT,
  'haproxy-pause': SILENT,
  'all-nodes': undefined,
  // No fault: what fails a soak is any failover at all (SpuriousFailover), not a stall budget.
  soak: undefined,
};

/** What `--budget` / `--no-budget` asked for. */
export type BudgetOverride = { readonly kind: 'none' } | { readonly kind: 'defaults'; readonly set: Partial<Record<keyof Budget, number | null>> };

/** No flag given: the defaults. */
export const DEFAULT_OVERRIDE: BudgetOverride = { kind: 'defaults', set: {} };

/** The budget `scenario` in `mode` runs under, after the override; undefined when nothing is judged. */
export function budgetFor(scenario: string, mode: string, override: BudgetOverride = DEFAULT_OVERRIDE): Budget | undefined {
  if (override.kind === 'none') return undefined;
  const base: Record<string, number | undefined> = { ...DEFAULT_BUDGETS[scenario as ScenarioName]?.[mode as QueueMode] };
  for (const [field, ms] of Object.entries(override.set)) base[field] = ms ?? undefined;
  const budget = Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Budget;
  return Object.keys(budget).length ? budget : undefined;
}

/** `1.5s`, `1500ms`, `2m` → ms. Throws a {@link UsageError} naming `flag`. */
export function parseDuration(flag: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(raw.trim());
  if (!m) throw new UsageError(`--${flag}: "${raw}" is not a duration; write it like 1500ms, 1.5s or 2m`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm']);
}

/**
 * Parses `--budget KEY=DURATION[,KEY=DURATION]` (keys p99, wait, drained; `off` drops that limit)
 * and `--no-budget`. The given keys replace the defaults for every scenario of the run; the others
 * keep their defaults. Throws a {@link UsageError} naming the flag and what it accepts.
 */
export function parseBudgetFlags(raw: string | undefined, noBudget: boolean): BudgetOverride {
  if (noBudget && raw !== undefined) throw new UsageError('--budget and --no-budget: give one of them, not both');
  if (noBudget) return { kind: 'none' };
  if (raw === undefined) return DEFAULT_OVERRIDE;
  const keys = Object.values(BudgetKey) as string[];
  const set: Partial<Record<keyof Budget, number | null>> = {};
  for (const item of raw.split(',').map((s) => s.trim())) {
    const [key, value, extra] = item.split('=');
    if (key === undefined || value === undefined || extra !== undefined || !keys.includes(key)) {
      throw new UsageError(`--budget: "${item}" is not KEY=DURATION with KEY one of ${keys.join(', ')} (e.g. --budget p99=30s,wait=40s or p99=off)`);
    }
    set[FIELD[key as BudgetKey]] = value === 'off' ? null : parseDuration('budget', value);
  }
  return { kind: 'defaults', set };
}

/** Why `result` is over `budget`: one line per figure over its limit; empty when within. */
export function overBudget(result: CheckResult, budget: Budget | undefined): string[] {
  if (!budget) return [];
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const out: string[] = [];
  const window = result.faultWindow;
  if (budget.p99Ms !== undefined && window && window.count > 0 && window.p99Ms > budget.p99Ms) {
    out.push(`fault-window p99 ${s(window.p99Ms)} > ${s(budget.p99Ms)}`);
  }
  const worst = result.waits?.worst;
  if (budget.waitMs !== undefined && worst && worst.waitMs > budget.waitMs) {
    out.push(`worst follower wait ${s(worst.waitMs)} (${worst.follower}, ${worst.fromS}–${worst.toS} s) > ${s(budget.waitMs)}`);
  }
  if (budget.drainedMs !== undefined) {
    const drained = result.faults.map((f) => f.drainedS);
    if (drained.some((d) => d === null)) out.push(`a fault's backlog never drained (budget ${s(budget.drainedMs)})`);
    const longest = Math.max(0, ...drained.filter((d): d is number => d !== null)) * 1000;
    if (longest > budget.drainedMs) out.push(`drained ${s(longest)} > ${s(budget.drainedMs)}`);
  }
  return out;
}

/** `p99 ≤ 1.5 s, wait ≤ 2.0 s` for the report; `none` when nothing is judged. */
export function describeBudget(budget: Budget | undefined): string {
  if (!budget) return 'none';
  const parts = (Object.values(BudgetKey) as BudgetKey[]).flatMap((k) => {
    const ms = budget[FIELD[k]];
    return ms === undefined ? [] : [`${k} ≤ ${(ms / 1000).toFixed(1)} s`];
  });
  return parts.join(', ');
}

/** The README's table of default budgets (`p99` is the fault-window p99), one row per scenario. */
export function budgetTable(): string {
  const rows = (Object.keys(DEFAULT_BUDGETS) as ScenarioName[]).map((name) => {
    const unjudged = name === 'soak' ? 'none: loss and any failover at all are judged' : 'none: only loss is judged';
    const cell = (mode: QueueMode) => describeBudget(budgetFor(name, mode)).replace(/^none$/, unjudged);
    return `| \`${name}\` | ${cell(QueueMode.MIRRORED)} | ${cell(QueueMode.QUORUM)} |`;
  });
  return ['| scenario | mirrored | quorum |', '|---|---|---|', ...rows].join('\n');
}
