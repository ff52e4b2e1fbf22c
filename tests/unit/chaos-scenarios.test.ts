import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { leadersPerNode, nodeOfPid, pickLeaderNode } from '../../scripts/chaos/leaders.js';
import { parseScenarios, SCENARIO_NAMES } from '../../scripts/chaos/scenarios.js';
import { nonceOf, postText } from '../../scripts/chaos/workload.js';

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

  it('GIVEN a post text WHEN reading its nonce THEN the nonce round-trips', () => {
    assert.equal(nonceOf(postText('run-7')), 'run-7');
    assert.equal(nonceOf('hello'), undefined);
    assert.equal(nonceOf(42), undefined);
  });
});
