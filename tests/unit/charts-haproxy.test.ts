import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_CHECKSUM_ANNOTATION } from '../../charts/index.js';
import { rabbitmqPodHostnames } from '../../rabbitmq-cluster/index.js';
import { objectNames, SpecError } from '../../shared/index.js';
import { synth } from '../support/charts.js';

const names = objectNames('feedkit');

function haproxy(s = synth()) {
  const deployment = s.get('Deployment', names.haproxy);
  const cfg: string = s.get('ConfigMap', names.haproxyConfig).data['haproxy.cfg'];
  return { s, deployment, cfg, container: deployment.spec.template.spec.containers[0] };
}

describe('HAProxy chart', () => {
  it("GIVEN three RabbitMQ nodes WHEN the HAProxy ConfigMap is read THEN the backend lists exactly the three pods' stable DNS names", () => {
    const { cfg } = haproxy();
    const servers = [...cfg.matchAll(/^\s*server \S+ (\S+):5672\s*$/gm)].map((m) => m[1]);
    assert.deepEqual(servers, [
      'feedkit-rabbitmq-0.feedkit-rabbitmq-headless.feedkit.svc.cluster.local',
      'feedkit-rabbitmq-1.feedkit-rabbitmq-headless.feedkit.svc.cluster.local',
      'feedkit-rabbitmq-2.feedkit-rabbitmq-headless.feedkit.svc.cluster.local',
    ]);
    assert.match(cfg, /^resolvers dns$/m, 'names are re-resolved, so a restarted pod is followed');
  });

  it('GIVEN five nodes WHEN synthesized THEN the backend follows the node count', () => {
    const s = synth({ rabbitmq: { replicas: 5 } });
    const servers = [...haproxy(s).cfg.matchAll(/^\s*server \S+ (\S+):\d+\s*$/gm)].map((m) => m[1]);
    assert.deepEqual(servers, rabbitmqPodHostnames(s.spec));
  });

  it('GIVEN the default spec WHEN synthesized THEN two replicas spread over hosts with a PDB, probes on the monitor URI and a Service', () => {
    const { s, deployment, container } = haproxy();
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(s.get('PodDisruptionBudget', names.haproxy).spec.maxUnavailable, 1);
    assert.equal(container.readinessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.port, 8404);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    const service = s.get('Service', names.haproxy);
    assert.deepEqual(service.spec.ports.map((p: any) => [p.name, p.port]), [['amqp', 5672], ['stats', 8404]]);
    assert.equal(container.securityContext.runAsUser, 99);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.ok(container.volumeMounts.some((m: any) => m.mountPath === '/usr/local/etc/haproxy'));
  });

  it('GIVEN one HAProxy replica WHEN resolved THEN it is refused naming haproxy.replicas', () => {
    assert.throws(() => synth({ haproxy: { replicas: 1 } }), (e: unknown) => e instanceof SpecError && e.field === 'haproxy.replicas');
  });

  it('GIVEN a config change WHEN synthesized again THEN the pod checksum annotation changes (the pods roll); unchanged config keeps it', () => {
    const checksum = (s: ReturnType<typeof synth>) => haproxy(s).deployment.spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION];
    const base = checksum(synth());
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(checksum(synth()), base);
    assert.notEqual(checksum(synth({ haproxy: { idleTimeoutSeconds: 1800 } })), base);
  });
});
