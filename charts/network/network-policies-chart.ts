import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { FeedkitSpec } from '../../shared/index.js';
import { namespacedChartProps } from '../common/chart-props.js';
import { NetworkPolicies } from './network-policies.js';

/** Props of {@link NetworkPoliciesChart}. */
export interface NetworkPoliciesChartProps {
  /** The resolved stack spec. */
  readonly spec: FeedkitSpec;
}

/** The stack's NetworkPolicies. */
export class NetworkPoliciesChart extends Chart {
  readonly resource: NetworkPolicies;

  constructor(scope: Construct, id: string, props: NetworkPoliciesChartProps) {
    super(scope, id, namespacedChartProps(props.spec));
    this.resource = new NetworkPolicies(this, 'Resource', { spec: props.spec });
  }
}
