/**
 * The feed's Grafana dashboard (JSON model, schemaVersion 39), for Grafana's dashboard sidecar.
 * Pure: queries are scoped to the stack by the same selectors as the alerts.
 */
import { HaproxyNames } from '../haproxy/index.js';
import type { FeedkitSpec } from '../shared/index.js';
import { FeedMetric, HaproxyMetric, RabbitmqMetric } from './metric-names.js';
import { scrapeSelectors } from './scrape-jobs.js';

/** Name of the dashboard's Prometheus data source variable. */
export const DATASOURCE_VARIABLE = 'datasource';

/** One query of a panel. */
export interface PanelTarget {
  readonly expr: string;
  readonly legendFormat: string;
  readonly refId: string;
}

interface PanelSpec {
  readonly title: string;
  readonly unit: string;
  readonly queries: ReadonlyArray<readonly [expr: string, legend: string]>;
}

const PANEL_WIDTH = 12;
const PANEL_HEIGHT = 8;

function panels(spec: FeedkitSpec): PanelSpec[] {
  const s = scrapeSelectors(spec);
  const rate = (metric: string, by = '') => `sum${by ? ` by (${by})` : ''} (rate(${metric}{${s.app}}[5m]))`;
  const quantile = (q: number) => `histogram_quantile(${q}, sum by (le) (rate(${FeedMetric.DELIVERY_LATENCY}_bucket{${s.app}}[5m])))`;
  return [
    { title: 'Open feed WebSockets', unit: 'short', queries: [[`sum(${FeedMetric.WS_CONNECTIONS}{${s.app}})`, 'sockets']] },
    { title: 'Deliveries to sockets', unit: 'ops', queries: [[rate(FeedMetric.DELIVERIES), 'frames/s']] },
    { title: 'Delivery latency (post created → socket)', unit: 's', queries: [[quantile(0.5), 'p50'], [quantile(0.99), 'p99']] },
    { title: 'Posts created and published', unit: 'ops', queries: [[rate(FeedMetric.POSTS_CREATED), 'created/s'], [rate(FeedMetric.OUTBOX_PUBLISHED), 'published/s']] },
    { title: 'Outbox backlog', unit: 'short', queries: [[`max(${FeedMetric.OUTBOX_BACKLOG}{${s.app}})`, 'unpublished rows']] },
    { title: 'HTTP requests by status', unit: 'reqps', queries: [[rate(FeedMetric.HTTP_REQUESTS, 'status'), '{{status}}']] },
    { title: 'Server-closed sockets by reason', unit: 'ops', queries: [[rate(FeedMetric.WS_CLOSES, 'reason'), '{{reason}}']] },
    {
      title: 'AMQP reconnects, consumer cancels, queue losses',
      unit: 'short',
      queries: [
        [`sum(increase(${FeedMetric.AMQP_RECONNECTS}{${s.app}}[5m]))`, 'reconnects'],
        [`sum(increase(${FeedMetric.CONSUMER_CANCELS}{${s.app}}[5m]))`, 'consumer cancels'],
        [`sum(increase(${FeedMetric.QUEUE_LOSSES}{${s.app}}[5m]))`, 'queue losses'],
      ],
    },
    { title: 'RabbitMQ nodes reporting', unit: 'short', queries: [[`count(${RabbitmqMetric.IDENTITY_INFO}{${s.rabbitmq}})`, 'nodes']] },
    {
      title: 'RabbitMQ memory and alarms',
      unit: 'bytes',
      queries: [
        [`${RabbitmqMetric.PROCESS_RESIDENT_MEMORY}{${s.rabbitmq}}`, '{{instance}} resident'],
        [`${RabbitmqMetric.RESIDENT_MEMORY_LIMIT}{${s.rabbitmq}}`, '{{instance}} watermark'],
        [`max(${RabbitmqMetric.MEMORY_ALARM}{${s.rabbitmq}}) + max(${RabbitmqMetric.DISK_ALARM}{${s.rabbitmq}})`, 'alarms'],
      ],
    },
    { title: 'Replica queue depth', unit: 'short', queries: [[`sum by (queue) (${RabbitmqMetric.DETAILED_QUEUE_MESSAGES}{${s.rabbitmq}})`, '{{queue}}']] },
    {
      title: 'AMQP front: RabbitMQ nodes up and sessions',
      unit: 'short',
      queries: [
        [`min(${HaproxyMetric.BACKEND_ACTIVE_SERVERS}{${s.haproxy},proxy="${HaproxyNames.BACKEND}"})`, 'nodes up (worst replica)'],
        [`sum(${HaproxyMetric.BACKEND_CURRENT_SESSIONS}{${s.haproxy},proxy="${HaproxyNames.BACKEND}"})`, 'AMQP sessions'],
      ],
    },
  ];
}

/** Every PromQL expression of the dashboard (for checks). */
export function dashboardExpressions(spec: FeedkitSpec): string[] {
  return panels(spec).flatMap((p) => p.queries.map(([expr]) => expr));
}

/** The dashboard JSON model; `uid` is stable per stack so re-applying updates it in place. */
export function renderFeedDashboard(spec: FeedkitSpec): Record<string, unknown> {
  const datasource = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };
  return {
    uid: `feedkit-${spec.name}`.slice(0, 40),
    title: `feedkit: ${spec.name} (${spec.namespace})`,
    tags: ['feedkit'],
    timezone: 'browser',
    schemaVersion: 39,
    refresh: '30s',
    time: { from: 'now-3h', to: 'now' },
    templating: { list: [{ name: DATASOURCE_VARIABLE, label: 'Data source', type: 'datasource', query: 'prometheus' }] },
    panels: panels(spec).map((p, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: p.title,
      datasource,
      gridPos: { x: (i % 2) * PANEL_WIDTH, y: Math.floor(i / 2) * PANEL_HEIGHT, w: PANEL_WIDTH, h: PANEL_HEIGHT },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: p.queries.map(([expr, legendFormat], j): PanelTarget & { datasource: unknown } => ({ expr, legendFormat, refId: String.fromCharCode(65 + j), datasource })),
    })),
  };
}
