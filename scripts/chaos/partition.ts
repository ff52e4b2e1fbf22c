/**
 * A network partition between RabbitMQ nodes that share 127.0.0.1 in one network namespace: every
 * node has its own Erlang distribution port, so iptables can cut node X off from its peers with
 *  - DROP of packets to and from X's distribution port (connections where X is the server),
 *  - DROP of packets on the local ports of X's existing distribution connections to its peers
 *    (found with `ss -p` by X's VM pid), and
 *  - DROP of X's new connections to its peers' distribution ports, matched by moving X's VM into a
 *    cgroup of its own (`-m cgroup --path`), since all nodes run as the same user.
 * AMQP and epmd stay reachable, as in a real partition where clients still reach the minority.
 * The rules live in a chain of their own and are removed on heal and on exit. iptables and ss run
 * through zx's `$` ({@link run}), each with a timeout.
 */
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runSync } from '../shell.js';

/** Milliseconds an iptables or ss call may take (iptables itself waits up to 5 s for the xtables lock). */
const COMMAND_TIMEOUT_MS = 20_000;
/** `iptables -w 5 …`: wait up to 5 s for the xtables lock instead of failing at once. */
const iptablesArgs = (args: readonly string[]): string[] => ['-w', '5', ...args];

/** Root of the cgroup v2 hierarchy (hybrid systems mount it at unified/). */
export function cgroup2Root(): string | undefined {
  for (const dir of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) if (existsSync(join(dir, 'cgroup.procs')) && existsSync(join(dir, 'cgroup.controllers'))) return dir;
  return existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : undefined;
}

/** Why a loopback partition cannot be made here, or undefined when it can. */
export async function partitionUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'iptables rules need root; run the chaos suite as root to include the partition scenario';
  try {
    await run('iptables', iptablesArgs(['-S', 'OUTPUT']), { timeoutMs: COMMAND_TIMEOUT_MS });
  } catch (e) {
    return `iptables is not usable (${(e as Error).message.split('\n')[0]}); install it (apt-get install -y iptables) to include the partition scenario`;
  }
  try {
    await run('ss', ['-V'], { timeoutMs: COMMAND_TIMEOUT_MS });
  } catch {
    return 'ss (iproute2) is missing; install iproute2 to include the partition scenario';
  }
  if (!cgroup2Root()) return 'no cgroup v2 hierarchy is mounted, so a node\'s own connections cannot be matched';
  return undefined;
}

/** Local ports of established TCP connections owned by `pid` whose remote port is one of `remotePorts`. */
export function localPortsTo(ssOutput: string, pid: number, remotePorts: readonly number[]): number[] {
  const out: number[] = [];
  for (const line of ssOutput.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue;
    const cols = line.trim().split(/\s+/);
    // ss -tnpH: State Recv-Q Send-Q Local:Port Peer:Port Process (State omitted with a state filter)
    const addrs = cols.filter((c) => /:\d+$/.test(c));
    const local = Number(addrs[0]?.split(':').pop());
    const peer = Number(addrs[1]?.split(':').pop());
    if (remotePorts.includes(peer) && Number.isInteger(local)) out.push(local);
  }
  return out;
}

/** One partitioned node; {@link heal} undoes everything {@link isolate} did. */
export class LoopbackPartition {
  private readonly chain: string;
  private readonly cgroupDir: string;
  private active = false;
  private movedPid: number | undefined;
  private readonly onExit = () => this.healSync();

  constructor(tag: string) {
    this.chain = `FKCHAOS-${process.pid}-${tag}`.slice(0, 28);
    this.cgroupDir = join(cgroup2Root() ?? '/sys/fs/cgroup/unified', `feedkit-chaos-${process.pid}-${tag}`);
  }

  /** Cuts the node whose VM is `beamPid` and listens on `distPort` off from peers on `peerDistPorts`. */
  async isolate(beamPid: number, distPort: number, peerDistPorts: readonly number[]): Promise<{ rules: number; existingConnections: number }> {
    const ipt = (...args: string[]) => run('iptables', iptablesArgs(args), { timeoutMs: COMMAND_TIMEOUT_MS });
    await ipt('-N', this.chain);
    this.active = true;
    process.on('exit', this.onExit);
    const rel = this.cgroupDir.slice((cgroup2Root() ?? '').length + 1);
    mkdirSync(this.cgroupDir, { recursive: true });
    // New sockets of the VM (reconnects) carry this cgroup; existing ones keep their old one.
    writeFileSync(join(this.cgroupDir, 'cgroup.procs'), String(beamPid));
    this.movedPid = beamPid;
    const peers = peerDistPorts.join(',');
    const rules: string[][] = [
      ['-p', 'tcp', '--dport', String(distPort), '-j', 'DROP'],
      ['-p', 'tcp', '--sport', String(distPort), '-j', 'DROP'],
      ['-p', 'tcp', '-m', 'cgroup', '--path', rel, '-m', 'multiport', '--dports', peers, '-j', 'DROP'],
    ];
    const existing = localPortsTo(await run('ss', ['-tnpH', 'state', 'established'], { timeoutMs: COMMAND_TIMEOUT_MS }), beamPid, peerDistPorts);
    for (const port of existing) {
      rules.push(['-p', 'tcp', '--sport', String(port), '-j', 'DROP'], ['-p', 'tcp', '--dport', String(port), '-j', 'DROP']);
    }
    for (const r of rules) await ipt('-A', this.chain, ...r);
    await ipt('-I', 'OUTPUT', '1', '-j', this.chain);
    return { rules: rules.length, existingConnections: existing.length };
  }

  /** Removes the rules and the cgroup. */
  async heal(): Promise<void> {
    this.healSync();
  }

  /** Synchronous, as it also runs in a `process.on('exit')` handler. */
  private healSync(): void {
    if (!this.active) return;
    const ipt = (...args: string[]) => {
      try {
        runSync('iptables', iptablesArgs(args), { timeoutMs: COMMAND_TIMEOUT_MS });
      } catch {
        /* already gone */
      }
    };
    ipt('-D', 'OUTPUT', '-j', this.chain);
    ipt('-F', this.chain);
    ipt('-X', this.chain);
    if (this.movedPid !== undefined) {
      try {
        writeFileSync(join(cgroup2Root() ?? '/sys/fs/cgroup/unified', 'cgroup.procs'), String(this.movedPid));
      } catch {
        /* the VM is gone */
      }
    }
    try {
      rmdirSync(this.cgroupDir);
    } catch {
      /* not empty or gone */
    }
    this.active = false;
    process.off('exit', this.onExit);
  }
}
