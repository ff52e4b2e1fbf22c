import { Construct } from 'constructs';
import { renderAlertRuleGroups } from '../../monitoring/index.js';
import { objectNames, type FeedkitSpec } from '../../shared/index.js';
import { KubePrometheusRule } from '../imports/monitoring.coreos.com.js';
import { monitoringLabels } from './monitoring-labels.js';

/** Props of {@link FeedAlerts}. */
export interface FeedAlertsProps {
  /** The resolved stack spec (thresholds in `spec.monitoring`). */
  readonly spec: FeedkitSpec;
}

/** The PrometheusRule holding the feed's alerts ({@link renderAlertRuleGroups}). */
export class FeedAlerts extends Construct {
  /** The PrometheusRule (child id 'Resource'). */
  readonly resource: KubePrometheusRule;

  constructor(scope: Construct, id: string, props: FeedAlertsProps) {
    super(scope, id);
    const { spec } = props;
    this.resource = new KubePrometheusRule(this, 'Resource', {
      metadata: { name: objectNames(spec.name).alertRules, labels: monitoringLabels(spec) },
      spec: { groups: renderAlertRuleGroups(spec).map((g) => ({ name: g.name, rules: g.rules.map((r) => ({ ...r, labels: { ...r.labels }, annotations: { ...r.annotations } })) })) },
    });
  }
}
