/**
 * The feedkit spec: one typed, validated description of the whole stack. Renderers, charts, the
 * Pulumi program and the local twin all take a resolved {@link FeedkitSpec}; users write only the
 * fields they want to change ({@link SpecOverrides}) in a file, the environment or Pulumi config.
 *
 * {@link FeedkitSpecSchema} is the only definition of every field: its type, range, default, doc and
 * the fix an error suggests. The TypeScript types, {@link DEFAULT_SPEC}, the JSON Schema of spec files
 * (`feedkit-spec.schema.json`), the README table and the feed app's environment all derive from it.
 */
import { z } from 'zod';
import { ExposureKind, FIRST_VERSION_WITHOUT_MIRRORING, LOG_LEVELS, PartitionHandling, POD_SECURITY_LEVELS, POLICY_NAME, POLICY_PATTERN, PodSecurityLevel, Ports, QueueMode, REPLICA_QUEUE_PREFIX } from './constants.js';
import { asGroup, boolField, enumField, fieldAt, fieldMeta, fields, group, intField, portField, stringField } from './schema-fields.js';

/** Highest per-user limits (what benches set to take the limits out of their measurements). */
export const MAX_POSTS_PER_MINUTE = 1_000_000;
export const MAX_SUBSCRIPTIONS_PER_USER = 10_000;

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const QUANTITY_FIX = 'use e.g. "500m", "1", "512Mi" or "8Gi"';
const VERSION = /^(\d+)\.(\d+)(\.\d+)?$/;

function dnsLabel(doc: string, dflt: string, max: number) {
  return stringField({
    doc,
    default: dflt,
    pattern: DNS_LABEL,
    maxLength: max,
    problem: `is not a DNS label of at most ${max} characters`,
    fix: 'use lower-case letters, digits and "-", starting and ending with a letter or digit',
  });
}

function quantity(doc: string, dflt: string, allowEmpty = false) {
  const pattern = allowEmpty ? new RegExp(`^$|${QUANTITY.source}`) : QUANTITY;
  return stringField({ doc, default: dflt, pattern, problem: 'is not a Kubernetes quantity', fix: allowEmpty ? `${QUANTITY_FIX}, or "" for none` : QUANTITY_FIX });
}

function sqlIdentifier(doc: string, dflt: string) {
  return stringField({ doc, default: dflt, pattern: /^[a-z_][a-z0-9_]{0,62}$/, problem: 'is not a plain SQL identifier', fix: 'use lower-case letters, digits and "_", starting with a letter' });
}

/** A container image: repository plus a pinned tag (never `latest`). */
function image(what: string, repository: string, tag: string) {
  return group(`${what} image.`, {
    repository: stringField({
      doc: 'Image repository, without tag or digest.',
      default: repository,
      pattern: /^(?!.*@)[a-z0-9]+([._/:-][a-z0-9]+)*$/,
      problem: 'is not an image repository',
      fix: `use e.g. "${repository}" (the tag goes in the tag field)`,
    }),
    tag: stringField({
      doc: 'Pinned image tag.',
      default: tag,
      pattern: /^(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
      problem: 'is not a pinned tag',
      fix: `pin an exact version such as "${tag}"; "latest" is refused because it changes under you`,
    }),
  });
}

/** CPU and memory for one container (Kubernetes quantity strings). */
function resources(what: string, d: { cpuRequest: string; cpuLimit: string; memoryRequest: string; memoryLimit: string }) {
  return group(`Container resources of ${what}.`, {
    cpuRequest: quantity('CPU request, e.g. `250m`.', d.cpuRequest),
    cpuLimit: quantity('CPU limit; empty for none (CPU limits throttle the Erlang scheduler).', d.cpuLimit, true),
    memoryRequest: quantity('Memory request, e.g. `512Mi`.', d.memoryRequest),
    memoryLimit: quantity('Memory limit, e.g. `1Gi`.', d.memoryLimit),
  });
}

function policyMatchesReplicaQueues(pattern: string): boolean {
  try {
    return pattern.startsWith('^') && new RegExp(pattern).test(`${REPLICA_QUEUE_PREFIX}x`);
  } catch {
    return false;
  }
}

const PolicySchema = group('The HA policy (mirrored mode only).', {
  name: stringField({ doc: 'Policy name.', default: POLICY_NAME, pattern: /^[A-Za-z0-9_.-]{1,64}$/, problem: 'is not a valid policy name', fix: `use letters, digits, "-", "_" or ".", e.g. "${POLICY_NAME}"` }),
  pattern: stringField({
    doc: `Queue name pattern; must match the replica queues (\`${REPLICA_QUEUE_PREFIX}<replica>\`).`,
    default: POLICY_PATTERN,
    check: (p) => (policyMatchesReplicaQueues(p) ? undefined : { problem: `"${p}" does not match the replica queues ("${REPLICA_QUEUE_PREFIX}<replica>")`, fix: `use "${POLICY_PATTERN}"` }),
  }),
  haSyncMode: enumField({ doc: '`ha-sync-mode` of the mirrored policy.', values: ['automatic', 'manual'], default: 'automatic' }),
  priority: intField({ doc: 'Policy priority.', default: 0, min: 0, max: 255 }),
});

const LivenessSchema = group(
  'The liveness check that restarts a hung node (a bash script the kubelet runs, and the local twin too: it GETs the Prometheus endpoint and fails when the node accepts the connection and does not answer; a refused connection passes, since pause_minority stops the rabbit app on purpose and starts it again at the heal). A node that answers nothing for about `periodSeconds` × `failureThreshold` is killed while still hung (at worst `periodSeconds` + (`failureThreshold` − 1) × max(`periodSeconds`, `timeoutSeconds`) + `timeoutSeconds` + `terminationGracePeriodSeconds` after the hang starts; synth keeps that below `netTicktimeSeconds`), so it restarts and rejoins cleanly instead of resuming into a split cluster, and its quorum leaders move at once. README "Partitions and hung nodes" says what it risks.',
  {
    enabled: boolField({ doc: 'Whether hung nodes are restarted.', default: true }),
    periodSeconds: intField({ doc: 'Seconds between checks.', default: 2, min: 1, max: 60 }),
    timeoutSeconds: intField({ doc: 'Seconds a check may take.', default: 2, min: 1, max: 60 }),
    failureThreshold: intField({ doc: 'Failed checks in a row that restart the node; with `periodSeconds` and `timeoutSeconds`, short enough that even at worst the kill comes before `netTicktimeSeconds` (synth checks it).', default: 3, min: 1, max: 100 }),
    refusedSeconds: intField({ doc: 'Seconds the node may refuse the check\'s connection (its rabbit app stopped: pause_minority waiting for a majority, an autoheal restart) before the check fails anyway; bounds a rabbit app that never comes back, e.g. a boot hung in Erlang\'s global sync when the app restarts just as a partition heals.', default: 60, min: 10, max: 3600 }),
    terminationGracePeriodSeconds: intField({ doc: 'Seconds between SIGTERM and SIGKILL when the check restarts the node (the probe-level grace, 1 at least; a hung VM ignores SIGTERM and only dies by SIGKILL, so a longer grace only delays the kill).', default: 1, min: 1, max: 3600 }),
  },
);

/**
 * Seconds from a node hanging until the liveness check has it killed, at worst: the hang starts
 * just after a check passed, so the first failing check starts up to a period later, the failures
 * follow a period (or a timeout, when longer) apart, and the last one takes its whole timeout
 * before the grace period runs. At best (the hang starts just before a check) it is one period less.
 */
export function livenessKillSeconds(l: LivenessSpec): number {
  return l.periodSeconds + (l.failureThreshold - 1) * Math.max(l.periodSeconds, l.timeoutSeconds) + l.timeoutSeconds + l.terminationGracePeriodSeconds;
}

const RabbitmqSchema = asGroup(
  'The RabbitMQ cluster.',
  fields({
    image: image('RabbitMQ', 'docker.io/library/rabbitmq', '3.13.7-management'),
    version: stringField({ doc: 'RabbitMQ server version the image runs (major.minor.patch); drives the `ha-mode` guard.', default: '3.13.7', pattern: VERSION, problem: 'is not a version', fix: 'use major.minor.patch such as "3.13.7"' }),
    replicas: intField({
      doc: 'Number of cluster nodes; odd, at least 3, so a majority (quorum queues, `pause_minority`, autoheal\'s winner) survives one lost node.',
      default: 3,
      min: 3,
      max: 9,
      check: (n) => (n % 2 === 1 ? undefined : { problem: `${n} nodes cannot keep a majority under pause_minority`, fix: 'use an odd count such as 3 or 5' }),
    }),
    queueMode: enumField({ doc: 'How replica queues are made highly available: `mirrored` (classic queues and the `ha-mode=all` policy, RabbitMQ <= 3.13; the app\'s consumer asks for `x-cancel-on-ha-failover`) or `quorum` (`x-queue-type: quorum`).', values: [QueueMode.MIRRORED, QueueMode.QUORUM], default: QueueMode.MIRRORED }),
    policy: PolicySchema,
    partitionHandling: enumField({
      doc: 'What a node does when it finds the cluster was split (`cluster_partition_handling`): `pause_minority` (the side without a majority stops serving; a suspended-then-resumed node is not caught by it, which `rabbitmq.liveness` covers by killing the hung node) or `autoheal` (when the split ends the losing side restarts; during a split both sides serve, and what the loser accepted is discarded). README "Partitions and hung nodes" says what each risks.',
      values: [PartitionHandling.PAUSE_MINORITY, PartitionHandling.AUTOHEAL],
      // Chosen by chaos evidence (README "Partitions and hung nodes"): with autoheal a mirrored
      // partition lost 25 acknowledged deliveries and a quorum one looped through three heals;
      // pause_minority's old failure (a resumed node left split) is gone with the liveness kill.
      default: PartitionHandling.PAUSE_MINORITY,
    }),
    netTicktimeSeconds: intField({
      doc: 'Erlang `net_ticktime`: a peer that sends nothing for about this long (± 25 %) is declared down, which ends a hung mirror\'s block on confirms. Lower detects a hung node sooner but risks false partitions on a slow network.',
      // Erlang's default is 60 s. 10 s bounds what waits for a silent node to be declared down
      // (a hung mirror's block on confirms; a quorum queue's record still naming a cut-off leader,
      // which new channels register with first) to 7.5-12.5 s. Chosen by chaos evidence and a
      // 10-minute soak at the chaos load with no spurious partition (README "Partitions and hung nodes").
      default: 10,
      min: 10,
      max: 600,
    }),
    liveness: LivenessSchema,
    storageSize: quantity('Persistent volume size per node.', '8Gi'),
    storageClassName: stringField({ doc: 'StorageClass of the node volumes; empty for the cluster default.', default: '' }),
    resources: resources('each RabbitMQ node', { cpuRequest: '500m', cpuLimit: '', memoryRequest: '1Gi', memoryLimit: '2Gi' }),
    // At least 10 s: a replica queue that expired during a short reconnect would take its messages with it.
    queueExpiresMs: intField({ doc: 'Milliseconds an unused replica queue lives after its app replica is gone (`x-expires`).', default: 600_000, min: 10_000, max: 7 * 24 * 3600_000 }),
    ports: group('RabbitMQ ports.', {
      amqp: portField({ doc: 'AMQP.', default: Ports.AMQP }),
      management: portField({ doc: 'Management UI and HTTP API.', default: Ports.RABBITMQ_MANAGEMENT }),
      prometheus: portField({ doc: 'Prometheus metrics.', default: Ports.RABBITMQ_PROMETHEUS }),
      dist: portField({ doc: 'Erlang distribution (inter-node).', default: Ports.RABBITMQ_DIST }),
      epmd: portField({ doc: 'Erlang port mapper.', default: Ports.EPMD }),
    }),
  }).superRefine((r, ctx) => {
    const major = Number(VERSION.exec(r.version)?.[1]);
    if (r.queueMode === QueueMode.MIRRORED && major >= FIRST_VERSION_WITHOUT_MIRRORING) {
      ctx.addIssue({
        code: 'custom',
        path: ['queueMode'],
        message: `mirrored mode needs an ha-mode policy, which RabbitMQ ${r.version} rejects (classic mirrored queues were removed in 4.0)`,
        params: { fix: `set rabbitmq.queueMode to "${QueueMode.QUORUM}" (quorum queues, the replacement), or pin rabbitmq.version and rabbitmq.image to 3.13.x` },
      });
    }
    const killS = livenessKillSeconds(r.liveness);
    if (r.liveness.enabled && killS >= r.netTicktimeSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['liveness', 'failureThreshold'],
        message: `a hung node is killed only after ${killS} s at worst (periodSeconds + (failureThreshold - 1) × max(periodSeconds, timeoutSeconds) + timeoutSeconds + terminationGracePeriodSeconds), not within netTicktimeSeconds (${r.netTicktimeSeconds} s), after which its peers have declared it down: a hang that ends before the kill would resume into a split cluster`,
        params: { fix: `lower rabbitmq.liveness.failureThreshold, periodSeconds, timeoutSeconds or terminationGracePeriodSeconds so the total stays below ${r.netTicktimeSeconds} s, or raise rabbitmq.netTicktimeSeconds` },
      });
    }
  }),
);

const HaproxySchema = asGroup(
  'The HAProxy AMQP front.',
  fields({
    image: image('HAProxy', 'docker.io/library/haproxy', '2.8.10'),
    replicas: intField({ doc: 'Replicas of the AMQP front; at least 2 so it is not a single point of failure.', default: 2, min: 2, max: 20, fix: 'a single HAProxy replica is a single point of failure; use 2 or more' }),
    resources: resources('each HAProxy replica', { cpuRequest: '100m', cpuLimit: '', memoryRequest: '128Mi', memoryLimit: '256Mi' }),
    ports: group('HAProxy ports.', {
      amqp: portField({ doc: 'AMQP front.', default: Ports.HAPROXY_AMQP }),
      stats: portField({ doc: 'Stats page at /stats, Prometheus at /metrics.', default: Ports.HAPROXY_STATS }),
    }),
    idleTimeoutSeconds: intField({ doc: 'Client and server idle timeout in seconds; must exceed two AMQP heartbeats.', default: 3600, min: 1, max: 86_400 }),
    amqpHeartbeatSeconds: intField({ doc: 'AMQP heartbeat the app negotiates, in seconds.', default: 30, min: 5, max: 600 }),
  }).superRefine((h, ctx) => {
    if (h.idleTimeoutSeconds <= 2 * h.amqpHeartbeatSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['idleTimeoutSeconds'],
        message: `${h.idleTimeoutSeconds}s is not longer than two AMQP heartbeats (${h.amqpHeartbeatSeconds}s each), so HAProxy would cut idle but healthy connections`,
        params: { fix: `set it above ${2 * h.amqpHeartbeatSeconds}` },
      });
    }
  }),
);

const AutoscalingSchema = asGroup(
  'Horizontal autoscaling bounds.',
  fields({
    enabled: boolField({ doc: 'Scale the app with a HorizontalPodAutoscaler.', default: true }),
    minReplicas: intField({ doc: 'Fewest replicas.', default: 3, min: 1, max: 1000 }),
    maxReplicas: intField({ doc: 'Most replicas.', default: 10, min: 1, max: 1000 }),
    targetCpuUtilizationPercent: intField({ doc: 'Average CPU utilization the autoscaler aims for.', default: 70, min: 1, max: 100 }),
  }).superRefine((a, ctx) => {
    if (a.maxReplicas < a.minReplicas) {
      ctx.addIssue({ code: 'custom', path: ['maxReplicas'], message: `${a.maxReplicas} is below minReplicas ${a.minReplicas}`, params: { fix: 'raise maxReplicas or lower minReplicas' } });
    }
  }),
);

const AppSchema = group('The feed app.', {
  image: image('Feed app', 'ghcr.io/feedkit/feed-app', '0.1.0'),
  replicas: intField({ doc: 'Replicas when autoscaling is off, and the starting count.', default: 3, min: 1, max: 1000 }),
  autoscaling: AutoscalingSchema,
  resources: resources('each app replica', { cpuRequest: '250m', cpuLimit: '1', memoryRequest: '256Mi', memoryLimit: '512Mi' }),
  port: portField({ doc: 'Container port of the HTTP and WebSocket server.', default: Ports.APP_HTTP }),
  terminationGracePeriodSeconds: intField({
    doc: 'Seconds Kubernetes waits after SIGTERM; long enough to close sockets with 1012 and drain.',
    default: 60,
    min: 10,
    max: 3600,
    fix: 'sockets need time to close with 1012 and in-flight deliveries to finish; use 10 or more',
  }),
  // AMQP's prefetch-count is a 16-bit field.
  prefetch: intField({ doc: 'Consumer prefetch per replica.', default: 200, min: 1, max: 65_535 }),
  jwksUrl: stringField({ doc: 'JWKS URL to verify tokens with instead of the shared HS256 secret; empty for the secret.', default: '', pattern: /^$|^https?:\/\/\S+$/, problem: 'is not an http(s) URL', fix: 'give the JWKS endpoint URL, or leave it empty to use the HS256 secret' }),
  logLevel: enumField({ doc: 'Log level of the feed app (pino).', values: LOG_LEVELS, default: 'info' }),
  limits: group('What one user may do, so one user cannot hurt the rest.', {
    postsPerMinute: intField({
      doc: 'Posts one user may create in any 60 s, across all replicas (counted in PostgreSQL, in the post\'s transaction); beyond it `POST /post/create` answers 429 with `Retry-After`.',
      default: 100,
      min: 1,
      max: MAX_POSTS_PER_MINUTE,
    }),
    subscriptionsPerUser: intField({
      doc: 'Feed sockets, event streams and GraphQL subscriptions one user may hold on one replica; beyond it the upgrade or stream is refused with 429 and `Retry-After`.',
      default: 10,
      min: 1,
      max: MAX_SUBSCRIPTIONS_PER_USER,
    }),
  }),
});

function checkExternalUrl(value: string): { problem: string; fix: string } | undefined {
  if (value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: `"${value}" is not a URL`, fix: 'use postgres://user@host:5432/database, or leave it empty for in-cluster PostgreSQL' };
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return { problem: `scheme "${url.protocol}" is not postgres`, fix: 'use postgres://user@host:5432/database' };
  if (url.password !== '') {
    return { problem: 'contains a password, which would land in a ConfigMap and the synthesized YAML', fix: 'remove the password from the URL and put it in the postgres Secret (key "password")' };
  }
  return undefined;
}

const PostgresSchema = group('PostgreSQL: in the cluster, or external.', {
  externalUrl: stringField({ doc: 'URL of an external PostgreSQL (no password in it: the password comes from the Secret); empty to run PostgreSQL in the cluster.', default: '', check: checkExternalUrl }),
  image: image('In-cluster PostgreSQL', 'docker.io/library/postgres', '16.4'),
  database: sqlIdentifier('Database name.', 'feed'),
  username: sqlIdentifier('Database user.', 'feed'),
  storageSize: quantity('Persistent volume size.', '10Gi'),
  storageClassName: stringField({ doc: 'StorageClass of the volume; empty for the cluster default.', default: '' }),
  resources: resources('PostgreSQL', { cpuRequest: '250m', cpuLimit: '', memoryRequest: '512Mi', memoryLimit: '1Gi' }),
  port: portField({ doc: 'PostgreSQL port.', default: Ports.POSTGRES }),
});

const HOSTNAME = /^$|^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const OBJECT_NAME = /^$|^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

function objectName(doc: string, what: string) {
  return stringField({ doc, default: '', pattern: OBJECT_NAME, maxLength: 253, problem: `is not a ${what} name`, fix: 'use lower-case letters, digits, "-" and ".", or "" for none' });
}

const PodSecuritySchema = group('Pod Security Standards labels of the namespace (`pod-security.kubernetes.io/*`).', {
  enforce: enumField({
    doc: 'Level the namespace enforces. `warn` and `audit` are always `restricted`, and every feedkit pod passes `restricted` (a test checks it); lower it only for pods you add yourself.',
    values: POD_SECURITY_LEVELS,
    default: PodSecurityLevel.RESTRICTED,
  }),
});

const ExposureSchema = asGroup(
  'How browsers reach the feed from outside the cluster (off by default: a public host cannot be guessed).',
  fields({
    kind: enumField({
      doc: '`none` (ClusterIP only), `ingress` (an Ingress with WebSocket timeouts for ingress-nginx), `gateway` (a Gateway API HTTPRoute attached to an existing Gateway) or `loadBalancer` (a Service of type LoadBalancer in front of the app).',
      values: [ExposureKind.NONE, ExposureKind.INGRESS, ExposureKind.GATEWAY, ExposureKind.LOAD_BALANCER],
      default: ExposureKind.NONE,
    }),
    host: stringField({ doc: 'Public host name of the feed, e.g. `feed.example.com`; required for `ingress`, optional for `gateway` (the route then matches every host of the listener).', default: '', pattern: HOSTNAME, maxLength: 253, problem: 'is not a DNS host name', fix: 'use a lower-case DNS name such as "feed.example.com"' }),
    ingressClassName: objectName('IngressClass of the Ingress (`ingress`); empty for the cluster\'s default class. The annotations target ingress-nginx.', 'IngressClass'),
    tls: group('TLS of the Ingress (`ingress` only; a Gateway terminates TLS on its own listener).', {
      secretName: objectName('Secret of type kubernetes.io/tls holding the certificate; with `clusterIssuer`, the Secret cert-manager writes (default `<name>-app-tls`).', 'Secret'),
      clusterIssuer: objectName('cert-manager ClusterIssuer that issues the certificate (`cert-manager.io/cluster-issuer` annotation); empty for none.', 'ClusterIssuer'),
    }),
    gateway: group('The Gateway the HTTPRoute attaches to (`gateway` only).', {
      name: objectName('Name of the Gateway.', 'Gateway'),
      namespace: objectName('Namespace of the Gateway; empty for the stack namespace (a Gateway in another namespace must allow routes from it).', 'namespace'),
      sectionName: objectName('Listener of the Gateway to attach to; empty for all of its listeners.', 'listener'),
    }),
    streamTimeoutSeconds: intField({
      doc: 'Seconds the proxy keeps an idle WebSocket open (ingress-nginx read/send timeouts). The app pings sockets far more often; at least an hour so a proxy never cuts a quiet feed.',
      default: 3600,
      min: 3600,
      max: 86_400,
      fix: 'WebSocket feeds stay open for hours; use 3600 (1 h) to 86400',
    }),
  }).superRefine((e, ctx) => {
    const issue = (path: string[], message: string, fix: string) => ctx.addIssue({ code: 'custom', path, message, params: { fix } });
    const tlsSet = e.tls.secretName !== '' || e.tls.clusterIssuer !== '';
    if (e.kind === ExposureKind.INGRESS && e.host === '') issue(['host'], 'is empty, but an Ingress needs the host browsers use', 'set exposure.host, e.g. "feed.example.com"');
    if (e.kind === ExposureKind.GATEWAY && e.gateway.name === '') issue(['gateway', 'name'], 'is empty, but an HTTPRoute must name the Gateway it attaches to', 'set exposure.gateway.name to the Gateway your cluster admin runs');
    if (e.kind !== ExposureKind.INGRESS && tlsSet) {
      issue(['tls'], `is set, but only an Ingress terminates TLS here (kind is "${e.kind}")`, e.kind === ExposureKind.GATEWAY ? 'configure TLS on the Gateway listener and remove exposure.tls' : 'set exposure.kind to "ingress", or remove exposure.tls');
    }
  }),
);

const MonitoringSchema = asGroup(
  'Prometheus Operator and Grafana objects (needs the operator\'s CRDs; off by default so a cluster without them still applies).',
  fields({
    enabled: boolField({ doc: 'Synthesize ServiceMonitors (app, HAProxy), a PodMonitor (RabbitMQ nodes), a PrometheusRule with the feed\'s alerts and a Grafana dashboard ConfigMap.', default: false }),
    scrapeIntervalSeconds: intField({ doc: 'Seconds between scrapes.', default: 30, min: 5, max: 300 }),
    selectorLabel: stringField({
      doc: 'A `key=value` label put on the Service/PodMonitors and the PrometheusRule so your Prometheus selects them (kube-prometheus-stack selects `release=<its release name>`); empty for none.',
      default: '',
      pattern: /^$|^([a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?=([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/,
      problem: 'is not a key=value label',
      fix: 'use e.g. "release=kube-prometheus-stack", or "" for none',
    }),
    deliveryLatencyP99Ms: intField({ doc: 'Alert when the p99 of post-to-socket delivery latency stays above this many milliseconds for 10 minutes.', default: 2000, min: 10, max: 600_000 }),
    outboxBacklogMax: intField({ doc: 'Alert when the outbox holds more unpublished rows than this and keeps growing for 10 minutes.', default: 1000, min: 1, max: 10_000_000 }),
    amqpReconnectsPer15m: intField({ doc: 'Alert when the app\'s replicas reconnect to AMQP more often than this in 15 minutes (a flapping node or front).', default: 5, min: 1, max: 10_000 }),
  }),
);

/** The schema of the whole stack: the one definition of every spec field. */
export const FeedkitSpecSchema = fields({
  name: dnsLabel('Prefix of every object name.', 'feedkit', 30),
  namespace: dnsLabel('Namespace everything is deployed into.', 'feedkit', 63),
  clusterDomain: stringField({ doc: 'Kubernetes cluster DNS domain (for the pods\' stable names).', default: 'cluster.local', pattern: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, problem: 'is not a DNS domain', fix: 'use e.g. "cluster.local"' }),
  rabbitmq: RabbitmqSchema,
  haproxy: HaproxySchema,
  app: AppSchema,
  postgres: PostgresSchema,
  podSecurity: PodSecuritySchema,
  exposure: ExposureSchema,
  monitoring: MonitoringSchema,
}).meta({ title: 'feedkit spec', description: 'What `npm run synth` and the Pulumi program deploy. Every field has a default: write only what you change.' });

type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The whole stack, resolved: every field present and valid. */
export type FeedkitSpec = DeepReadonly<z.output<typeof FeedkitSpecSchema>>;
export type RabbitmqSpec = FeedkitSpec['rabbitmq'];
export type HaproxySpec = FeedkitSpec['haproxy'];
export type AppSpec = FeedkitSpec['app'];
export type PostgresSpec = FeedkitSpec['postgres'];
export type ImageSpec = RabbitmqSpec['image'];
export type ResourceSpec = RabbitmqSpec['resources'];
export type PolicySpec = RabbitmqSpec['policy'];
export type LivenessSpec = RabbitmqSpec['liveness'];
export type ExposureSpec = FeedkitSpec['exposure'];
export type MonitoringSpec = FeedkitSpec['monitoring'];

/** Deep partial of {@link FeedkitSpec}: what a user writes. */
export type DeepPartial<T> = { readonly [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type SpecOverrides = DeepPartial<FeedkitSpec>;

/** A spec value is wrong; the message names the field (dotted path) and how to fix it. */
export class SpecError extends Error {
  constructor(
    /** Dotted path of the offending field, e.g. `rabbitmq.replicas`. */
    readonly field: string,
    problem: string,
    /** What to do instead. */
    readonly fix: string,
  ) {
    super(`spec field "${field}": ${problem}. Fix: ${fix}`);
    this.name = 'SpecError';
  }
}

/** Merges overrides onto the defaults and validates the result; throws {@link SpecError} for the first bad field. */
export function resolveSpec(overrides: SpecOverrides = {}): FeedkitSpec {
  const result = FeedkitSpecSchema.safeParse(overrides);
  if (!result.success) throw specErrorOf(result.error.issues[0]!);
  return deepFreeze(result.data);
}

/** Every field at its default. */
export const DEFAULT_SPEC: FeedkitSpec = resolveSpec();

/** The {@link SpecError} of one schema issue: the field's path, the check's message, the field's fix. */
export function specErrorOf(issue: z.core.$ZodIssue): SpecError {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys(fieldShape(path));
    return new SpecError([...path, issue.keys[0]!].join('.'), 'is not a spec field', `remove it or use one of: ${known.join(', ')}`);
  }
  const params = (issue as { params?: { fix?: string } }).params;
  const fix = params?.fix ?? fieldMeta(fieldAt(FeedkitSpecSchema, path) ?? FeedkitSpecSchema)?.fix ?? 'see the spec table in the README';
  return new SpecError(path.join('.') || '(spec)', issue.message, fix);
}

/** The known keys at `path`: every field has a default, so the defaults have every key. */
function fieldShape(path: readonly string[]): Record<string, unknown> {
  let node: unknown = DEFAULT_SPEC;
  for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
  return (node ?? {}) as Record<string, unknown>;
}

/** Major version number of a RabbitMQ version string. */
export function rabbitmqMajor(version: string): number {
  const m = VERSION.exec(version);
  if (!m) throw new SpecError('rabbitmq.version', `"${version}" is not a version`, 'use major.minor.patch such as "3.13.7"');
  return Number(m[1]);
}

/** Whether a RabbitMQ version string is at least `major.minor`. */
export function rabbitmqAtLeast(version: string, major: number, minor: number): boolean {
  const m = VERSION.exec(version);
  if (!m) throw new SpecError('rabbitmq.version', `"${version}" is not a version`, 'use major.minor.patch such as "3.13.7"');
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

/** `repository:tag`. */
export function imageRef(image: ImageSpec): string {
  return `${image.repository}:${image.tag}`;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o as T;
}
