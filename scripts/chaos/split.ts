/**
 * Reading a split cluster from each node's own `rabbitmqctl cluster_status`. With
 * `pause_minority`, a node that was suspended (SIGSTOP) or cut off usually finds itself in the
 * minority on resume, pauses and rejoins. When its peers reconnect before it notices, mnesia reports
 * `inconsistent_database, running_partitioned_network` on every node, nobody pauses, and the
 * cluster stays split (each side sees only itself). The RabbitMQ partitions guide's recovery is to
 * restart the nodes of the side you trust least, so they resync from the others; these pure
 * functions find that side; {@link clusterViews} does the I/O.
 */
import type { ChaosTarget } from './target.js';

/** Arguments of the `rabbitmqctl` call whose output {@link parseRunningNodes} reads. */
export const CLUSTER_STATUS_ARGS = ['cluster_status', '--formatter', 'json'] as const;

/** One node's own answer: the nodes it sees running, or why it did not answer. */
export type NodeView = { readonly running: readonly string[]; readonly partitions?: readonly string[] } | { readonly error: string };

/** `running_nodes` of `rabbitmqctl cluster_status --formatter json` (3.10 prints it as a list of node names). */
export function parseRunningNodes(stdout: string): string[] {
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`cluster_status printed no JSON object: ${stdout.trim().slice(0, 200)}`);
  const status = JSON.parse(stdout.slice(start)) as { running_nodes?: unknown };
  if (!Array.isArray(status.running_nodes)) throw new Error('cluster_status JSON has no running_nodes list');
  return status.running_nodes.map(String);
}

/**
 * The nodes a node's `cluster_status` JSON lists under `partitions` (nodes it found itself split
 * from and has not healed with); empty when there are none or the field is absent.
 */
export function parsePartitions(stdout: string): string[] {
  const start = stdout.indexOf('{');
  if (start < 0) return [];
  const partitions = (JSON.parse(stdout.slice(start)) as { partitions?: unknown }).partitions;
  const values = Array.isArray(partitions) ? partitions : partitions && typeof partitions === 'object' ? Object.entries(partitions).flatMap(([node, peers]) => [node, ...(Array.isArray(peers) ? peers : [])]) : [];
  return [...new Set(values.map(String))];
}

/** Every node's own view of the cluster; a node that does not answer is reported with its error. */
export async function clusterViews(target: ChaosTarget): Promise<NodeView[]> {
  return Promise.all(
    Array.from({ length: target.rabbitNodeCount }, async (_, i): Promise<NodeView> => {
      try {
        const stdout = await target.clusterStatus(i);
        return { running: parseRunningNodes(stdout), partitions: parsePartitions(stdout) };
      } catch (e) {
        return { error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
}

/** What the views say about the cluster. */
export type ClusterVerdict =
  /** Every node answered and sees every node running. */
  | { readonly kind: 'whole' }
  /**
   * A strict majority of nodes see each other; `minority` are nodes that answered (their rabbit app
   * runs) but are not part of it: pause_minority will not restart them. `healing` are nodes that
   * did not answer (a node paused by pause_minority refuses CLI commands while it waits).
   */
  | { readonly kind: 'split'; readonly majority: readonly number[]; readonly minority: readonly number[]; readonly healing: readonly number[] }
  /** Not whole, but nothing to restart: nodes are still pausing/restarting, or no majority agrees. */
  | { readonly kind: 'settling'; readonly reason: string; readonly healing: readonly number[] };

/**
 * Judges the cluster from every node's own view. Node i and j "see each other" when each lists
 * the other as running; the trusted side is the unique largest group of answering nodes that all
 * see each other and hold a strict majority.
 */
export function assessCluster(names: readonly string[], views: readonly NodeView[]): ClusterVerdict {
  if (views.length !== names.length) throw new Error(`views: got ${views.length} views for ${names.length} nodes`);
  const n = names.length;
  const all = names.map((_, i) => i);
  const running = views.map((v) => ('running' in v ? new Set(v.running) : undefined));
  const healing = all.filter((i) => running[i] === undefined);
  const answered = all.filter((i) => running[i] !== undefined);
  if (healing.length === 0 && answered.every((i) => names.every((name) => running[i]!.has(name)))) return { kind: 'whole' };

  const sees = (i: number, j: number) => i === j || (running[i]!.has(names[j]!) && running[j]!.has(names[i]!));
  let best: number[][] = [];
  // Every subset of the answering nodes (a handful of nodes, so at most a few hundred).
  for (let mask = 1; mask < 1 << answered.length; mask++) {
    const group = answered.filter((_, k) => mask & (1 << k));
    if (group.length * 2 <= n) continue;
    if (!group.every((i) => group.every((j) => sees(i, j)))) continue;
    if (best.length === 0 || group.length > best[0]!.length) best = [group];
    else if (group.length === best[0]!.length) best.push(group);
  }
  if (best.length === 0) return { kind: 'settling', reason: 'no majority of nodes see each other', healing };
  if (best.length > 1) return { kind: 'settling', reason: 'more than one majority group of nodes see each other', healing };
  const majority = best[0]!;
  const minority = answered.filter((i) => !majority.includes(i));
  if (minority.length === 0) return { kind: 'settling', reason: 'the majority sees each other; the other nodes are still pausing or restarting', healing };
  return { kind: 'split', majority, minority, healing };
}

/** One line per node for progress output, e.g. `rabbit-2 sees [a, c]; rabbit-1: error ...`. */
export function describeViews(labels: readonly string[], views: readonly NodeView[]): string {
  return views
    .map((v, i) => ('running' in v ? `${labels[i]} sees [${v.running.join(', ')}]` : `${labels[i]}: ${v.error.split('\n')[0]!.slice(0, 160)}`))
    .join('; ');
}
