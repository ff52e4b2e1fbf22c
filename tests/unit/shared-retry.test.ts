/** shared/retry.ts: the one waitFor and the one backoff every part uses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../scripts/chaos/graph.js';
import { backoffMs, Jitter, waitFor, WaitHopeless } from '../../shared/index.js';

describe('backoffMs', () => {
  it('GIVEN many reconnect attempts WHEN computing backoff THEN delays grow, stay within [cap/2, cap] and never exceed the cap', () => {
    const rand = mulberry32(3);
    const opts = { baseMs: 100, capMs: 3000, jitter: Jitter.EQUAL, random: rand };
    const first = backoffMs(0, opts);
    assert.ok(first >= 50 && first <= 100);
    for (let a = 5; a < 40; a++) {
      const d = backoffMs(a, opts);
      assert.ok(d >= 1500 && d <= 3000, `attempt ${a}: ${d}`);
    }
  });

  it('GIVEN the default full jitter WHEN the random source gives its extremes THEN the delay spans 0 to the doubled ceiling', () => {
    assert.equal(backoffMs(3, { baseMs: 200, capMs: 10_000, random: () => 0 }), 0);
    assert.equal(backoffMs(3, { baseMs: 200, capMs: 10_000, random: () => 0.5 }), 800);
    assert.equal(backoffMs(1000, { baseMs: 200, capMs: 10_000, random: () => 0.5 }), 5000);
  });

  it('GIVEN no jitter WHEN attempts grow THEN the delay doubles from the base up to the cap', () => {
    const delays = [0, 1, 2, 3, 4, 5].map((a) => backoffMs(a, { baseMs: 100, capMs: 2000, jitter: Jitter.NONE }));
    assert.deepEqual(delays, [100, 200, 400, 800, 1600, 2000]);
  });
});

describe('waitFor', () => {
  it('GIVEN a probe that fails twice, then gives a value WHEN waiting THEN the value comes back', async () => {
    let calls = 0;
    const v = await waitFor('the third call', async () => {
      calls++;
      if (calls === 1) throw new Error('not yet');
      return calls === 3 ? 'ready' : undefined;
    }, { timeoutMs: 5000, intervalMs: 1 });
    assert.equal(v, 'ready');
    assert.equal(calls, 3);
  });

  it('GIVEN a probe that finds the awaited thing can no longer come WHEN it throws WaitHopeless THEN the wait ends at once with that error', async () => {
    let calls = 0;
    const t0 = Date.now();
    await assert.rejects(
      waitFor('a process that exited', async () => {
        calls++;
        if (calls === 2) throw new WaitHopeless('it exited with code 1');
        throw new Error('not yet');
      }, { timeoutMs: 60_000, intervalMs: 1 }),
      (e: unknown) => e instanceof WaitHopeless && e.message === 'gave up waiting for a process that exited: it exited with code 1',
    );
    assert.equal(calls, 2);
    assert.ok(Date.now() - t0 < 5000, 'did not poll out the timeout');
  });

  it('GIVEN a probe that never succeeds WHEN the timeout passes THEN the error names what was awaited and the last probe error', async () => {
    const progress: number[] = [];
    await assert.rejects(
      waitFor('the moon', async () => {
        throw new Error('still below the horizon');
      }, { timeoutMs: 500, intervalMs: 5, onProgress: (ms) => progress.push(ms) }),
      /timed out after \d+ s waiting for the moon \(last error: still below the horizon\)/,
    );
    assert.ok(progress.length > 0, 'onProgress is called between probes');
  });
});
