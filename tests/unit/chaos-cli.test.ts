import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, parseChaosArgs, TargetKind, UsageError, type LocalOpener } from '../../scripts/chaos/cli.js';
import { budgetFor, DEFAULT_OVERRIDE } from '../../scripts/chaos/budget.js';
import type { ChaosReport } from '../../scripts/chaos/report.js';
import { SCENARIO_NAMES } from '../../scripts/chaos/scenarios.js';
import { QueueMode } from '../../shared/index.js';

describe('chaos command line', () => {
  it('GIVEN no flags WHEN parsing THEN it runs every scenario locally in both queue modes', () => {
    const o = parseChaosArgs([], {});
    assert.equal(o.target, TargetKind.LOCAL);
    assert.deepEqual(o.scenarios, [...SCENARIO_NAMES]);
    assert.ok(o.scenarios.includes('haproxy-pause') && o.scenarios.includes('leader-pause'));
    assert.deepEqual(o.modes, [QueueMode.MIRRORED, QueueMode.QUORUM]);
    assert.deepEqual(o.budget, DEFAULT_OVERRIDE, "issue 13's targets");
  });

  it('GIVEN --budget or --no-budget WHEN parsing THEN the override is kept; a bad value or both flags are errors naming the flag', () => {
    const o = parseChaosArgs(['--scenario', 'haproxy-pause', '--queue-mode', 'quorum', '--budget', 'p99=30s'], {});
    assert.deepEqual(budgetFor('haproxy-pause', 'quorum', o.budget), { p99Ms: 30_000, waitMs: 15_000 });
    assert.equal(budgetFor('node-kill', 'quorum', parseChaosArgs(['--no-budget'], {}).budget), undefined);
    assert.throws(() => parseChaosArgs(['--budget', 'p99=soon'], {}), (e: Error) => e instanceof UsageError && /^--budget: "soon"/.test(e.message));
    assert.throws(() => parseChaosArgs(['--budget', 'p99=1s', '--no-budget'], {}), /--budget and --no-budget/);
    assert.throws(() => parseChaosArgs(['--no-budget=yes'], {}), UsageError);
  });

  it('GIVEN --keep WHEN parsing THEN the twins\' work folders are kept; without it they are not', () => {
    assert.equal(parseChaosArgs(['--keep'], {}).keep, true);
    assert.equal(parseChaosArgs([], {}).keep, false);
  });

  it('GIVEN --app-log-level WHEN parsing THEN the twin\'s replicas log at that level; warn without it, and an unknown level names the flag', () => {
    assert.equal(parseChaosArgs([]).appLogLevel, 'warn');
    assert.equal(parseChaosArgs(['--app-log-level', 'info']).appLogLevel, 'info');
    assert.throws(() => parseChaosArgs(['--app-log-level', 'loud']), (e: unknown) => e instanceof UsageError && /--app-log-level/.test(e.message));
  });

  it('GIVEN --smoke WHEN parsing THEN it is a node kill and an app kill in mirrored mode', () => {
    const o = parseChaosArgs(['--smoke', '--seed', '7'], {});
    assert.deepEqual(o.scenarios, ['node-kill', 'app-kill']);
    assert.deepEqual(o.modes, [QueueMode.MIRRORED]);
    assert.equal(o.seed, 7);
  });

  it('GIVEN --queue-mode quorum and one scenario WHEN parsing THEN only that runs in quorum mode', () => {
    const o = parseChaosArgs(['--scenario', 'leader-kill', '--queue-mode', 'quorum', '--duration', '60'], {});
    assert.deepEqual(o.scenarios, ['leader-kill']);
    assert.deepEqual(o.modes, [QueueMode.QUORUM]);
    assert.equal(o.durationS, 60);
  });

  it('GIVEN bad values WHEN parsing THEN the error names the flag', () => {
    assert.throws(() => parseChaosArgs(['--queue-mode', 'classic'], {}), (e: Error) => e instanceof UsageError && /--queue-mode/.test(e.message));
    assert.throws(() => parseChaosArgs(['--target', 'docker'], {}), /--target/);
    assert.throws(() => parseChaosArgs(['--duration', 'soon'], {}), /--duration/);
    assert.throws(() => parseChaosArgs(['--bogus'], {}), UsageError);
  });

  it('GIVEN the kubernetes target WHEN --url is missing or both modes are asked THEN the error says what to give', () => {
    assert.throws(() => parseChaosArgs(['--target', 'kubernetes'], {}), /--url/);
    assert.throws(() => parseChaosArgs(['--target', 'kubernetes', '--url', 'http://x', '--queue-mode', 'both'], {}), /one mode/);
  });

  it('GIVEN JWT_SECRET in the environment WHEN parsing the kubernetes target THEN it is used', () => {
    const o = parseChaosArgs(['--target', 'kubernetes', '--url', 'http://127.0.0.1:8080'], { JWT_SECRET: 's'.repeat(32) });
    assert.equal(o.jwtSecret, 's'.repeat(32));
    assert.deepEqual(o.modes, []);
  });

  it('GIVEN --render and a saved report WHEN running THEN it prints the table, exits with the report verdict and starts nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaos-render-'));
    const lost: ChaosReport = {
      target: 'local', seed: 3, startedAt: '2026-11-23T10:00:00Z', finishedAt: '2026-11-23T10:01:00Z', runTimeS: 60, gitCommit: 'abcdef0123456789', options: {},
      runs: [{ scenario: 'node-kill', mode: 'mirrored', startedAt: 0, durationS: 60, faults: [], counters: {}, error: 'target failed: boom' }],
    };
    const file = join(dir, 'chaos.json');
    writeFileSync(file, JSON.stringify(lost));
    const neverOpen: LocalOpener = () => Promise.reject(new Error('--render must not open a target'));
    const out: string[] = [];
    const write = process.stdout.write;
    const errWrite = process.stderr.write;
    process.stdout.write = ((chunk: string) => out.push(chunk) > 0) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string) => out.push(chunk) > 0) as typeof process.stderr.write;
    try {
      assert.equal(await main(['--render', file], neverOpen), 1);
      assert.equal(await main(['--render', join(dir, 'missing.json')], neverOpen), 2);
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(out.join(''), /\| node-kill +\| mirrored +\| FAIL/);
    assert.match(out.join(''), /commit abcdef012345; FAIL/);
    assert.match(out.join(''), /--render: cannot read/);
  });
});
