/** The twin's kubelet-style liveness counter (pure). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LivenessCounter } from '../../scripts/local/liveness.js';

describe('LivenessCounter', () => {
  it('GIVEN a process that has passed a check WHEN it fails threshold checks in a row THEN the last one makes it due for a restart', () => {
    const c = new LivenessCounter(3);
    assert.equal(c.record(true), false);
    assert.deepEqual([c.record(false), c.record(false), c.record(false)], [false, false, true]);
  });

  it('GIVEN failures WHEN a check passes in between THEN the count starts over', () => {
    const c = new LivenessCounter(2);
    c.record(true);
    c.record(false);
    c.record(true);
    assert.equal(c.record(false), false);
    assert.equal(c.failuresInRow, 1);
  });

  it('GIVEN a process that has not passed a check since it started WHEN it fails THEN nothing counts (the startup probe gates liveness)', () => {
    const c = new LivenessCounter(1);
    assert.equal(c.record(false), false);
    assert.equal(c.record(false), false);
    c.record(true);
    assert.equal(c.record(false), true);
  });

  it('GIVEN a counter with failures WHEN the process is replaced THEN it is back behind the startup gate', () => {
    const c = new LivenessCounter(1);
    c.record(true);
    c.reset();
    assert.equal(c.record(false), false);
  });

  it('GIVEN a threshold below 1 WHEN the counter is made THEN it is refused', () => {
    assert.throws(() => new LivenessCounter(0), /failureThreshold/);
  });
});
