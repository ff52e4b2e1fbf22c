/**
 * The soak: the chaos load with no fault, watched for a failover nobody caused. A short
 * net_ticktime, fast HAProxy checks and the app's delivery canary all trade detection speed for
 * false alarms on a busy machine; a false alarm shows here. Each poll reads every node's own
 * cluster view (a node missing from a running list, or a recorded partition, is a spurious split)
 * and where each replica queue is led from (a leader or master that moved is a spurious election
 * or promotion). The followers' reconnects (an app moving off a node closes its sockets) come from
 * the workload. The pure parts are exported for the unit tests; {@link watchForSpuriousFailover}
 * does the I/O.
 */
import { sleep } from '../../shared/index.js';
import { LIST_QUEUES_ARGS, leaderByQueue } from './leaders.js';
import type { ScenarioContext } from './scenarios.js';
import { clusterViews, type NodeView } from './split.js';

/**
 * Seconds between polls. Each poll boots a CLI VM per node: on two cores, often enough to catch a
 * split that heals itself within a minute, rarely enough not to become the load.
 */
export const SOAK_POLL_S = 15;

/** A soak found a failover nobody caused; the run fails with these lines. */
export class SpuriousFailover extends Error {
  constructor(readonly events: readonly string[]) {
    super(`spurious failover under load with no fault: ${events.join('; ')}`);
    this.name = 'SpuriousFailover';
  }
}

/** Queues led from another node than before (queues in both snapshots), as `queue: from → to`. */
export function leaderMoves(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const moves: string[] = [];
  for (const [queue, node] of after) {
    const was = before.get(queue);
    if (was !== undefined && was !== node) moves.push(`${queue}: ${was} → ${node}`);
  }
  return moves;
}

/**
 * Signs of a split in one poll of the views: a node that sees fewer than all of `names` running, or
 * lists partitions. A node that did not answer the CLI is not a sign by itself (the CLI can time
 * out on a loaded machine); a real split also shows in the other nodes' running lists.
 */
export function splitSigns(labels: readonly string[], names: readonly string[], views: readonly NodeView[]): string[] {
  const signs: string[] = [];
  views.forEach((view, i) => {
    if ('error' in view) return;
    const missing = names.filter((n) => !view.running.includes(n));
    if (missing.length > 0) signs.push(`${labels[i]} sees ${missing.join(', ')} not running`);
    if (view.partitions && view.partitions.length > 0) signs.push(`${labels[i]} reports partitions with ${view.partitions.join(', ')}`);
  });
  return signs;
}

/** Polls for `holdMs` and returns every spurious event seen, each with the second of the soak it was seen at. */
export async function watchForSpuriousFailover(ctx: ScenarioContext, holdMs: number): Promise<string[]> {
  const { target } = ctx;
  const labels = Array.from({ length: target.rabbitNodeCount }, (_, i) => target.rabbitLabel(i));
  const names = Array.from({ length: target.rabbitNodeCount }, (_, i) => target.rabbitNodeName(i));
  const began = Date.now();
  let leaders = leaderByQueue(await target.rabbitmqctl(0, LIST_QUEUES_ARGS));
  // RabbitMQ keeps a node's partition list after an earlier split has healed: only new signs count.
  const before = new Set(splitSigns(labels, names, await clusterViews(target)));
  if (before.size > 0) ctx.log(`soak: already at the start (not counted): ${[...before].join('; ')}`);
  ctx.log(`soak: watching ${leaders.size} replica queues and ${names.length} nodes for ${Math.round(holdMs / 1000)} s (poll every ${SOAK_POLL_S} s)`);
  const events: string[] = [];
  while (Date.now() - began < holdMs) {
    await sleep(Math.min(SOAK_POLL_S * 1000, Math.max(0, holdMs - (Date.now() - began))));
    const at = `+${Math.round((Date.now() - began) / 1000)} s`;
    const signs = splitSigns(labels, names, await clusterViews(target)).filter((sign) => !before.has(sign));
    const now = leaderByQueue(await target.rabbitmqctl(0, LIST_QUEUES_ARGS).catch(() => ''));
    const moves = now.size > 0 ? leaderMoves(leaders, now) : [];
    if (now.size > 0) leaders = new Map([...leaders, ...now]);
    for (const line of [...signs, ...moves.map((m) => `leader moved ${m}`)]) {
      events.push(`${at} ${line}`);
      ctx.log(`soak: SPURIOUS ${at} ${line}`);
    }
  }
  return events;
}
