/**
 * CI chaos smoke: the local twin in mirrored mode, a random RabbitMQ node kill and an app replica
 * kill under load, checked by the chaos checker. Real processes; everything started here is
 * stopped by pid at the end (the twin's handles), and the report goes to a temp folder.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseChaosArgs, runChaos } from '../../scripts/chaos/cli.js';
import { openLocalTwin } from '../../scripts/chaos/twin-target.js';

const out = mkdtempSync(join(tmpdir(), 'feedkit-chaos-smoke-'));

describe('chaos smoke (local twin, mirrored)', { timeout: 15 * 60_000 }, () => {
  after(() => rmSync(out, { recursive: true, force: true }));

  it('GIVEN load through the twin WHEN a random node and an app replica are killed -9 and restarted THEN no acknowledged post is lost and nothing unexpected arrives', async () => {
    const seed = Number(process.env['CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const opts = parseChaosArgs(['--smoke', '--seed', String(seed), '--out', out], {});
    const { report } = await runChaos(opts, openLocalTwin);
    for (const scenario of ['node-kill', 'app-kill']) {
      const run = report.runs.find((r) => r.scenario === scenario && r.mode === 'mirrored');
      assert.ok(run, `${scenario} ran`);
      assert.equal(run.error, undefined, `${scenario} (seed ${seed}) broke: ${run.error}`);
      assert.ok(run.result, `${scenario} was checked`);
      assert.ok(run.result.acknowledged > 0, `${scenario}: posts were acknowledged`);
      assert.equal(run.result.lost, 0, `${scenario} (seed ${seed}) lost ${JSON.stringify(run.result.lostSample)}`);
      assert.equal(run.result.unexpected, 0, `${scenario} (seed ${seed}) unexpected ${JSON.stringify(run.result.unexpectedSample)}`);
    }
  });
});
