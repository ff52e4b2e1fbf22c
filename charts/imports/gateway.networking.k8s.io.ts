/** Gateway API custom resources (gateway.networking.k8s.io/v1), typed from the CRD schemas. See README.md here. */
import type { Construct } from 'constructs';
import type { IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { CustomResource, type CustomResourceProps } from './custom-resource.js';

/** An HTTPRoute: routes a Gateway's HTTP traffic to Services. */
export class KubeHttpRoute extends CustomResource<IHTTPRoute['spec']> {
  static readonly GVK = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' } as const;

  constructor(scope: Construct, id: string, props: CustomResourceProps<IHTTPRoute['spec']>) {
    super(scope, id, KubeHttpRoute.GVK, props);
  }
}
