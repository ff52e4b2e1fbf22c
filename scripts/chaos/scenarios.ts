/**
 * The chaos scenarios. Each injects its faults under load through a {@link ChaosTarget}, records
 * them on the workload, and heals; the runner (run.ts) adds warm-up, the quiet period and the check.
 */
import { sleep } from '../../shared/index.js';
import { listFlag } from '../cli-args.js';
import { pick, randomInt } from './graph.js';
import { LIST_QUEUES_ARGS, leadersPerNode, pickLeaderNode } from './leaders.js';
import { SpuriousFailover, watchForSpuriousFailover } from './soak.js';
import { assessCluster, clusterViews, describeViews, type ClusterVerdict } from './split.js';
import { UnsupportedFault, type ChaosTarget } from './target.js';

/** Scenario names, in the order `--scenario all` runs them. */
export const SCENARIO_NAMES = [
  'node-kill',
  'leader-kill',
  'all-nodes',
  'node-pause',
  'leader-pause',
  'haproxy-kill',
  'haproxy-pause',
  'app-kill',
  'rolling-restart',
  'partition',
  'leader-partition',
  'soak',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Scenarios that cut a node off the network: they need the target's partition tools (iptables on the twin). */
export const PARTITION_SCENARIOS: ReadonlySet<ScenarioName> = new Set<ScenarioName>(['partition', 'leader-partition']);

/** What a scenario can use. */
export interface ScenarioContext {
  readonly target: ChaosTarget;
  /** Seeded randomness (the victim choice). */
  readonly rand: () => number;
  /** Records a fault now; call `healed()` when the heal action is done. */
  fault(name: string): { healed: () => void };
  /** Progress line. */
  log(line: string): void;
  /** Seconds a killed part stays down before it is restarted. */
  readonly downS: number;
  /**
   * Records an operator action the scenario had to take to get the stack whole again (e.g. a
   * restart of a node left split off). The action is still taken, so the suite goes on from a
   * healthy stack, but the run FAILS with this line as the reason: in production nobody takes it.
   * @default none (the line is only logged)
   */
  operatorAction?(line: string): void;
  /** Seconds of load left after the warm-up: how long a scenario without a fault of its own (the soak) watches. @default 30 */
  readonly holdS?: number;
  /** The workload's client counters so far (follower reconnects, dead sockets). @default none */
  clientCounters?(): Readonly<Record<string, number>>;
  /**
   * Seconds the cluster gets after a heal to become whole by itself before a minority that
   * the cluster did not heal by itself is restarted. @default {@link SELF_HEAL_WINDOW_S}
   */
  readonly selfHealS?: number;
}

/** autoheal's restart of the losing side (or pause_minority's pause and rejoin) takes 10–20 s; give it a wide margin before stepping in. */
export const SELF_HEAL_WINDOW_S = 60;
/** Seconds to wait for the whole stack after a heal (and after an operator restart). */
export const HEAL_HEALTHY_TIMEOUT_S = 180;

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  run(ctx: ScenarioContext): Promise<void>;
}


async function findLeaderNode(ctx: ScenarioContext): Promise<number> {
  const { target } = ctx;
  const fallback = randomInt(ctx.rand, 0, target.rabbitNodeCount - 1);
  const out = await target.rabbitmqctl(fallback, LIST_QUEUES_ARGS);
  const counts = leadersPerNode(out);
  const names = Array.from({ length: target.rabbitNodeCount }, (_, i) => target.rabbitNodeName(i));
  const i = pickLeaderNode(counts, names, fallback);
  ctx.log(`replica-queue leaders per node: ${names.map((n) => `${n}=${counts.get(n) ?? 0}`).join(' ')} → ${target.rabbitLabel(i)}`);
  return i;
}

/** kill -9 of one part, `downS` seconds down, restart; the fault is healed once the part is back. */
async function killAndRestart(ctx: ScenarioContext, label: string, kill: () => Promise<void>, start: () => Promise<void>): Promise<void> {
  const f = ctx.fault(`kill -9 ${label}`);
  await kill();
  ctx.log(`killed ${label}; restarting in ${ctx.downS} s`);
  await sleep(ctx.downS * 1000);
  await start();
  f.healed();
  ctx.log(`${label} is back`);
}

function killAndRestartNode(ctx: ScenarioContext, i: number): Promise<void> {
  return killAndRestart(ctx, ctx.target.rabbitLabel(i), () => ctx.target.killRabbitNode(i), () => ctx.target.startRabbitNode(i));
}

const nodeIndexes = (t: ChaosTarget) => Array.from({ length: t.rabbitNodeCount }, (_, i) => i);

/** Polls the views until the cluster is whole or `windowMs` is over; the last verdict and a description. */
async function waitWhole(target: ChaosTarget, windowMs: number): Promise<{ verdict: ClusterVerdict; seen: string }> {
  const names = nodeIndexes(target).map((i) => target.rabbitNodeName(i));
  const labels = nodeIndexes(target).map((i) => target.rabbitLabel(i));
  const deadline = Date.now() + windowMs;
  for (;;) {
    const views = await clusterViews(target);
    const verdict = assessCluster(names, views);
    if (verdict.kind === 'whole' || Date.now() >= deadline) return { verdict, seen: describeViews(labels, views) };
    // Each poll boots a CLI VM per node; every few seconds is plenty next to a 60 s window.
    await sleep(Math.min(5000, Math.max(0, deadline - Date.now())));
  }
}

/**
 * After a heal: gives the cluster {@link SELF_HEAL_WINDOW_S} to become whole by itself. If a
 * majority of nodes then see each other while other nodes still run on their own (pause_minority
 * did not pause them), restarts those nodes as the RabbitMQ partitions guide prescribes, recorded
 * as a fault of its own named after `cause` and as a note on the run. `first` is healed when the
 * cluster is whole or the self-heal window is over.
 */
async function settleAfterHeal(ctx: ScenarioContext, first: { healed: () => void }, cause: string): Promise<void> {
  const { target } = ctx;
  const windowS = ctx.selfHealS ?? SELF_HEAL_WINDOW_S;
  const { verdict, seen } = await waitWhole(target, windowS * 1000);
  if (verdict.kind !== 'split') {
    if (verdict.kind === 'settling') ctx.log(`cluster not whole ${windowS} s after the heal (${verdict.reason}: ${seen}); waiting for it`);
    await target.waitHealthy(HEAL_HEALTHY_TIMEOUT_S * 1000);
    first.healed();
    return;
  }
  first.healed();
  const labels = verdict.minority.map((i) => target.rabbitLabel(i)).join(', ');
  ctx.log(`cluster still split ${windowS} s after the heal (${seen}); restarting ${labels}`);
  const action = `operator action: restarted ${labels} ${windowS} s after the heal: ${cause}; the other nodes (${verdict.majority.map((i) => target.rabbitLabel(i)).join(', ')}) ran without ${verdict.minority.length > 1 ? 'them' : 'it'} (${seen})`;
  if (ctx.operatorAction) ctx.operatorAction(action);
  else ctx.log(`OPERATOR ACTION ${action}`);
  const f = ctx.fault(`restart ${labels} (${cause})`);
  for (const i of verdict.minority) {
    await target.stopRabbitNode(i);
    await target.startRabbitNode(i);
  }
  await target.waitHealthy(HEAL_HEALTHY_TIMEOUT_S * 1000);
  f.healed();
  ctx.log(`${labels} restarted; the cluster is whole`);
}

/** A silent fault (a part that hangs or is cut off): held for the target's `pauseMs`, then released. */
interface SilentFault {
  /** Fault name, e.g. `SIGSTOP rabbit-1`. */
  readonly name: string;
  /** Progress wording while held, e.g. `paused rabbit-1`. */
  readonly held: string;
  inject(): Promise<void>;
  release(): Promise<void>;
  /** Runs after the release; calls `healed()` once the stack is whole again. */
  settle(f: { healed: () => void }): Promise<void>;
  /** Progress line once settled. */
  readonly done: string;
}

async function holdSilentFault(ctx: ScenarioContext, s: SilentFault): Promise<void> {
  const f = ctx.fault(s.name);
  await s.inject();
  ctx.log(`${s.held} for ${Math.round(ctx.target.pauseMs / 1000)} s`);
  await sleep(ctx.target.pauseMs);
  await s.release();
  await s.settle(f);
  ctx.log(s.done);
}

/** SIGSTOP of node i past the failure detector, SIGCONT, then {@link settleAfterHeal}. */
function pauseAndResumeNode(ctx: ScenarioContext, i: number): Promise<void> {
  const { target } = ctx;
  const label = target.rabbitLabel(i);
  return holdSilentFault(ctx, {
    name: `SIGSTOP ${label}`,
    held: `paused ${label}`,
    inject: () => target.pauseRabbitNode(i),
    release: () => target.resumeRabbitNode(i),
    settle: (f) => settleAfterHeal(ctx, f, 'partition left after resume; the cluster did not heal itself'),
    done: `${label} resumed and the cluster is whole`,
  });
}

/** Cuts node i's Erlang distribution off from its peers for the target's `pauseMs`, heals, then {@link settleAfterHeal}. */
function partitionAndHeal(ctx: ScenarioContext, i: number): Promise<void> {
  const { target } = ctx;
  const label = target.rabbitLabel(i);
  return holdSilentFault(ctx, {
    name: `partition ${label}`,
    held: `partitioned ${label}`,
    inject: () => target.partitionRabbitNode(i),
    release: () => target.healPartition(i),
    settle: (f) => settleAfterHeal(ctx, f, 'partition left after the heal; the cluster did not heal itself'),
    done: `partition of ${label} healed and the cluster is whole`,
  });
}

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  'node-kill': {
    name: 'node-kill',
    description: 'kill -9 a random RabbitMQ node, then restart it',
    run: async (ctx) => killAndRestartNode(ctx, pick(ctx.rand, nodeIndexes(ctx.target))),
  },
  'leader-kill': {
    name: 'leader-kill',
    description: 'kill -9 the node holding the most replica-queue masters/leaders, then restart it',
    run: async (ctx) => killAndRestartNode(ctx, await findLeaderNode(ctx)),
  },
  'all-nodes': {
    name: 'all-nodes',
    description: 'kill -9 all three nodes, restart them in parallel; the cluster re-forms without force_boot',
    run: async (ctx) => {
      const { target } = ctx;
      const f = ctx.fault('kill -9 every node');
      await Promise.all(nodeIndexes(target).map((i) => target.killRabbitNode(i)));
      ctx.log(`killed all ${target.rabbitNodeCount} nodes; starting them in parallel in ${ctx.downS} s`);
      await sleep(ctx.downS * 1000);
      await target.startAllRabbitNodes();
      f.healed();
      ctx.log('cluster re-formed');
    },
  },
  'node-pause': {
    name: 'node-pause',
    description: 'SIGSTOP a node long enough for its peers to declare it down (net_ticktime), then SIGCONT',
    run: async (ctx) => pauseAndResumeNode(ctx, pick(ctx.rand, nodeIndexes(ctx.target))),
  },
  'leader-pause': {
    name: 'leader-pause',
    description: 'SIGSTOP the node holding the most replica-queue masters/leaders past net_ticktime, then SIGCONT',
    run: async (ctx) => pauseAndResumeNode(ctx, await findLeaderNode(ctx)),
  },
  'haproxy-kill': {
    name: 'haproxy-kill',
    description: 'kill -9 one HAProxy instance; the app moves to the next AMQP URL',
    run: async (ctx) => {
      const i = randomInt(ctx.rand, 0, ctx.target.haproxyCount - 1);
      await killAndRestart(ctx, `haproxy-${i}`, () => ctx.target.killHaproxy(i), () => ctx.target.startHaproxy(i));
    },
  },
  'haproxy-pause': {
    name: 'haproxy-pause',
    description: 'SIGSTOP one HAProxy AMQP front the app replicas connect through (a hung front: TCP still accepts), then SIGCONT',
    run: async (ctx) => {
      const { target } = ctx;
      const i = randomInt(ctx.rand, 0, target.haproxyCount - 1);
      await holdSilentFault(ctx, {
        name: `SIGSTOP haproxy-${i}`,
        held: `paused haproxy-${i}`,
        inject: () => target.pauseHaproxy(i),
        release: () => target.resumeHaproxy(i),
        settle: async (f) => {
          await target.waitHealthy(HEAL_HEALTHY_TIMEOUT_S * 1000);
          f.healed();
        },
        done: `haproxy-${i} resumed and the stack is healthy`,
      });
    },
  },
  'app-kill': {
    name: 'app-kill',
    description: 'kill -9 one app replica; its clients move to the others and catch up with since',
    run: async (ctx) => {
      const i = randomInt(ctx.rand, 0, ctx.target.appCount - 1);
      await killAndRestart(ctx, `app-${i}`, () => ctx.target.killApp(i), () => ctx.target.startApp(i));
    },
  },
  'rolling-restart': {
    name: 'rolling-restart',
    description: 'restart the three nodes one at a time (graceful stop, start, wait until clustered)',
    run: async (ctx) => {
      const open = new Map<number, { healed: () => void }>();
      await ctx.target.rollingRestart((i, phase) => {
        if (phase === 'down') {
          open.set(i, ctx.fault(`restart ${ctx.target.rabbitLabel(i)}`));
          ctx.log(`rolling restart: stopping ${ctx.target.rabbitLabel(i)}`);
        } else {
          open.get(i)?.healed();
          ctx.log(`rolling restart: ${ctx.target.rabbitLabel(i)} is back`);
        }
      });
    },
  },
  partition: {
    name: 'partition',
    description: 'cut one node off from the other two (clients still reach it), then heal',
    run: async (ctx) => partitionAndHeal(ctx, pick(ctx.rand, nodeIndexes(ctx.target))),
  },
  'leader-partition': {
    name: 'leader-partition',
    description: 'cut the node holding the most replica-queue masters/leaders off from the other two, then heal',
    run: async (ctx) => partitionAndHeal(ctx, await findLeaderNode(ctx)),
  },
  soak: {
    name: 'soak',
    description: 'no fault: the load runs for --duration while node views, replica-queue leaders and follower reconnects are watched; any failover is spurious and fails the run',
    run: async (ctx) => {
      const events = await watchForSpuriousFailover(ctx, (ctx.holdS ?? 30) * 1000);
      const counters = ctx.clientCounters?.() ?? {};
      const dropped = (counters['reconnects'] ?? 0) + (counters['deadSockets'] ?? 0);
      if (dropped > 0) events.push(`${counters['reconnects'] ?? 0} follower reconnect(s) and ${counters['deadSockets'] ?? 0} silent socket(s) dropped by the client`);
      if (events.length > 0) throw new SpuriousFailover(events);
      ctx.log('soak: no spurious failover');
    },
  },
};

/** Parses `--scenario`: one name or `all`. Throws naming the flag and the valid names. */
export function parseScenarios(value: string): ScenarioName[] {
  return listFlag('scenario', value, SCENARIO_NAMES, 'scenario');
}

export { UnsupportedFault };
