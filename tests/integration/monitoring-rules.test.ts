/**
 * The rendered alerting rules against the real promtool (Debian's `prometheus` package, installed by
 * `npm run setup`): `promtool check rules` accepts them as the PrometheusRule carries them, and
 * `promtool test rules` shows, on synthetic series with the labels the charts' monitors produce,
 * that each alert fires when it should and stays quiet when the feed is healthy.
 * Skips with a message when promtool is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { FeedAlert, renderAlertRuleGroups, scrapeSelectors, type AlertRule } from '../../monitoring/index.js';
import { REPLICA_QUEUE_PREFIX, resolveSpec } from '../../shared/index.js';
import { synth } from '../support/charts.js';

const PROMTOOL = '/usr/bin/promtool';
const promtoolMissing = spawnSync(PROMTOOL, ['--version']).error ? `${PROMTOOL} is missing (apt-get install prometheus); skipping` : false;

const spec = resolveSpec({ monitoring: { enabled: true } });
const sel = scrapeSelectors(spec);
const rules = new Map(renderAlertRuleGroups(spec).flatMap((g) => g.rules.map((r) => [r.alert, r] as const)));
const work = mkdtempSync(join(tmpdir(), 'feedkit-promtool-'));
after(() => rmSync(work, { recursive: true, force: true }));

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { cwd: work, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The rule groups exactly as the synthesized PrometheusRule holds them, as a rule file. */
function writeRuleFile(): string {
  const rule = synth({ monitoring: { enabled: true } }).get('PrometheusRule', `${spec.name}-alerts`);
  const file = join(work, 'rules.yaml');
  writeFileSync(file, stringify({ groups: rule.spec.groups }, { lineWidth: 0 }));
  return file;
}

/** What promtool expects an alert to carry: its labels, and annotations with `$labels` filled in. */
function expected(alert: string, labels: Record<string, string> = {}) {
  const r: AlertRule = rules.get(alert)!;
  const fill = (t: string) => t.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => labels[k] ?? '');
  return { exp_labels: { ...r.labels, ...labels }, exp_annotations: { summary: fill(r.annotations.summary), description: fill(r.annotations.description) } };
}

const series = (metric: string, selector: string, extra: string, values: string) => ({ series: `${metric}{${selector}${extra}}`, values });

describe('alerting rules under promtool', { skip: promtoolMissing }, () => {
  test('GIVEN the synthesized PrometheusRule groups WHEN promtool checks them THEN every rule parses', () => {
    const r = promtool('check', 'rules', writeRuleFile());
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, new RegExp(`SUCCESS: ${rules.size} rules found`));
  });

  test('GIVEN synthetic series of a sick and a healthy feed WHEN promtool runs the rules THEN exactly the expected alerts fire', () => {
    const nodes = ['a', 'b', 'c'].map((n) => `,instance="${n}"`);
    const replicaQueue = `${REPLICA_QUEUE_PREFIX}gone-1`;
    const tests = [
      {
        // Two of three nodes report, one is in memory alarm, the front sees two nodes.
        interval: '1m',
        input_series: [
          ...nodes.slice(0, 2).map((n) => series('rabbitmq_identity_info', sel.rabbitmq, n, '1x20')),
          series('rabbitmq_alarms_memory_used_watermark', sel.rabbitmq, nodes[0]!, '1x20'),
          series('rabbitmq_alarms_memory_used_watermark', sel.rabbitmq, nodes[1]!, '0x20'),
          series('haproxy_backend_active_servers', sel.haproxy, ',proxy="rabbitmq",instance="h1"', '2x20'),
        ],
        alert_rule_test: [
          { eval_time: '5m', alertname: FeedAlert.RABBITMQ_NODE_DOWN, exp_alerts: [expected(FeedAlert.RABBITMQ_NODE_DOWN)] },
          { eval_time: '5m', alertname: FeedAlert.RABBITMQ_MEMORY_ALARM, exp_alerts: [expected(FeedAlert.RABBITMQ_MEMORY_ALARM, { instance: 'a' })] },
          { eval_time: '5m', alertname: FeedAlert.RABBITMQ_DISK_ALARM, exp_alerts: [] },
          { eval_time: '5m', alertname: FeedAlert.AMQP_FRONT_MISSING_NODES, exp_alerts: [expected(FeedAlert.AMQP_FRONT_MISSING_NODES)] },
        ],
      },
      {
        // A replica queue left without consumer: quiet while it may still expire, then firing; other queues never.
        interval: '1m',
        input_series: [
          series('rabbitmq_detailed_queue_consumers', sel.rabbitmq, `,instance="a",queue="${replicaQueue}"`, '0x40'),
          series('rabbitmq_detailed_queue_consumers', sel.rabbitmq, ',instance="a",queue="some.other.queue"', '0x40'),
          series('rabbitmq_detailed_queue_consumers', sel.rabbitmq, `,instance="a",queue="${REPLICA_QUEUE_PREFIX}alive"`, '1x40'),
        ],
        alert_rule_test: [
          { eval_time: '10m', alertname: FeedAlert.REPLICA_QUEUE_WITHOUT_CONSUMER, exp_alerts: [] },
          { eval_time: '20m', alertname: FeedAlert.REPLICA_QUEUE_WITHOUT_CONSUMER, exp_alerts: [expected(FeedAlert.REPLICA_QUEUE_WITHOUT_CONSUMER, { queue: replicaQueue })] },
        ],
      },
      {
        // The outbox grows by 100 rows a minute past the threshold; reconnects pile up; latency p99 ~ 5 s.
        interval: '1m',
        input_series: [
          series('feed_outbox_backlog', sel.app, ',instance="p1"', '0+100x40'),
          series('feed_amqp_reconnects_total', sel.app, ',instance="p1"', '0+1x40'),
          series('feed_delivery_latency_seconds_bucket', sel.app, ',instance="p1",le="2.5"', '0+1x40'),
          series('feed_delivery_latency_seconds_bucket', sel.app, ',instance="p1",le="5"', '0+100x40'),
          series('feed_delivery_latency_seconds_bucket', sel.app, ',instance="p1",le="+Inf"', '0+100x40'),
        ],
        alert_rule_test: [
          { eval_time: '5m', alertname: FeedAlert.OUTBOX_BACKLOG_GROWING, exp_alerts: [] },
          { eval_time: '30m', alertname: FeedAlert.OUTBOX_BACKLOG_GROWING, exp_alerts: [expected(FeedAlert.OUTBOX_BACKLOG_GROWING)] },
          { eval_time: '30m', alertname: FeedAlert.AMQP_RECONNECTS, exp_alerts: [expected(FeedAlert.AMQP_RECONNECTS)] },
          { eval_time: '30m', alertname: FeedAlert.DELIVERY_LATENCY_HIGH, exp_alerts: [expected(FeedAlert.DELIVERY_LATENCY_HIGH)] },
        ],
      },
      {
        // A healthy feed: three nodes, all links up, no alarms, a flat outbox, fast deliveries.
        interval: '1m',
        input_series: [
          ...nodes.map((n) => series('rabbitmq_identity_info', sel.rabbitmq, n, '1x40')),
          ...nodes.flatMap((n) => ['p1', 'p2'].map((peer) => series('erlang_vm_dist_node_state', sel.rabbitmq, `${n},peer="${peer}"`, '3x40'))),
          series('haproxy_backend_active_servers', sel.haproxy, ',proxy="rabbitmq",instance="h1"', '3x40'),
          series('feed_outbox_backlog', sel.app, ',instance="p1"', '5x40'),
          series('feed_delivery_latency_seconds_bucket', sel.app, ',instance="p1",le="0.1"', '0+100x40'),
          series('feed_delivery_latency_seconds_bucket', sel.app, ',instance="p1",le="+Inf"', '0+100x40'),
        ],
        alert_rule_test: Object.values(FeedAlert).map((alertname) => ({ eval_time: '30m', alertname, exp_alerts: [] })),
      },
      {
        // Node c lost its links: the others see one peer up, c none.
        interval: '1m',
        input_series: [
          ...nodes.slice(0, 2).map((n) => series('erlang_vm_dist_node_state', sel.rabbitmq, `${n},peer="x"`, '3x10')),
          ...nodes.slice(0, 2).map((n) => series('erlang_vm_dist_node_state', sel.rabbitmq, `${n},peer="c"`, '1x10')),
        ],
        alert_rule_test: [
          { eval_time: '5m', alertname: FeedAlert.RABBITMQ_PARTITION, exp_alerts: [expected(FeedAlert.RABBITMQ_PARTITION, { instance: 'a' }), expected(FeedAlert.RABBITMQ_PARTITION, { instance: 'b' })] },
        ],
      },
    ];
    const ruleFile = writeRuleFile();
    const testFile = join(work, 'rules.test.yaml');
    writeFileSync(testFile, stringify({ rule_files: [ruleFile], evaluation_interval: '1m', tests }, { lineWidth: 0 }));
    const r = promtool('test', 'rules', testFile);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });
});
