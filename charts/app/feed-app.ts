import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { AppEnv, Routes, SecretKeys, appEnvironment, imageRef, objectNames, type FeedkitSpec } from '../../shared/index.js';
import { CONFIG_CHECKSUM_ANNOTATION, configChecksum } from '../common/checksum.js';
import { Component, selectorLabels } from '../common/labels.js';
import { PodDisruptionBudget } from '../common/pod-disruption-budget.js';
import { containerResources } from '../common/resources.js';
import { restrictPods } from '../common/restricted-pods.js';
import { amqpUrls, databaseUrl } from '../common/urls.js';

/** uid/gid the feed app image runs as (the `node` user of the Node.js base image). */
export const APP_UID = 1000;

/**
 * Kubernetes' "every capability" (the restricted Pod Security Standard drops it): cdk8s-plus-27's
 * `Capability` enum lists single capabilities only. The app binds 8080 and needs none.
 */
export const DROP_ALL_CAPABILITIES = 'ALL' as kplus.Capability;

/** Port of the app's Service. */
export const APP_SERVICE_PORT = 80;

/** Props of {@link FeedApp}. */
export interface FeedAppProps {
  /** The resolved stack spec (image, replicas, autoscaling, resources, queue mode, URLs). */
  readonly spec: FeedkitSpec;
}

/**
 * The feed app: Deployment, Service, ConfigMap with its settings, HorizontalPodAutoscaler (when
 * enabled) and PodDisruptionBudget. Credentials come from Secrets referenced by name.
 */
export class FeedApp extends Construct {
  /** The Deployment (child id 'Resource'). */
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;
  readonly configMap: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: FeedAppProps) {
    super(scope, id);
    const { spec } = props;
    const app = spec.app;
    const names = objectNames(spec.name);
    const labels = selectorLabels(spec, Component.APP);

    const settings: Record<string, string> = {
      // Every tunable the spec sets (queue mode: the app declares its replica queue from it).
      ...appEnvironment(spec),
      [AppEnv.AMQP_URLS]: amqpUrls(spec),
      [AppEnv.DATABASE_URL]: databaseUrl(spec),
    };
    this.configMap = new kplus.ConfigMap(this, 'Config', { metadata: { name: names.appConfig }, data: settings });

    const rabbitmqUser = kplus.Secret.fromSecretName(this, 'RabbitmqUser', names.rabbitmqUserSecret);
    const postgresSecret = kplus.Secret.fromSecretName(this, 'PostgresSecret', names.postgresSecret);
    const appSecret = kplus.Secret.fromSecretName(this, 'AppSecret', names.appSecret);
    const fromSecret = (secret: kplus.ISecret, key: string) => kplus.EnvValue.fromSecretValue({ secret, key });
    const tmp = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp');

    this.deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name: names.app },
      // With autoscaling the HPA owns the count (starting at minReplicas); a fixed count would fight it.
      replicas: app.autoscaling.enabled ? undefined : app.replicas,
      select: false,
      spread: false,
      podMetadata: { labels, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: configChecksum(settings) } },
      // Never fewer ready replicas than asked for during a rollout: sockets move, they do not drop.
      strategy: kplus.DeploymentStrategy.rollingUpdate({ maxSurge: kplus.PercentOrAbsolute.absolute(1), maxUnavailable: kplus.PercentOrAbsolute.absolute(0) }),
      terminationGracePeriod: Duration.seconds(app.terminationGracePeriodSeconds),
      securityContext: { ensureNonRoot: true, user: APP_UID, group: APP_UID, fsGroup: APP_UID },
      containers: [
        {
          name: 'app',
          image: imageRef(app.image),
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          ports: [{ name: 'http', number: app.port }],
          envFrom: [kplus.Env.fromConfigMap(this.configMap)],
          envVariables: {
            // The pod name: unique per replica, so each replica owns its own queue.
            [AppEnv.REPLICA_ID]: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
            [AppEnv.AMQP_USERNAME]: fromSecret(rabbitmqUser, SecretKeys.USERNAME),
            [AppEnv.AMQP_PASSWORD]: fromSecret(rabbitmqUser, SecretKeys.PASSWORD),
            [AppEnv.PGPASSWORD]: fromSecret(postgresSecret, SecretKeys.PASSWORD),
            ...(app.jwksUrl === '' ? { [AppEnv.JWT_SECRET]: fromSecret(appSecret, SecretKeys.JWT_SECRET) } : {}),
          },
          resources: containerResources('app.resources', app.resources),
          readiness: kplus.Probe.fromHttpGet(Routes.READY, { port: app.port, periodSeconds: Duration.seconds(5), failureThreshold: 2 }),
          liveness: kplus.Probe.fromHttpGet(Routes.HEALTH, { port: app.port, initialDelaySeconds: Duration.seconds(10), periodSeconds: Duration.seconds(10), failureThreshold: 3 }),
          securityContext: { ensureNonRoot: true, user: APP_UID, group: APP_UID, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: [DROP_ALL_CAPABILITIES] } },
          volumeMounts: [{ path: '/tmp', volume: tmp }],
        },
      ],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels }));
    restrictPods(this.deployment, 'FeedApp');
    this.deployment.scheduling.separate(kplus.Pods.select(this, 'Peers', { labels }), { topology: kplus.Topology.HOSTNAME, weight: 50 });

    this.service = new kplus.Service(this, 'Service', {
      // Labelled with the component so a ServiceMonitor can select exactly this Service.
      metadata: { name: names.app, labels },
      ports: [{ name: 'http', port: APP_SERVICE_PORT, targetPort: app.port }],
    });
    for (const [k, v] of Object.entries(labels)) this.service.selectLabel(k, v);

    if (app.autoscaling.enabled) {
      new kplus.HorizontalPodAutoscaler(this, 'Autoscaler', {
        metadata: { name: names.app },
        target: this.deployment,
        minReplicas: app.autoscaling.minReplicas,
        maxReplicas: app.autoscaling.maxReplicas,
        metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(app.autoscaling.targetCpuUtilizationPercent))],
      });
    }

    new PodDisruptionBudget(this, 'DisruptionBudget', { name: names.app, selectorLabels: labels, maxUnavailable: 1 });
  }
}
