import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { generatedSecretProvider, type GeneratedSecretOutputs } from '../../pulumi/generated-secret.js';
import { DEFAULT_RABBITMQ_USERNAME } from '../../charts/stack.js';
import {
  CONFIG_NAMESPACE,
  SECRET_CONFIG_KEYS,
  StackConfigError,
  configKey,
  credentialsFromStackConfig,
  specFromStackConfig,
  type StackConfigSource,
} from '../../pulumi/stack-config.js';
import { DEFAULT_SPEC, MIN_COOKIE_LENGTH, QueueMode } from '../../shared/index.js';

/** The config as the Pulumi runtime hands it over: structured values as JSON text. */
function source(config: Record<string, unknown>, secretKeys: string[] = []): StackConfigSource {
  const values = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  return { values, secretKeys: new Set(secretKeys) };
}

function assertConfigError(fn: () => unknown, key: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StackConfigError, `expected StackConfigError, got ${String(e)}`);
    assert.equal(e.key, key);
    assert.ok(e.message.includes(`"${key}"`), e.message);
    assert.ok(e.fix.length > 0);
    return true;
  });
}

describe('stack config → spec', () => {
  test('GIVEN no feedkit config WHEN resolved THEN the spec is the default spec', () => {
    assert.deepEqual(specFromStackConfig(source({ 'kubernetes:context': 'other' })), DEFAULT_SPEC);
  });

  test('GIVEN structured section objects WHEN resolved THEN their fields reach the spec', () => {
    const spec = specFromStackConfig(
      source({
        'feedkit:namespace': 'feed-prod',
        'feedkit:rabbitmq': { replicas: 5, queueMode: 'quorum', image: { tag: '3.13.6-management' } },
        'feedkit:app': { autoscaling: { enabled: false } },
      }),
    );
    assert.equal(spec.namespace, 'feed-prod');
    assert.equal(spec.rabbitmq.replicas, 5);
    assert.equal(spec.rabbitmq.queueMode, QueueMode.QUORUM);
    assert.equal(spec.rabbitmq.image.tag, '3.13.6-management');
    assert.equal(spec.rabbitmq.image.repository, DEFAULT_SPEC.rabbitmq.image.repository);
    assert.equal(spec.app.autoscaling.enabled, false);
  });

  test('GIVEN numbers and booleans stored as strings WHEN resolved THEN they take the field types', () => {
    const spec = specFromStackConfig(source({ 'feedkit:haproxy': { replicas: '4' }, 'feedkit:app': { autoscaling: { enabled: 'false' } } }));
    assert.equal(spec.haproxy.replicas, 4);
    assert.equal(spec.app.autoscaling.enabled, false);
  });

  test('GIVEN a flat dotted key and a structured object WHEN resolved THEN the flat key wins', () => {
    const spec = specFromStackConfig(source({ 'feedkit:rabbitmq': { replicas: 5 }, 'feedkit:rabbitmq.replicas': '7', 'feedkit:app.prefetch': '50' }));
    assert.equal(spec.rabbitmq.replicas, 7);
    assert.equal(spec.app.prefetch, 50);
  });

  test('GIVEN an even replica count WHEN resolved THEN the error names feedkit:rabbitmq.replicas', () => {
    assertConfigError(() => specFromStackConfig(source({ 'feedkit:rabbitmq': { replicas: 4 } })), 'feedkit:rabbitmq.replicas');
    assertConfigError(() => specFromStackConfig(source({ 'feedkit:rabbitmq.replicas': 'three' })), 'feedkit:rabbitmq.replicas');
  });

  test('GIVEN mirrored mode on RabbitMQ 4 WHEN resolved THEN the error names feedkit:rabbitmq.queueMode', () => {
    assertConfigError(() => specFromStackConfig(source({ 'feedkit:rabbitmq': { version: '4.0.5', image: { tag: '4.0.5-management' } } })), 'feedkit:rabbitmq.queueMode');
  });

  test('GIVEN a misspelt field or key WHEN resolved THEN the error names it', () => {
    assertConfigError(() => specFromStackConfig(source({ 'feedkit:rabbitmq': { replicaz: 3 } })), 'feedkit:rabbitmq.replicaz');
    assertConfigError(() => specFromStackConfig(source({ 'feedkit:replicas': '3' })), 'feedkit:replicas');
    assertConfigError(() => specFromStackConfig(source({ 'feedkit:rabbitmq': 'three nodes' })), 'feedkit:rabbitmq');
  });

  test('GIVEN a spec field set with --secret WHEN resolved THEN it is refused rather than written to a ConfigMap', () => {
    assertConfigError(() => specFromStackConfig(source({ 'feedkit:postgres': { externalUrl: 'postgres://feed@db:5432/feed' } }, ['feedkit:postgres'])), 'feedkit:postgres');
  });

  test('GIVEN Pulumi.yaml WHEN read THEN it runs the ESM TypeScript program in pulumi/ through tsx', () => {
    const project = parseYaml(readFileSync(new URL('../../Pulumi.yaml', import.meta.url), 'utf8')) as {
      name: string;
      runtime: { name: string; options: { typescript: boolean; nodeargs: string } };
      main: string;
    };
    assert.equal(project.name, CONFIG_NAMESPACE);
    assert.equal(project.runtime.name, 'nodejs');
    assert.equal(project.runtime.options.typescript, false);
    assert.match(project.runtime.options.nodeargs, /--import tsx/);
    assert.ok(existsSync(new URL(`../../${project.main}/index.ts`, import.meta.url)));
  });

  test('GIVEN the example Pulumi.dev.yaml WHEN resolved THEN it validates and holds no secret in plain text', () => {
    const doc = parseYaml(readFileSync(new URL('../../Pulumi.dev.yaml', import.meta.url), 'utf8')) as { config: Record<string, unknown> };
    const spec = specFromStackConfig(source(doc.config));
    assert.equal(spec.namespace, 'feedkit-dev');
    for (const key of SECRET_CONFIG_KEYS) {
      const value = doc.config[configKey(key)];
      assert.ok(value === undefined || (typeof value === 'object' && value !== null && 'secure' in value), `${configKey(key)} must be absent or secure:`);
    }
  });
});

describe('stack config → credentials', () => {
  const cookie = 'c'.repeat(MIN_COOKIE_LENGTH);

  test('GIVEN no credentials WHEN read THEN none are configured and the user name is the default', () => {
    const creds = credentialsFromStackConfig(source({}), DEFAULT_SPEC);
    assert.equal(creds.rabbitmqUsername, DEFAULT_RABBITMQ_USERNAME);
    assert.deepEqual(creds.secrets, {});
  });

  test('GIVEN secrets set with --secret WHEN read THEN they are used', () => {
    const creds = credentialsFromStackConfig(source({ 'feedkit:erlangCookie': cookie, 'feedkit:jwtSecret': 'j'.repeat(40) }, ['feedkit:erlangCookie', 'feedkit:jwtSecret']), DEFAULT_SPEC);
    assert.equal(creds.secrets.erlangCookie, cookie);
    assert.equal(creds.secrets.jwtSecret, 'j'.repeat(40));
  });

  test('GIVEN a secret stored in plain text WHEN read THEN it is refused naming the key, without echoing it', () => {
    assertConfigError(() => credentialsFromStackConfig(source({ 'feedkit:postgresPassword': 'p'.repeat(20) }), DEFAULT_SPEC), 'feedkit:postgresPassword');
    assert.throws(() => credentialsFromStackConfig(source({ 'feedkit:postgresPassword': 'p'.repeat(20) }), DEFAULT_SPEC), (e: Error) => !e.message.includes('p'.repeat(20)));
  });

  test('GIVEN a cookie shorter than the minimum WHEN read THEN it is refused naming feedkit:erlangCookie', () => {
    assertConfigError(() => credentialsFromStackConfig(source({ 'feedkit:erlangCookie': 'short' }, ['feedkit:erlangCookie']), DEFAULT_SPEC), 'feedkit:erlangCookie');
  });

  test('GIVEN the guest user WHEN read THEN it is refused naming feedkit:rabbitmqUsername', () => {
    assertConfigError(() => credentialsFromStackConfig(source({ 'feedkit:rabbitmqUsername': 'guest' }), DEFAULT_SPEC), 'feedkit:rabbitmqUsername');
  });
});

describe('generated secret provider', () => {
  test('GIVEN two creates WHEN compared THEN the values are long, URL-safe and different', async () => {
    const a = (await generatedSecretProvider.create({ bytes: 36 })).outs as GeneratedSecretOutputs;
    const b = (await generatedSecretProvider.create({ bytes: 36 })).outs as GeneratedSecretOutputs;
    assert.equal(a.value.length, 48);
    assert.match(a.value, /^[A-Za-z0-9_-]+$/);
    assert.notEqual(a.value, b.value);
  });

  test('GIVEN changed inputs WHEN diffed THEN no change is reported, so the value stays', async () => {
    const diff = await generatedSecretProvider.diff!('id', { bytes: 36, value: 'x' }, { bytes: 48 });
    assert.equal(diff.changes, false);
  });
});
