import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppEnv, QueueMode, Routes, SecretKeys, objectNames } from '../../shared/index.js';
import { envVar, synth } from '../support/charts.js';

const names = objectNames('feedkit');

function feedApp(s = synth()) {
  const deployment = s.get('Deployment', names.app);
  const container = deployment.spec.template.spec.containers[0];
  return { s, deployment, container, config: s.get('ConfigMap', names.appConfig).data as Record<string, string> };
}

describe('feed app chart', () => {
  it('GIVEN the default spec WHEN synthesized THEN REPLICA_ID comes from the pod name via the downward API', () => {
    const { container } = feedApp();
    assert.deepEqual(envVar(container, AppEnv.REPLICA_ID).valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
  });

  it('GIVEN the default spec WHEN synthesized THEN the ConfigMap carries the settings and the AMQP URL goes through the HAProxy Service', () => {
    const { container, config } = feedApp();
    assert.deepEqual(container.envFrom, [{ configMapRef: { name: names.appConfig } }]);
    assert.deepEqual(config, {
      [AppEnv.PORT]: '8080',
      [AppEnv.AMQP_URLS]: 'amqp://feedkit-haproxy.feedkit.svc.cluster.local:5672',
      [AppEnv.DATABASE_URL]: 'postgres://feed@feedkit-postgres.feedkit.svc.cluster.local:5432/feed',
      [AppEnv.QUEUE_MODE]: QueueMode.MIRRORED,
      [AppEnv.QUEUE_EXPIRES_MS]: '600000',
      [AppEnv.PREFETCH]: '200',
      [AppEnv.LOG_LEVEL]: 'info',
      [AppEnv.AMQP_HEARTBEAT_SECONDS]: '30',
    });
  });

  it('GIVEN a spec heartbeat other than the default WHEN synthesized THEN the app negotiates that heartbeat (HAProxy timeouts are rendered from it)', () => {
    const { config } = feedApp(synth({ haproxy: { amqpHeartbeatSeconds: 20 } }));
    assert.equal(config[AppEnv.AMQP_HEARTBEAT_SECONDS], '20');
  });

  it('GIVEN the default spec WHEN synthesized THEN credentials come from Secrets by name and key', () => {
    const { container } = feedApp();
    const ref = (name: string) => envVar(container, name).valueFrom.secretKeyRef;
    assert.deepEqual(ref(AppEnv.AMQP_USERNAME), { name: names.rabbitmqUserSecret, key: SecretKeys.USERNAME });
    assert.deepEqual(ref(AppEnv.AMQP_PASSWORD), { name: names.rabbitmqUserSecret, key: SecretKeys.PASSWORD });
    assert.deepEqual(ref(AppEnv.PGPASSWORD), { name: names.postgresSecret, key: SecretKeys.PASSWORD });
    assert.deepEqual(ref(AppEnv.JWT_SECRET), { name: names.appSecret, key: SecretKeys.JWT_SECRET });
  });

  it('GIVEN a JWKS URL WHEN synthesized THEN the app gets JWKS_URL and no JWT secret reference', () => {
    const { container, config } = feedApp(synth({ app: { jwksUrl: 'https://auth.example.com/jwks.json' } }));
    assert.equal(config[AppEnv.JWKS_URL], 'https://auth.example.com/jwks.json');
    assert.equal(envVar(container, AppEnv.JWT_SECRET), undefined);
  });

  it('GIVEN autoscaling on WHEN synthesized THEN an autoscaling/v2 HPA on CPU owns the replica count', () => {
    const { s, deployment } = feedApp();
    const hpa = s.get('HorizontalPodAutoscaler', names.app);
    assert.equal(hpa.apiVersion, 'autoscaling/v2');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: names.app });
    assert.equal(hpa.spec.minReplicas, 3);
    assert.equal(hpa.spec.maxReplicas, 10);
    assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
    assert.equal(hpa.spec.metrics[0].resource.target.averageUtilization, 70);
    assert.equal(deployment.spec.replicas, undefined);
  });

  it('GIVEN autoscaling off WHEN synthesized THEN there is no HPA and the Deployment has spec.app.replicas', () => {
    const { s, deployment } = feedApp(synth({ app: { autoscaling: { enabled: false }, replicas: 4 } }));
    assert.equal(s.has('HorizontalPodAutoscaler', names.app), false);
    assert.equal(deployment.spec.replicas, 4);
  });

  it('GIVEN the default spec WHEN synthesized THEN probes, grace period, PDB, Service, non-root and no capabilities are set', () => {
    const { s, deployment, container } = feedApp(synth({ app: { terminationGracePeriodSeconds: 90 } }));
    assert.equal(container.readinessProbe.httpGet.path, Routes.READY);
    assert.equal(container.livenessProbe.httpGet.path, Routes.HEALTH);
    assert.equal(deployment.spec.template.spec.terminationGracePeriodSeconds, 90);
    assert.equal(s.get('PodDisruptionBudget', names.app).spec.maxUnavailable, 1);
    assert.equal(s.get('Service', names.app).spec.ports[0].targetPort, 8080);
    assert.equal(container.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(container.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  });
});
