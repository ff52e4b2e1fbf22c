import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { leaderByQueue } from '../../scripts/chaos/leaders.js';
import { leaderMoves, splitSigns } from '../../scripts/chaos/soak.js';
import { REPLICA_QUEUE_PREFIX } from '../../shared/index.js';
import { parsePartitions } from '../../scripts/chaos/split.js';

const NAMES = ['r1@h', 'r2@h', 'r3@h'];
const LABELS = ['rabbit-0', 'rabbit-1', 'rabbit-2'];

describe('chaos soak: spurious failover signs', () => {
  it('GIVEN two leader snapshots WHEN one queue is led from another node THEN only that move is reported, and new or gone queues are not moves', () => {
    const before = new Map([['feed.replica.a', 'r1@h'], ['feed.replica.b', 'r2@h'], ['feed.replica.gone', 'r3@h']]);
    const after = new Map([['feed.replica.a', 'r1@h'], ['feed.replica.b', 'r3@h'], ['feed.replica.new', 'r1@h']]);
    assert.deepEqual(leaderMoves(before, after), ['feed.replica.b: r2@h → r3@h']);
  });

  it('GIVEN list_queues output of a quorum and a classic queue WHEN read THEN each maps to its leader or its master node', () => {
    const [q, c] = [`${REPLICA_QUEUE_PREFIX}q`, `${REPLICA_QUEUE_PREFIX}c`];
    const out = `${q}\t<r1@h.1.2.0>\tr2@h\n${c}\t<r3@h.1.5.0>\t\nother\t<r1@h.1.1.0>\tr1@h\n`;
    assert.deepEqual([...leaderByQueue(out)], [[q, 'r2@h'], [c, 'r3@h']]);
  });

  it('GIVEN node views WHEN one node misses a peer or reports a partition THEN each is a sign, and a node that did not answer is not', () => {
    const views = [
      { running: NAMES, partitions: [] },
      { running: ['r1@h', 'r2@h'], partitions: ['r3@h'] },
      { error: 'timeout' },
    ];
    assert.deepEqual(splitSigns(LABELS, NAMES, views), ['rabbit-1 sees r3@h not running', 'rabbit-1 reports partitions with r3@h']);
    assert.deepEqual(splitSigns(LABELS, NAMES, [{ running: NAMES }, { running: NAMES }, { running: NAMES }]), []);
  });

  it('GIVEN cluster_status JSON WHEN partitions are read THEN an empty map is none and a map of node to peers names them all', () => {
    assert.deepEqual(parsePartitions('{"running_nodes":[],"partitions":{}}'), []);
    assert.deepEqual(parsePartitions('warning line\n{"partitions":{"r1@h":["r3@h"]}}'), ['r1@h', 'r3@h']);
    assert.deepEqual(parsePartitions('{"running_nodes":["r1@h"]}'), []);
  });
});
