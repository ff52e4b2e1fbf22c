/**
 * Deploys one synthesized chart's objects as typed resources under one component, after the
 * objects of the charts it depends on. Inside the chart, workloads wait for the chart's config
 * (ConfigMaps, ServiceAccounts, RBAC, PodDisruptionBudgets, …) and autoscalers for the workloads.
 */
import type * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { KubeObject } from '../charts/stack.js';
import { kubeObjectKey, kubeResource } from './kube-resource.js';

/** Pulumi type token of the component. */
export const CHART_DEPLOYMENT_TYPE = 'feedkit:index:ChartDeployment';

/**
 * Kinds registered after the chart's other objects, in parallel with each other. Services and
 * claims belong here: the provider awaits a Service's endpoints and (with WaitForFirstConsumer
 * storage) a claim's binding, which need the pods, so nothing in the chart may wait for them.
 */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set([
  'StatefulSet',
  'Deployment',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Pod',
  'Service',
  'PersistentVolumeClaim',
]);

/** Kinds registered after the chart's workloads. */
export const AFTER_WORKLOAD_KINDS: ReadonlySet<string> = new Set(['HorizontalPodAutoscaler']);

/** Props of {@link ChartDeployment}. */
export interface ChartDeploymentProps {
  /** The chart's objects as synthesized (Secret values may be outputs). */
  readonly manifests: readonly KubeObject[];
  /** The provider every object is created with. */
  readonly provider: k8s.Provider;
  /**
   * Resources each object of this chart waits for: the objects of the charts it depends on.
   * @default []
   */
  readonly dependsOn?: readonly pulumi.Resource[];
}

/** One chart's objects in the cluster. */
export class ChartDeployment extends pulumi.ComponentResource {
  /** Every object's resource, keyed by `apiVersion/kind::namespace/name` ({@link kubeObjectKey}). */
  readonly resources: ReadonlyMap<string, pulumi.CustomResource>;

  constructor(name: string, props: ChartDeploymentProps, opts?: pulumi.ComponentResourceOptions) {
    super(CHART_DEPLOYMENT_TYPE, name, {}, opts);
    const tier = (o: KubeObject): number => (AFTER_WORKLOAD_KINDS.has(o.kind) ? 2 : WORKLOAD_KINDS.has(o.kind) ? 1 : 0);
    const resources = new Map<string, pulumi.CustomResource>();
    const earlierTiers: pulumi.Resource[] = [];
    for (const t of [0, 1, 2]) {
      const created: pulumi.Resource[] = [];
      for (const obj of props.manifests.filter((o) => tier(o) === t)) {
        const key = kubeObjectKey(obj);
        if (resources.has(key)) {
          throw new pulumi.RunError(`chart "${name}" holds two objects ${key}. Fix: give them distinct names in the chart`);
        }
        const resource = kubeResource(obj, {
          parent: this,
          provider: props.provider,
          dependsOn: [...(props.dependsOn ?? []), ...earlierTiers],
        });
        resources.set(key, resource);
        created.push(resource);
      }
      earlierTiers.push(...created);
    }
    this.resources = resources;
    this.registerOutputs({});
  }

  /** The resource of the object `kind`/`name` (any namespace), or `undefined`. */
  find(kind: string, name: string): pulumi.CustomResource | undefined {
    for (const [key, resource] of this.resources) {
      const [gvk, ref] = key.split('::') as [string, string];
      if (gvk.endsWith(`/${kind}`) && ref.split('/').pop() === name) return resource;
    }
    return undefined;
  }
}
