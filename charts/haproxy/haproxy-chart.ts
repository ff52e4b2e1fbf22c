import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { FeedkitSpec } from '../../shared/index.js';
import { namespacedChartProps } from '../common/chart-props.js';
import { HaproxyFront } from './haproxy-front.js';

/** Props of {@link HaproxyChart}. */
export interface HaproxyChartProps {
  /** The resolved stack spec. */
  readonly spec: FeedkitSpec;
}

/** The HAProxy AMQP front. */
export class HaproxyChart extends Chart {
  readonly resource: HaproxyFront;

  constructor(scope: Construct, id: string, props: HaproxyChartProps) {
    super(scope, id, namespacedChartProps(props.spec));
    this.resource = new HaproxyFront(this, 'Resource', { spec: props.spec });
  }
}
