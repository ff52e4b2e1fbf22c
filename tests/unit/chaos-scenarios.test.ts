import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { leadersPerNode, nodeOfPid, pickLeaderNode } from '../../scripts/chaos/leaders.js';
import { LocalTarget, type LocalStack } from '../../scripts/chaos/local-target.js';
import { parseScenarios, PARTITION_SCENARIOS, SCENARIO_NAMES, SCENARIOS, type ScenarioContext } from '../../scripts/chaos/scenarios.js';
import type { ChaosTarget } from '../../scripts/chaos/target.js';
import { nonceOf, postText } from '../../scripts/chaos/workload.js';

const NODES = ['t-0@localhost', 't-1@localhost', 't-2@localhost'] as const;

/** A target that answers list_queues with every replica-queue leader on `leader` and records what was cut and healed. */
function scriptedTarget(leader: number, calls: string[]): ChaosTarget {
  const status = JSON.stringify({ running_nodes: [...NODES], partitions: {} });
  const queues = ['a', 'b', 'c'].map((q) => `post_feed.replica.${q}\t<${NODES[leader]}.1.2.3>\t${NODES[leader]}`).join('\n');
  const target: Partial<ChaosTarget> = {
    rabbitNodeCount: NODES.length,
    pauseMs: 0,
    rabbitLabel: (i) => `rabbit-${i}`,
    rabbitNodeName: (i) => NODES[i]!,
    rabbitmqctl: async () => queues,
    clusterStatus: async () => status,
    partitionRabbitNode: async (i) => void calls.push(`cut ${i}`),
    healPartition: async (i) => void calls.push(`heal ${i}`),
    waitHealthy: async () => undefined,
  };
  return target as ChaosTarget;
}

function scenarioContext(target: ChaosTarget, calls: string[]): ScenarioContext {
  return {
    target,
    rand: () => 0,
    downS: 0,
    selfHealS: 0,
    log: () => undefined,
    fault: (name) => {
      calls.push(`fault ${name}`);
      return { healed: () => void calls.push(`healed ${name}`) };
    },
  };
}

describe('chaos scenarios helpers', () => {
  it('GIVEN a queue pid WHEN reading its node THEN the node name is returned even with dots in the host', () => {
    assert.equal(nodeOfPid('<rfk-1@localhost.1.2345.0>'), 'rfk-1@localhost');
    assert.equal(nodeOfPid('<rabbit@r-0.h.ns.svc.cluster.local.12.3.4>'), 'rabbit@r-0.h.ns.svc.cluster.local');
    assert.equal(nodeOfPid('nonsense'), undefined);
  });

  it('GIVEN list_queues output with classic masters and quorum leaders WHEN counting THEN only replica queues count, by leader first', () => {
    const out = ['post_feed.replica.a\t<n1@h.1795426059.1302.0>\t\tclassic', 'post_feed.replica.b\t<n1@h.1.2.3>\tn2@h', 'other\t<n3@h.1.2.3>\t', ''].join('\n');
    const counts = leadersPerNode(out);
    assert.equal(counts.get('n1@h'), 1);
    assert.equal(counts.get('n2@h'), 1);
    assert.equal(counts.get('n3@h'), undefined);
  });

  it('GIVEN leader counts WHEN picking the victim THEN the node with the most wins and no leaders falls back to the seeded choice', () => {
    assert.equal(pickLeaderNode(new Map([['b', 3], ['a', 1]]), ['a', 'b', 'c'], 0), 1);
    assert.equal(pickLeaderNode(new Map(), ['a', 'b', 'c'], 2), 2);
  });

  it('GIVEN --scenario all or a list WHEN parsing THEN names come back, and an unknown one is an error naming the flag', () => {
    assert.deepEqual(parseScenarios('all'), [...SCENARIO_NAMES]);
    assert.deepEqual(parseScenarios('node-kill,app-kill'), ['node-kill', 'app-kill']);
    assert.throws(() => parseScenarios('nodekill'), /--scenario: "nodekill" is not a scenario/);
  });

  it('GIVEN every replica-queue leader on node 2 WHEN leader-partition runs THEN node 2 is cut off, healed, and the fault healed after it', async () => {
    const calls: string[] = [];
    await SCENARIOS['leader-partition'].run(scenarioContext(scriptedTarget(2, calls), calls));
    assert.deepEqual(calls, ['fault partition rabbit-2', 'cut 2', 'heal 2', 'healed partition rabbit-2']);
  });

  it('GIVEN a machine without the partition tools WHEN the local target is asked THEN both partition scenarios are skipped with the reason, the others run', () => {
    const stack = { spec: { rabbitmq: { netTicktimeSeconds: 10 } }, rabbit: { nodes: [] } } as unknown as LocalStack;
    const local = new LocalTarget(stack, 'iptables is missing');
    assert.deepEqual([...PARTITION_SCENARIOS].sort(), ['leader-partition', 'partition']);
    for (const s of PARTITION_SCENARIOS) assert.equal(local.unsupportedReason(s), 'iptables is missing', s);
    assert.equal(local.unsupportedReason('leader-pause'), undefined);
  });

  it('GIVEN a post text WHEN reading its nonce THEN the nonce round-trips', () => {
    assert.equal(nonceOf(postText('run-7')), 'run-7');
    assert.equal(nonceOf('hello'), undefined);
    assert.equal(nonceOf(42), undefined);
  });
});
