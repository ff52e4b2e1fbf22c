import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { ExposureKind, type FeedkitSpec } from '../../shared/index.js';
import { namespacedChartProps } from '../common/chart-props.js';
import { AppHttpRoute } from './app-http-route.js';
import { AppIngress } from './app-ingress.js';
import { AppLoadBalancer } from './app-load-balancer.js';

/** Props of {@link ExposureChart}. */
export interface ExposureChartProps {
  /** The resolved stack spec; `spec.exposure.kind` is not `none`. */
  readonly spec: FeedkitSpec;
}

/** The way in from outside the cluster, by `spec.exposure.kind`. */
export class ExposureChart extends Chart {
  readonly resource: AppIngress | AppHttpRoute | AppLoadBalancer;

  constructor(scope: Construct, id: string, props: ExposureChartProps) {
    super(scope, id, namespacedChartProps(props.spec));
    const { spec } = props;
    switch (spec.exposure.kind) {
      case ExposureKind.INGRESS:
        this.resource = new AppIngress(this, 'Resource', { spec });
        break;
      case ExposureKind.GATEWAY:
        this.resource = new AppHttpRoute(this, 'Resource', { spec });
        break;
      case ExposureKind.LOAD_BALANCER:
        this.resource = new AppLoadBalancer(this, 'Resource', { spec });
        break;
      default:
        throw new Error(`ExposureChart: spec.exposure.kind is "${spec.exposure.kind}"; build this chart only when the feed is exposed`);
    }
  }
}
