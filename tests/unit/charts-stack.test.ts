import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { App, Chart } from 'cdk8s';
import fc from 'fast-check';
import { ChartName, buildStack, postgresHeadlessName, renderChartYaml, synthStack } from '../../charts/index.js';
import { imageRef, objectNames, resolveSpec } from '../../shared/index.js';
import { allContainers, synth } from '../support/charts.js';
import { validOverrides } from '../support/spec-arbitraries.js';

const SNAPSHOT = join(dirname(fileURLToPath(import.meta.url)), '__snapshots__', 'charts-synth.snap.yaml');

describe('the whole stack', () => {
  it('GIVEN the default spec WHEN synthesized THEN the charts come in dependency order with distinct, ordered file names', () => {
    const s = synth();
    assert.deepEqual(s.charts.map((c) => c.name), [ChartName.NAMESPACE, ChartName.NETWORK_POLICIES, ChartName.POSTGRES, ChartName.RABBITMQ, ChartName.HAPROXY, ChartName.APP]);
    s.charts.forEach((chart, i) => {
      for (const dep of chart.dependsOn) assert.ok(s.charts.slice(0, i).some((c) => c.name === dep), `${chart.name} after ${dep}`);
    });
    const files = s.charts.map((c) => c.fileName);
    assert.deepEqual([...files].sort(), files, 'lexical order is apply order (kubectl apply -f dist/)');
    assert.equal(files[3], '03-feedkit-rabbitmq.k8s.yaml');
  });

  it('GIVEN the default spec WHEN synthesized THEN there is no Secret object and every credential env var is a reference', () => {
    const s = synth();
    assert.deepEqual(s.all('Secret'), []);
    for (const { owner, container } of allContainers(s)) {
      for (const e of container.env ?? []) {
        if (/PASSWORD|SECRET|COOKIE|USERNAME/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef && e.value === undefined, `${owner} ${container.name} ${e.name}`);
      }
    }
    assert.doesNotMatch(JSON.stringify(s.objects), /stringData|"kind":"Secret"/);
  });

  it('GIVEN any valid spec WHEN synthesized THEN every container has requests, a memory limit, the pinned tag of the spec and no root', () => {
    fc.assert(
      fc.property(validOverrides(), (overrides) => {
        const s = synth(overrides);
        const images = new Set([s.spec.rabbitmq.image, s.spec.haproxy.image, s.spec.app.image, s.spec.postgres.image].map(imageRef));
        const list = allContainers(s);
        // PostgreSQL runs in the cluster unless an external URL is given.
        assert.equal(list.length, s.spec.postgres.externalUrl === '' ? 5 : 4);
        for (const { owner, container } of list) {
          const where = `${owner} ${container.name}`;
          assert.ok(images.has(container.image), `${where} image ${container.image}`);
          assert.match(container.image, /:[A-Za-z0-9_][A-Za-z0-9_.-]*$/);
          assert.doesNotMatch(container.image, /:latest$/);
          assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory, where);
          assert.equal(container.securityContext.runAsNonRoot, true, where);
          assert.equal(container.securityContext.allowPrivilegeEscalation, false, where);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('GIVEN the default spec WHEN synthesized THEN object names are the hash-free objectNames and every object is in the namespace', () => {
    const s = synth();
    const allowed = new Set<string>([...Object.values(objectNames(s.spec.name)), postgresHeadlessName(s.spec)]);
    const seen = new Set<string>();
    for (const o of s.objects) {
      assert.ok(allowed.has(o.metadata.name), `${o.kind}/${o.metadata.name} is a known name`);
      const key = `${o.kind}/${o.metadata.name}`;
      assert.ok(!seen.has(key), `${key} once`);
      seen.add(key);
      assert.equal(o.metadata.namespace, o.kind === 'Namespace' ? undefined : s.spec.namespace, key);
    }
    assert.equal(s.get('Namespace', s.spec.namespace).metadata.name, 'feedkit');
  });

  it('GIVEN another stack name and namespace WHEN synthesized THEN every name and the DNS names follow them', () => {
    const s = synth({ name: 'blue', namespace: 'feeds' });
    assert.ok(s.objects.every((o) => o.metadata.name.startsWith('blue') || o.kind === 'Namespace'));
    assert.match(s.get('ConfigMap', 'blue-haproxy-config').data['haproxy.cfg'], /blue-rabbitmq-0\.blue-rabbitmq-headless\.feeds\.svc\.cluster\.local:5672/);
  });

  it('GIVEN buildStack WHEN given an App THEN it adds one Chart per part with the chart dependencies', () => {
    const app = buildStack(resolveSpec(), new App());
    const charts = app.node.children.filter((c): c is Chart => c instanceof Chart);
    assert.deepEqual(charts.map((c) => c.node.id), synthStack(resolveSpec()).map((c) => c.name));
    const appChart = charts.find((c) => c.node.id === ChartName.APP)!;
    assert.deepEqual(appChart.node.dependencies.map((d) => d.node.id).sort(), [ChartName.HAPROXY, ChartName.POSTGRES]);
  });

  it('GIVEN the default spec WHEN synthesized twice THEN the YAML is identical (stable names, no hashes, no timestamps)', () => {
    const text = () => synthStack(resolveSpec()).map(renderChartYaml).join('');
    assert.equal(text(), text());
  });

  it('GIVEN the default spec WHEN synthesized THEN the output equals the reviewed snapshot (UPDATE_SNAPSHOTS=1 rewrites it)', () => {
    const actual = synthStack(resolveSpec()).map((c) => `# ===== ${c.fileName} (chart ${c.name}; depends on: ${c.dependsOn.join(', ') || 'nothing'})\n${renderChartYaml(c)}`).join('\n');
    if (process.env['UPDATE_SNAPSHOTS'] === '1') {
      mkdirSync(dirname(SNAPSHOT), { recursive: true });
      writeFileSync(SNAPSHOT, actual);
    }
    assert.ok(existsSync(SNAPSHOT), `no snapshot at ${SNAPSHOT}; run with UPDATE_SNAPSHOTS=1 and review it`);
    assert.equal(actual, readFileSync(SNAPSHOT, 'utf8'));
  });
});
