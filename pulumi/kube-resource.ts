/**
 * One synthesized Kubernetes object → the matching typed `@pulumi/kubernetes` resource, so the
 * engine sees the same type tokens (`kubernetes:apps/v1:StatefulSet`, …) as with `k8s.yaml` and the
 * provider's per-kind await logic applies. Objects of API groups the SDK does not know become
 * `apiextensions.CustomResource`.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { KubeObject } from '../charts/stack.js';

/** Constructor shape shared by every typed Kubernetes resource class. */
type KubeResourceClass = new (name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** Kinds whose data must never show in plain text in state or previews. */
export const SECRET_KINDS: ReadonlySet<string> = new Set(['Secret']);

/** Pulumi resource name of an object: `namespace/name` (or `name`), as `k8s.yaml.ConfigGroup` names them. */
export function kubeResourceName(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

/** `apiVersion/kind::namespace/name`: unique key of an object across the whole stack. */
export function kubeObjectKey(obj: KubeObject): string {
  return `${obj.apiVersion}/${obj.kind}::${kubeResourceName(obj)}`;
}

/** The SDK module of a built-in API group: '' → core, `apps` → apps, `rbac.authorization.k8s.io` → rbac. */
function sdkModuleOf(group: string): string | undefined {
  if (group === '') return 'core';
  if (!group.includes('.')) return group;
  return group.endsWith('.k8s.io') ? group.split('.')[0] : undefined;
}

/** The typed resource class for `apiVersion`/`kind`, or `undefined` when the SDK has none. */
export function kubeResourceClass(apiVersion: string, kind: string): KubeResourceClass | undefined {
  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  const module = sdkModuleOf(group);
  if (module === undefined) return undefined;
  const sdk = k8s as unknown as Record<string, Record<string, Record<string, unknown>> | undefined>;
  const cls = sdk[module]?.[version]?.[kind];
  return typeof cls === 'function' ? (cls as KubeResourceClass) : undefined;
}

/** Registers `obj` as a typed resource; Secrets get their data marked secret in state. */
export function kubeResource(obj: KubeObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
    throw new pulumi.RunError(`a synthesized object lacks apiVersion, kind or metadata.name: ${JSON.stringify({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata })}`);
  }
  const name = kubeResourceName(obj);
  const secretOpts: pulumi.CustomResourceOptions = SECRET_KINDS.has(obj.kind)
    ? { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), 'data', 'stringData'] }
    : opts;
  const cls = kubeResourceClass(obj.apiVersion, obj.kind);
  if (cls !== undefined) return new cls(name, obj as pulumi.Inputs, secretOpts);
  return new k8s.apiextensions.CustomResource(name, obj as k8s.apiextensions.CustomResourceArgs, secretOpts);
}
