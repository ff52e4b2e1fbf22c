import { Construct } from 'constructs';
import { SpecError, objectNames, type FeedkitSpec } from '../../shared/index.js';
import { APP_SERVICE_PORT } from '../app/feed-app.js';
import { KubeHttpRoute } from '../imports/gateway.networking.k8s.io.js';

/** Props of {@link AppHttpRoute}. */
export interface AppHttpRouteProps {
  /** The resolved stack spec; `spec.exposure.gateway.name` must be set. */
  readonly spec: FeedkitSpec;
}

/**
 * A Gateway API HTTPRoute from an existing Gateway to the app's Service. TLS is the Gateway
 * listener's business. The request timeout is disabled ("0s"), since a WebSocket is one request
 * that lasts hours; implementations without the extended timeout support keep their default.
 */
export class AppHttpRoute extends Construct {
  /** The HTTPRoute (child id 'Resource'). */
  readonly resource: KubeHttpRoute;

  constructor(scope: Construct, id: string, props: AppHttpRouteProps) {
    super(scope, id);
    const { spec } = props;
    const { gateway, host } = spec.exposure;
    if (gateway.name === '') throw new SpecError('exposure.gateway.name', 'is empty, but an HTTPRoute must name the Gateway it attaches to', 'set exposure.gateway.name');
    const names = objectNames(spec.name);
    this.resource = new KubeHttpRoute(this, 'Resource', {
      metadata: { name: names.app },
      spec: {
        parentRefs: [
          {
            group: 'gateway.networking.k8s.io',
            kind: 'Gateway',
            name: gateway.name,
            ...(gateway.namespace !== '' && { namespace: gateway.namespace }),
            ...(gateway.sectionName !== '' && { sectionName: gateway.sectionName }),
          },
        ],
        ...(host !== '' && { hostnames: [host] }),
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: [{ name: names.app, port: APP_SERVICE_PORT }],
            timeouts: { request: '0s' },
          },
        ],
      },
    });
  }
}
