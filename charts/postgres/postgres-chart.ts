import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { FeedkitSpec } from '../../shared/index.js';
import { namespacedChartProps } from '../common/chart-props.js';
import { Postgres } from './postgres.js';

/** Props of {@link PostgresChart}. */
export interface PostgresChartProps {
  /** The resolved stack spec. */
  readonly spec: FeedkitSpec;
}

/** The in-cluster PostgreSQL. */
export class PostgresChart extends Chart {
  readonly resource: Postgres;

  constructor(scope: Construct, id: string, props: PostgresChartProps) {
    super(scope, id, namespacedChartProps(props.spec));
    this.resource = new Postgres(this, 'Resource', { spec: props.spec });
  }
}
