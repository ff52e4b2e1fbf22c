/** Pure helpers of the `routing` benchmark: the designs' messages and copies, and the conclusion line. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CC_BATCH_MAX_RECIPIENTS } from '../../app/src/amqp/publisher.js';
import type { OutboxEntry } from '../../app/src/db/store.js';
import { decodeFeedMessage } from '../../app/src/ws/frame.js';
import { designMessages, expectedCopies, presenceRoutingKey, RoutingDesign, routingConclusion, type ConnectCost, type RoutingCell } from '../../scripts/bench/routing.js';
import { summarize } from '../../scripts/bench/stats.js';
import { QueueMode } from '../../shared/index.js';

const users = (n: number) => Array.from({ length: n }, (_, j) => `u${j}`);
const entry = (followerIds: readonly string[]): OutboxEntry => ({ outboxId: 'o1', post: { id: 'p1', authorId: 'a', text: 'hi', cursor: '7', createdAt: '2026-01-01T00:00:00.000Z' }, followerIds });
const replicaOf = (r: number) => (u: string) => `r${Number(u.slice(1)) % r}`;

describe('routing designs', () => {
  it('GIVEN 1000 followers on 3 replicas WHEN presence-routed THEN each chunk of ≤ 500 is addressed to the 3 replica keys and lists its recipients', () => {
    const msgs = designMessages(RoutingDesign.PRESENCE, entry(users(1000)), replicaOf(3));
    assert.equal(msgs.length, 1000 / CC_BATCH_MAX_RECIPIENTS);
    for (const m of msgs) {
      assert.deepEqual([m.routingKey, ...(m.cc ?? [])].sort(), ['r0', 'r1', 'r2'].map(presenceRoutingKey));
      const decoded = decodeFeedMessage(m.body, m.routingKey);
      assert.equal(decoded?.recipients.length, CC_BATCH_MAX_RECIPIENTS);
      assert.equal(decoded?.frame.postId, 'p1');
    }
  });

  it('GIVEN 10 followers WHEN broadcast with one key THEN the chunk has the first user key and no CC', () => {
    const [m, ...more] = designMessages(RoutingDesign.BROADCAST_ONE_KEY, entry(users(10)), replicaOf(3));
    assert.equal(more.length, 0);
    assert.equal(m?.routingKey, 'user.u0');
    assert.equal(m?.cc, undefined);
  });

  it('GIVEN per-user and broadcast WHEN built THEN they publish what the app publishes (user keys in CC)', () => {
    const [m] = designMessages(RoutingDesign.PER_USER, entry(users(3)), replicaOf(3));
    assert.deepEqual(m?.cc, ['user.u1', 'user.u2']);
    assert.deepEqual(designMessages(RoutingDesign.BROADCAST, entry(users(3)), replicaOf(3)), designMessages(RoutingDesign.PER_USER, entry(users(3)), replicaOf(3)));
  });

  it('GIVEN followers spread over R replicas WHEN counting expected copies THEN broadcast copies to all R per chunk, the others to the replicas holding recipients', () => {
    assert.equal(expectedCopies(RoutingDesign.BROADCAST, users(10), replicaOf(30), 30), 30);
    assert.equal(expectedCopies(RoutingDesign.PRESENCE, users(10), replicaOf(30), 30), 10);
    assert.equal(expectedCopies(RoutingDesign.PER_USER, users(1000), replicaOf(30), 30), 60);
    assert.equal(expectedCopies(RoutingDesign.BROADCAST_ONE_KEY, users(1000), replicaOf(3), 3), 6);
  });
});

describe('routingConclusion', () => {
  const cell = (replicas: number, design: RoutingDesign, publishP50: number, copies: number): RoutingCell => ({
    mode: QueueMode.MIRRORED,
    replicas,
    followers: 100,
    design,
    posts: 1,
    messagesPerPost: 1,
    copiesPerPost: copies,
    expectedCopiesPerPost: copies,
    publishMs: summarize([publishP50]),
    drainMs: summarize([publishP50]),
    deliveriesPerPost: 100,
  });
  const connect: ConnectCost[] = [{ mode: QueueMode.MIRRORED, samples: 1, bindUnbindMs: summarize([30]), presenceUpsertDeleteMs: summarize([1]), broadcastBrokerOps: 0 }];

  it('GIVEN broadcast within the tolerance at 3 replicas and 3× slower at 30 WHEN concluding THEN it favours broadcast at 3 and presence-routed at 30', () => {
    const lines = routingConclusion(
      [cell(3, RoutingDesign.BROADCAST, 11, 3), cell(3, RoutingDesign.PRESENCE, 10, 3), cell(30, RoutingDesign.BROADCAST, 30, 30), cell(30, RoutingDesign.PRESENCE, 10, 10)],
      connect,
    );
    assert.match(lines[0]!, /^at 3 replicas: .*favours broadcast/);
    assert.match(lines[1]!, /^at 30 replicas: .*copies 3×.*favours presence-routed/);
    assert.match(lines[2]!, /bind\+unbind p50 30 ms.*presence upsert\+delete p50 1 ms.*broadcast 0 operations/);
  });
});
