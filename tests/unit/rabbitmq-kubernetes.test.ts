/** RabbitMQ run the way its Cluster Operator runs it: memory from the container limit, peer discovery by version. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RabbitmqConfigKeys } from '../../charts/index.js';
import { MAX_MEMORY_HEADROOM_BYTES, memoryAvailableOverrideBytes, memoryQuantityBytes, parseRabbitmqConf, rabbitmqNodeNames, STATEFULSET_ORDINAL_START } from '../../rabbitmq-cluster/index.js';
import { QueueMode, SpecError, objectNames, type SpecOverrides } from '../../shared/index.js';
import { synth } from '../support/charts.js';

const names = objectNames('feedkit');
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const version = (v: string): SpecOverrides => ({ rabbitmq: { version: v, queueMode: QueueMode.QUORUM, image: { repository: 'docker.io/library/rabbitmq', tag: `${v}-management` } } });
const conf = (overrides: SpecOverrides = {}) => parseRabbitmqConf(synth(overrides).get('ConfigMap', names.rabbitmqConfig).data[RabbitmqConfigKeys.CONF]);

/** Keys the pre-4.1 plugin reads and the 4.1+ plugin ignores with a warning. */
const PRE_41_KEYS = ['cluster_formation.k8s.host', 'cluster_formation.k8s.address_type', 'cluster_formation.k8s.service_name', 'cluster_formation.k8s.hostname_suffix'];

describe('RabbitMQ memory: the Cluster Operator\'s override', () => {
  it('GIVEN limits below 10 GiB WHEN the override is computed THEN 20 % of the limit is kept as headroom', () => {
    assert.equal(memoryAvailableOverrideBytes(2 * GIB), 2 * GIB - Math.floor((2 * GIB) / 5));
    assert.equal(memoryAvailableOverrideBytes(512 * MIB), 512 * MIB - Math.floor((512 * MIB) / 5));
  });

  it('GIVEN limits of 10 GiB and more WHEN the override is computed THEN the headroom stops at 2 GiB', () => {
    assert.equal(memoryAvailableOverrideBytes(10 * GIB), 8 * GIB);
    assert.equal(memoryAvailableOverrideBytes(64 * GIB), 64 * GIB - MAX_MEMORY_HEADROOM_BYTES);
  });

  it('GIVEN quantities in binary and decimal units WHEN read THEN they are bytes, and a bad one names the field', () => {
    assert.deepEqual(['2Gi', '1536Mi', '1G', '500M'].map((q) => memoryQuantityBytes('f', q)), [2 * GIB, 1536 * MIB, 1e9, 5e8]);
    assert.throws(() => memoryQuantityBytes('rabbitmq.resources.memoryLimit', '2 GB'), (e: unknown) => e instanceof SpecError && e.field === 'rabbitmq.resources.memoryLimit');
  });

  it('GIVEN the default 2Gi limit WHEN synthesized THEN rabbitmq.conf sets the override from that very limit, next to the relative watermark', () => {
    const s = synth();
    const limit = s.get('StatefulSet', names.rabbitmq).spec.template.spec.containers.find((c: any) => c.name === 'rabbitmq').resources.limits.memory;
    const c = conf();
    assert.equal(Number(c.get('total_memory_available_override_value')), memoryAvailableOverrideBytes(memoryQuantityBytes('x', limit)));
    assert.equal(c.get('total_memory_available_override_value'), '1717986919');
    assert.ok(c.has('vm_memory_high_watermark.relative'));
  });

  it('GIVEN a 16Gi limit WHEN synthesized THEN the node is told 14 GiB', () => {
    assert.equal(conf({ rabbitmq: { resources: { memoryLimit: '16Gi' } } }).get('total_memory_available_override_value'), String(14 * GIB));
  });
});

describe('RabbitMQ peer discovery by version', () => {
  for (const v of ['3.13.7', '4.0.5']) {
    it(`GIVEN RabbitMQ ${v} WHEN synthesized THEN the endpoints-based keys, a Role and a mounted token are rendered`, () => {
      const overrides = v.startsWith('3') ? {} : version(v);
      const c = conf(overrides);
      for (const key of PRE_41_KEYS) assert.ok(c.has(key), key);
      assert.ok(!c.has('cluster_formation.k8s.ordinal_start'));
      const s = synth(overrides);
      assert.ok(s.has('Role', names.rabbitmqServiceAccount) && s.has('RoleBinding', names.rabbitmqServiceAccount));
      assert.equal(s.get('StatefulSet', names.rabbitmq).spec.template.spec.automountServiceAccountToken, true);
    });
  }

  for (const v of ['4.1.0', '4.2.3', '5.0.0']) {
    it(`GIVEN RabbitMQ ${v} WHEN synthesized THEN the seed-node keys only, no Role or RoleBinding, and no API token in the pods`, () => {
      const c = conf(version(v));
      assert.equal(c.get('cluster_formation.peer_discovery_backend'), 'rabbit_peer_discovery_k8s');
      assert.equal(c.get('cluster_formation.k8s.ordinal_start'), String(STATEFULSET_ORDINAL_START));
      for (const key of PRE_41_KEYS) assert.ok(!c.has(key), `${key} is ignored by 4.1+ and must not be rendered`);
      const s = synth(version(v));
      assert.equal(s.all('Role').length + s.all('RoleBinding').length, 0);
      const pod = s.get('StatefulSet', names.rabbitmq).spec.template.spec;
      assert.equal(pod.automountServiceAccountToken, false);
      assert.equal(s.get('ServiceAccount', names.rabbitmqServiceAccount).automountServiceAccountToken, false);
    });
  }

  it('GIVEN RabbitMQ 4.1 WHEN synthesized THEN the seed the plugin derives (ordinal_start of the node names) is the -0 pod, and the StatefulSet numbers pods from there', () => {
    const s = synth(version('4.1.0'));
    const sts = s.get('StatefulSet', names.rabbitmq);
    assert.equal(sts.spec.ordinals?.start ?? 0, STATEFULSET_ORDINAL_START);
    assert.match(rabbitmqNodeNames(s.spec)[STATEFULSET_ORDINAL_START]!, new RegExp(`^rabbit@${names.rabbitmq}-0\\.`));
    // Node names carry the pod name as their first label, which the 4.1 plugin rewrites to find the seed.
    const nodename = sts.spec.template.spec.containers[0].env.find((e: any) => e.name === 'RABBITMQ_NODENAME').value;
    assert.match(nodename, /^rabbit@\$\(MY_POD_NAME\)\./);
  });

  it('GIVEN RabbitMQ 4.1 WHEN synthesized THEN the preStop still waits for quorum safety before draining', () => {
    const main = synth(version('4.1.0')).get('StatefulSet', names.rabbitmq).spec.template.spec.containers[0];
    assert.match(main.lifecycle.preStop.exec.command.join(' '), /await_online_quorum_plus_one .*; .*until rabbitmq-upgrade drain;/);
  });
});
