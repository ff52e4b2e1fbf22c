/** Shared helpers of the chart tests: find synthesized objects by kind and name, validate them. */
import { Model } from '@kubernetes-models/base';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { synthStack, type KubeObject, type SynthesizedChart } from '../../charts/stack.js';
import { resolveSpec, type FeedkitSpec, type SpecOverrides } from '../../shared/index.js';

// Every kind the charts (and secretManifests) produce; anything else fails validation loudly. The
// custom resources validate against the schemas of their CRDs (the @kubernetes-models packages).
const MODELS: Record<string, new (data: never) => Pick<Model<unknown>, 'validate'>> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Secret': Secret,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Validates `obj` against the Kubernetes OpenAPI schema of its kind; throws on an unknown kind. */
export function validateKubeObject(obj: KubeObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no schema model for ${obj.apiVersion}/${obj.kind} (${obj.metadata.name}); add it to MODELS`);
  new Model(structuredClone(obj) as never).validate();
}

/** The synthesized stack of `overrides`, plus lookups by kind and name. */
export function synth(overrides: SpecOverrides = {}): Synth {
  const spec = resolveSpec(overrides);
  return new Synth(spec, synthStack(spec));
}

export class Synth {
  constructor(
    readonly spec: FeedkitSpec,
    readonly charts: readonly SynthesizedChart[],
  ) {}

  get objects(): KubeObject[] {
    return this.charts.flatMap((c) => c.manifests);
  }

  /** All objects of `kind`. */
  all(kind: string): KubeObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  /** The one object of `kind` named `name`; throws when there is none or several. */
  get<T = any>(kind: string, name: string): T {
    const found = this.objects.filter((o) => o.kind === kind && o.metadata.name === name);
    if (found.length !== 1) throw new Error(`expected one ${kind} named ${name}, found ${found.length}`);
    return found[0] as T;
  }

  has(kind: string, name: string): boolean {
    return this.objects.some((o) => o.kind === kind && o.metadata.name === name);
  }

  chart(name: string): SynthesizedChart {
    const c = this.charts.find((x) => x.name === name);
    if (!c) throw new Error(`no chart ${name}`);
    return c;
  }
}

/** Every container (init and main) of every workload, with the workload's kind/name. */
export function allContainers(s: Synth): Array<{ owner: string; container: any; init: boolean }> {
  return s.objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .flatMap((o: any) => [
      ...(o.spec.template.spec.initContainers ?? []).map((c: any) => ({ owner: `${o.kind}/${o.metadata.name}`, container: c, init: true })),
      ...o.spec.template.spec.containers.map((c: any) => ({ owner: `${o.kind}/${o.metadata.name}`, container: c, init: false })),
    ]);
}

/** The env var `name` of a container. */
export function envVar(container: any, name: string): any {
  return (container.env ?? []).find((e: any) => e.name === name);
}
