import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { FeedkitSpec } from '../../shared/index.js';
import { namespacedChartProps } from '../common/chart-props.js';
import { RabbitmqCluster } from './rabbitmq-cluster.js';

/** Props of {@link RabbitmqChart}. */
export interface RabbitmqChartProps {
  /** The resolved stack spec. */
  readonly spec: FeedkitSpec;
}

/** The RabbitMQ cluster. */
export class RabbitmqChart extends Chart {
  readonly resource: RabbitmqCluster;

  constructor(scope: Construct, id: string, props: RabbitmqChartProps) {
    super(scope, id, namespacedChartProps(props.spec));
    this.resource = new RabbitmqCluster(this, 'Resource', { spec: props.spec });
  }
}
