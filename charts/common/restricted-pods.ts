/**
 * The Pod Security Standards "restricted" profile for the stack's workloads. cdk8s-plus-27 has no
 * seccompProfile field, and its Capability enum has neither `ALL` nor the un-prefixed names the
 * admission check compares against, so both are JSON-patched in here.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import type * as kplus from 'cdk8s-plus-27';

/** Seccomp profile every pod runs with: the container runtime's default filter. */
export const RESTRICTED_SECCOMP_PROFILE = Object.freeze({ type: 'RuntimeDefault' } as const);

/** Capabilities of every container: all dropped (the stack listens on ports above 1023 only). */
export const RESTRICTED_CAPABILITIES = Object.freeze({ drop: Object.freeze(['ALL'] as const) });

/**
 * Adds the pod seccomp profile and drops every capability of each container and init container.
 * Throws when a container may escalate privileges or run as root: those are set where the
 * container is declared, since the uid is the image's business.
 */
export function restrictPods(workload: kplus.Deployment | kplus.StatefulSet, name: string): void {
  const groups: Array<[string, readonly kplus.Container[]]> = [
    ['containers', workload.containers],
    ['initContainers', workload.initContainers],
  ];
  const patches = [JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { ...RESTRICTED_SECCOMP_PROFILE })];
  for (const [field, containers] of groups) {
    containers.forEach((c, i) => {
      const sc = c.securityContext;
      if (sc.allowPrivilegeEscalation !== false || sc.ensureNonRoot !== true || sc.privileged === true) {
        throw new Error(`${name}: container "${c.name}" must set allowPrivilegeEscalation: false and ensureNonRoot: true, and not be privileged (Pod Security Standards "restricted")`);
      }
      patches.push(JsonPatch.add(`/spec/template/spec/${field}/${i}/securityContext/capabilities`, { drop: [...RESTRICTED_CAPABILITIES.drop] }));
    });
  }
  ApiObject.of(workload).addJsonPatch(...patches);
}
