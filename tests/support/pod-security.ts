/**
 * The Pod Security Standards "restricted" profile (which includes "baseline") as checks on a pod
 * spec, after https://kubernetes.io/docs/concepts/security/pod-security-standards/ (v1.30 rules).
 * Returns every violation as text, so a failing test says what and where.
 */

/** Volume types the restricted profile allows. */
const ALLOWED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
const SAFE_SYSCTLS = new Set(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']);
const SECCOMP_ALLOWED = new Set(['RuntimeDefault', 'Localhost']);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

function podLevel(pod: any, where: string): string[] {
  const v: string[] = [];
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) if (pod[field] === true) v.push(`${where}: ${field} is true`);
  for (const vol of pod.volumes ?? []) {
    const type = Object.keys(vol).find((k) => k !== 'name');
    if (!type || !ALLOWED_VOLUME_TYPES.has(type)) v.push(`${where}: volume ${vol.name} has type ${type}, not allowed`);
  }
  const sc = pod.securityContext ?? {};
  for (const s of sc.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) v.push(`${where}: unsafe sysctl ${s.name}`);
  if (sc.runAsUser === 0) v.push(`${where}: pod runAsUser is 0`);
  if (sc.seccompProfile && !SECCOMP_ALLOWED.has(sc.seccompProfile.type)) v.push(`${where}: pod seccompProfile ${sc.seccompProfile.type}`);
  if (sc.seLinuxOptions?.type !== undefined && !SELINUX_TYPES.has(sc.seLinuxOptions.type)) v.push(`${where}: pod seLinux type ${sc.seLinuxOptions.type}`);
  return v;
}

function containerLevel(pod: any, c: any, where: string): string[] {
  const v: string[] = [];
  const sc = c.securityContext ?? {};
  const podSc = pod.securityContext ?? {};
  if (sc.privileged === true) v.push(`${where}: privileged`);
  if (sc.allowPrivilegeEscalation !== false) v.push(`${where}: allowPrivilegeEscalation is not false`);
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) v.push(`${where}: runAsNonRoot is not true (container or pod)`);
  if (sc.runAsUser === 0) v.push(`${where}: runAsUser is 0`);
  const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
  if (!SECCOMP_ALLOWED.has(seccomp)) v.push(`${where}: seccompProfile is ${seccomp ?? 'unset'} (container or pod), not RuntimeDefault/Localhost`);
  const caps = sc.capabilities ?? {};
  if (!(caps.drop ?? []).includes('ALL')) v.push(`${where}: capabilities.drop does not include ALL`);
  for (const add of caps.add ?? []) if (add !== 'NET_BIND_SERVICE') v.push(`${where}: adds capability ${add}`);
  for (const p of c.ports ?? []) if (p.hostPort !== undefined && p.hostPort !== 0) v.push(`${where}: hostPort ${p.hostPort}`);
  if (sc.procMount !== undefined && sc.procMount !== 'Default') v.push(`${where}: procMount ${sc.procMount}`);
  if (sc.seLinuxOptions?.type !== undefined && !SELINUX_TYPES.has(sc.seLinuxOptions.type)) v.push(`${where}: seLinux type ${sc.seLinuxOptions.type}`);
  if (sc.windowsOptions?.hostProcess === true) v.push(`${where}: windows hostProcess`);
  return v;
}

/** Violations of the restricted profile by a pod spec (`where` prefixes each message). */
export function restrictedViolations(pod: any, where: string): string[] {
  const containers = [...(pod.initContainers ?? []).map((c: any) => ['initContainer', c]), ...(pod.containers ?? []).map((c: any) => ['container', c])];
  return [...podLevel(pod, where), ...containers.flatMap(([kind, c]) => containerLevel(pod, c, `${where} ${kind} ${c.name}`))];
}

/** Kinds whose objects carry a pod template at `spec.template.spec`. */
export const POD_TEMPLATE_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
