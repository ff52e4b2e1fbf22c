import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { budgetFor, budgetTable, DEFAULT_BUDGETS, describeBudget, overBudget, parseBudgetFlags, parseDuration } from '../../scripts/chaos/budget.js';
import type { CheckResult } from '../../scripts/chaos/checker.js';
import { SCENARIO_NAMES } from '../../scripts/chaos/scenarios.js';
import { UsageError } from '../../scripts/cli-args.js';

/** A check result with the figures the budget judges; everything else is a clean run. */
function result(f: { p99Ms?: number; windowCount?: number; waitMs?: number; drainedS?: Array<number | null> }): CheckResult {
  const latency = { basis: 'x', count: 100, p50Ms: 5, p99Ms: 20, maxMs: 30 };
  return {
    acknowledged: 10, indeterminate: 0, indeterminateDelivered: 0, expectedDeliveries: 100, delivered: 100, lost: 0, duplicates: 0, unexpected: 0,
    latency,
    faultWindow: { ...latency, count: f.windowCount ?? 10, p99Ms: f.p99Ms ?? 20, windowS: 5 },
    waits: { worst: { follower: 'bob', waitMs: f.waitMs ?? 100, fromS: 8, toS: 9, posts: 3, open: false }, p50Ms: 20, followers: 2 },
    faults: (f.drainedS ?? [0.1]).map((d) => ({ name: 'kill -9 rabbit-1', atS: 8, healedAfterS: 5, flowAgainS: 0.1, drainedS: d })),
    stallThresholdMs: 1000, series: [], lostSample: [], unexpectedSample: [], ok: true,
  };
}

describe('chaos stall budgets', () => {
  it('GIVEN issue 13 targets WHEN looking up defaults THEN kills get 1.5 s p99 and 2 s drained, a rolling restart 1 s, silent faults 15 s quorum and 30 s mirrored', () => {
    assert.deepEqual(budgetFor('node-kill', 'quorum'), { p99Ms: 1500, waitMs: 2000, drainedMs: 2000 });
    assert.deepEqual(budgetFor('app-kill', 'mirrored'), { p99Ms: 1500, waitMs: 2000, drainedMs: 2000 });
    assert.deepEqual(budgetFor('rolling-restart', 'mirrored'), { p99Ms: 1000, waitMs: 1000 });
    for (const s of ['node-pause', 'leader-pause', 'partition', 'leader-partition', 'haproxy-pause']) {
      assert.deepEqual(budgetFor(s, 'quorum'), { p99Ms: 15_000, waitMs: 15_000 }, s);
      assert.deepEqual(budgetFor(s, 'mirrored'), { p99Ms: 30_000, waitMs: 30_000 }, s);
    }
    assert.equal(budgetFor('all-nodes', 'quorum'), undefined, 'no target for a whole-cluster outage');
  });

  it('GIVEN every scenario WHEN listing defaults THEN each has an entry (an absent one would silently judge nothing)', () => {
    for (const s of SCENARIO_NAMES) assert.ok(s in DEFAULT_BUDGETS, s);
  });

  it('GIVEN --budget p99=30s,drained=off WHEN parsing THEN p99 is replaced and drained dropped for every scenario while wait keeps its default', () => {
    const o = parseBudgetFlags('p99=30s,drained=off', false);
    assert.deepEqual(budgetFor('node-kill', 'quorum', o), { p99Ms: 30_000, waitMs: 2000 });
    assert.deepEqual(budgetFor('all-nodes', 'quorum', o), { p99Ms: 30_000 });
  });

  it('GIVEN --no-budget WHEN parsing THEN nothing is judged; with --budget too it is an error naming both', () => {
    assert.equal(budgetFor('node-kill', 'quorum', parseBudgetFlags(undefined, true)), undefined);
    assert.throws(() => parseBudgetFlags('p99=1s', true), (e: Error) => e instanceof UsageError && /--budget and --no-budget/.test(e.message));
  });

  it('GIVEN bad --budget values WHEN parsing THEN the error names the flag and the accepted form', () => {
    assert.throws(() => parseBudgetFlags('p95=1s', false), /--budget: "p95=1s" is not KEY=DURATION with KEY one of p99, wait, drained/);
    assert.throws(() => parseBudgetFlags('p99', false), /--budget: "p99" is not KEY=DURATION/);
    assert.throws(() => parseBudgetFlags('p99=fast', false), /--budget: "fast" is not a duration; write it like 1500ms, 1.5s or 2m/);
    assert.throws(() => parseBudgetFlags('p99=1s=2s', false), UsageError);
  });

  it('GIVEN durations in ms, s and m WHEN parsing THEN they come back in ms', () => {
    assert.equal(parseDuration('budget', '1500ms'), 1500);
    assert.equal(parseDuration('budget', '1.5s'), 1500);
    assert.equal(parseDuration('budget', '2m'), 120_000);
    assert.throws(() => parseDuration('budget', '-1s'), /--budget/);
  });

  it('GIVEN figures within the budget WHEN judging THEN there is no reason to fail', () => {
    assert.deepEqual(overBudget(result({ p99Ms: 1400, waitMs: 1900, drainedS: [1.9] }), budgetFor('node-kill', 'quorum')), []);
  });

  it('GIVEN a p99 within but one follower waiting too long WHEN judging THEN the wait alone fails the run, naming the follower', () => {
    assert.deepEqual(overBudget(result({ p99Ms: 900, waitMs: 16_000 }), budgetFor('partition', 'quorum')), ['worst follower wait 16.0 s (bob, 8–9 s) > 15.0 s']);
  });

  it('GIVEN a fault-window p99, a drain over budget and a backlog never drained WHEN judging THEN each is a reason', () => {
    const reasons = overBudget(result({ p99Ms: 6400, drainedS: [7.3, null] }), budgetFor('haproxy-kill', 'quorum'));
    assert.deepEqual(reasons, ['fault-window p99 6.4 s > 1.5 s', "a fault's backlog never drained (budget 2.0 s)", 'drained 7.3 s > 2.0 s']);
  });

  it('GIVEN an empty fault window or no budget WHEN judging THEN no figure is invented', () => {
    assert.deepEqual(overBudget(result({ p99Ms: 99_000, windowCount: 0 }), { p99Ms: 1000 }), []);
    assert.deepEqual(overBudget(result({ p99Ms: 99_000, waitMs: 99_000 }), undefined), []);
  });

  it('GIVEN a budget WHEN describing it THEN the limits read in seconds; none reads none', () => {
    assert.equal(describeBudget(budgetFor('node-kill', 'mirrored')), 'p99 ≤ 1.5 s, wait ≤ 2.0 s, drained ≤ 2.0 s');
    assert.equal(describeBudget(undefined), 'none');
  });

  it('GIVEN the default budgets WHEN the README is read THEN its chaos section carries exactly the generated table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const match = /<!-- chaos-budget-table:start -->\n([\s\S]*?)<!-- chaos-budget-table:end -->/.exec(readme);
    assert.ok(match, 'README.md has no chaos-budget-table markers');
    assert.equal(match[1]!.trim(), budgetTable(), 'README budget table is stale: paste the output of budgetTable() (scripts/chaos/budget.ts)');
  });
});
