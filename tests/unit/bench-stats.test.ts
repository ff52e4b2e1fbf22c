/** Pure figures math of the benchmarks: percentiles, summaries, ratios, the sustained-step rule and the rate search. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { midRate, nextRate, percentile, perItem, ratio, searchMaxRate, summarize, unsustainedReason, type StepResult } from '../../scripts/bench/stats.js';

const step = (over: Partial<StepResult> = {}): StepResult => ({
  offered: 100,
  sent: 1000,
  deliveredInWindow: 990,
  windowS: 10,
  backlogAtEnd: 10,
  undelivered: 0,
  drainS: 0.1,
  ...over,
});

describe('percentile and summarize', () => {
  it('GIVEN 1..100 WHEN taking nearest-rank percentiles THEN p50 is 50 and p99 is 99', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 0.5), 50);
    assert.equal(percentile(values, 0.99), 99);
    assert.equal(percentile(values, 1), 100);
  });

  it('GIVEN no values WHEN summarized THEN every field is 0', () => {
    assert.deepEqual(summarize([]), { count: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 });
  });

  it('GIVEN unsorted values WHEN summarized THEN the input is untouched and the summary is ordered', () => {
    const values = [5, 1, 3];
    const s = summarize(values);
    assert.deepEqual(values, [5, 1, 3]);
    assert.equal(s.min, 1);
    assert.equal(s.max, 5);
    assert.equal(s.p50, 3);
    assert.equal(s.mean, 3);
  });

  it('GIVEN q outside [0, 1] WHEN asking a percentile THEN the error names q', () => {
    assert.throws(() => percentile([1], 2), /q must be in \[0, 1\]/);
  });
});

describe('ratio and perItem', () => {
  it('GIVEN ours 80 and baseline 100 WHEN compared THEN the ratio is 0.8', () => {
    assert.equal(ratio(80, 100), 0.8);
  });

  it('GIVEN a missing side or a zero baseline WHEN compared THEN there is no ratio', () => {
    assert.equal(ratio(undefined, 100), undefined);
    assert.equal(ratio(1, 0), undefined);
  });

  it('GIVEN 10 MB more for 1000 items WHEN divided THEN each item costs 10,000 bytes', () => {
    assert.equal(perItem(5_000_000, 15_000_000, 1000), 10_000);
    assert.equal(perItem(1, 2, 0), undefined);
  });
});

describe('sustained-step rule', () => {
  it('GIVEN everything delivered with a small backlog WHEN judged THEN the step is sustained', () => {
    assert.equal(unsustainedReason(step()), undefined);
  });

  it('GIVEN items left after the drain WHEN judged THEN the reason names them', () => {
    assert.match(unsustainedReason(step({ undelivered: 3 })) ?? '', /3 undelivered/);
  });

  it('GIVEN a backlog of more than a second of work WHEN judged THEN the reason is the backlog', () => {
    assert.match(unsustainedReason(step({ backlogAtEnd: 150 })) ?? '', /backlog 150/);
  });

  it('GIVEN a sender that reached half the offered rate WHEN judged THEN the reason is the sender', () => {
    assert.match(unsustainedReason(step({ sent: 500, deliveredInWindow: 500 })) ?? '', /sender reached only 50\/s/);
  });

  it('GIVEN failed sends WHEN judged THEN the reason carries the first error', () => {
    assert.match(unsustainedReason(step({ failed: 2, firstError: 'HTTP 503' })) ?? '', /2 sends failed \(HTTP 503\)/);
  });
});

describe('rate search', () => {
  /** A fake system that sustains up to `capacity` items/s. */
  const system = (capacity: number) => async (offered: number): Promise<StepResult> => {
    const delivered = Math.min(offered, capacity);
    return step({ offered, sent: offered * 10, deliveredInWindow: delivered * 10, backlogAtEnd: (offered - delivered) * 10 });
  };

  it('GIVEN a capacity of 500/s WHEN searching from 100/s THEN doubling stops at 800 and refinement settles on 400', async () => {
    const r = await searchMaxRate(system(500), { startRate: 100, maxSteps: 8 });
    assert.deepEqual(r.steps.map((s) => s.offered), [100, 200, 400, 800, 566]);
    assert.equal(r.maxSustainedRate, 400);
    assert.match(r.limit, /at 566\/s/);
  });

  it('GIVEN three refinement steps WHEN searching a capacity of 500/s THEN bisection closes in from both sides to the capacity', async () => {
    const r = await searchMaxRate(system(500), { startRate: 100, maxSteps: 8, refineSteps: 3 });
    // 566 fails, 476 holds, 519 holds within the tolerance while delivering the full 500/s.
    assert.deepEqual(r.steps.map((s) => s.offered), [100, 200, 400, 800, 566, 476, 519]);
    assert.equal(r.maxSustainedRate, 500);
    assert.match(r.limit, /at 566\/s/);
  });

  it('GIVEN a start above the capacity WHEN searching THEN it steps down until a step holds', async () => {
    const r = await searchMaxRate(system(150), { startRate: 1000, maxSteps: 8 });
    assert.deepEqual(r.steps.map((s) => s.offered), [1000, 500, 250, 125, 177]);
    assert.equal(r.maxSustainedRate, 125);
  });

  it('GIVEN a system faster than every step WHEN searching THEN the limit says the generator was the ceiling', async () => {
    const r = await searchMaxRate(system(1e9), { startRate: 10, maxSteps: 3 });
    assert.equal(r.maxSustainedRate, 40);
    assert.match(r.limit, /load generator/);
  });

  it('GIVEN rates WHEN stepping THEN the next rate grows and the midpoint is geometric', () => {
    assert.equal(nextRate(100, 2), 200);
    assert.equal(nextRate(1, 1.1), 2);
    assert.equal(midRate(400, 800), 566);
  });
});
