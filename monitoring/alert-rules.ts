/**
 * The feed's alerting rules, as Prometheus rule groups (the `spec.groups` of a PrometheusRule and
 * the file `promtool check rules` reads). Pure: thresholds come from `spec.monitoring`, node counts
 * and queue names from the rest of the spec.
 */
import { HaproxyNames } from '../haproxy/index.js';
import { REPLICA_QUEUE_PREFIX, type FeedkitSpec } from '../shared/index.js';
import { FeedMetric, HaproxyMetric, RabbitmqMetric } from './metric-names.js';
import { scrapeSelectors } from './scrape-jobs.js';

/** One alerting rule. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  /** How long the condition must hold, a Prometheus duration such as `5m`. */
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<{ summary: string; description: string }>;
}

/** A named group of rules evaluated together. */
export interface AlertRuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

/** Severity label values (Alertmanager routes on them). */
export enum Severity {
  CRITICAL = 'critical',
  WARNING = 'warning',
}

/** Label the severity goes in. */
export const SEVERITY_LABEL = 'severity';

/** Names of the alerts, a stable contract for Alertmanager routes and runbooks. */
export const FeedAlert = Object.freeze({
  RABBITMQ_NODE_DOWN: 'FeedRabbitmqNodeDown',
  RABBITMQ_PARTITION: 'FeedRabbitmqPeerUnreachable',
  RABBITMQ_MEMORY_ALARM: 'FeedRabbitmqMemoryAlarm',
  RABBITMQ_DISK_ALARM: 'FeedRabbitmqDiskAlarm',
  REPLICA_QUEUE_WITHOUT_CONSUMER: 'FeedReplicaQueueWithoutConsumer',
  AMQP_FRONT_MISSING_NODES: 'FeedAmqpFrontMissingNodes',
  OUTBOX_BACKLOG_GROWING: 'FeedOutboxBacklogGrowing',
  DELIVERY_LATENCY_HIGH: 'FeedDeliveryLatencyHigh',
  AMQP_RECONNECTS: 'FeedAmqpReconnects',
} as const);

/**
 * PromQL regex matching exactly the names of the replica queues, as a raw (backquoted) PromQL
 * string so its backslashes reach the regex engine unchanged.
 */
export function replicaQueueMatcher(): string {
  return `\`${REPLICA_QUEUE_PREFIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.+\``;
}

function rule(alert: string, expr: string, forDuration: string, severity: Severity, summary: string, description: string): AlertRule {
  return { alert, expr, for: forDuration, labels: { [SEVERITY_LABEL]: severity }, annotations: { summary, description } };
}

function rabbitmqRules(spec: FeedkitSpec): AlertRule[] {
  const { rabbitmq } = scrapeSelectors(spec);
  const nodes = spec.rabbitmq.replicas;
  // A replica queue legitimately lacks a consumer between its replica's death and its expiry.
  const queueGraceMinutes = Math.ceil(spec.rabbitmq.queueExpiresMs / 60_000) + 5;
  return [
    rule(FeedAlert.RABBITMQ_NODE_DOWN, `(count(${RabbitmqMetric.IDENTITY_INFO}{${rabbitmq}}) or vector(0)) < ${nodes}`, '2m', Severity.CRITICAL,
      'A RabbitMQ node is down or not scraped',
      `Fewer than ${nodes} RabbitMQ nodes report metrics; quorum or mirror replicas run with one copy fewer until it is back.`),
    rule(FeedAlert.RABBITMQ_PARTITION, `count by (instance) (${RabbitmqMetric.DIST_NODE_STATE}{${rabbitmq}} == 3) < ${nodes - 1}`, '2m', Severity.CRITICAL,
      'A RabbitMQ node cannot reach all of its peers',
      `{{ $labels.instance }} has fewer than ${nodes - 1} Erlang distribution links up: a peer is down or the network is partitioned (pause_minority pauses the minority side).`),
    rule(FeedAlert.RABBITMQ_MEMORY_ALARM, `max by (instance) (${RabbitmqMetric.MEMORY_ALARM}{${rabbitmq}}) > 0`, '1m', Severity.CRITICAL,
      'RabbitMQ memory alarm: publishers are blocked',
      '{{ $labels.instance }} passed its memory high watermark; the app cannot publish posts until it clears.'),
    rule(FeedAlert.RABBITMQ_DISK_ALARM, `max by (instance) (${RabbitmqMetric.DISK_ALARM}{${rabbitmq}}) > 0`, '1m', Severity.CRITICAL,
      'RabbitMQ disk alarm: publishers are blocked',
      '{{ $labels.instance }} has less free disk than its limit; the app cannot publish posts until it clears.'),
    rule(FeedAlert.REPLICA_QUEUE_WITHOUT_CONSUMER, `max by (queue) (${RabbitmqMetric.DETAILED_QUEUE_CONSUMERS}{${rabbitmq},queue=~${replicaQueueMatcher()}}) == 0`, `${queueGraceMinutes}m`, Severity.WARNING,
      'A replica queue has had no consumer longer than it should exist',
      `{{ $labels.queue }} has had no consumer for ${queueGraceMinutes} minutes, longer than its x-expires; its replica is gone but the queue was neither reaped nor expired, and it keeps collecting every post.`),
  ];
}

function haproxyRules(spec: FeedkitSpec): AlertRule[] {
  const { haproxy } = scrapeSelectors(spec);
  const nodes = spec.rabbitmq.replicas;
  return [
    rule(FeedAlert.AMQP_FRONT_MISSING_NODES, `min(${HaproxyMetric.BACKEND_ACTIVE_SERVERS}{${haproxy},proxy="${HaproxyNames.BACKEND}"}) < ${nodes}`, '2m', Severity.WARNING,
      'The AMQP front sees fewer RabbitMQ nodes than the cluster has',
      `An HAProxy replica marks fewer than ${nodes} RabbitMQ nodes up (AMQP-level check): a node is down, paused or unreachable from the front.`),
  ];
}

function appRules(spec: FeedkitSpec): AlertRule[] {
  const { app } = scrapeSelectors(spec);
  const m = spec.monitoring;
  const backlog = `max(${FeedMetric.OUTBOX_BACKLOG}{${app}})`;
  const p99 = `histogram_quantile(0.99, sum by (le) (rate(${FeedMetric.DELIVERY_LATENCY}_bucket{${app}}[5m])))`;
  const seconds = m.deliveryLatencyP99Ms / 1000;
  return [
    rule(FeedAlert.OUTBOX_BACKLOG_GROWING, `${backlog} > ${m.outboxBacklogMax} and delta(${backlog}[10m:1m]) > 0`, '10m', Severity.CRITICAL,
      'Posts are stored but not published',
      `More than ${m.outboxBacklogMax} outbox rows wait for the broker and the number keeps growing: followers are not getting new posts.`),
    rule(FeedAlert.DELIVERY_LATENCY_HIGH, `${p99} > ${seconds}`, '10m', Severity.WARNING,
      'Feed deliveries are slow',
      `The p99 from a post's creation to its hand-off to a follower's socket is above ${seconds}s.`),
    rule(FeedAlert.AMQP_RECONNECTS, `sum(increase(${FeedMetric.AMQP_RECONNECTS}{${app}}[15m])) > ${m.amqpReconnectsPer15m}`, '1m', Severity.WARNING,
      'The app keeps losing its AMQP connections',
      `The app's replicas reconnected to AMQP more than ${m.amqpReconnectsPer15m} times in 15 minutes: a RabbitMQ node or the HAProxy front is flapping.`),
  ];
}

/** Every rule group of the stack's PrometheusRule. */
export function renderAlertRuleGroups(spec: FeedkitSpec): AlertRuleGroup[] {
  return [
    { name: `${spec.name}.rabbitmq`, rules: rabbitmqRules(spec) },
    { name: `${spec.name}.haproxy`, rules: haproxyRules(spec) },
    { name: `${spec.name}.app`, rules: appRules(spec) },
  ];
}
