import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rotate } from '../../scripts/local/twin.js';

describe('local twin', () => {
  it('GIVEN two HAProxy fronts WHEN three replicas get their AMQP_URLS order THEN they alternate which front they try first', () => {
    const fronts = ['haproxy-0', 'haproxy-1'];
    assert.deepEqual([0, 1, 2].map((k) => rotate(fronts, k)), [
      ['haproxy-0', 'haproxy-1'],
      ['haproxy-1', 'haproxy-0'],
      ['haproxy-0', 'haproxy-1'],
    ]);
  });

  it('GIVEN an empty list or a negative start WHEN rotating THEN nothing is lost or invented', () => {
    assert.deepEqual(rotate([], 3), []);
    assert.deepEqual(rotate(['a', 'b', 'c'], -1), ['c', 'a', 'b']);
  });
});
