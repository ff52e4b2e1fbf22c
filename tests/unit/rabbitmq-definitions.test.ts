import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EXCHANGE, EXCHANGE_TYPE, MIRRORED_POLICY_DEFINITION, POLICY_NAME, QueueMode, replicaQueueName, resolveSpec } from '../../shared/index.js';
import { PolicyApplyTo, buildDefinitions, renderDefinitions, type RabbitmqDefinitions } from '../../rabbitmq-cluster/index.js';

const mirrored = resolveSpec();
const quorum = resolveSpec({ rabbitmq: { queueMode: QueueMode.QUORUM } });

function policyNamed(defs: RabbitmqDefinitions, name: string) {
  return defs.policies.find((p) => p.name === name);
}

describe('definitions: exchange and vhost', () => {
  test('GIVEN either queue mode WHEN built THEN the post_feed topic exchange is durable on vhost /', () => {
    for (const spec of [mirrored, quorum]) {
      const defs = buildDefinitions(spec);
      const exchange = defs.exchanges.find((e) => e.name === EXCHANGE);
      assert.ok(exchange, 'exchange missing');
      assert.equal(exchange.type, EXCHANGE_TYPE);
      assert.equal(exchange.durable, true);
      assert.equal(exchange.auto_delete, false);
      assert.equal(exchange.vhost, '/');
      assert.ok(defs.vhosts.some((v) => v.name === '/'));
    }
  });
});

describe('definitions: the HA policy', () => {
  test('GIVEN mirrored mode WHEN built THEN the policy mirrors queues on all nodes with the spec sync mode', () => {
    const policy = policyNamed(buildDefinitions(mirrored), POLICY_NAME);
    assert.ok(policy, 'policy missing');
    assert.equal(policy['apply-to'], PolicyApplyTo.QUEUES);
    assert.deepEqual(policy.definition, { ...MIRRORED_POLICY_DEFINITION });
    assert.equal(policy.definition['ha-mode'], 'all');
    assert.equal(policy.pattern, mirrored.rabbitmq.policy.pattern);
    assert.equal(policy.priority, mirrored.rabbitmq.policy.priority);
  });

  test('GIVEN mirrored mode WHEN the policy pattern is applied to an app replica queue name THEN it matches', () => {
    const policy = policyNamed(buildDefinitions(mirrored), POLICY_NAME);
    assert.ok(policy);
    assert.match(replicaQueueName('feedkit-app-7d9c5-x2x9k'), new RegExp(policy.pattern));
    assert.match(replicaQueueName('x'), new RegExp(policy.pattern));
  });

  test('GIVEN a manual sync mode and another name WHEN built THEN the policy carries them', () => {
    const spec = resolveSpec({ rabbitmq: { policy: { name: 'mirror-feed', haSyncMode: 'manual', priority: 5 } } });
    const policy = policyNamed(buildDefinitions(spec), 'mirror-feed');
    assert.ok(policy);
    assert.equal(policy.definition['ha-sync-mode'], 'manual');
    assert.equal(policy.priority, 5);
  });

  test('GIVEN quorum mode WHEN rendered THEN there is no ha-mode policy at all', () => {
    assert.deepEqual(buildDefinitions(quorum).policies, []);
    assert.doesNotMatch(renderDefinitions(quorum), /ha-mode/);
  });
});

describe('definitions: text form', () => {
  test('GIVEN the same spec WHEN rendered twice THEN the JSON is byte-identical with sorted keys and a trailing newline', () => {
    const text = renderDefinitions(mirrored);
    assert.equal(text, renderDefinitions(resolveSpec()));
    assert.ok(text.endsWith('}\n'));
    const topKeys = Object.keys(JSON.parse(text) as object);
    assert.deepEqual(topKeys, [...topKeys].sort());
    assert.match(text, /^\{\n {2}"/);
  });

  test('GIVEN any mode WHEN rendered THEN no user or password is in the definitions ConfigMap', () => {
    for (const spec of [mirrored, quorum]) {
      const doc = JSON.parse(renderDefinitions(spec)) as Record<string, unknown>;
      assert.equal('users' in doc, false);
      assert.doesNotMatch(renderDefinitions(spec), /password/);
    }
  });
});
