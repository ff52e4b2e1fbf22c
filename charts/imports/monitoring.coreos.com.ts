/** Prometheus Operator custom resources (monitoring.coreos.com/v1), typed from the CRD schemas. See README.md here. */
import type { Construct } from 'constructs';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { CustomResource, type CustomResourceProps } from './custom-resource.js';

const API_VERSION = 'monitoring.coreos.com/v1';

/** A ServiceMonitor: Prometheus scrapes every endpoint of the selected Services. */
export class KubeServiceMonitor extends CustomResource<IServiceMonitor['spec']> {
  static readonly GVK = { apiVersion: API_VERSION, kind: 'ServiceMonitor' } as const;

  constructor(scope: Construct, id: string, props: CustomResourceProps<IServiceMonitor['spec']>) {
    super(scope, id, KubeServiceMonitor.GVK, props);
  }
}

/** A PodMonitor: Prometheus scrapes the selected pods directly. */
export class KubePodMonitor extends CustomResource<IPodMonitor['spec']> {
  static readonly GVK = { apiVersion: API_VERSION, kind: 'PodMonitor' } as const;

  constructor(scope: Construct, id: string, props: CustomResourceProps<IPodMonitor['spec']>) {
    super(scope, id, KubePodMonitor.GVK, props);
  }
}

/** A PrometheusRule: rule groups the operator loads into Prometheus. */
export class KubePrometheusRule extends CustomResource<IPrometheusRule['spec']> {
  static readonly GVK = { apiVersion: API_VERSION, kind: 'PrometheusRule' } as const;

  constructor(scope: Construct, id: string, props: CustomResourceProps<IPrometheusRule['spec']>) {
    super(scope, id, KubePrometheusRule.GVK, props);
  }
}
