import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { renderFeedDashboard } from '../../monitoring/index.js';
import { objectNames, type FeedkitSpec } from '../../shared/index.js';

/** Label Grafana's dashboard sidecar looks for (the kube-prometheus-stack default). */
export const GRAFANA_DASHBOARD_LABEL = Object.freeze({ grafana_dashboard: '1' } as const);

/** Key of the dashboard JSON in the ConfigMap. */
export const DASHBOARD_KEY = 'feedkit-dashboard.json';

/** Props of {@link GrafanaDashboard}. */
export interface GrafanaDashboardProps {
  /** The resolved stack spec. */
  readonly spec: FeedkitSpec;
}

/**
 * The feed's dashboard as a ConfigMap for Grafana's sidecar (label `grafana_dashboard: "1"`). It
 * lives in the stack's namespace: the sidecar must watch all namespaces (kube-prometheus-stack:
 * `grafana.sidecar.dashboards.searchNamespace: ALL`).
 */
export class GrafanaDashboard extends Construct {
  /** The ConfigMap (child id 'Resource'). */
  readonly resource: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: GrafanaDashboardProps) {
    super(scope, id);
    const { spec } = props;
    this.resource = new kplus.ConfigMap(this, 'Resource', {
      metadata: { name: objectNames(spec.name).grafanaDashboard, labels: { ...GRAFANA_DASHBOARD_LABEL } },
      data: { [DASHBOARD_KEY]: `${JSON.stringify(renderFeedDashboard(spec), null, 2)}\n` },
    });
  }
}
