import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { SpecError, objectNames, type FeedkitSpec } from '../../shared/index.js';
import { APP_SERVICE_PORT } from '../app/feed-app.js';
import { IngressAnnotations, streamingAnnotations } from './ingress-nginx.js';

/** Props of {@link AppIngress}. */
export interface AppIngressProps {
  /** The resolved stack spec; `spec.exposure.host` must be set. */
  readonly spec: FeedkitSpec;
}

/**
 * An Ingress for the app's Service on `spec.exposure.host`: every path, WebSocket timeouts and no
 * buffering for ingress-nginx, TLS from a Secret or issued by cert-manager.
 */
export class AppIngress extends Construct {
  /** The Ingress (child id 'Resource'). */
  readonly resource: kplus.k8s.KubeIngress;

  constructor(scope: Construct, id: string, props: AppIngressProps) {
    super(scope, id);
    const { spec } = props;
    const exposure = spec.exposure;
    if (exposure.host === '') throw new SpecError('exposure.host', 'is empty, but an Ingress needs the host browsers use', 'set exposure.host, e.g. "feed.example.com"');
    const names = objectNames(spec.name);
    const { secretName, clusterIssuer } = exposure.tls;
    const tls = secretName !== '' || clusterIssuer !== '';
    this.resource = new kplus.k8s.KubeIngress(this, 'Resource', {
      metadata: {
        name: names.app,
        annotations: {
          ...streamingAnnotations(exposure.streamTimeoutSeconds),
          ...(clusterIssuer !== '' && { [IngressAnnotations.CERT_MANAGER_CLUSTER_ISSUER]: clusterIssuer }),
        },
      },
      spec: {
        ...(exposure.ingressClassName !== '' && { ingressClassName: exposure.ingressClassName }),
        ...(tls && { tls: [{ hosts: [exposure.host], secretName: secretName !== '' ? secretName : names.appTlsSecret }] }),
        rules: [
          {
            host: exposure.host,
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: names.app, port: { number: APP_SERVICE_PORT } } } }] },
          },
        ],
      },
    });
  }
}
