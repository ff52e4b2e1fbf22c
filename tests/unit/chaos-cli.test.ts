import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseChaosArgs, TargetKind, UsageError } from '../../scripts/chaos/cli.js';
import { QueueMode } from '../../spec/index.js';

describe('chaos command line', () => {
  it('GIVEN no flags WHEN parsing THEN it runs every scenario locally in both queue modes', () => {
    const o = parseChaosArgs([], {});
    assert.equal(o.target, TargetKind.LOCAL);
    assert.equal(o.scenarios.length, 8);
    assert.deepEqual(o.modes, [QueueMode.MIRRORED, QueueMode.QUORUM]);
  });

  it('GIVEN --smoke WHEN parsing THEN it is a node kill and an app kill in mirrored mode', () => {
    const o = parseChaosArgs(['--smoke', '--seed', '7'], {});
    assert.deepEqual(o.scenarios, ['node-kill', 'app-kill']);
    assert.deepEqual(o.modes, [QueueMode.MIRRORED]);
    assert.equal(o.seed, 7);
  });

  it('GIVEN --queue-mode quorum and one scenario WHEN parsing THEN only that runs in quorum mode', () => {
    const o = parseChaosArgs(['--scenario', 'leader-kill', '--queue-mode', 'quorum', '--duration', '60'], {});
    assert.deepEqual(o.scenarios, ['leader-kill']);
    assert.deepEqual(o.modes, [QueueMode.QUORUM]);
    assert.equal(o.durationS, 60);
  });

  it('GIVEN bad values WHEN parsing THEN the error names the flag', () => {
    assert.throws(() => parseChaosArgs(['--queue-mode', 'classic'], {}), (e: Error) => e instanceof UsageError && /--queue-mode/.test(e.message));
    assert.throws(() => parseChaosArgs(['--target', 'docker'], {}), /--target/);
    assert.throws(() => parseChaosArgs(['--duration', 'soon'], {}), /--duration/);
    assert.throws(() => parseChaosArgs(['--bogus'], {}), UsageError);
  });

  it('GIVEN the kubernetes target WHEN --url is missing or both modes are asked THEN the error says what to give', () => {
    assert.throws(() => parseChaosArgs(['--target', 'kubernetes'], {}), /--url/);
    assert.throws(() => parseChaosArgs(['--target', 'kubernetes', '--url', 'http://x', '--queue-mode', 'both'], {}), /one mode/);
  });

  it('GIVEN JWT_SECRET in the environment WHEN parsing the kubernetes target THEN it is used', () => {
    const o = parseChaosArgs(['--target', 'kubernetes', '--url', 'http://127.0.0.1:8080'], { JWT_SECRET: 's'.repeat(32) });
    assert.equal(o.jwtSecret, 's'.repeat(32));
    assert.deepEqual(o.modes, []);
  });
});
