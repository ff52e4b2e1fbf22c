import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_SPEC,
  POLICY_PATTERN,
  QueueMode,
  REPLICA_QUEUE_PREFIX,
  SpecError,
  envNameOf,
  mergeOverrides,
  overridesFromEnv,
  parseOverrides,
  replicaQueueArguments,
  replicaQueueName,
  resolveSpec,
  userIdFromRoutingKey,
  userRoutingKey,
} from '../../shared/index.js';

function assertSpecError(fn: () => unknown, field: string, fixMentions?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SpecError, `expected SpecError, got ${String(e)}`);
    assert.equal(e.field, field);
    assert.match(e.message, new RegExp(`"${field.replace(/\./g, '\\.')}"`));
    if (fixMentions) assert.match(e.fix, fixMentions);
    return true;
  });
}

describe('spec defaults', () => {
  test('GIVEN no overrides WHEN resolved THEN the defaults validate and are frozen', () => {
    const spec = resolveSpec();
    assert.deepEqual(spec, DEFAULT_SPEC);
    assert.equal(spec.rabbitmq.replicas, 3);
    assert.equal(spec.rabbitmq.queueMode, QueueMode.MIRRORED);
    assert.ok(Object.isFrozen(spec.rabbitmq.ports));
  });

  test('GIVEN a nested override WHEN resolved THEN only that field changes', () => {
    const spec = resolveSpec({ app: { autoscaling: { maxReplicas: 20 } } });
    assert.equal(spec.app.autoscaling.maxReplicas, 20);
    assert.equal(spec.app.autoscaling.minReplicas, DEFAULT_SPEC.app.autoscaling.minReplicas);
  });
});

describe('spec validation names the field and the fix', () => {
  test('GIVEN a 4.x version in mirrored mode WHEN resolved THEN it is refused naming quorum mode', () => {
    assertSpecError(
      () => resolveSpec({ rabbitmq: { version: '4.0.5', image: { tag: '4.0.5-management' } } }),
      'rabbitmq.queueMode',
      /quorum/,
    );
  });

  test('GIVEN a 4.x version in quorum mode WHEN resolved THEN it is accepted', () => {
    const spec = resolveSpec({ rabbitmq: { version: '4.0.5', image: { tag: '4.0.5-management' }, queueMode: QueueMode.QUORUM } });
    assert.equal(spec.rabbitmq.queueMode, QueueMode.QUORUM);
  });

  const bad: Array<[string, Parameters<typeof resolveSpec>[0], string]> = [
    ['an even node count', { rabbitmq: { replicas: 4 } }, 'rabbitmq.replicas'],
    ['two nodes', { rabbitmq: { replicas: 1 } }, 'rabbitmq.replicas'],
    ['a latest tag', { app: { image: { tag: 'latest' } } }, 'app.image.tag'],
    ['one HAProxy replica', { haproxy: { replicas: 1 } }, 'haproxy.replicas'],
    ['a policy pattern that misses the replica queues', { rabbitmq: { policy: { pattern: '^feed' } } }, 'rabbitmq.policy.pattern'],
    ['an unknown queue mode', { rabbitmq: { queueMode: 'classic' as QueueMode } }, 'rabbitmq.queueMode'],
    ['an unknown field', { rabbitmq: { replicaz: 3 } as never }, 'rabbitmq.replicaz'],
    ['a string where a number belongs', { app: { replicas: '3' as unknown as number } }, 'app.replicas'],
    ['a bad quantity', { rabbitmq: { storageSize: '8 gigs' } }, 'rabbitmq.storageSize'],
    ['maxReplicas below minReplicas', { app: { autoscaling: { minReplicas: 5, maxReplicas: 4 } } }, 'app.autoscaling.maxReplicas'],
    ['an external URL with a password', { postgres: { externalUrl: 'postgres://feed:hunter2@db:5432/feed' } }, 'postgres.externalUrl'],
    ['an idle timeout shorter than two heartbeats', { haproxy: { idleTimeoutSeconds: 40 } }, 'haproxy.idleTimeoutSeconds'],
    ['an upper-case namespace', { namespace: 'Feed' }, 'namespace'],
  ];
  for (const [what, overrides, field] of bad) {
    test(`GIVEN ${what} WHEN resolved THEN the error names ${field}`, () => {
      assertSpecError(() => resolveSpec(overrides), field);
    });
  }
});

describe('spec overrides from files and the environment', () => {
  test('GIVEN a YAML document WHEN parsed THEN it becomes overrides', () => {
    const o = parseOverrides('rabbitmq:\n  queueMode: quorum\napp:\n  replicas: 5\n', 'spec.yaml');
    assert.equal(resolveSpec(o).rabbitmq.queueMode, QueueMode.QUORUM);
    assert.equal(resolveSpec(o).app.replicas, 5);
  });

  test('GIVEN a JSON document WHEN parsed THEN it becomes overrides', () => {
    assert.equal(resolveSpec(parseOverrides('{"namespace":"social"}', 'spec.json')).namespace, 'social');
  });

  test('GIVEN broken YAML WHEN parsed THEN the error names the file', () => {
    assert.throws(() => parseOverrides('a: [1,', 'my.yaml'), /my\.yaml/);
  });

  test('GIVEN FEEDKIT_ variables WHEN read THEN they are typed like the field', () => {
    const o = overridesFromEnv({ FEEDKIT_RABBITMQ__QUEUE_MODE: 'quorum', FEEDKIT_APP__REPLICAS: '4', FEEDKIT_APP__AUTOSCALING__ENABLED: 'false' });
    const spec = resolveSpec(o);
    assert.equal(spec.rabbitmq.queueMode, QueueMode.QUORUM);
    assert.equal(spec.app.replicas, 4);
    assert.equal(spec.app.autoscaling.enabled, false);
  });

  test('GIVEN a FEEDKIT_ variable that names no field WHEN read THEN it is refused by name', () => {
    assertSpecError(() => overridesFromEnv({ FEEDKIT_RABBIT_REPLICAS: '3' }), 'FEEDKIT_RABBIT_REPLICAS');
  });

  test('GIVEN a file and the environment WHEN merged THEN the environment wins field by field', () => {
    const merged = mergeOverrides(parseOverrides('app: {replicas: 5, port: 9000}', 'f'), overridesFromEnv({ FEEDKIT_APP__REPLICAS: '6' }));
    const spec = resolveSpec(merged);
    assert.equal(spec.app.replicas, 6);
    assert.equal(spec.app.port, 9000);
  });

  test('GIVEN a camelCase path WHEN named THEN the variable is upper snake with __ between levels', () => {
    assert.equal(envNameOf('rabbitmq.queueExpiresMs'), 'FEEDKIT_RABBITMQ__QUEUE_EXPIRES_MS');
  });
});

describe('shared constants', () => {
  test('GIVEN the policy pattern WHEN matched against queue names THEN it takes every replica queue and nothing outside the feed', () => {
    const policy = new RegExp(POLICY_PATTERN);
    assert.match(replicaQueueName('feedkit-app-7d9c-x2'), policy);
    assert.match(replicaQueueName('a'), policy);
    assert.doesNotMatch('orders.replica.a', policy);
    assert.doesNotMatch(`x.${REPLICA_QUEUE_PREFIX}a`, policy, 'anchored: a queue that merely contains the prefix is not mirrored');
  });

  test('GIVEN a user id WHEN turned into a routing key and back THEN it round-trips', () => {
    assert.equal(userRoutingKey('42'), 'user.42');
    assert.equal(userIdFromRoutingKey('user.42'), '42');
    assert.equal(userIdFromRoutingKey('post.42'), undefined);
  });

  test('GIVEN quorum mode WHEN queue arguments are built THEN x-queue-type is quorum; mirrored has none', () => {
    assert.equal(replicaQueueArguments(QueueMode.QUORUM, 60_000)['x-queue-type'], 'quorum');
    assert.equal(replicaQueueArguments(QueueMode.MIRRORED, 60_000)['x-queue-type'], undefined);
    assert.equal(replicaQueueArguments(QueueMode.MIRRORED, 60_000)['x-expires'], 60_000);
  });
});
