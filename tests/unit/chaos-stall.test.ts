import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { check } from '../../scripts/chaos/checker.js';
import type { AckedPost, Delivery, History } from '../../scripts/chaos/history.js';
import { faultWindowLatencies, faultWindows, followerWaits, type ExpectedPair } from '../../scripts/chaos/stall.js';

const T0 = 1_700_000_000_000;

function post(postId: string, author: string, ackAt: number): AckedPost {
  return { postId, author, nonce: `n-${postId}`, sentAt: ackAt - 5, ackAt };
}

function frame(user: string, p: AckedPost, receivedAt: number): Delivery {
  return { user, postId: p.postId, author: p.author, nonce: p.nonce, receivedAt };
}

/**
 * carol posts every second from T0+1 s to T0+20 s; alice and bob follow her. A fault from 5 s to
 * 10 s holds bob's deliveries of the posts acked from 5 s on until 40 s; alice gets everything in 10 ms.
 */
function oneFollowerStalls(): History {
  const posts = Array.from({ length: 20 }, (_, k) => post(`p${k}`, 'carol', T0 + (k + 1) * 1000));
  const deliveries = posts.flatMap((p) => {
    const held = p.ackAt >= T0 + 5000 && p.ackAt < T0 + 10_000;
    return [frame('alice', p, p.ackAt + 10), frame('bob', p, held ? T0 + 40_000 : p.ackAt + 10)];
  });
  return {
    users: ['alice', 'bob', 'carol'],
    follows: [
      ['alice', 'carol'],
      ['bob', 'carol'],
    ],
    acked: posts,
    indeterminate: [],
    deliveries,
    faults: [{ name: 'SIGSTOP rabbit-1', at: T0 + 5000, healedAt: T0 + 10_000 }],
    startedAt: T0,
    loadEndedAt: T0 + 21_000,
    endedAt: T0 + 45_000,
    counters: {},
  };
}

describe('chaos stall figures', () => {
  it('GIVEN one follower held for 35 s while the other gets everything at once WHEN checked THEN the worst wait is that follower\'s 35 s and the median follower saw almost none', () => {
    const r = check(oneFollowerStalls());
    assert.equal(r.ok, true, 'nothing lost');
    assert.equal(r.waits?.worst?.follower, 'bob');
    assert.equal(r.waits?.worst?.waitMs, 35_000, 'from the ack of the oldest held post (5 s) to the last held delivery (40 s)');
    assert.equal(r.waits?.worst?.fromS, 5);
    assert.equal(r.waits?.worst?.toS, 40);
    assert.equal(r.waits?.worst?.posts, 16, 'the 5 held posts and the 11 acked after them while they were held');
    assert.equal(r.waits?.worst?.open, false);
    assert.equal(r.waits?.followers, 2);
    assert.equal(r.waits?.p50Ms, 10, "alice's longest wait");
  });

  it('GIVEN the same run WHEN checked THEN the fault-window quantiles cover only posts created between fault and heal, while the whole-run p50 hides the stall', () => {
    const r = check(oneFollowerStalls());
    assert.equal(r.latency.p50Ms, 10);
    assert.equal(r.faultWindow?.windowS, 5);
    // Sent in [5 s, 10 s): the posts acked at 6..10 s (each is sent 5 ms before its ack).
    assert.equal(r.faultWindow?.count, 10, '5 posts × 2 followers');
    assert.equal(r.faultWindow?.maxMs, 34_000, 'bob got the post acked at 6 s at 40 s');
    assert.equal(r.faultWindow?.p99Ms, 34_000);
    assert.ok((r.faultWindow?.p50Ms ?? 0) >= 10, 'half are alice\'s quick ones');
  });

  it('GIVEN a post that never arrives WHEN computing waits THEN that follower\'s wait stays open until the end of the run', () => {
    const pairs: ExpectedPair[] = [
      { follower: 'bob', sentAt: T0 + 995, ackAt: T0 + 1000 },
      { follower: 'bob', sentAt: T0 + 1995, ackAt: T0 + 2000, receivedAt: T0 + 2010 },
    ];
    const [w] = followerWaits(pairs, T0, T0 + 9000);
    assert.deepEqual(w, { follower: 'bob', waitMs: 8000, from: T0 + 1000, to: T0 + 9000, posts: 2, open: true });
  });

  it('GIVEN overlapping outstanding posts WHEN computing waits THEN they merge into one wait; a gap splits them; a receipt before the ack is no wait', () => {
    const pair = (ackAt: number, receivedAt: number): ExpectedPair => ({ follower: 'f', sentAt: ackAt, ackAt, receivedAt });
    const waits = followerWaits([pair(T0, T0 + 3000), pair(T0 + 2000, T0 + 6000), pair(T0 + 8000, T0 + 8500), pair(T0 + 9000, T0 + 8990)], T0, T0 + 10_000);
    assert.equal(waits[0]?.waitMs, 6000);
    assert.equal(waits[0]?.posts, 2);
  });

  it('GIVEN a post acked before the follower subscribed WHEN computing waits THEN its wait starts at the subscription', () => {
    const [w] = followerWaits([{ follower: 'f', sentAt: T0 - 2000, ackAt: T0 - 2000, receivedAt: T0 + 500 }], T0, T0 + 1000);
    assert.equal(w?.waitMs, 500);
  });

  it('GIVEN a rolling restart\'s overlapping faults and one never healed WHEN building fault windows THEN they merge and the unhealed one lasts to the end of load', () => {
    const windows = faultWindows(
      [
        { name: 'restart a', at: T0 + 1000, healedAt: T0 + 4000 },
        { name: 'restart b', at: T0 + 3000, healedAt: T0 + 6000 },
        { name: 'kill c', at: T0 + 8000 },
      ],
      T0 + 10_000,
    );
    assert.deepEqual(windows, [
      { from: T0 + 1000, to: T0 + 6000 },
      { from: T0 + 8000, to: T0 + 10_000 },
    ]);
  });

  it('GIVEN deliveries of posts sent before, inside and after a window WHEN selecting fault-window latencies THEN only the ones sent inside count, ascending', () => {
    const pair = (sentAt: number, latency: number): ExpectedPair => ({ follower: 'f', sentAt, ackAt: sentAt + 5, receivedAt: sentAt + 5 + latency });
    const got = faultWindowLatencies([pair(T0, 1), pair(T0 + 1000, 300), pair(T0 + 1500, 200), pair(T0 + 2000, 9), { follower: 'g', sentAt: T0 + 1200, ackAt: T0 + 1205 }], [{ from: T0 + 1000, to: T0 + 2000 }]);
    assert.deepEqual(got, [200, 300]);
  });

  it('GIVEN a run without faults WHEN checked THEN the fault window is empty (count 0), not zero latency passed off as a figure', () => {
    const h = oneFollowerStalls();
    const r = check({ ...h, faults: [] });
    assert.equal(r.faultWindow?.count, 0);
    assert.equal(r.faultWindow?.windowS, 0);
  });
});
