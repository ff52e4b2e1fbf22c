import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChartName, postgresHeadlessName } from '../../charts/index.js';
import { AppEnv, SecretKeys, objectNames } from '../../shared/index.js';
import { envVar, synth } from '../support/charts.js';

const names = objectNames('feedkit');

describe('PostgreSQL chart', () => {
  it('GIVEN no external URL WHEN synthesized THEN one StatefulSet with a claim, headless and client Services, password from the Secret', () => {
    const s = synth();
    const sts = s.get('StatefulSet', names.postgres);
    assert.equal(sts.spec.replicas, 1);
    assert.equal(sts.spec.serviceName, postgresHeadlessName(s.spec));
    assert.equal(s.get('Service', postgresHeadlessName(s.spec)).spec.clusterIP, 'None');
    assert.equal(s.get('Service', names.postgres).spec.ports[0].port, 5432);
    assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '10Gi');
    const c = sts.spec.template.spec.containers[0];
    assert.deepEqual(envVar(c, 'POSTGRES_PASSWORD').valueFrom.secretKeyRef, { name: names.postgresSecret, key: SecretKeys.PASSWORD });
    assert.equal(envVar(c, 'PGDATA').value, '/var/lib/postgresql/data/pgdata');
    assert.ok(c.volumeMounts.some((m: any) => m.mountPath === '/var/lib/postgresql/data'));
    assert.match(c.readinessProbe.exec.command.join(' '), /pg_isready/);
    assert.equal(c.securityContext.runAsUser, 999);
  });

  it('GIVEN an external URL WHEN synthesized THEN no postgres object or chart exists and DATABASE_URL is that URL', () => {
    const url = 'postgres://feed@db.example.com:5432/feed';
    const s = synth({ postgres: { externalUrl: url } });
    assert.equal(s.charts.some((c) => c.name === ChartName.POSTGRES), false);
    const postgresObjects = s.objects.filter((o) => o.metadata.name.startsWith(names.postgres));
    assert.deepEqual(postgresObjects.map((o) => `${o.kind}/${o.metadata.name}`), []);
    assert.equal(s.get('ConfigMap', names.appConfig).data[AppEnv.DATABASE_URL], url);
    assert.deepEqual(s.chart(ChartName.APP).dependsOn, [ChartName.HAPROXY]);
    const app = s.get('Deployment', names.app).spec.template.spec.containers[0];
    assert.equal(envVar(app, AppEnv.PGPASSWORD).valueFrom.secretKeyRef.name, names.postgresSecret, 'the password still comes from the Secret');
  });
});
