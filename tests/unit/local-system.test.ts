import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { installCommand, missingRequirements, PARTITION_REQUIREMENTS, SYSTEM_REQUIREMENTS, type SystemRequirement } from '../../scripts/local/system.js';

describe('system requirements', () => {
  it('GIVEN one program present and one absent WHEN checking THEN only the absent one is missing', () => {
    const reqs: SystemRequirement[] = [
      { what: 'node', path: process.execPath, debianPackage: 'nodejs' },
      { what: 'nothing', path: '/nonexistent/feedkit-test-binary', debianPackage: 'feedkit-none' },
    ];
    assert.deepEqual(missingRequirements(reqs).map((r) => r.debianPackage), ['feedkit-none']);
  });

  it('GIVEN the twin and the partition scenario WHEN listing packages THEN every program names a Debian package and an absolute path', () => {
    for (const r of [...SYSTEM_REQUIREMENTS, ...PARTITION_REQUIREMENTS]) {
      assert.match(r.path, /^\//, r.what);
      assert.match(r.debianPackage, /^[a-z0-9][a-z0-9.+-]+$/, r.what);
    }
    assert.deepEqual(PARTITION_REQUIREMENTS.map((r) => r.debianPackage), ['iptables', 'iproute2']);
  });

  it('GIVEN missing packages WHEN not root THEN the fix is one apt-get command naming them', () => {
    assert.equal(installCommand(['iptables', 'iproute2']), 'sudo apt-get update && sudo apt-get install -y iptables iproute2');
  });
});
