import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { objectNames, type FeedkitSpec } from '../../shared/index.js';
import { APP_SERVICE_PORT } from '../app/feed-app.js';
import { Component, selectorLabels } from '../common/labels.js';

/** Props of {@link AppLoadBalancer}. */
export interface AppLoadBalancerProps {
  /** The resolved stack spec (app port). */
  readonly spec: FeedkitSpec;
}

/**
 * A Service of type LoadBalancer in front of the app pods, next to the ClusterIP Service (which
 * the in-cluster clients and monitors keep using). Plain TCP: TLS and host names are the cloud
 * load balancer's or a proxy's business.
 */
export class AppLoadBalancer extends Construct {
  /** The Service (child id 'Resource'). */
  readonly resource: kplus.Service;

  constructor(scope: Construct, id: string, props: AppLoadBalancerProps) {
    super(scope, id);
    const { spec } = props;
    this.resource = new kplus.Service(this, 'Resource', {
      metadata: { name: objectNames(spec.name).appPublic },
      type: kplus.ServiceType.LOAD_BALANCER,
      ports: [{ name: 'http', port: APP_SERVICE_PORT, targetPort: spec.app.port }],
    });
    for (const [k, v] of Object.entries(selectorLabels(spec, Component.APP))) this.resource.selectLabel(k, v);
  }
}
