import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { QueueMode } from '../../shared/index.js';
import { DRAIN_ATTEMPTS, drainScript, drainSteps, RABBITMQ_UPGRADE } from '../../rabbitmq-cluster/index.js';

/**
 * Runs the preStop script with a stand-in `rabbitmq-upgrade` first on PATH that logs its arguments
 * and fails its first `drainFailures` drains; returns the exit status and the calls in order.
 */
function runPreStop(drainFailures: number): { status: number | null; calls: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'feedkit-drain-'));
  try {
    const log = join(dir, 'calls');
    const fake = join(dir, RABBITMQ_UPGRADE);
    writeFileSync(log, '');
    writeFileSync(
      fake,
      `#!/bin/sh\necho "$*" >> ${log}\n[ "$1" = drain ] || exit 0\nn=$(grep -c '^drain$' ${log})\n[ "$n" -gt ${drainFailures} ] || { echo "{:normal, {:gen_server, :call, []}}" >&2; exit 69; }\n`,
    );
    chmodSync(fake, 0o755);
    const r = spawnSync('sh', ['-c', drainScript(QueueMode.MIRRORED, 5)], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, calls: readFileSync(log, 'utf8').trim().split('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('drain steps before a planned node stop', () => {
  test('GIVEN mirrored mode WHEN the steps are built THEN they wait for synchronised mirrors (bounded, best effort) and then drain', () => {
    const steps = drainSteps(QueueMode.MIRRORED, 120);
    assert.deepEqual(steps.map((s) => s.args), [['await_online_synchronized_mirror', '-t', '120'], ['drain']]);
    assert.deepEqual(steps.map((s) => s.bestEffort), [true, false]);
    assert.deepEqual(steps.map((s) => s.attempts), [1, DRAIN_ATTEMPTS]);
  });

  test('GIVEN quorum mode WHEN the steps are built THEN they wait for quorum plus one before draining', () => {
    assert.deepEqual(drainSteps(QueueMode.QUORUM, 30)[0]!.args, ['await_online_quorum_plus_one', '-t', '30']);
  });

  test('GIVEN the steps as a preStop script WHEN the wait fails THEN the script still drains (|| echo ...; then the drain)', () => {
    const script = drainScript(QueueMode.QUORUM, 30);
    assert.match(script, new RegExp(`^${RABBITMQ_UPGRADE} await_online_quorum_plus_one -t 30 \\|\\| echo .+>&2; .*until ${RABBITMQ_UPGRADE} drain;`));
  });

  test('GIVEN a drain that fails once (a closing connection raced it) WHEN the preStop script runs THEN it drains again and succeeds', () => {
    const r = runPreStop(1);
    assert.equal(r.status, 0);
    assert.deepEqual(r.calls, ['await_online_synchronized_mirror -t 5', 'drain', 'drain']);
  });

  test('GIVEN a drain that fails every run WHEN the preStop script runs THEN it gives up after the last run with a failure status', () => {
    const r = runPreStop(DRAIN_ATTEMPTS);
    assert.notEqual(r.status, 0);
    assert.deepEqual(r.calls.filter((c) => c === 'drain').length, DRAIN_ATTEMPTS);
  });

  test('GIVEN a wait that is not a whole positive number of seconds WHEN the steps are built THEN it is refused', () => {
    assert.throws(() => drainSteps(QueueMode.QUORUM, 0), /syncWaitSeconds/);
    assert.throws(() => drainSteps(QueueMode.QUORUM, 1.5), /syncWaitSeconds/);
  });
});
