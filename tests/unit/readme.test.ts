import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { specTable } from '../../scripts/synth.js';

test('GIVEN the spec WHEN its field table is generated THEN the README carries exactly that table', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /<!-- spec-table:start -->\n([\s\S]*?)<!-- spec-table:end -->/.exec(readme);
  assert.ok(match, 'README.md has no spec-table markers');
  assert.equal(match[1]!.trim(), specTable().trim(), 'README spec table is stale: paste the output of `npm run synth -- --spec-table`');
});
