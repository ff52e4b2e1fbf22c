import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QueueMode } from '../../shared/index.js';
import { drainScript, drainSteps, RABBITMQ_UPGRADE } from '../../rabbitmq-cluster/index.js';

describe('drain steps before a planned node stop', () => {
  test('GIVEN mirrored mode WHEN the steps are built THEN they wait for synchronised mirrors (bounded, best effort) and then drain', () => {
    const steps = drainSteps(QueueMode.MIRRORED, 120);
    assert.deepEqual(steps.map((s) => s.args), [['await_online_synchronized_mirror', '-t', '120'], ['drain']]);
    assert.deepEqual(steps.map((s) => s.bestEffort), [true, false]);
  });

  test('GIVEN quorum mode WHEN the steps are built THEN they wait for quorum plus one before draining', () => {
    assert.deepEqual(drainSteps(QueueMode.QUORUM, 30)[0]!.args, ['await_online_quorum_plus_one', '-t', '30']);
  });

  test('GIVEN the steps as a preStop script WHEN the wait fails THEN the script still drains (|| echo ...; drain)', () => {
    const script = drainScript(QueueMode.QUORUM, 30);
    assert.match(script, new RegExp(`^${RABBITMQ_UPGRADE} await_online_quorum_plus_one -t 30 \\|\\| echo .+>&2; ${RABBITMQ_UPGRADE} drain$`));
  });

  test('GIVEN a wait that is not a whole positive number of seconds WHEN the steps are built THEN it is refused', () => {
    assert.throws(() => drainSteps(QueueMode.QUORUM, 0), /syncWaitSeconds/);
    assert.throws(() => drainSteps(QueueMode.QUORUM, 1.5), /syncWaitSeconds/);
  });
});
