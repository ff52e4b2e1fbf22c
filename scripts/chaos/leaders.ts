/**
 * Where the replica queues are led from: the classic master (the node in the queue's pid) or the
 * quorum leader, read from `rabbitmqctl list_queues`. Pure; scenarios and the soak do the I/O.
 */
import { REPLICA_QUEUE_PREFIX } from '../../shared/index.js';

/** The Erlang node in a queue pid such as `<rabbit@host.1.234.0>`. */
export function nodeOfPid(pid: string): string | undefined {
  return /^<(.+)\.\d+\.\d+\.\d+>$/.exec(pid.trim())?.[1];
}

/** Arguments of the `rabbitmqctl` call whose output {@link leadersPerNode} reads. */
export const LIST_QUEUES_ARGS = ['list_queues', 'name', 'pid', 'leader', '--quiet', '--no-table-headers'] as const;

/**
 * Counts replica-queue masters (classic: the node in `pid`) or leaders (quorum: `leader`) per node
 * from the tab-separated output of {@link LIST_QUEUES_ARGS}. (The JSON formatter prints pids as
 * `#PID<1.2.3>` without the node, so it cannot be used.)
 */
export function leadersPerNode(listQueuesOutput: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const node of leaderByQueue(listQueuesOutput).values()) counts.set(node, (counts.get(node) ?? 0) + 1);
  return counts;
}

/** The node each replica queue is led from (master or leader), by queue name, from the output of {@link LIST_QUEUES_ARGS}. */
export function leaderByQueue(listQueuesOutput: string): Map<string, string> {
  const leaders = new Map<string, string>();
  for (const line of listQueuesOutput.split('\n')) {
    const [name, pid, leader] = line.split('\t').map((c) => c.trim());
    if (!name?.startsWith(REPLICA_QUEUE_PREFIX)) continue;
    const node = leader && leader.includes('@') ? leader : pid ? nodeOfPid(pid) : undefined;
    if (node) leaders.set(name, node);
  }
  return leaders;
}

/** Index of the node holding the most replica-queue leaders; ties and an empty count go to the seeded choice. */
export function pickLeaderNode(counts: ReadonlyMap<string, number>, nodeNames: readonly string[], fallback: number): number {
  let best = fallback;
  let bestCount = -1;
  nodeNames.forEach((name, i) => {
    const c = counts.get(name) ?? 0;
    if (c > bestCount || (c === bestCount && i === fallback)) {
      best = i;
      bestCount = c;
    }
  });
  return bestCount > 0 ? best : fallback;
}
