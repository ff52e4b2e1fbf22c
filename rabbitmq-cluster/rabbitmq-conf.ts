/**
 * Renders `rabbitmq.conf` (the sysctl-like format of RabbitMQ 3.7+). Pure: addresses, the
 * definitions path and the discovery mode are parameters, so the charts and the local twin render
 * the same rules with their own addresses. It holds no secret: the default user comes from files
 * written from a Secret at start (`renderDefaultUserDefinitions`, `renderDefaultUserConf`).
 */
import { ALL_INTERFACES, FIRST_VERSION_WITH_SEED_NODE_DISCOVERY, PartitionHandling, QueueMode, RenderInputError, checkListener, objectNames, rabbitmqAtLeast, type FeedkitSpec, type Listener } from '../shared/index.js';
import { PeerDiscoveryKind, type PeerDiscovery } from './peer-discovery.js';
import { rabbitmqHostnameSuffix } from './pod-hostnames.js';

export { PeerDiscoveryKind, type PeerDiscovery } from './peer-discovery.js';

/** Options of {@link renderRabbitmqConf}. */
export interface RabbitmqConfOptions {
  /** How the node finds its peers. */
  readonly peerDiscovery: PeerDiscovery;
  /**
   * Absolute path the node reads definitions from. Give the DIRECTORY holding `definitions.json`
   * (`renderDefinitions`) and `default-user.json` (`renderDefaultUserDefinitions`):
   * RabbitMQ imports every `.json` file in it. A single file works too, but then no user exists,
   * because a node with definitions to load does not seed the default user.
   */
  readonly definitionsPath: string;
  /**
   * AMQP listener.
   * @default every interface, `spec.rabbitmq.ports.amqp`
   */
  readonly amqp?: Listener;
  /**
   * Management (HTTP API and UI) listener.
   * @default every interface, `spec.rabbitmq.ports.management`
   */
  readonly management?: Listener;
  /**
   * Prometheus endpoint listener.
   * @default every interface, `spec.rabbitmq.ports.prometheus`
   */
  readonly prometheus?: Listener;
  /**
   * Bytes the node takes as its total memory (`total_memory_available_override_value`), the
   * watermark being relative to it; on Kubernetes {@link memoryAvailableOverrideBytes} of the limit.
   * @default none: the node measures the machine (the local twin)
   */
  readonly totalMemoryAvailableBytes?: number;
}

/** Whether `spec.rabbitmq.version` uses the 4.1+ Kubernetes peer discovery (seed pod, no API access). */
export function usesSeedNodeDiscovery(spec: FeedkitSpec): boolean {
  const { major, minor } = FIRST_VERSION_WITH_SEED_NODE_DISCOVERY;
  return rabbitmqAtLeast(spec.rabbitmq.version, major, minor);
}

/** Host the Kubernetes peer discovery plugin asks for endpoints (the API server's in-cluster name). */
export const K8S_API_HOST = 'kubernetes.default.svc';

/** First ordinal of the StatefulSet's pods (Kubernetes' default; the charts never change it). */
export const STATEFULSET_ORDINAL_START = 0;

/** Memory high watermark relative to the memory the node sees (the container limit on Kubernetes). */
export const MEMORY_HIGH_WATERMARK = 0.6;

/** Free disk below which publishers are blocked. */
export const DISK_FREE_LIMIT = '1GB';

/** Renders `rabbitmq.conf`; deterministic for the same inputs. */
export function renderRabbitmqConf(spec: FeedkitSpec, options: RabbitmqConfOptions): string {
  const ports = spec.rabbitmq.ports;
  const amqp = options.amqp ?? { host: ALL_INTERFACES, port: ports.amqp };
  const management = options.management ?? { host: ALL_INTERFACES, port: ports.management };
  const prometheus = options.prometheus ?? { host: ALL_INTERFACES, port: ports.prometheus };
  checkListener('amqp', amqp);
  checkListener('management', management);
  checkListener('prometheus', prometheus);
  checkDefinitionsPath(options.definitionsPath);
  const mirrored = spec.rabbitmq.queueMode === QueueMode.MIRRORED;

  const lines: string[] = [
    '# rabbitmq.conf rendered by feedkit from the spec; edit the spec, not this file.',
    '# No secrets here: the default user comes from files written from a Secret at start.',
    '',
    '## Listeners',
    `listeners.tcp.default = ${rabbitAddress(amqp)}`,
    ...httpListener('management', management),
    ...httpListener('prometheus', prometheus),
    '# AMQP heartbeat the server proposes; HAProxy idle timeouts are longer than this, so idle',
    '# but healthy connections survive and dead peers are still detected.',
    `heartbeat = ${spec.haproxy.amqpHeartbeatSeconds}`,
    '# guest may only connect from localhost (the default, stated so nobody widens it by accident).',
    'loopback_users.guest = true',
    '',
    '## Clustering',
    ...partitionHandlingLines(spec),
    ...peerDiscoveryLines(spec, options.peerDiscovery),
    '',
    '## Definitions',
    '# Exchange, HA policy and the default user (a separate file from the Secret) are imported at',
    '# every boot, so a fresh cluster and a re-created node both have them without rabbitmqctl.',
    `load_definitions = ${options.definitionsPath}`,
    '',
    '## Resources',
    ...memoryLines(options.totalMemoryAvailableBytes),
    '# Block publishers before the disk fills and the message store cannot write.',
    `disk_free_limit.absolute = ${DISK_FREE_LIMIT}`,
  ];
  if (mirrored) {
    lines.push(
      '',
      '## Queues',
      '# Spread classic queue masters over the nodes so one node death moves only some of them.',
      'queue_master_locator = min-masters',
    );
  }
  return `${lines.join('\n')}\n`;
}

function memoryLines(totalBytes: number | undefined): string[] {
  const lines = ['# Block publishers before the kernel OOM-kills the node.', `vm_memory_high_watermark.relative = ${MEMORY_HIGH_WATERMARK}`];
  if (totalBytes === undefined) return lines;
  if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0) {
    throw new RenderInputError('totalMemoryAvailableBytes', `${totalBytes} is not a positive whole number of bytes`, 'pass memoryAvailableOverrideBytes(<container memory limit in bytes>)');
  }
  return [
    '# The watermark is relative to this, not to what the runtime detects: inside a container that',
    '# can be the host\'s memory. The container limit minus min(20 %, 2 GiB), as the Cluster Operator sets it.',
    `total_memory_available_override_value = ${totalBytes}`,
    ...lines,
  ];
}

function kubernetesDiscoveryLines(spec: FeedkitSpec): string[] {
  const common = [
    `cluster_formation.target_cluster_size_hint = ${spec.rabbitmq.replicas}`,
    '# Never remove members that are away for a while (a restarting pod is not gone).',
    'cluster_formation.node_cleanup.only_log_warning = true',
  ];
  if (usesSeedNodeDiscovery(spec)) {
    return [
      '# RabbitMQ 4.1+: the pod with the lowest ordinal (-0) forms the cluster and the others join it;',
      '# the seed\'s name is this node\'s own with the ordinal replaced, so no Kubernetes API access',
      '# (no Role) is needed. The pre-4.1 keys (host, service_name, ...) would be ignored with warnings.',
      'cluster_formation.peer_discovery_backend = rabbit_peer_discovery_k8s',
      `cluster_formation.k8s.ordinal_start = ${STATEFULSET_ORDINAL_START}`,
      ...common,
    ];
  }
  return [
    '# Peers are the endpoints of the headless Service (not-ready ones included), addressed by',
    '# their stable pod DNS names, so node names survive pod restarts and new IPs.',
    'cluster_formation.peer_discovery_backend = rabbit_peer_discovery_k8s',
    `cluster_formation.k8s.host = ${K8S_API_HOST}`,
    'cluster_formation.k8s.address_type = hostname',
    `cluster_formation.k8s.service_name = ${objectNames(spec.name).rabbitmqHeadless}`,
    `cluster_formation.k8s.hostname_suffix = ${rabbitmqHostnameSuffix(spec)}`,
    ...common,
  ];
}

function partitionHandlingLines(spec: FeedkitSpec): string[] {
  const why =
    spec.rabbitmq.partitionHandling === PartitionHandling.AUTOHEAL
      ? [
          '# When a split ends (a cut-off or suspended node is back), the side with fewer clients',
          '# restarts and takes the winner\'s state, so no human has to restart it.',
        ]
      : [
          '# On a network split the minority side pauses instead of diverging, so no acknowledged',
          '# message lives only on a side that later loses; needs an odd node count.',
        ];
  return [
    ...why,
    `cluster_partition_handling = ${spec.rabbitmq.partitionHandling}`,
    '# A peer silent for this long (± 25 %) is declared down: this bounds how long a hung',
    '# node can block mirrored-queue confirms.',
    `net_ticktime = ${spec.rabbitmq.netTicktimeSeconds}`,
  ];
}

function peerDiscoveryLines(spec: FeedkitSpec, discovery: PeerDiscovery): string[] {
  switch (discovery.kind) {
    case PeerDiscoveryKind.KUBERNETES:
      return kubernetesDiscoveryLines(spec);
    case PeerDiscoveryKind.CLASSIC:
      checkNodes(discovery.nodes);
      return [
        '# A fixed member list (the local twin): every node knows all the others up front.',
        'cluster_formation.peer_discovery_backend = rabbit_peer_discovery_classic_config',
        ...discovery.nodes.map((node, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${node}`),
      ];
    default: {
      const never: never = discovery;
      throw new RenderInputError('peerDiscovery.kind', `${JSON.stringify(never)} is not a peer discovery kind`, `use one of ${Object.values(PeerDiscoveryKind).join(', ')}`);
    }
  }
}

/** RabbitMQ listener value: a bare port means every interface; IPv6 literals are written as-is (`::1:5672`). */
function rabbitAddress(listener: Listener): string {
  return listener.host === ALL_INTERFACES ? String(listener.port) : `${listener.host}:${listener.port}`;
}

function httpListener(prefix: 'management' | 'prometheus', listener: Listener): string[] {
  const lines = [`${prefix}.tcp.port = ${listener.port}`];
  if (listener.host !== ALL_INTERFACES) lines.push(`${prefix}.tcp.ip = ${listener.host}`);
  return lines;
}

function checkDefinitionsPath(path: string): void {
  if (!path.startsWith('/') || /[\s#]/.test(path)) {
    throw new RenderInputError('definitionsPath', `"${path}" is not an absolute path without spaces or "#"`, 'give the absolute path of the directory holding definitions.json and default-user.json, e.g. "/etc/rabbitmq/definitions"');
  }
}

function checkNodes(nodes: readonly string[]): void {
  if (nodes.length === 0) {
    throw new RenderInputError('peerDiscovery.nodes', 'is empty', 'list every cluster member, e.g. ["rabbit-a@localhost", "rabbit-b@localhost", "rabbit-c@localhost"]');
  }
  for (const [i, node] of nodes.entries()) {
    if (!/^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+$/.test(node)) {
      throw new RenderInputError(`peerDiscovery.nodes.${i}`, `"${node}" is not an Erlang node name`, 'use name@host, e.g. "rabbit-a@localhost"');
    }
  }
  if (new Set(nodes).size !== nodes.length) {
    throw new RenderInputError('peerDiscovery.nodes', 'lists a node twice', 'list each cluster member once');
  }
}

/**
 * Reads `key = value` lines of a rendered `rabbitmq.conf` (comments and blank lines skipped), for
 * tests and tools that check what a node was given. Throws on a repeated key.
 */
export function parseRabbitmqConf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`rabbitmq.conf line without "=": ${line}`);
    const key = line.slice(0, eq).trim();
    if (out.has(key)) throw new Error(`rabbitmq.conf sets ${key} twice`);
    out.set(key, line.slice(eq + 1).trim());
  }
  return out;
}
