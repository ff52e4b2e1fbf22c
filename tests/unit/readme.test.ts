import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AppEnv, appEnvTable, specTable } from '../../shared/index.js';

test('GIVEN the spec WHEN its field table is generated THEN the README carries exactly that table', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /<!-- spec-table:start -->\n([\s\S]*?)<!-- spec-table:end -->/.exec(readme);
  assert.ok(match, 'README.md has no spec-table markers');
  assert.equal(match[1]!.trim(), specTable().trim(), 'README spec table is stale: paste the output of `npm run -s synth -- --spec-table`');
});

test('GIVEN the app settings WHEN their environment table is generated THEN the README carries exactly that table', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /<!-- env-table:start -->\n([\s\S]*?)<!-- env-table:end -->/.exec(readme);
  assert.ok(match, 'README.md has no env-table markers');
  assert.equal(match[1]!.trim(), appEnvTable().trim(), 'README environment table is stale: paste the output of `npm run -s synth -- --env-table`');
});

test('GIVEN the app environment variables WHEN the README is read THEN its table documents every one of them', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = /### Environment variables\n([\s\S]*?)\n### /.exec(readme);
  assert.ok(section, 'README.md has no "### Environment variables" section');
  const missing = Object.values(AppEnv).filter((name) => !section[1]!.includes(`\`${name}\``));
  assert.deepEqual(missing, [], 'README environment table lacks these AppEnv names');
});
