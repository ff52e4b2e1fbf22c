import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { check } from '../../scripts/chaos/checker.js';
import { quantile } from '../../scripts/chaos/quantile.js';
import type { AckedPost, Delivery, History } from '../../scripts/chaos/history.js';
import { historyOf, T0 } from '../support/chaos-history.js';

/** alice and bob follow carol; carol follows alice. */
function history(parts: Partial<History>): History {
  return historyOf({
    users: ['alice', 'bob', 'carol'],
    follows: [
      ['alice', 'carol'],
      ['bob', 'carol'],
      ['carol', 'alice'],
    ],
    ...parts,
  });
}

function post(postId: string, author: string, ackAt: number): AckedPost {
  return { postId, author, nonce: `n-${postId}`, sentAt: ackAt - 5, ackAt };
}

function frame(user: string, p: AckedPost, receivedAt: number): Delivery {
  return { user, postId: p.postId, author: p.author, nonce: p.nonce, receivedAt };
}

describe('chaos checker', () => {
  it('GIVEN every acknowledged post reached every follower WHEN checked THEN nothing is lost and the run is ok', () => {
    const p1 = post('p1', 'carol', T0 + 100);
    const p2 = post('p2', 'alice', T0 + 200);
    const result = check(
      history({
        acked: [p1, p2],
        deliveries: [frame('alice', p1, T0 + 110), frame('bob', p1, T0 + 130), frame('carol', p2, T0 + 250)],
      }),
    );
    assert.equal(result.acknowledged, 2);
    assert.equal(result.expectedDeliveries, 3);
    assert.equal(result.delivered, 3);
    assert.equal(result.lost, 0);
    assert.equal(result.unexpected, 0);
    assert.equal(result.ok, true);
  });

  it('GIVEN a follower never received a post WHEN checked THEN it is lost, named in the sample, and the run fails', () => {
    const p1 = post('p1', 'carol', T0 + 100);
    const result = check(history({ acked: [p1], deliveries: [frame('alice', p1, T0 + 110)] }));
    assert.equal(result.lost, 1);
    assert.deepEqual(result.lostSample, [{ postId: 'p1', user: 'bob' }]);
    assert.equal(result.ok, false);
  });

  it('GIVEN the same post arrived twice at one follower WHEN checked THEN it counts one duplicate and one delivery', () => {
    const p1 = post('p1', 'carol', T0 + 100);
    const result = check(
      history({
        acked: [p1],
        deliveries: [frame('alice', p1, T0 + 110), frame('alice', p1, T0 + 900), frame('bob', p1, T0 + 120)],
      }),
    );
    assert.equal(result.duplicates, 1);
    assert.equal(result.delivered, 2);
    assert.equal(result.ok, true);
  });

  it('GIVEN a post id nobody acknowledged arrived WHEN checked THEN it is unexpected', () => {
    const ghost = post('ghost', 'carol', T0 + 100);
    const result = check(history({ deliveries: [frame('alice', ghost, T0 + 110)] }));
    assert.equal(result.unexpected, 1);
    assert.equal(result.unexpectedSample[0]?.reason, 'unknown post');
    assert.equal(result.ok, false);
  });

  it('GIVEN a post arrived at a user who does not follow its author WHEN checked THEN it is unexpected', () => {
    const p1 = post('p1', 'carol', T0 + 100);
    const result = check(
      history({
        acked: [p1],
        deliveries: [frame('alice', p1, T0 + 110), frame('bob', p1, T0 + 110), frame('carol', p1, T0 + 110)],
      }),
    );
    assert.equal(result.unexpected, 1);
    assert.equal(result.unexpectedSample[0]?.user, 'carol');
  });

  it('GIVEN a create with an unknown outcome that was delivered WHEN checked THEN it is neither acknowledged nor unexpected', () => {
    const maybe = post('maybe', 'carol', T0 + 100);
    const result = check(
      history({
        indeterminate: [{ nonce: maybe.nonce, author: 'carol', sentAt: T0 + 90 }],
        deliveries: [frame('alice', maybe, T0 + 110)],
      }),
    );
    assert.equal(result.acknowledged, 0);
    assert.equal(result.indeterminate, 1);
    assert.equal(result.indeterminateDelivered, 1);
    assert.equal(result.unexpected, 0);
  });

  it('GIVEN latencies of 10..1000 ms WHEN checked THEN p50, p99 and max come from the first receipts', () => {
    const acked: AckedPost[] = [];
    const deliveries: Delivery[] = [];
    for (let i = 1; i <= 100; i++) {
      const p = post(`p${i}`, 'alice', T0 + i * 1000);
      acked.push(p);
      deliveries.push(frame('carol', p, p.ackAt + i * 10));
      deliveries.push(frame('carol', p, p.ackAt + 50_000)); // a late duplicate must not count
    }
    const { latency } = check(history({ acked, deliveries }));
    assert.equal(latency.count, 100);
    assert.equal(latency.p50Ms, 500);
    assert.equal(latency.p99Ms, 990);
    assert.equal(latency.maxMs, 1000);
  });

  it('GIVEN a fault that stalled deliveries for 3 s WHEN checked THEN the gap says when they flowed again and when the backlog drained', () => {
    const before = post('before', 'alice', T0 + 900); // outstanding at the fault
    const during = post('during', 'alice', T0 + 2000);
    const after = post('after', 'alice', T0 + 6000);
    const result = check(
      history({
        acked: [before, during, after],
        faults: [{ name: 'kill -9 rabbit-1', at: T0 + 1000, healedAt: T0 + 3000 }],
        deliveries: [frame('carol', before, T0 + 4500), frame('carol', during, T0 + 4000), frame('carol', after, T0 + 6100)],
      }),
    );
    const gap = result.faults.find((f) => f.name === 'kill -9 rabbit-1');
    assert.ok(gap);
    assert.equal(gap.atS, 1);
    assert.equal(gap.healedAfterS, 2);
    assert.equal(gap.flowAgainS, 3);
    assert.equal(gap.drainedS, 3.5);
  });

  it('GIVEN a fault that slowed nothing WHEN checked THEN the backlog counts as drained when deliveries flowed again', () => {
    const after = post('after', 'alice', T0 + 2000);
    const result = check(history({ acked: [after], faults: [{ name: 'kill -9 app-0', at: T0 + 1000 }], deliveries: [frame('carol', after, T0 + 2050)] }));
    const gap = result.faults.find((f) => f.name === 'kill -9 app-0');
    assert.equal(gap?.flowAgainS, 1.05);
    assert.equal(gap?.drainedS, 1.05);
  });

  it('GIVEN part of the backlog never arrived WHEN checked THEN the drain time is null', () => {
    const during = post('during', 'alice', T0 + 2000);
    const result = check(history({ acked: [during], faults: [{ name: 'pause', at: T0 + 1000, healedAt: T0 + 3000 }] }));
    assert.equal(result.faults.find((f) => f.name === 'pause')?.drainedS, null);
    assert.equal(result.faults.find((f) => f.name === 'pause')?.flowAgainS, null);
  });

  it('GIVEN an ascending array WHEN asking nearest-rank quantiles THEN the values are members of the array', () => {
    assert.equal(quantile([], 0.5), 0);
    assert.equal(quantile([7], 0.99), 7);
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2);
  });
});
