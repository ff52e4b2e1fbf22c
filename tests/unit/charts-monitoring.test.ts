import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../app/src/metrics.js';
import { DASHBOARD_KEY, GRAFANA_DASHBOARD_LABEL } from '../../charts/index.js';
import { FeedAlert, dashboardExpressions, renderAlertRuleGroups, renderFeedDashboard } from '../../monitoring/index.js';
import { DEFAULT_SPEC, SpecError, objectNames, resolveSpec } from '../../shared/index.js';
import { synth, validateKubeObject } from '../support/charts.js';

const names = objectNames('feedkit');
const MONITORED = { monitoring: { enabled: true } } as const;

/** Metric names a PromQL expression selects (every selector here has braces). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!);
}

/** The `feed_*` names of `exprs` that the app does not export (histogram series suffixes allowed). */
function unknownFeedMetrics(exprs: readonly string[], exported: ReadonlySet<string>): string[] {
  const known = (n: string) => exported.has(n) || exported.has(n.replace(/_(bucket|sum|count)$/, ''));
  return exprs.flatMap(metricNames).filter((n) => n.startsWith('feed_') && !known(n));
}

function appMetricNames(): Set<string> {
  const { registry } = createMetrics(async () => 0, false);
  return new Set(registry.getMetricsAsArray().map((m) => m.name));
}

const alertExpressions = (spec = DEFAULT_SPEC) => renderAlertRuleGroups(spec).flatMap((g) => g.rules.map((r) => r.expr));

describe('monitoring', () => {
  it('GIVEN the default spec WHEN synthesized THEN no monitoring objects are made (their CRDs may be absent)', () => {
    const s = synth();
    assert.equal(s.all('ServiceMonitor').length + s.all('PodMonitor').length + s.all('PrometheusRule').length, 0);
  });

  it('GIVEN monitoring on WHEN synthesized THEN each ServiceMonitor selects exactly one Service, by a named port of it', () => {
    const s = synth(MONITORED);
    for (const name of [names.app, names.haproxy]) {
      const monitor = s.get('ServiceMonitor', name);
      const selected = s.all('Service').filter((svc: any) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels?.[k] === v));
      assert.deepEqual(selected.map((x) => x.metadata.name), [name]);
      const portNames = (selected[0] as any).spec.ports.map((p: any) => p.name);
      for (const ep of monitor.spec.endpoints) assert.ok(portNames.includes(ep.port), `${name}: port ${ep.port} is one of ${portNames}`);
    }
  });

  it('GIVEN monitoring on WHEN synthesized THEN the RabbitMQ PodMonitor selects the nodes and scrapes their Prometheus port, aggregated and per queue', () => {
    const s = synth(MONITORED);
    const monitor = s.get('PodMonitor', names.rabbitmq);
    const pod = s.get('StatefulSet', names.rabbitmq).spec.template;
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(pod.metadata.labels[k], v);
    const port = pod.spec.containers[0].ports.find((p: any) => p.name === 'prometheus');
    assert.equal(port.containerPort, s.spec.rabbitmq.ports.prometheus);
    assert.deepEqual(monitor.spec.podMetricsEndpoints.map((e: any) => [e.port, e.path]), [['prometheus', '/metrics'], ['prometheus', '/metrics/detailed']]);
  });

  it('GIVEN monitoring on WHEN synthesized THEN every monitor sets job to the name the alert selectors use', () => {
    const s = synth(MONITORED);
    const jobs = [...s.all('ServiceMonitor').flatMap((m: any) => m.spec.endpoints), ...s.all('PodMonitor').flatMap((m: any) => m.spec.podMetricsEndpoints)].map(
      (e: any) => e.relabelings.find((r: any) => r.targetLabel === 'job').replacement,
    );
    const selectors = alertExpressions().join('\n');
    for (const job of new Set(jobs)) assert.ok(selectors.includes(`job="${job}"`), `an alert selects job ${job}`);
  });

  it('GIVEN a selector label WHEN synthesized THEN every monitor and the rule carry it, and a malformed one names the field', () => {
    const s = synth({ monitoring: { enabled: true, selectorLabel: 'release=kube-prometheus-stack' } });
    for (const o of [...s.all('ServiceMonitor'), ...s.all('PodMonitor'), ...s.all('PrometheusRule')]) assert.equal(o.metadata.labels?.['release'], 'kube-prometheus-stack', o.kind);
    assert.throws(() => resolveSpec({ monitoring: { selectorLabel: 'release' } }), (e: unknown) => e instanceof SpecError && e.field === 'monitoring.selectorLabel');
  });

  it('GIVEN monitoring on WHEN synthesized THEN the PrometheusRule holds every alert the feed needs', () => {
    const rule = synth(MONITORED).get('PrometheusRule', names.alertRules);
    const alerts = rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
    assert.deepEqual([...alerts].sort(), Object.values(FeedAlert).sort());
  });

  it('GIVEN thresholds in the spec WHEN the rules render THEN they use them and the node count', () => {
    const spec = resolveSpec({ rabbitmq: { replicas: 5 }, monitoring: { deliveryLatencyP99Ms: 750, outboxBacklogMax: 42, amqpReconnectsPer15m: 9 } });
    const byName = new Map(renderAlertRuleGroups(spec).flatMap((g) => g.rules.map((r) => [r.alert, r.expr] as const)));
    assert.match(byName.get(FeedAlert.DELIVERY_LATENCY_HIGH)!, /> 0\.75$/);
    assert.match(byName.get(FeedAlert.OUTBOX_BACKLOG_GROWING)!, /> 42 and/);
    assert.match(byName.get(FeedAlert.AMQP_RECONNECTS)!, /> 9$/);
    assert.match(byName.get(FeedAlert.RABBITMQ_NODE_DOWN)!, /< 5$/);
    assert.match(byName.get(FeedAlert.RABBITMQ_PARTITION)!, /< 4$/);
  });

  it('GIVEN the alerts and the dashboard WHEN their feed_* metric names are read THEN each is one the app exports', () => {
    const exported = appMetricNames();
    const exprs = [...alertExpressions(), ...dashboardExpressions(DEFAULT_SPEC)];
    const used = new Set(exprs.flatMap(metricNames).filter((n) => n.startsWith('feed_')));
    assert.ok(used.size >= 8, `the dashboard and alerts use the app's metrics (${[...used].join(', ')})`);
    assert.deepEqual(unknownFeedMetrics(exprs, exported), []);
  });

  it('GIVEN a dashboard query with a metric the app does not export WHEN checked THEN it is reported (the check is not a no-op)', () => {
    assert.deepEqual(unknownFeedMetrics(['sum(feed_ws_connection{job="x"})', 'rate(feed_delivery_latency_seconds_bucket{job="x"}[5m])'], appMetricNames()), ['feed_ws_connection']);
  });

  it('GIVEN monitoring on WHEN synthesized THEN the dashboard ConfigMap carries the sidecar label and the rendered dashboard JSON', () => {
    const cm = synth(MONITORED).get('ConfigMap', names.grafanaDashboard);
    for (const [k, v] of Object.entries(GRAFANA_DASHBOARD_LABEL)) assert.equal(cm.metadata.labels[k], v);
    const dashboard = JSON.parse(cm.data[DASHBOARD_KEY]) as { panels: any[] };
    assert.deepEqual(dashboard, renderFeedDashboard(DEFAULT_SPEC));
    assert.ok(dashboard.panels.length >= 10);
    assert.deepEqual(dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr)), dashboardExpressions(DEFAULT_SPEC));
  });

  it('GIVEN a ServiceMonitor with a mistyped field WHEN validated THEN the CRD schema rejects it', () => {
    const monitor = synth(MONITORED).get('ServiceMonitor', names.app);
    assert.throws(() => validateKubeObject({ ...monitor, spec: { ...monitor.spec, endpoints: [{ port: 8080 }] } }));
    assert.throws(() => validateKubeObject({ ...monitor, spec: { endpoints: monitor.spec.endpoints } }), 'selector is required');
  });
});
