/**
 * CI chaos smoke: the local twin in mirrored mode, a random RabbitMQ node kill and an app replica
 * kill under load, checked by the chaos checker and judged against {@link SMOKE_BUDGET}. Real processes; everything started here is
 * stopped by pid at the end (the twin's handles), and the report goes to a temp folder.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseChaosArgs, runChaos } from '../../scripts/chaos/cli.js';
import { failureReasons } from '../../scripts/chaos/report.js';
import { openLocalTwin } from '../../scripts/chaos/twin-target.js';

const out = mkdtempSync(join(tmpdir(), 'feedkit-chaos-smoke-'));

/**
 * Looser than issue 13's targets for these scenarios (fault-window p99 1.5 s, wait and drained 2 s),
 * which the full suite judges. On a loaded 2-core runner an app whose connection was on the killed
 * node can reconnect through a front that still routes to it until HAProxy marks it down
 * (`inter 2s fall 3`, ~6 s), then back off with jitter: the run that set this (2026-12-01, seed
 * 722127690, other jobs on the machine) had node-kill p99 5.7 s and worst wait 6.1 s, app-kill 2.1 s
 * and 3.1 s. `drained` is off: it runs to the last slow delivery after the kill, including the blip
 * when the restarted node rejoins (22.8 s after the kill in that run, while no follower waited more
 * than 6.1 s); the worst wait judges the same stall per follower. Still fails what issue 13 is about:
 * a follower held for tens of seconds.
 */
const SMOKE_BUDGET = 'p99=10s,wait=15s,drained=off';

describe('chaos smoke (local twin, mirrored)', { timeout: 15 * 60_000 }, () => {
  after(() => rmSync(out, { recursive: true, force: true }));

  it('GIVEN load through the twin WHEN a random node and an app replica are killed -9 and restarted THEN no acknowledged post is lost, nothing unexpected arrives and nobody waits past the smoke budget', async () => {
    const seed = Number(process.env['CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const opts = parseChaosArgs(['--smoke', '--seed', String(seed), '--out', out, '--budget', SMOKE_BUDGET, '--clients', 'ws,sse,graphql'], {});
    const { report } = await runChaos(opts, openLocalTwin);
    for (const scenario of ['node-kill', 'app-kill']) {
      const run = report.runs.find((r) => r.scenario === scenario && r.mode === 'mirrored');
      assert.ok(run, `${scenario} ran`);
      assert.equal(run.error, undefined, `${scenario} (seed ${seed}) broke: ${run.error}`);
      assert.ok(run.result, `${scenario} was checked`);
      assert.ok(run.result.acknowledged > 0, `${scenario}: posts were acknowledged`);
      assert.equal(run.result.lost, 0, `${scenario} (seed ${seed}) lost ${JSON.stringify(run.result.lostSample)}`);
      assert.equal(run.result.unexpected, 0, `${scenario} (seed ${seed}) unexpected ${JSON.stringify(run.result.unexpectedSample)}`);
      assert.deepEqual(failureReasons(run), [], `${scenario} (seed ${seed}) failed its verdict`);
    }
  });
});
