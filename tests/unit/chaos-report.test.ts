import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { check } from '../../scripts/chaos/checker.js';
import type { History } from '../../scripts/chaos/history.js';
import { failureReasons, renderHtml, renderSummaryTable, reportBaseName, reportOk, runBroken, type ChaosReport, type ScenarioRun } from '../../scripts/chaos/report.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');

/** One post, sent inside the fault window at 2 s, delivered after `latencyMs` (or lost). */
function run(scenario: string, mode: string, lose: boolean, latencyMs = 30): ScenarioRun {
  const p = { postId: 'p1', author: 'carol', nonce: 'n1', sentAt: T0 + 1950, ackAt: T0 + 2000 };
  const faults = [{ name: 'kill -9 rabbit-1', at: T0 + 1000, healedAt: T0 + 4000 }];
  const history: History = {
    users: ['alice', 'carol'],
    follows: [['alice', 'carol']],
    acked: [p],
    indeterminate: [],
    deliveries: lose ? [] : [{ user: 'alice', postId: 'p1', author: 'carol', receivedAt: p.ackAt + latencyMs }],
    faults,
    startedAt: T0,
    loadEndedAt: T0 + 5000,
    endedAt: T0 + 30_000,
    counters: { reconnects: 2 },
  };
  return { scenario, mode, startedAt: T0, durationS: 9, result: check(history), faults, counters: history.counters };
}

function report(runs: ScenarioRun[]): ChaosReport {
  return { target: 'local', seed: 1, startedAt: new Date(T0).toISOString(), finishedAt: new Date(T0 + 9000).toISOString(), runTimeS: 9, options: {}, runs };
}

describe('chaos report', () => {
  it('GIVEN a clean run and a skipped one WHEN rendering the summary THEN both rows appear with PASS and SKIP and the report passes', () => {
    const r = report([run('node-kill', 'mirrored', false), { scenario: 'partition', mode: 'quorum', startedAt: T0, durationS: 0, faults: [], counters: {}, skipped: 'no iptables' }]);
    const table = renderSummaryTable(r);
    assert.match(table, /\| node-kill +\| mirrored +\| PASS/);
    assert.match(table, /\| partition +\| quorum +\| SKIP/);
    assert.match(table, /partition\/quorum: skipped: no iptables/);
    assert.equal(reportOk(r), true);
  });

  it('GIVEN a run that lost a post WHEN judging the report THEN it fails and the row says FAIL', () => {
    const r = report([run('node-kill', 'quorum', true)]);
    assert.equal(reportOk(r), false);
    assert.match(renderSummaryTable(r), /\| node-kill +\| quorum +\| FAIL/);
  });

  it('GIVEN a run that broke after its load WHEN judging THEN the error and the stall over budget are both reasons', () => {
    const broke = { ...run('leader-pause', 'quorum', false, 20_000), budget: { waitMs: 15_000 }, error: 'fault/heal failed: cluster not whole' };
    assert.deepEqual(failureReasons(broke), ['error: fault/heal failed: cluster not whole', 'over budget (wait ≤ 15.0 s): worst follower wait 20.0 s (alice, 2–22 s) > 15.0 s']);
  });

  it('GIVEN a run that broke before its check WHEN judging the report THEN it fails', () => {
    const r = report([{ scenario: 'all-nodes', mode: 'mirrored', startedAt: T0, durationS: 3, faults: [], counters: {}, error: 'cluster did not re-form' }]);
    assert.equal(reportOk(r), false);
  });

  it('GIVEN a run that needed an operator restart WHEN judging THEN it fails with the action as the reason in the table and the HTML', () => {
    const action = 'operator action: restarted rabbit-2 60 s after the heal: partition left after resume; pause_minority did not pause it';
    const r = report([{ ...run('node-pause', 'mirrored', false), operatorActions: [action] }]);
    assert.equal(reportOk(r), false);
    assert.deepEqual(failureReasons(r.runs[0]!), [`needed an ${action}`]);
    assert.match(renderSummaryTable(r), /\| node-pause +\| mirrored +\| FAIL/);
    assert.match(renderSummaryTable(r), /- node-pause\/mirrored: FAIL: needed an operator action: restarted rabbit-2 60 s after the heal/);
    assert.match(renderHtml(r), /<p class="FAIL">FAIL: needed an operator action: restarted rabbit-2/);
  });

  it('GIVEN a run that lost nothing but held a follower past its budget WHEN judging THEN it fails, the stall is named, and the run is not broken', () => {
    const slow = run('partition', 'quorum', false, 20_000);
    const r = report([{ ...slow, budget: { p99Ms: 15_000, waitMs: 15_000 } }]);
    assert.equal(reportOk(r), false);
    assert.equal(runBroken(r.runs[0]!), false, 'the stack is fine: no fresh twin needed');
    assert.match(renderSummaryTable(r), /FAIL: over budget \(p99 ≤ 15\.0 s, wait ≤ 15\.0 s\): fault-window p99 20\.0 s > 15\.0 s/);
    assert.match(renderSummaryTable(r), /worst follower wait 20\.0 s \(alice, 2–22 s\) > 15\.0 s/);
    assert.equal(reportOk(report([slow])), true, 'the same figures without a budget pass');
  });

  it('GIVEN a run WHEN rendering the summary THEN the fault-window quantiles and the worst wait stand next to flow again and drained', () => {
    const table = renderSummaryTable(report([run('partition', 'quorum', false, 20_000)]));
    const [head, , row] = table.split('\n').map((l) => l.split('|').map((c) => c.trim()));
    const at = (name: string) => head!.indexOf(name);
    assert.deepEqual(head!.slice(at('fault p50 ms'), at('drained s') + 1), ['fault p50 ms', 'fault p99 ms', 'fault max ms', 'worst wait s', 'flow again s', 'drained s']);
    assert.equal(row![at('fault p99 ms')], '20000');
    assert.equal(row![at('worst wait s')], '20.0');
  });

  it('GIVEN a report WHEN rendering HTML THEN it is self-contained with an inline SVG plot marking the fault', () => {
    const html = renderHtml(report([run('node-kill', 'mirrored', false)]));
    assert.match(html, /<svg[^>]*>/);
    assert.match(html, /class="fault"/);
    assert.match(html, /kill -9 rabbit-1/);
    assert.match(html, /worst follower wait s/);
    assert.match(html, /worst wait s: the longest time any one follower had at least one acknowledged post outstanding/);
    assert.doesNotMatch(html, /<script|<link|src="http|href="http/);
  });

  it('GIVEN the commit the run was measured at WHEN rendering HTML THEN the header names it and a dirty tree', () => {
    const html = renderHtml({ ...report([run('node-kill', 'mirrored', false)]), gitCommit: 'a61e71e0123456789', gitDirty: true });
    assert.match(html, /commit a61e71e01234 \(dirty\)/);
  });

  it('GIVEN a scenario name with markup WHEN rendering HTML THEN it is escaped', () => {
    const html = renderHtml(report([run('<b>x</b>', 'mirrored', false)]));
    assert.doesNotMatch(html, /<b>x<\/b>/);
    assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/);
  });

  it('GIVEN a date WHEN naming the report THEN the name is chaos-<timestamp> without colons', () => {
    assert.equal(reportBaseName(new Date(T0)), 'chaos-2026-11-23T10-00-00Z');
  });
});
