import { ApiObject, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  MIN_COOKIE_LENGTH,
  QueueMode,
  RABBITMQ_LIVENESS_PATH,
  SecretKeys,
  imageRef,
  objectNames,
  type FeedkitSpec,
  type LivenessSpec,
} from '../../shared/index.js';
import {
  DEFAULT_USER_DEFINITIONS_FILE,
  DEFINITIONS_FILE,
  DEFAULT_SYNC_WAIT_SECONDS,
  drainScript,
  LIVENESS_SHELL,
  LIVENESS_STATE_FILE,
  MIN_PASSWORD_LENGTH,
  NODE_NAME_PREFIX,
  PeerDiscoveryKind,
  rabbitmqHostnameSuffix,
  renderDefaultUserConf,
  renderDefaultUserDefinitions,
  renderDefinitions,
  renderEnabledPlugins,
  renderLivenessScript,
  memoryAvailableOverrideBytes,
  memoryQuantityBytes,
  renderRabbitmqConf,
  usesSeedNodeDiscovery,
} from '../../rabbitmq-cluster/index.js';
import { CONFIG_CHECKSUM_ANNOTATION, configChecksum } from '../common/checksum.js';
import { Component, selectorLabels } from '../common/labels.js';
import { PodDisruptionBudget } from '../common/pod-disruption-budget.js';
import { containerResources } from '../common/resources.js';
import { restrictPods } from '../common/restricted-pods.js';
import { addVolumeClaimTemplate } from '../common/volume-claim.js';

/** uid/gid of the `rabbitmq` user in the official image. */
export const RABBITMQ_UID = 999;

/** Where things live inside a RabbitMQ pod. */
export const RabbitmqPaths = Object.freeze({
  /** HOME of the rabbitmq user; an emptyDir holding only the erlang cookie copy. */
  HOME: '/var/lib/rabbitmq',
  /** The node's database, on the PersistentVolumeClaim. */
  DATA: '/var/lib/rabbitmq/mnesia',
  /** conf.d, an emptyDir the init container fills (rendered config plus default user). */
  CONF_D: '/etc/rabbitmq/conf.d',
  /**
   * `load_definitions` directory, an emptyDir the init container fills: the ConfigMap's
   * definitions.json plus the default user's definitions written from the Secret.
   */
  DEFINITIONS: '/etc/rabbitmq/definitions',
  /** The ConfigMap (read-only). */
  CONFIG: '/etc/rabbitmq-feedkit',
  COOKIE_SECRET: '/run/feedkit/erlang-cookie',
  USER_SECRET: '/run/feedkit/default-user',
});

/** Keys of the RabbitMQ ConfigMap. */
export const RabbitmqConfigKeys = Object.freeze({
  CONF: 'rabbitmq.conf',
  ENABLED_PLUGINS: 'enabled_plugins',
  DEFINITIONS: DEFINITIONS_FILE,
});

/** Name of the volume claim template (and of each node's PVC prefix). */
export const RABBITMQ_DATA_VOLUME = 'data';

/**
 * Seconds Kubernetes waits for the preStop drain before killing the node; the waits in the hook
 * are bounded below it so the node still stops.
 */
export const RABBITMQ_TERMINATION_GRACE_SECONDS = 600;

/** Props of {@link RabbitmqCluster}. */
export interface RabbitmqClusterProps {
  /** The resolved stack spec (node count, image, ports, storage, resources, queue mode). */
  readonly spec: FeedkitSpec;
  /**
   * Seconds the preStop hook may wait for replicas to be in sync before draining.
   * @default 300
   */
  readonly syncWaitSeconds?: number;
}

/**
 * A RabbitMQ cluster of `spec.rabbitmq.replicas` nodes: StatefulSet (Parallel, PVC per node),
 * headless and client Services, its ConfigMap, the peer-discovery RBAC (before RabbitMQ 4.1 only) and a PodDisruptionBudget.
 * The erlang cookie and the default user come from Secrets referenced by name (never literals).
 */
export class RabbitmqCluster extends Construct {
  /** The StatefulSet (child id 'Resource'). */
  readonly statefulSet: kplus.StatefulSet;
  readonly headlessService: kplus.Service;
  readonly clientService: kplus.Service;
  readonly configMap: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: RabbitmqClusterProps) {
    super(scope, id);
    const { spec } = props;
    const rmq = spec.rabbitmq;
    const syncWait = props.syncWaitSeconds ?? DEFAULT_SYNC_WAIT_SECONDS;
    if (!Number.isInteger(syncWait) || syncWait < 1 || syncWait > RABBITMQ_TERMINATION_GRACE_SECONDS / 2) {
      throw new Error(`RabbitmqCluster: syncWaitSeconds must be a whole number from 1 to ${RABBITMQ_TERMINATION_GRACE_SECONDS / 2}, got ${syncWait}`);
    }
    const names = objectNames(spec.name);
    const labels = selectorLabels(spec, Component.RABBITMQ);
    const ports = rmq.ports;

    const configData: Record<string, string> = {
      [RabbitmqConfigKeys.CONF]: renderRabbitmqConf(spec, {
        peerDiscovery: { kind: PeerDiscoveryKind.KUBERNETES },
        definitionsPath: RabbitmqPaths.DEFINITIONS,
        totalMemoryAvailableBytes: memoryAvailableOverrideBytes(memoryQuantityBytes('rabbitmq.resources.memoryLimit', rmq.resources.memoryLimit)),
      }),
      [RabbitmqConfigKeys.ENABLED_PLUGINS]: renderEnabledPlugins(PeerDiscoveryKind.KUBERNETES),
      [RabbitmqConfigKeys.DEFINITIONS]: renderDefinitions(spec),
    };
    this.configMap = new kplus.ConfigMap(this, 'Config', { metadata: { name: names.rabbitmqConfig }, data: configData });

    // Before 4.1 the k8s peer discovery plugin lists the headless Service's endpoints and records
    // events; from 4.1 it derives the seed pod's name and never calls the API, so no token either.
    const needsApi = !usesSeedNodeDiscovery(spec);
    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: names.rabbitmqServiceAccount },
      automountToken: needsApi,
    });
    if (needsApi) {
      const role = new kplus.Role(this, 'PeerDiscoveryRole', { metadata: { name: names.rabbitmqServiceAccount } });
      role.allowGet(kplus.ApiResource.ENDPOINTS);
      role.allowCreate(kplus.ApiResource.EVENTS);
      const binding = new kplus.RoleBinding(this, 'PeerDiscoveryRoleBinding', { metadata: { name: names.rabbitmqServiceAccount }, role });
      binding.addSubjects(serviceAccount);
    }

    this.headlessService = new kplus.Service(this, 'Headless', {
      metadata: { name: names.rabbitmqHeadless },
      clusterIP: 'None',
      ports: [
        { name: 'amqp', port: ports.amqp, targetPort: ports.amqp },
        { name: 'epmd', port: ports.epmd, targetPort: ports.epmd },
        { name: 'dist', port: ports.dist, targetPort: ports.dist },
      ],
    });
    // Peers must resolve each other while booting (before ready), or a restarted cluster whose
    // nodes wait for each other never forms. cdk8s-plus-27's Service has no such field.
    ApiObject.of(this.headlessService).addJsonPatch(JsonPatch.add('/spec/publishNotReadyAddresses', true));

    this.clientService = new kplus.Service(this, 'Client', {
      metadata: { name: names.rabbitmq },
      ports: [
        { name: 'amqp', port: ports.amqp, targetPort: ports.amqp },
        { name: 'management', port: ports.management, targetPort: ports.management },
        { name: 'prometheus', port: ports.prometheus, targetPort: ports.prometheus },
      ],
    });
    for (const [k, v] of Object.entries(labels)) {
      this.headlessService.selectLabel(k, v);
      this.clientService.selectLabel(k, v);
    }

    const cookieSecret = kplus.Secret.fromSecretName(this, 'ErlangCookie', names.erlangCookieSecret);
    const userSecret = kplus.Secret.fromSecretName(this, 'DefaultUser', names.rabbitmqUserSecret);
    const volumes = {
      home: kplus.Volume.fromEmptyDir(this, 'HomeVolume', 'home'),
      confD: kplus.Volume.fromEmptyDir(this, 'ConfDVolume', 'conf-d'),
      definitions: kplus.Volume.fromEmptyDir(this, 'DefinitionsVolume', 'definitions'),
      config: kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.configMap, { name: 'config' }),
      cookie: kplus.Volume.fromSecret(this, 'CookieVolume', cookieSecret, { name: 'erlang-cookie' }),
      user: kplus.Volume.fromSecret(this, 'UserVolume', userSecret, { name: 'default-user' }),
    };

    this.statefulSet = new kplus.StatefulSet(this, 'Resource', {
      metadata: { name: names.rabbitmq },
      service: this.headlessService,
      replicas: rmq.replicas,
      podManagementPolicy: kplus.PodManagementPolicy.PARALLEL,
      select: false,
      spread: false,
      podMetadata: { labels, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: configChecksum(configData) } },
      serviceAccount,
      automountServiceAccountToken: needsApi,
      terminationGracePeriod: Duration.seconds(RABBITMQ_TERMINATION_GRACE_SECONDS),
      securityContext: { ensureNonRoot: true, user: RABBITMQ_UID, group: RABBITMQ_UID, fsGroup: RABBITMQ_UID },
      initContainers: [
        {
          name: 'setup',
          image: imageRef(rmq.image),
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['sh', '-c', setupScript()],
          resources: containerResources('rabbitmq.resources', { ...rmq.resources, cpuLimit: '', memoryRequest: '64Mi', memoryLimit: '64Mi', cpuRequest: '50m' }),
          securityContext: { ensureNonRoot: true, user: RABBITMQ_UID, group: RABBITMQ_UID, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
          volumeMounts: [
            { path: RabbitmqPaths.HOME, volume: volumes.home },
            { path: RabbitmqPaths.CONF_D, volume: volumes.confD },
            { path: RabbitmqPaths.DEFINITIONS, volume: volumes.definitions },
            { path: RabbitmqPaths.CONFIG, volume: volumes.config, readOnly: true },
            { path: RabbitmqPaths.COOKIE_SECRET, volume: volumes.cookie, readOnly: true },
            { path: RabbitmqPaths.USER_SECRET, volume: volumes.user, readOnly: true },
          ],
        },
      ],
      containers: [
        {
          name: 'rabbitmq',
          image: imageRef(rmq.image),
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          ports: [
            { name: 'amqp', number: ports.amqp },
            { name: 'epmd', number: ports.epmd },
            { name: 'dist', number: ports.dist },
            { name: 'management', number: ports.management },
            { name: 'prometheus', number: ports.prometheus },
          ],
          envVariables: {
            MY_POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
            // Long names: each node is rabbit@<pod>.<headless>.<ns>.svc.<domain>, the stable name
            // peer discovery and HAProxy use.
            RABBITMQ_USE_LONGNAME: kplus.EnvValue.fromValue('true'),
            RABBITMQ_NODENAME: kplus.EnvValue.fromValue(`${NODE_NAME_PREFIX}@$(MY_POD_NAME)${rabbitmqHostnameSuffix(spec)}`),
            RABBITMQ_CONFIG_FILES: kplus.EnvValue.fromValue(RabbitmqPaths.CONF_D),
            RABBITMQ_ENABLED_PLUGINS_FILE: kplus.EnvValue.fromValue(`${RabbitmqPaths.CONFIG}/${RabbitmqConfigKeys.ENABLED_PLUGINS}`),
            RABBITMQ_MNESIA_BASE: kplus.EnvValue.fromValue(RabbitmqPaths.DATA),
            // Log to stdout (conf.d is our emptyDir, so the image's 10-defaults.conf is not read).
            RABBITMQ_LOGS: kplus.EnvValue.fromValue('-'),
          },
          resources: containerResources('rabbitmq.resources', rmq.resources),
          // Ready once AMQP accepts connections; HAProxy does the AMQP-level check.
          readiness: kplus.Probe.fromTcpSocket({ port: ports.amqp, initialDelaySeconds: Duration.seconds(10), periodSeconds: Duration.seconds(10), failureThreshold: 3 }),
          // Generous: a node waiting for its peers' tables must not be killed (15 minutes).
          startup: kplus.Probe.fromTcpSocket({ port: ports.amqp, periodSeconds: Duration.seconds(10), failureThreshold: 90 }),
          liveness: rmq.liveness.enabled ? livenessProbe(rmq.liveness, ports.prometheus) : undefined,
          lifecycle: { preStop: kplus.Handler.fromCommand(['sh', '-c', drainScript(rmq.queueMode, syncWait)]) },
          // The image's entrypoint and Erlang write outside the mounted volumes (crash dumps in the
          // working directory), so the root filesystem stays writable.
          securityContext: { ensureNonRoot: true, user: RABBITMQ_UID, group: RABBITMQ_UID, readOnlyRootFilesystem: false, allowPrivilegeEscalation: false },
          volumeMounts: [
            { path: RabbitmqPaths.HOME, volume: volumes.home },
            { path: RabbitmqPaths.CONF_D, volume: volumes.confD },
            { path: RabbitmqPaths.DEFINITIONS, volume: volumes.definitions },
            { path: RabbitmqPaths.CONFIG, volume: volumes.config, readOnly: true },
          ],
        },
      ],
    });
    if (rmq.liveness.enabled) this.setLivenessGracePeriod(rmq.liveness.terminationGracePeriodSeconds);
    this.statefulSet.select(kplus.LabelSelector.of({ labels }));
    restrictPods(this.statefulSet, 'RabbitmqCluster');
    // Spread nodes over hosts: two nodes on one host would lose the majority with that host.
    this.statefulSet.scheduling.separate(
      kplus.Pods.select(this, 'Peers', { labels }),
      { topology: kplus.Topology.HOSTNAME, weight: 100 },
    );

    addVolumeClaimTemplate(this.statefulSet, {
      name: RABBITMQ_DATA_VOLUME,
      mountPath: RabbitmqPaths.DATA,
      storage: rmq.storageSize,
      storageClassName: rmq.storageClassName,
      labels,
    });

    new PodDisruptionBudget(this, 'DisruptionBudget', { name: names.rabbitmq, selectorLabels: labels, maxUnavailable: 1 });
  }

  /**
   * A liveness kill gets its own grace period (the probe-level field, on by default since Kubernetes
   * 1.22, GA in 1.27; cdk8s-plus-27 has no prop for it): a hung VM dies only by SIGKILL, and the
   * pod's 600 s (for the preStop drain) would keep it hung that long.
   */
  private setLivenessGracePeriod(seconds: number): void {
    ApiObject.of(this.statefulSet).addJsonPatch(JsonPatch.add('/spec/template/spec/containers/0/livenessProbe/terminationGracePeriodSeconds', seconds));
  }
}

/**
 * The liveness check: a hung node (SIGSTOPped, a frozen VM) answers nothing while the kernel still
 * accepts its TCP connections, so peers only declare it down after `net_ticktime`, and if it resumes
 * first the cluster finds itself split (autoheal then restarted healthy nodes too: 62 s of stall in
 * the quorum node-pause chaos scenario). The spec keeps the kill below `net_ticktime`. An exec
 * probe, not an HTTP one, so a node whose rabbit app pause_minority stopped is left to restart it
 * (see `renderLivenessScript`).
 */
function livenessProbe(l: LivenessSpec, port: number): kplus.Probe {
  const script = renderLivenessScript({ port, path: RABBITMQ_LIVENESS_PATH, timeoutSeconds: l.timeoutSeconds, refusedSeconds: l.refusedSeconds, stateFile: LIVENESS_STATE_FILE });
  return kplus.Probe.fromCommand([LIVENESS_SHELL, '-c', script], {
    periodSeconds: Duration.seconds(l.periodSeconds),
    timeoutSeconds: Duration.seconds(l.timeoutSeconds),
    failureThreshold: l.failureThreshold,
  });
}

/**
 * Init container script. The cookie is copied (not mounted) into HOME with mode 0400 because
 * Erlang refuses a cookie file readable by others, and Secret volumes are group-readable under
 * fsGroup. RABBITMQ_ERLANG_COOKIE is deprecated since 3.9, so the env route is not used.
 * The default user is written from the Secret at start in the renderers' formats: as definitions
 * next to definitions.json (what a node that loads definitions actually imports; it does not seed
 * default_user then) and as the conf.d snippet. Values are checked first, since the files cannot
 * carry whitespace, "#", quotes or backslashes.
 */
function setupScript(): string {
  const USER = 'FEEDKITUSERPLACEHOLDER';
  const PASS = 'FEEDKITPASSWORDPLACEHOLDER';
  const fill = (text: string) => {
    const out = text.replaceAll(USER, '${user}').replaceAll(PASS, '${pass}');
    if (/[`\\]/.test(out)) throw new Error('default user template cannot be embedded in a shell here-document');
    return out.trimEnd();
  };
  const cookie = `${RabbitmqPaths.HOME}/.erlang.cookie`;
  const userConf = `${RabbitmqPaths.CONF_D}/20-default-user.conf`;
  const userDefs = `${RabbitmqPaths.DEFINITIONS}/${DEFAULT_USER_DEFINITIONS_FILE}`;
  const fail = (msg: string) => `{ echo "${msg}" >&2; exit 1; }`;
  return [
    'set -eu',
    `cookie_len=$(wc -c < ${RabbitmqPaths.COOKIE_SECRET}/${SecretKeys.ERLANG_COOKIE})`,
    `[ "$cookie_len" -ge ${MIN_COOKIE_LENGTH} ] || ${fail(`erlang cookie in Secret key ${SecretKeys.ERLANG_COOKIE} is shorter than ${MIN_COOKIE_LENGTH} characters`)}`,
    `rm -f ${cookie} ${userConf} ${userDefs}`,
    `cp ${RabbitmqPaths.COOKIE_SECRET}/${SecretKeys.ERLANG_COOKIE} ${cookie}`,
    `chmod 0400 ${cookie}`,
    `cp ${RabbitmqPaths.CONFIG}/${RabbitmqConfigKeys.CONF} ${RabbitmqPaths.CONF_D}/10-feedkit.conf`,
    `cp ${RabbitmqPaths.CONFIG}/${RabbitmqConfigKeys.DEFINITIONS} ${RabbitmqPaths.DEFINITIONS}/${RabbitmqConfigKeys.DEFINITIONS}`,
    `user=$(cat ${RabbitmqPaths.USER_SECRET}/${SecretKeys.USERNAME})`,
    `pass=$(cat ${RabbitmqPaths.USER_SECRET}/${SecretKeys.PASSWORD})`,
    `case "$user$pass" in *[[:space:]#\\"\\'\\\\]*) ${fail('default user Secret holds whitespace, #, a quote or a backslash')};; esac`,
    `[ -n "$user" ] && [ \${#pass} -ge ${MIN_PASSWORD_LENGTH} ] || ${fail(`default user Secret needs a username and a password of at least ${MIN_PASSWORD_LENGTH} characters`)}`,
    `cat > ${userDefs} <<EOF`,
    fill(renderDefaultUserDefinitions(USER, PASS)),
    'EOF',
    `cat > ${userConf} <<EOF`,
    fill(renderDefaultUserConf(USER, PASS)),
    'EOF',
    `chmod 0400 ${userDefs} ${userConf}`,
    '',
  ].join('\n');
}
