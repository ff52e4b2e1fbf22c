/**
 * The RabbitMQ, Erlang and HAProxy metric names the alerts and the dashboard query, against what
 * real exporters serve: a 3-node RabbitMQ cluster booted from the rendered config (rabbitmq_prometheus
 * on its Prometheus port: `/metrics` and the per-queue `/metrics/detailed` families the PodMonitor
 * asks for) and the rendered HAProxy AMQP front (its built-in exporter at `/metrics`). The feed
 * app's names are checked against its registry in the unit tests. Skips when the binaries are missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { HaproxyNames } from '../../haproxy/index.js';
import { RABBITMQ_DETAILED_FAMILIES, RABBITMQ_DETAILED_PATH, dashboardExpressions, renderAlertRuleGroups } from '../../monitoring/index.js';
import { REPLICA_QUEUE_PREFIX, Routes, resolveSpec } from '../../shared/index.js';
import { startHaproxy, type HaproxyInstance } from '../../scripts/local/haproxy.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { RABBITMQ_BIN_DIR, installedRabbitmqVersion, startRabbitCluster, type RabbitCluster } from '../../scripts/local/rabbitmq.js';
import { HAPROXY_BIN } from '../../scripts/local/haproxy.js';

const missing = !existsSync(`${RABBITMQ_BIN_DIR}/rabbitmq-server`) || !existsSync(HAPROXY_BIN) ? 'rabbitmq-server or haproxy is not installed; skipping' : false;
const version = installedRabbitmqVersion() ?? '3.10.8';
const spec = resolveSpec({ rabbitmq: { version }, monitoring: { enabled: true } });

/** Metric names of a Prometheus text exposition (samples and `# TYPE` lines). */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+)/.exec(line) ?? /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

/** Names the alerts and the dashboard select (every selector has braces), except the app's own. */
function queriedExporterNames(): string[] {
  const exprs = [...renderAlertRuleGroups(spec).flatMap((g) => g.rules.map((r) => r.expr)), ...dashboardExpressions(spec)];
  const names = exprs.flatMap((e) => [...e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!));
  return [...new Set(names)].filter((n) => !n.startsWith('feed_')).sort();
}

async function scrape(url: string): Promise<Set<string>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  assert.equal(res.status, 200, url);
  return exposedNames(await res.text());
}

describe('metric names the alerts and dashboard query, against real exporters', { skip: missing }, () => {
  const root = join(REPO_ROOT, '.local');
  mkdirSync(root, { recursive: true });
  const workDir = mkdtempSync(join(root, 'it-metric-names-'));
  let cluster: RabbitCluster;
  let haproxy: HaproxyInstance;

  before(async () => {
    cluster = await startRabbitCluster({ spec, workDir, nodes: 3, namePrefix: 'rfkm' });
    haproxy = await startHaproxy({
      spec,
      workDir: join(workDir, 'haproxy'),
      servers: cluster.nodes.map((n) => ({ name: n.nodename.split('@')[0]!, host: '127.0.0.1', port: n.amqpPort })),
    });
    // A replica queue, so the per-queue families have a series to show.
    const url = new URL(haproxy.url);
    url.username = cluster.username;
    url.password = cluster.password;
    const conn = await amqp.connect(url.toString());
    const ch = await conn.createChannel();
    await ch.assertQueue(`${REPLICA_QUEUE_PREFIX}metric-names`, { exclusive: false, durable: true, arguments: { 'x-expires': 60_000 } });
    await conn.close();
  });

  after(async () => {
    await haproxy?.stop();
    await cluster?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  test('GIVEN the running cluster and front WHEN their endpoints are scraped THEN every exporter metric the alerts and dashboard query is served', async () => {
    const node = cluster.nodes[0]!;
    const base = `http://127.0.0.1:${node.prometheusPort}`;
    const detailed = `${base}${RABBITMQ_DETAILED_PATH}?${RABBITMQ_DETAILED_FAMILIES.map((f) => `family=${f}`).join('&')}`;
    const served = new Set([
      ...(await scrape(`${base}${Routes.METRICS}`)),
      ...(await scrape(detailed)),
      ...(await scrape(new URL(HaproxyNames.METRICS_PATH, haproxy.statsUrl).toString())),
    ]);
    const queried = queriedExporterNames();
    assert.ok(queried.length >= 8, `the rules and dashboard query the exporters (${queried.join(', ')})`);
    assert.deepEqual(queried.filter((n) => !served.has(n)), [], `served by RabbitMQ ${version} and HAProxy`);
  });
});
