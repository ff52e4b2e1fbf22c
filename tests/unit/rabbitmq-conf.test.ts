import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PartitionHandling, QueueMode, objectNames, resolveSpec, RenderInputError } from '../../shared/index.js';
import {
  PeerDiscoveryKind,
  parseRabbitmqConf,
  rabbitmqHostnameSuffix,
  rabbitmqPodHostnames,
  renderRabbitmqConf,
  type RabbitmqConfOptions,
} from '../../rabbitmq-cluster/index.js';

const spec = resolveSpec();
const k8s: RabbitmqConfOptions = { peerDiscovery: { kind: PeerDiscoveryKind.KUBERNETES }, definitionsPath: '/etc/rabbitmq/definitions' };
const classicNodes = ['rfk-a-1@localhost', 'rfk-a-2@localhost', 'rfk-a-3@localhost'];
const classic: RabbitmqConfOptions = {
  peerDiscovery: { kind: PeerDiscoveryKind.CLASSIC, nodes: classicNodes },
  definitionsPath: '/tmp/twin/definitions',
  amqp: { host: '127.0.0.1', port: 40001 },
  management: { host: '127.0.0.1', port: 40002 },
  prometheus: { host: '127.0.0.1', port: 40003 },
};

function conf(options: RabbitmqConfOptions, s = spec): Map<string, string> {
  return parseRabbitmqConf(renderRabbitmqConf(s, options));
}

function assertInputError(fn: () => unknown, field: string): void {
  assert.throws(fn, (e: unknown) => e instanceof RenderInputError && e.field === field && e.message.includes(`"${field}"`));
}

describe('rabbitmq.conf: clustering', () => {
  test('GIVEN the default spec and any discovery WHEN rendered THEN the minority of a split pauses (pause_minority) and a silent peer is declared down after 10 s', () => {
    for (const c of [conf(k8s), conf(classic)]) {
      assert.equal(c.get('cluster_partition_handling'), 'pause_minority');
      assert.equal(c.get('net_ticktime'), '10');
    }
  });

  test('GIVEN autoheal in the spec WHEN rendered THEN the losing side of a split restarts when it ends', () => {
    assert.equal(conf(k8s, resolveSpec({ rabbitmq: { partitionHandling: PartitionHandling.AUTOHEAL } })).get('cluster_partition_handling'), 'autoheal');
  });

  test('GIVEN rabbitmq.partitionHandling and netTicktimeSeconds in the spec WHEN rendered THEN both reach rabbitmq.conf', () => {
    const s = resolveSpec({ rabbitmq: { partitionHandling: PartitionHandling.AUTOHEAL, netTicktimeSeconds: 20 } });
    const c = conf(k8s, s);
    assert.equal(c.get('cluster_partition_handling'), 'autoheal');
    assert.equal(c.get('net_ticktime'), '20');
  });

  test('GIVEN Kubernetes discovery WHEN rendered THEN peers are the headless Service endpoints by stable hostname', () => {
    const c = conf(k8s);
    assert.equal(c.get('cluster_formation.peer_discovery_backend'), 'rabbit_peer_discovery_k8s');
    assert.equal(c.get('cluster_formation.k8s.host'), 'kubernetes.default.svc');
    assert.equal(c.get('cluster_formation.k8s.address_type'), 'hostname');
    assert.equal(c.get('cluster_formation.k8s.service_name'), objectNames(spec.name).rabbitmqHeadless);
    assert.equal(c.get('cluster_formation.node_cleanup.only_log_warning'), 'true');
  });

  test('GIVEN Kubernetes discovery WHEN the hostname suffix is appended to a pod name THEN it is that pod\'s stable DNS name', () => {
    const suffix = conf(k8s).get('cluster_formation.k8s.hostname_suffix');
    assert.equal(suffix, rabbitmqHostnameSuffix(spec));
    assert.equal(`${objectNames(spec.name).rabbitmq}-0${suffix}`, rabbitmqPodHostnames(spec)[0]);
  });

  test('GIVEN classic discovery WHEN rendered THEN every node is listed in order and no k8s key appears', () => {
    const c = conf(classic);
    assert.equal(c.get('cluster_formation.peer_discovery_backend'), 'rabbit_peer_discovery_classic_config');
    assert.deepEqual(classicNodes.map((_, i) => c.get(`cluster_formation.classic_config.nodes.${i + 1}`)), classicNodes);
    assert.ok(![...c.keys()].some((k) => k.startsWith('cluster_formation.k8s.')));
  });

  test('GIVEN a classic node name that is not name@host WHEN rendered THEN the error names that node', () => {
    assertInputError(() => renderRabbitmqConf(spec, { ...classic, peerDiscovery: { kind: PeerDiscoveryKind.CLASSIC, nodes: ['rabbit-a@localhost', 'oops'] } }), 'peerDiscovery.nodes.1');
    assertInputError(() => renderRabbitmqConf(spec, { ...classic, peerDiscovery: { kind: PeerDiscoveryKind.CLASSIC, nodes: [] } }), 'peerDiscovery.nodes');
  });
});

describe('rabbitmq.conf: listeners', () => {
  test('GIVEN no listener options WHEN rendered THEN every interface on the spec ports', () => {
    const c = conf(k8s);
    assert.equal(c.get('listeners.tcp.default'), String(spec.rabbitmq.ports.amqp));
    assert.equal(c.get('management.tcp.port'), String(spec.rabbitmq.ports.management));
    assert.equal(c.get('prometheus.tcp.port'), String(spec.rabbitmq.ports.prometheus));
    assert.equal(c.has('management.tcp.ip'), false);
    assert.equal(c.has('prometheus.tcp.ip'), false);
  });

  test('GIVEN loopback listeners WHEN rendered THEN each server binds exactly that address', () => {
    const c = conf(classic);
    assert.equal(c.get('listeners.tcp.default'), '127.0.0.1:40001');
    assert.equal(c.get('management.tcp.ip'), '127.0.0.1');
    assert.equal(c.get('management.tcp.port'), '40002');
    assert.equal(c.get('prometheus.tcp.ip'), '127.0.0.1');
    assert.equal(c.get('prometheus.tcp.port'), '40003');
  });

  test('GIVEN a port out of range WHEN rendered THEN the error names the listener field', () => {
    assertInputError(() => renderRabbitmqConf(spec, { ...classic, management: { host: '127.0.0.1', port: 70000 } }), 'management.port');
  });
});

describe('rabbitmq.conf: definitions, heartbeat, resources', () => {
  test('GIVEN a definitions directory WHEN rendered THEN the node loads definitions from it at boot', () => {
    assert.equal(conf(k8s).get('load_definitions'), '/etc/rabbitmq/definitions');
  });

  test('GIVEN a relative definitions path WHEN rendered THEN the error names definitionsPath', () => {
    assertInputError(() => renderRabbitmqConf(spec, { ...k8s, definitionsPath: 'definitions.json' }), 'definitionsPath');
  });

  test('GIVEN a heartbeat in the spec WHEN rendered THEN the server proposes that heartbeat', () => {
    const s = resolveSpec({ haproxy: { amqpHeartbeatSeconds: 20 } });
    assert.equal(conf(k8s, s).get('heartbeat'), '20');
  });

  test('GIVEN the defaults WHEN rendered THEN memory and disk alarms are set and guest stays loopback-only', () => {
    const c = conf(k8s);
    const watermark = Number(c.get('vm_memory_high_watermark.relative'));
    assert.ok(watermark > 0.3 && watermark <= 0.7, `watermark ${watermark}`);
    assert.match(c.get('disk_free_limit.absolute') ?? '', /^\d+(GB|MB)$/);
    assert.equal(c.get('loopback_users.guest'), 'true');
  });

  test('GIVEN mirrored mode WHEN rendered THEN queue masters are spread with min-masters', () => {
    assert.equal(conf(k8s).get('queue_master_locator'), 'min-masters');
  });

  test('GIVEN quorum mode WHEN rendered THEN no classic-queue master locator is set', () => {
    const s = resolveSpec({ rabbitmq: { queueMode: QueueMode.QUORUM } });
    assert.equal(conf(k8s, s).has('queue_master_locator'), false);
  });

  test('GIVEN any options WHEN rendered THEN no default user or password is in rabbitmq.conf', () => {
    for (const options of [k8s, classic]) {
      const c = conf(options);
      assert.equal(c.has('default_user'), false);
      assert.equal(c.has('default_pass'), false);
    }
  });

  test('GIVEN the same inputs WHEN rendered twice THEN the output is byte-identical', () => {
    assert.equal(renderRabbitmqConf(spec, k8s), renderRabbitmqConf(resolveSpec(), { ...k8s }));
  });
});
