import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { FeedkitSpec } from '../../shared/index.js';
import { namespacedChartProps } from '../common/chart-props.js';
import { FeedApp } from './feed-app.js';

/** Props of {@link AppChart}. */
export interface AppChartProps {
  /** The resolved stack spec. */
  readonly spec: FeedkitSpec;
}

/** The feed app. */
export class AppChart extends Chart {
  readonly resource: FeedApp;

  constructor(scope: Construct, id: string, props: AppChartProps) {
    super(scope, id, namespacedChartProps(props.spec));
    this.resource = new FeedApp(this, 'Resource', { spec: props.spec });
  }
}
