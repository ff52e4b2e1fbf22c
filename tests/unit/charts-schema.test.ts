import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { secretManifests } from '../../charts/stack.js';
import { ExposureKind, QueueMode } from '../../shared/index.js';
import { synth, validateKubeObject } from '../support/charts.js';

const VARIANTS = {
  'the default spec': {},
  'quorum mode on RabbitMQ 4': { rabbitmq: { queueMode: QueueMode.QUORUM, version: '4.0.5', image: { repository: 'docker.io/library/rabbitmq', tag: '4.0.5-management' } } },
  'an external Postgres, JWKS and no autoscaling': {
    postgres: { externalUrl: 'postgres://feed@db.example.com:5432/feed' },
    app: { jwksUrl: 'https://auth.example.com/jwks.json', autoscaling: { enabled: false } },
  },
  'five nodes with storage classes': { rabbitmq: { replicas: 5, storageClassName: 'fast' }, postgres: { storageClassName: 'fast' }, haproxy: { replicas: 3 } },
  'RabbitMQ 4.1, an Ingress with cert-manager TLS and monitoring': {
    rabbitmq: { queueMode: QueueMode.QUORUM, version: '4.1.2', image: { repository: 'docker.io/library/rabbitmq', tag: '4.1.2-management' } },
    exposure: { kind: ExposureKind.INGRESS, host: 'feed.example.com', ingressClassName: 'nginx', tls: { clusterIssuer: 'letsencrypt' } },
    monitoring: { enabled: true, selectorLabel: 'release=kube-prometheus-stack' },
  },
  'a Gateway API route': { exposure: { kind: ExposureKind.GATEWAY, host: 'feed.example.com', gateway: { name: 'public', namespace: 'gateways', sectionName: 'https' } } },
  'a LoadBalancer Service': { exposure: { kind: ExposureKind.LOAD_BALANCER } },
} as const;

describe('every synthesized object validates against the Kubernetes OpenAPI schemas', () => {
  for (const [name, overrides] of Object.entries(VARIANTS)) {
    it(`GIVEN ${name} WHEN synthesized THEN each object validates with kubernetes-models`, () => {
      const s = synth(overrides);
      assert.ok(s.objects.length > 10);
      for (const obj of s.objects) {
        assert.doesNotThrow(() => validateKubeObject(obj), `${obj.kind}/${obj.metadata.name}`);
      }
    });
  }

  it('GIVEN placeholder secret values WHEN secretManifests builds the Secrets THEN they validate too', () => {
    const s = synth();
    const secrets = secretManifests(s.spec, { erlangCookie: 'c', rabbitmqUsername: 'u', rabbitmqPassword: 'p', postgresPassword: 'q', jwtSecret: 'j' });
    assert.equal(secrets.length, 4);
    for (const obj of secrets) validateKubeObject(obj);
  });

  it('GIVEN a StatefulSet with a wrongly typed field WHEN validated THEN the validator rejects it (it is not a no-op)', () => {
    const sts = synth().get('StatefulSet', 'feedkit-rabbitmq');
    const broken = { ...sts, spec: { ...sts.spec, replicas: 'three' } };
    assert.throws(() => validateKubeObject(broken));
  });

  it('GIVEN a kind without a model WHEN validated THEN it fails instead of being skipped', () => {
    assert.throws(() => validateKubeObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }), /no schema model/);
  });
});
