import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { followGraph, mulberry32 } from '../../scripts/chaos/graph.js';

const users = Array.from({ length: 30 }, (_, i) => `u${i}`);

describe('chaos follow graph', () => {
  it('GIVEN the same seed WHEN building the graph twice THEN the edges are identical', () => {
    assert.deepEqual(followGraph(users, 42), followGraph(users, 42));
  });

  it('GIVEN two seeds WHEN building graphs THEN they differ', () => {
    assert.notDeepEqual(followGraph(users, 1), followGraph(users, 2));
  });

  it('GIVEN bounds 2..6 WHEN building the graph THEN every user follows 2..6 distinct others and never itself', () => {
    const edges = followGraph(users, 7, { minFollows: 2, maxFollows: 6 });
    for (const u of users) {
      const followees = edges.filter(([f]) => f === u).map(([, e]) => e);
      assert.ok(followees.length >= 2 && followees.length <= 6, `${u} follows ${followees.length}`);
      assert.equal(new Set(followees).size, followees.length);
      assert.ok(!followees.includes(u));
    }
  });

  it('GIVEN a seed WHEN drawing numbers THEN they lie in [0, 1)', () => {
    const rand = mulberry32(9);
    for (let i = 0; i < 1000; i++) {
      const x = rand();
      assert.ok(x >= 0 && x < 1);
    }
  });
});
