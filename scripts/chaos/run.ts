/** Runs one scenario under load against a target: warm-up, faults, heal, quiet period, check. */
import { sleep } from '../../shared/index.js';
import { budgetFor, describeBudget, DEFAULT_OVERRIDE, type BudgetOverride } from './budget.js';
import { check, type CheckResult } from './checker.js';
import type { ClientKind } from './followers/kind.js';
import { mulberry32 } from './graph.js';
import { failureReasons, transportLine, type ScenarioRun } from './report.js';
import { SCENARIOS, type ScenarioName } from './scenarios.js';
import { SpuriousFailover } from './soak.js';
import { UnsupportedFault, type ChaosTarget } from './target.js';
import { Workload } from './workload.js';

/** Timing and size of one scenario run. */
export interface RunOptions {
  readonly seed: number;
  /** Seconds of load in all (at least `afterHealS` after the last heal). @default 40 */
  readonly durationS?: number;
  /** Seconds of load before the first fault. @default 8 */
  readonly warmupS?: number;
  /** Seconds of load after the heal. @default 10 */
  readonly afterHealS?: number;
  /** Seconds a killed part stays down. @default 5 */
  readonly downS?: number;
  /** Longest quiet period; it ends early once everything expected has arrived. @default 90 */
  readonly quietMaxS?: number;
  /** @default 30 */
  readonly users?: number;
  /** @default 10 */
  readonly postsPerSecond?: number;
  /** Seconds to wait for the target to be healthy before and after. @default 240 */
  readonly healthyTimeoutS?: number;
  /** The stall budget: issue 13's targets per scenario and mode unless overridden. @default DEFAULT_OVERRIDE */
  readonly budget?: BudgetOverride;
  /** Transports of the followers, round-robin. @default [ws] */
  readonly clients?: readonly ClientKind[];
  readonly log: (line: string) => void;
}


function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs `name` against `target`; never throws: failures end up in the returned run's `error`. */
export async function runScenario(target: ChaosTarget, name: ScenarioName, opts: RunOptions): Promise<ScenarioRun> {
  const mode = target.queueMode;
  const began = Date.now();
  const log = (line: string) => opts.log(`${name}/${mode}: ${line}`);
  const skipped = target.unsupportedReason(name);
  if (skipped !== undefined) {
    log(`skipped: ${skipped}`);
    return { scenario: name, mode, startedAt: began, durationS: 0, faults: [], counters: {}, skipped };
  }
  const durationS = opts.durationS ?? 40;
  const warmupS = opts.warmupS ?? 8;
  const afterHealS = opts.afterHealS ?? 10;
  const healthyMs = (opts.healthyTimeoutS ?? 240) * 1000;
  const runTag = `${name}-${mode}-${opts.seed}-${began.toString(36)}`;
  let workload: Workload | undefined;
  let error: string | undefined;
  let skippedLate: string | undefined;
  const operatorActions: string[] = [];
  try {
    await target.waitHealthy(healthyMs);
    workload = await Workload.start({
      baseUrl: target.baseUrl,
      jwtSecret: target.jwtSecret,
      seed: opts.seed,
      runTag,
      ...(opts.users !== undefined ? { users: opts.users } : {}),
      ...(opts.postsPerSecond !== undefined ? { postsPerSecond: opts.postsPerSecond } : {}),
      ...(opts.clients !== undefined ? { clients: opts.clients } : {}),
      log,
    });
    const w = workload;
    w.startLoad();
    log(`load started: ${opts.postsPerSecond ?? 10} posts/s, warm-up ${warmupS} s`);
    await sleep(warmupS * 1000);
    try {
      await SCENARIOS[name].run({
        target,
        rand: mulberry32(opts.seed),
        fault: (n) => w.fault(n),
        log,
        downS: opts.downS ?? 5,
        holdS: Math.max(0, durationS - warmupS),
        clientCounters: () => w.counters,
        operatorAction: (line) => {
          operatorActions.push(line);
          log(`OPERATOR ACTION (fails the scenario) ${line}`);
        },
      });
    } catch (e) {
      if (e instanceof UnsupportedFault) skippedLate = e.message;
      else if (e instanceof SpuriousFailover) error = e.message;
      else error = `fault/heal failed: ${errorText(e)}`;
    }
    const loadEnd = Math.max(w.startedAt + durationS * 1000, Date.now() + afterHealS * 1000);
    await sleep(Math.max(0, loadEnd - Date.now()));
    await w.stopLoad();
    log(`load stopped after ${Math.round((w.loadEndedAt - w.startedAt) / 1000)} s; quiet period (at most ${opts.quietMaxS ?? 90} s)`);
    const missing = await w.quiet((opts.quietMaxS ?? 90) * 1000);
    log(`quiet period over: ${missing} deliveries outstanding`);
  } catch (e) {
    error = errorText(e);
  } finally {
    workload?.close();
  }
  const history = workload?.history();
  const result = history && history.startedAt > 0 ? check(history) : undefined;
  if (error === undefined && result !== undefined) {
    // Leave the stack healthy for the next scenario; a stack that does not recover is a failure.
    try {
      await target.waitHealthy(healthyMs);
    } catch (e) {
      error = `did not recover after the heal: ${errorText(e)}`;
    }
  }
  const run: ScenarioRun = {
    scenario: name,
    mode,
    startedAt: history?.startedAt || began,
    durationS: Math.round((Date.now() - began) / 100) / 10,
    ...(result ? { result } : {}),
    faults: history?.faults ?? [],
    counters: history?.counters ?? {},
    ...(skippedLate !== undefined && error === undefined ? { skipped: skippedLate } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(operatorActions.length ? { operatorActions } : {}),
    ...budgetField(name, mode, opts.budget),
  };
  if (result) log(verdictLine(run, result));
  if (error) log(`ERROR ${error}`);
  return run;
}

function budgetField(name: ScenarioName, mode: string, override: BudgetOverride | undefined): Pick<ScenarioRun, 'budget'> {
  const budget = budgetFor(name, mode, override ?? DEFAULT_OVERRIDE);
  return budget ? { budget } : {};
}

/** The progress line with the verdict, the figures and why it failed. */
function verdictLine(run: ScenarioRun, r: CheckResult): string {
  const reasons = failureReasons(run);
  const ms = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)}ms`);
  const w = r.faultWindow && r.faultWindow.count > 0 ? r.faultWindow : undefined;
  return (
    `${reasons.length ? 'FAIL' : 'PASS'} acked=${r.acknowledged} expected=${r.expectedDeliveries} delivered=${r.delivered} lost=${r.lost} dup=${r.duplicates} unexpected=${r.unexpected} p50=${ms(r.latency.p50Ms)} p99=${ms(r.latency.p99Ms)}` +
    ` | fault window ${r.faultWindow?.windowS ?? '-'} s: p50=${ms(w?.p50Ms)} p99=${ms(w?.p99Ms)} max=${ms(w?.maxMs)}` +
    ` | worst wait ${r.waits?.worst ? `${(r.waits.worst.waitMs / 1000).toFixed(1)} s (${r.waits.worst.follower})` : '-'}` +
    r.faults.map((f) => ` | ${f.name}: flow again ${f.flowAgainS ?? '-'} s, drained ${f.drainedS ?? '-'} s`).join('') +
    (transportLine(r) !== undefined ? ` | ${transportLine(r)}` : '') +
    ` | budget ${describeBudget(run.budget)}` +
    reasons.map((x) => ` | ${x}`).join('')
  );
}
