import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { FeedkitSpec } from '../../shared/index.js';
import { namespacedChartProps } from '../common/chart-props.js';
import { FeedAlerts } from './feed-alerts.js';
import { GrafanaDashboard } from './grafana-dashboard.js';
import { ScrapeTargets } from './scrape-targets.js';

/** Props of {@link MonitoringChart}. */
export interface MonitoringChartProps {
  /** The resolved stack spec (`spec.monitoring`). */
  readonly spec: FeedkitSpec;
}

/** Prometheus Operator scrape targets and alerts, and the Grafana dashboard. */
export class MonitoringChart extends Chart {
  readonly resource: ScrapeTargets;
  readonly alerts: FeedAlerts;
  readonly dashboard: GrafanaDashboard;

  constructor(scope: Construct, id: string, props: MonitoringChartProps) {
    super(scope, id, namespacedChartProps(props.spec));
    this.resource = new ScrapeTargets(this, 'Resource', { spec: props.spec });
    this.alerts = new FeedAlerts(this, 'Alerts', { spec: props.spec });
    this.dashboard = new GrafanaDashboard(this, 'Dashboard', { spec: props.spec });
  }
}
