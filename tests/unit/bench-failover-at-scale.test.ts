/** Pure figures of the `failover-at-scale` benchmark: the follower's longest wait for a post created after a cut. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { longestWait } from '../../scripts/bench/failover-at-scale.js';

describe('longestWait', () => {
  it('GIVEN posts around a cut WHEN taking the longest wait THEN only acknowledged posts sent in the window count, a missing one is undelivered', () => {
    const items = [
      { sentAt: 90, id: 'a', receivedAt: 5000 }, // before the cut: not counted even though it waited longest
      { sentAt: 100, id: 'b', receivedAt: 2100 },
      { sentAt: 200, id: 'c', receivedAt: 2150 },
      { sentAt: 300 }, // never acknowledged: not promised
      { sentAt: 400, id: 'd' },
      { sentAt: 900, id: 'e', receivedAt: 9000 }, // after the window
    ];
    assert.deepEqual(longestWait(items, 100, 900), { longestMs: 2000, posts: 3, undelivered: 1 });
  });
});
