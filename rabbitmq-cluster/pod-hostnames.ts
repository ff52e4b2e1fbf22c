/**
 * Stable names of the RabbitMQ StatefulSet pods: one source for the charts (peer discovery,
 * node names) and the HAProxy backend, so they can never disagree.
 */
import { objectNames, type FeedkitSpec } from '../shared/index.js';

/**
 * Fully qualified DNS names of the StatefulSet pods, in ordinal order:
 * `<statefulset>-<i>.<headless service>.<namespace>.svc.<cluster domain>`.
 * They resolve through the headless Service (which publishes not-ready addresses) and survive
 * pod restarts, unlike pod IPs.
 */
export function rabbitmqPodHostnames(spec: FeedkitSpec): string[] {
  const names = objectNames(spec.name);
  return Array.from(
    { length: spec.rabbitmq.replicas },
    (_, i) => `${names.rabbitmq}-${i}.${names.rabbitmqHeadless}.${spec.namespace}.svc.${spec.clusterDomain}`,
  );
}

/** Erlang node names of the pods (`rabbit@<hostname>`; needs `RABBITMQ_USE_LONGNAME=true`). */
export function rabbitmqNodeNames(spec: FeedkitSpec): string[] {
  return rabbitmqPodHostnames(spec).map((host) => `${NODE_NAME_PREFIX}@${host}`);
}

/** The node-name part before `@` in the pods. */
export const NODE_NAME_PREFIX = 'rabbit';

/**
 * Suffix that turns a pod's short hostname into its stable name; peer discovery appends it to the
 * hostnames the Kubernetes API returns (`cluster_formation.k8s.hostname_suffix`).
 */
export function rabbitmqHostnameSuffix(spec: FeedkitSpec): string {
  return `.${objectNames(spec.name).rabbitmqHeadless}.${spec.namespace}.svc.${spec.clusterDomain}`;
}
