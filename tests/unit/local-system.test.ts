import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_REQUIREMENTS, installCommand, missingRequirements, onTerminal, PARTITION_REQUIREMENTS, SYSTEM_REQUIREMENTS, type SystemRequirement } from '../../scripts/local/system.js';

describe('system requirements', () => {
  it('GIVEN one program present and one absent WHEN checking THEN only the absent one is missing', () => {
    const reqs: SystemRequirement[] = [
      { what: 'node', path: process.execPath, debianPackage: 'nodejs' },
      { what: 'nothing', path: '/nonexistent/feedkit-test-binary', debianPackage: 'feedkit-none' },
    ];
    assert.deepEqual(missingRequirements(reqs).map((r) => r.debianPackage), ['feedkit-none']);
  });

  it('GIVEN the twin, the partition scenario and the rule checks WHEN listing packages THEN every program names a Debian package and an absolute path', () => {
    for (const r of [...SYSTEM_REQUIREMENTS, ...PARTITION_REQUIREMENTS, ...CHECK_REQUIREMENTS]) {
      assert.match(r.path, /^\//, r.what);
      assert.match(r.debianPackage, /^[a-z0-9][a-z0-9.+-]+$/, r.what);
    }
    assert.deepEqual(PARTITION_REQUIREMENTS.map((r) => r.debianPackage), ['iptables', 'iproute2']);
    assert.deepEqual(CHECK_REQUIREMENTS.map((r) => [r.path, r.debianPackage]), [['/usr/bin/promtool', 'prometheus']]);
  });

  it('GIVEN missing packages WHEN not root THEN the fix is one apt-get command naming them', () => {
    assert.equal(installCommand(['iptables', 'iproute2']), 'sudo apt-get update && sudo apt-get install -y iptables iproute2');
  });
});

describe('spinner for long installs', () => {
  async function stderrOf(isTTY: boolean): Promise<{ result: string; written: string }> {
    const chunks: string[] = [];
    const write = process.stderr.write;
    const ci = process.env['CI'];
    delete process.env['CI']; // zx's spinner stays silent under CI
    process.stderr.write = ((chunk: string) => chunks.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      const result = await onTerminal('installing', () => new Promise<string>((r) => setTimeout(() => r('done'), 250)), { isTTY });
      return { result, written: chunks.join('') };
    } finally {
      process.stderr.write = write;
      if (ci !== undefined) process.env['CI'] = ci;
    }
  }

  it('GIVEN stderr is not a terminal WHEN a long step runs THEN it runs without writing a spinner into the log', async () => {
    assert.deepEqual(await stderrOf(false), { result: 'done', written: '' });
  });

  it('GIVEN stderr is a terminal WHEN a long step runs THEN a spinner with the title turns while it runs', async () => {
    const { result, written } = await stderrOf(true);
    assert.equal(result, 'done');
    assert.match(written, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] installing\r/);
  });
});
