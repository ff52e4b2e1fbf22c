/** scripts/shell.ts on real programs (sh, cat, sleep): what reaches the program, and what a failure says. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError, run, runOutput, runSync } from '../../scripts/shell.js';

const ARGS = ['a b', "it's", 'jsonpath={.data.jwt-secret}', '$HOME', '*', ''];
const PRINT_ARGS = ['-c', 'for a in "$@"; do printf "[%s]" "$a"; done', 'sh', ...ARGS];
const PRINTED = '[a b][it\'s][jsonpath={.data.jwt-secret}][$HOME][*][]';

describe('commands through zx', () => {
  it('GIVEN arguments with spaces, quotes and shell syntax WHEN run THEN the program gets each one as given', async () => {
    assert.equal(await run('sh', PRINT_ARGS, { timeoutMs: 10_000 }), PRINTED);
    assert.equal(runSync('sh', PRINT_ARGS, { timeoutMs: 10_000 }), PRINTED);
  });

  it('GIVEN input WHEN run THEN it reaches the command\'s stdin', async () => {
    assert.equal(await run('cat', [], { timeoutMs: 10_000, input: '{"kind":"NetworkPolicy"}' }), '{"kind":"NetworkPolicy"}');
  });

  it('GIVEN a command that fails WHEN run THEN the error names the command line and its stderr', async () => {
    const fails = ['-c', 'echo "no such chain" >&2; exit 3'];
    const check = (e: unknown) => e instanceof CommandError && e.message === `sh ${fails.join(' ')} failed: no such chain` && e.exitCode === 3;
    await assert.rejects(run('sh', fails, { timeoutMs: 10_000 }), check);
    assert.throws(() => runSync('sh', fails, { timeoutMs: 10_000 }), check);
  });

  it('GIVEN a command that fails silently or is missing WHEN run THEN the error gives the exit code or the shell\'s complaint', async () => {
    await assert.rejects(run('sh', ['-c', 'exit 4'], { timeoutMs: 10_000 }), /^CommandError: sh -c exit 4 failed: exit code 4$/);
    await assert.rejects(run('feedkit-no-such-program', ['x'], { timeoutMs: 10_000 }), /feedkit-no-such-program x failed: .*not found/);
  });

  it('GIVEN a command that hangs WHEN its timeout passes THEN it is killed and the error says it timed out', async () => {
    for (const call of [() => run('sleep', ['30'], { timeoutMs: 300 }), async () => runSync('sleep', ['30'], { timeoutMs: 300 })]) {
      const started = Date.now();
      await assert.rejects(call(), /^CommandError: sleep 30 failed: timed out after 0.3 s$/);
      assert.ok(Date.now() - started < 10_000);
    }
  });

  it('GIVEN a command that fails WHEN runOutput THEN it resolves with the exit code and the output instead of throwing', async () => {
    const out = await runOutput('sh', ['-c', 'echo "status 503"; exit 3'], { timeoutMs: 10_000 });
    assert.deepEqual([out.exitCode, out.stdout, out.signal], [3, 'status 503\n', null]);
  });

  it('GIVEN a command that ignores SIGTERM WHEN its timeout passes with timeoutSignal SIGKILL THEN it is killed by SIGKILL at once', async () => {
    const started = Date.now();
    const out = await runOutput('sh', ['-c', 'trap "" TERM; sleep 30'], { timeoutMs: 300, timeoutSignal: 'SIGKILL' });
    // zx signals the shell's children too: the shell may die of the signal or report its child's (128 + 9).
    assert.ok(out.signal === 'SIGKILL' || out.exitCode === 128 + 9, `signal ${out.signal}, exit code ${out.exitCode}`);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  it('GIVEN a user whose ~/.bashrc and ~/.profile leave a mark WHEN commands run (stdin a socket, SHLVL 0: bash would source ~/.bashrc) THEN neither file ran', async () => {
    const home = mkdtempSync(join(tmpdir(), 'feedkit-shell-home-'));
    try {
      for (const file of ['.bashrc', '.bash_profile', '.profile']) writeFileSync(join(home, file), `touch "$HOME/${file}-ran"\n`);
      const env = { ...process.env, HOME: home, SHLVL: '0' };
      await run('true', [], { timeoutMs: 10_000, env });
      runSync('true', [], { timeoutMs: 10_000, env });
      await run('cat', [], { timeoutMs: 10_000, env, input: 'x' });
      await runOutput('true', [], { timeoutMs: 10_000, env });
      for (const file of ['.bashrc', '.bash_profile', '.profile']) assert.equal(existsSync(join(home, `${file}-ran`)), false, `${file} ran`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
