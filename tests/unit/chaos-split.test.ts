import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assessCluster, describeViews, parseRunningNodes, type NodeView } from '../../scripts/chaos/split.js';

const names = ['t-1@localhost', 't-2@localhost', 't-3@localhost'] as const;
const [n1, n2, n3] = names;

/** `rabbitmqctl cluster_status --formatter json` of 3.10 (trimmed to the keys that matter plus a few others). */
function clusterStatusJson(running: readonly string[], partitions: Record<string, string[]> = {}): string {
  return `${JSON.stringify({
    alarms: [],
    cluster_name: n1,
    disk_nodes: [...names],
    feature_flags: [{ name: 'quorum_queue', state: 'enabled' }],
    listeners: {},
    partitions,
    ram_nodes: [],
    running_nodes: running,
    versions: {},
  })}\n`;
}

const view = (running: readonly string[]): NodeView => ({ running: parseRunningNodes(clusterStatusJson(running)) });
const pausedError: NodeView = {
  error: `rabbitmqctl -n ${n3} cluster_status --formatter json failed: Error: this command requires the 'rabbit' app to be running on the target node. Start it with 'rabbitmqctl start_app'.`,
};

describe('chaos split detection', () => {
  it('GIVEN cluster_status JSON WHEN reading it THEN running_nodes comes back, and output without it is an error', () => {
    assert.deepEqual(parseRunningNodes(clusterStatusJson([n1, n2])), [n1, n2]);
    assert.throws(() => parseRunningNodes('Error: unable to perform an operation on node'), /no JSON object/);
    assert.throws(() => parseRunningNodes('{"cluster_name":"x"}'), /running_nodes/);
  });

  it('GIVEN every node sees all three running WHEN assessing THEN the cluster is whole', () => {
    const all = [n1, n2, n3];
    assert.deepEqual(assessCluster(names, [view(all), view(all), view(all)]), { kind: 'whole' });
  });

  it('GIVEN a 1|2 split after a resume (t-3 sees only itself, the others see each other) WHEN assessing THEN t-3 is the minority to restart', () => {
    const verdict = assessCluster(names, [view([n1, n2]), view([n1, n2]), view([n3])]);
    assert.equal(verdict.kind, 'split');
    assert.ok(verdict.kind === 'split');
    assert.deepEqual(verdict.minority, [2]);
    assert.deepEqual(verdict.majority, [0, 1]);
    assert.deepEqual(verdict.healing, []);
  });

  it('GIVEN the majority still lists t-3 but t-3 sees only itself WHEN assessing THEN t-3 is still the minority', () => {
    const verdict = assessCluster(names, [view([n1, n2, n3]), view([n1, n2, n3]), view([n3])]);
    assert.ok(verdict.kind === 'split');
    assert.deepEqual(verdict.minority, [2]);
  });

  it('GIVEN t-3 paused by pause_minority (its cluster_status errors) WHEN assessing THEN nothing is restarted: it is still self-healing', () => {
    const verdict = assessCluster(names, [view([n1, n2]), view([n1, n2]), pausedError]);
    assert.equal(verdict.kind, 'settling');
    assert.ok(verdict.kind === 'settling');
    assert.deepEqual(verdict.healing, [2]);
  });

  it('GIVEN no two nodes see each other WHEN assessing THEN there is no trusted majority and nothing to restart', () => {
    const verdict = assessCluster(names, [view([n1]), view([n2]), view([n3])]);
    assert.equal(verdict.kind, 'settling');
  });

  it('GIVEN a view per node WHEN describing them THEN each node label shows what it sees or its first error line', () => {
    const line = describeViews(['rabbit-0', 'rabbit-1', 'rabbit-2'], [view([n1, n2]), view([n1, n2]), pausedError]);
    assert.match(line, /rabbit-0 sees \[t-1@localhost, t-2@localhost\]/);
    assert.match(line, /rabbit-2: rabbitmqctl -n t-3@localhost cluster_status/);
  });

  it('GIVEN a view count that does not match the node count WHEN assessing THEN the error names views', () => {
    assert.throws(() => assessCluster(names, [view([n1])]), /views: got 1 views for 3 nodes/);
  });
});
