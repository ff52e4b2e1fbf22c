/** Pure figures of the `connect-rate` benchmark: sockets per second and connect latency from the holders' first opens. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectRateOf } from '../../scripts/bench/connect-rate.js';

describe('connectRateOf', () => {
  it('GIVEN two holders WHEN rated THEN the rate spans the earliest start to the last open', () => {
    const r = connectRateOf([
      { startedAt: 1000, latenciesMs: [10, 20], openedAt: [1010, 1500] },
      { startedAt: 1100, latenciesMs: [30], openedAt: [2000] },
    ]);
    assert.equal(r.opened, 3);
    assert.equal(r.seconds, 1);
    assert.equal(r.socketsPerSecond, 3);
    assert.equal(r.latencyMs.max, 30);
  });

  it('GIVEN no opens WHEN rated THEN the rate is 0', () => {
    assert.equal(connectRateOf([{ startedAt: 0, latenciesMs: [], openedAt: [] }]).socketsPerSecond, 0);
  });
});
