/**
 * The shared argument parser (scripts/cli-args.ts), and every CLI under scripts/ run as a process:
 * an unknown flag and a bad value give exit code 2 with an error naming the flag and the usage,
 * `--help` gives the usage and exit code 0. None of these runs gets past its command line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { enumFlag, HelpRequested, listFlag, numberFlag, parseFlags, parseOrExitCode, TCP_PORT, UsageError } from '../../scripts/cli-args.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';

describe('shared argument parser', () => {
  const OPTIONS = { seed: { type: 'string' }, keep: { type: 'boolean' } } as const;

  it('GIVEN known flags in either spelling WHEN parsing THEN the values are typed strings and booleans', () => {
    assert.deepEqual({ ...parseFlags(['--seed', '42', '--keep'], OPTIONS).values }, { seed: '42', keep: true });
    assert.deepEqual({ ...parseFlags(['--seed=42'], OPTIONS).values }, { seed: '42' });
  });

  it('GIVEN an unknown flag, a missing value, a value on a boolean or a stray positional WHEN parsing THEN a UsageError names it', () => {
    assert.throws(() => parseFlags(['--sed', '42'], OPTIONS), (e: unknown) => e instanceof UsageError && /'--sed'/.test((e as Error).message));
    assert.throws(() => parseFlags(['--seed'], OPTIONS), (e: unknown) => e instanceof UsageError && /--seed/.test((e as Error).message));
    assert.throws(() => parseFlags(['--keep=yes'], OPTIONS), (e: unknown) => e instanceof UsageError && /--keep/.test((e as Error).message));
    assert.throws(() => parseFlags(['extra'], OPTIONS), (e: unknown) => e instanceof UsageError && /'extra'/.test((e as Error).message));
    assert.deepEqual(parseFlags(['up', '--keep'], OPTIONS, { positionals: true }).positionals, ['up']);
  });

  it('GIVEN --help or -h WHEN parsing THEN help is requested', () => {
    assert.throws(() => parseFlags(['--help'], OPTIONS), HelpRequested);
    assert.throws(() => parseFlags(['-h'], OPTIONS), HelpRequested);
  });

  it('GIVEN number, enum and list values WHEN read THEN good ones come back and bad ones name the flag and the accepted range', () => {
    assert.equal(numberFlag('replicas', '3', { min: 1, max: 50, integer: true }), 3);
    assert.equal(numberFlag('replicas', undefined, { min: 1 }), undefined);
    assert.equal(numberFlag('rate', undefined, { min: 0.1 }, 10), 10);
    assert.throws(() => numberFlag('replicas', '0', { min: 1, max: 50, integer: true }), /^UsageError: --replicas: "0" is not a whole number from 1 to 50$/);
    assert.throws(() => numberFlag('replicas', '2.5', { min: 1, max: 50, integer: true }), /--replicas: "2.5" is not a whole number/);
    assert.throws(() => numberFlag('port', '70000', TCP_PORT), /--port: "70000" is not a whole number from 1 to 65535/);
    assert.throws(() => numberFlag('duration', 'soon', { min: 5 }), /--duration: "soon" is not a number ≥ 5/);
    assert.throws(() => numberFlag('seed', '', { min: 0 }), /--seed: "" is not a number/);
    assert.equal(enumFlag('queue-mode', 'quorum', ['mirrored', 'quorum']), 'quorum');
    assert.throws(() => enumFlag('queue-mode', 'classic', ['mirrored', 'quorum']), /^UsageError: --queue-mode: "classic" is not one of mirrored, quorum$/);
    assert.deepEqual(listFlag('scenario', 'all', ['a', 'b'], 'scenario'), ['a', 'b']);
    assert.deepEqual(listFlag('scenario', 'b, a', ['a', 'b'], 'scenario'), ['b', 'a']);
    assert.throws(() => listFlag('scenario', 'a,c', ['a', 'b'], 'scenario'), /--scenario: "c" is not a scenario; use all or one of a, b/);
  });

  it('GIVEN a bad flag or --help WHEN a CLI parses THEN the error and usage go to stderr with exit code 2, the usage to stdout with 0', () => {
    const lines: string[] = [];
    const io = { log: (l: string) => lines.push(`out ${l}`), err: (l: string) => lines.push(`err ${l}`) };
    assert.deepEqual(parseOrExitCode('usage: x', () => numberFlag('n', 'x', { min: 0 }), io), { ok: false, exitCode: 2 });
    assert.deepEqual(parseOrExitCode('usage: x', () => parseFlags(['-h'], {}), io), { ok: false, exitCode: 0 });
    assert.deepEqual(parseOrExitCode('usage: x', () => 7, io), { ok: true, value: 7 });
    assert.deepEqual(lines, ['err --n: "x" is not a number ≥ 0\nusage: x', 'out usage: x']);
    assert.throws(() => parseOrExitCode('usage: x', () => { throw new Error('not a usage error'); }, io), /not a usage error/);
  });
});

/** Runs a script as `npm run` would (tsx), in a folder with no twin; returns exit code and output. */
function cli(script: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, FEEDKIT_WORKDIR: join(REPO_ROOT, '.local', 'cli-args-test-no-twin'), JWT_SECRET: 's'.repeat(32) },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const CLIS: Array<{ script: string; usage: RegExp; unknown: string[]; bad: string[]; badMessage: RegExp }> = [
  { script: 'scripts/synth.ts', usage: /usage: npm run synth/, unknown: ['--spec-file', 'x'], bad: ['--write-secrets=yes'], badMessage: /--write-secrets/ },
  { script: 'scripts/token.ts', usage: /usage: npm run token/, unknown: ['alice', '--tll', '60'], bad: ['alice', '--ttl', '0'], badMessage: /--ttl: "0" is not a whole number ≥ 1/ },
  { script: 'scripts/local.ts', usage: /usage: npm run local -- up/, unknown: ['up', '--replica', '3'], bad: ['up', '--queue-mode', 'classic'], badMessage: /--queue-mode: "classic" is not one of mirrored, quorum/ },
  { script: 'scripts/chaos.ts', usage: /usage: npm run chaos/, unknown: ['--scenarios', 'all'], bad: ['--seed', 'abc'], badMessage: /--seed: "abc" is not a number ≥ 0/ },
  { script: 'scripts/bench.ts', usage: /usage: npm run bench/, unknown: ['--quik'], bad: ['--scenario', 'speed'], badMessage: /--scenario: "speed" is not a scenario/ },
];

describe('every CLI under scripts/', () => {
  for (const c of CLIS) {
    it(`GIVEN ${c.script} WHEN given --help, an unknown flag and a bad value THEN usage with exit 0, and errors naming the flag with exit 2`, () => {
      const help = cli(c.script, ['--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, c.usage);
      const unknown = cli(c.script, c.unknown);
      assert.equal(unknown.code, 2, unknown.stderr);
      assert.match(unknown.stderr, new RegExp(`Unknown option '${c.unknown.filter((a) => a.startsWith('--')).pop()}'`));
      assert.match(unknown.stderr, c.usage);
      const bad = cli(c.script, c.bad);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, c.badMessage);
      assert.match(bad.stderr, c.usage);
    });
  }
});
