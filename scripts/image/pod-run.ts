/**
 * A Deployment's pod, as podman flags: what the kubelet would enforce on the app container (user,
 * read-only root, capabilities, privilege escalation, emptyDir volumes, grace period), read from the
 * synthesized manifest rather than restated, so the container test runs what the chart deploys.
 */

/** The parts of a synthesized Deployment this reads (Kubernetes field names). */
export interface DeploymentLike {
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly template: {
      readonly spec: {
        readonly terminationGracePeriodSeconds?: number;
        readonly securityContext?: { readonly runAsUser?: number; readonly runAsGroup?: number; readonly runAsNonRoot?: boolean };
        readonly volumes?: readonly { readonly name: string; readonly emptyDir?: object }[];
        readonly containers: readonly ContainerLike[];
      };
    };
  };
}

interface ContainerLike {
  readonly name: string;
  readonly ports?: readonly { readonly containerPort: number }[];
  readonly securityContext?: {
    readonly runAsUser?: number;
    readonly runAsGroup?: number;
    readonly runAsNonRoot?: boolean;
    readonly readOnlyRootFilesystem?: boolean;
    readonly allowPrivilegeEscalation?: boolean;
    readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
  };
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}

/** What the pod's security context and volumes become under podman. */
export interface PodRunSettings {
  readonly uid: number;
  readonly gid: number;
  readonly readOnlyRoot: boolean;
  readonly noNewPrivileges: boolean;
  readonly capDrop: readonly string[];
  readonly capAdd: readonly string[];
  /** Mount paths of emptyDir volumes: tmpfs under podman. */
  readonly tmpfs: readonly string[];
  /** The container's first port. */
  readonly containerPort: number;
  readonly gracePeriodSeconds: number;
}

/** Kubernetes' default grace period when the pod spec sets none. */
export const DEFAULT_GRACE_PERIOD_SECONDS = 30;

/** Settings of the container `containerName` of `deployment`; throws what podman could not reproduce. */
export function podRunSettings(deployment: DeploymentLike, containerName: string): PodRunSettings {
  const pod = deployment.spec.template.spec;
  const c = pod.containers.find((x) => x.name === containerName);
  if (!c) throw new Error(`Deployment ${deployment.metadata.name} has no container "${containerName}"`);
  const sc = c.securityContext ?? {};
  const uid = sc.runAsUser ?? pod.securityContext?.runAsUser;
  const gid = sc.runAsGroup ?? pod.securityContext?.runAsGroup ?? uid;
  if (uid === undefined || gid === undefined) throw new Error(`Deployment ${deployment.metadata.name}: container "${containerName}" sets no runAsUser`);
  if ((sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) && uid === 0) throw new Error(`Deployment ${deployment.metadata.name}: runAsNonRoot with runAsUser 0`);
  const emptyDirs = new Set((pod.volumes ?? []).filter((v) => v.emptyDir !== undefined).map((v) => v.name));
  const port = c.ports?.[0]?.containerPort;
  if (port === undefined) throw new Error(`Deployment ${deployment.metadata.name}: container "${containerName}" declares no port`);
  return {
    uid,
    gid,
    readOnlyRoot: sc.readOnlyRootFilesystem ?? false,
    noNewPrivileges: sc.allowPrivilegeEscalation === false,
    capDrop: sc.capabilities?.drop ?? [],
    capAdd: sc.capabilities?.add ?? [],
    tmpfs: (c.volumeMounts ?? []).filter((m) => emptyDirs.has(m.name)).map((m) => m.mountPath),
    containerPort: port,
    gracePeriodSeconds: pod.terminationGracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS,
  };
}

/**
 * `podman run` flags for `s`. `--read-only-tmpfs=false`: podman's read-only mode would otherwise add
 * writable /tmp, /var/tmp and /run the pod does not have; only the pod's emptyDirs are writable.
 */
export function podmanSecurityFlags(s: PodRunSettings): string[] {
  return [
    '--user', `${s.uid}:${s.gid}`,
    ...(s.readOnlyRoot ? ['--read-only', '--read-only-tmpfs=false'] : []),
    ...(s.noNewPrivileges ? ['--security-opt', 'no-new-privileges'] : []),
    ...s.capDrop.flatMap((c) => ['--cap-drop', c]),
    ...s.capAdd.flatMap((c) => ['--cap-add', c]),
    ...s.tmpfs.flatMap((p) => ['--tmpfs', p]),
    '--stop-timeout', String(s.gracePeriodSeconds),
  ];
}
