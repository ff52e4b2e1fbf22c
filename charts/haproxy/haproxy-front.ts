import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { imageRef, objectNames, type FeedkitSpec } from '../../shared/index.js';
import { HaproxyNames, haproxyServersForCluster, renderHaproxyCfg } from '../../haproxy/index.js';
import { CONFIG_CHECKSUM_ANNOTATION, configChecksum } from '../common/checksum.js';
import { Component, selectorLabels } from '../common/labels.js';
import { PodDisruptionBudget } from '../common/pod-disruption-budget.js';
import { containerResources } from '../common/resources.js';
import { restrictPods } from '../common/restricted-pods.js';

/** uid/gid of the `haproxy` user the official image runs as since 2.4. */
export const HAPROXY_UID = 99;

/** Directory the official image reads `haproxy.cfg` from. */
export const HAPROXY_CONFIG_DIR = '/usr/local/etc/haproxy';

/** Key of the HAProxy ConfigMap. */
export const HAPROXY_CONFIG_KEY = 'haproxy.cfg';

/** Props of {@link HaproxyFront}. */
export interface HaproxyFrontProps {
  /** The resolved stack spec (replicas, image, ports, timeouts, the RabbitMQ nodes). */
  readonly spec: FeedkitSpec;
  /**
   * Seconds a resolved pod address is kept before HAProxy asks DNS again.
   * @default 10
   */
  readonly dnsHoldValidSeconds?: number;
}

/**
 * The AMQP front: a Deployment of HAProxy (>= 2 replicas) balancing over every RabbitMQ pod by its
 * stable DNS name (re-resolved, so a restarted pod's new IP is followed), its ConfigMap, Service
 * and PodDisruptionBudget.
 */
export class HaproxyFront extends Construct {
  /** The Deployment (child id 'Resource'). */
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;
  readonly configMap: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: HaproxyFrontProps) {
    super(scope, id);
    const { spec } = props;
    const hap = spec.haproxy;
    if (hap.replicas < 2) {
      throw new Error(`HaproxyFront: spec.haproxy.replicas must be at least 2 (a single front is a single point of failure), got ${hap.replicas}`);
    }
    const names = objectNames(spec.name);
    const labels = selectorLabels(spec, Component.HAPROXY);

    const data = {
      [HAPROXY_CONFIG_KEY]: renderHaproxyCfg(spec, {
        servers: haproxyServersForCluster(spec),
        resolvers: { holdValidSeconds: props.dnsHoldValidSeconds ?? 10 },
      }),
    };
    this.configMap = new kplus.ConfigMap(this, 'Config', { metadata: { name: names.haproxyConfig }, data });
    const config = kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.configMap, { name: 'config' });
    const health = (failureThreshold: number) =>
      kplus.Probe.fromHttpGet(HaproxyNames.HEALTH_PATH, { port: hap.ports.stats, periodSeconds: Duration.seconds(5), failureThreshold });

    this.deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name: names.haproxy },
      replicas: hap.replicas,
      select: false,
      spread: false,
      // The checksum changes with haproxy.cfg, so a config change rolls the pods.
      podMetadata: { labels, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: configChecksum(data) } },
      strategy: kplus.DeploymentStrategy.rollingUpdate({ maxSurge: kplus.PercentOrAbsolute.absolute(1), maxUnavailable: kplus.PercentOrAbsolute.absolute(0) }),
      securityContext: { ensureNonRoot: true, user: HAPROXY_UID, group: HAPROXY_UID },
      containers: [
        {
          name: 'haproxy',
          image: imageRef(hap.image),
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          ports: [
            { name: 'amqp', number: hap.ports.amqp },
            { name: 'stats', number: hap.ports.stats },
          ],
          resources: containerResources('haproxy.resources', hap.resources),
          readiness: health(2),
          liveness: health(6),
          securityContext: { ensureNonRoot: true, user: HAPROXY_UID, group: HAPROXY_UID, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
          volumeMounts: [{ path: HAPROXY_CONFIG_DIR, volume: config, readOnly: true }],
        },
      ],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels }));
    restrictPods(this.deployment, 'HaproxyFront');
    this.deployment.scheduling.separate(kplus.Pods.select(this, 'Peers', { labels }), { topology: kplus.Topology.HOSTNAME, weight: 100 });

    this.service = new kplus.Service(this, 'Service', {
      // Labelled with the component so a ServiceMonitor can select exactly this Service.
      metadata: { name: names.haproxy, labels },
      ports: [
        { name: 'amqp', port: hap.ports.amqp, targetPort: hap.ports.amqp },
        { name: 'stats', port: hap.ports.stats, targetPort: hap.ports.stats },
      ],
    });
    for (const [k, v] of Object.entries(labels)) this.service.selectLabel(k, v);

    new PodDisruptionBudget(this, 'DisruptionBudget', { name: names.haproxy, selectorLabels: labels, maxUnavailable: 1 });
  }
}
