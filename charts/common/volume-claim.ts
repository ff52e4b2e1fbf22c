import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

/** A per-pod PersistentVolumeClaim of a StatefulSet. */
export interface VolumeClaimTemplateOptions {
  /** Volume (and claim template) name. */
  readonly name: string;
  /** Where the main container (index 0) mounts it. */
  readonly mountPath: string;
  /** Requested size, a Kubernetes quantity. */
  readonly storage: string;
  /** StorageClass; empty for the cluster default. */
  readonly storageClassName: string;
  /** Labels of the claims. */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Adds a volumeClaimTemplate and its mount in the first container. cdk8s-plus-27's StatefulSet
 * has no volumeClaimTemplates, and mounting a PVC volume would add one pod-level claim shared by
 * every replica instead of one claim per pod; so the template and the mount are JSON-patched in.
 */
export function addVolumeClaimTemplate(statefulSet: kplus.StatefulSet, options: VolumeClaimTemplateOptions): void {
  const template = {
    metadata: { name: options.name, labels: { ...options.labels } },
    spec: {
      accessModes: ['ReadWriteOnce'],
      // The L1 serializer maps Quantity objects here; a plain string would be dropped.
      resources: { requests: { storage: kplus.k8s.Quantity.fromString(options.storage) } },
      ...(options.storageClassName === '' ? {} : { storageClassName: options.storageClassName }),
    },
  };
  const mount = { name: options.name, mountPath: options.mountPath };
  const mounts = '/spec/template/spec/containers/0/volumeMounts';
  // cdk8s-plus omits an empty volumeMounts list, so append only when there is one.
  const hasMounts = (statefulSet.containers[0]?.mounts.length ?? 0) > 0;
  ApiObject.of(statefulSet).addJsonPatch(
    JsonPatch.add('/spec/volumeClaimTemplates', [template]),
    hasMounts ? JsonPatch.add(`${mounts}/-`, mount) : JsonPatch.add(mounts, [mount]),
  );
}
