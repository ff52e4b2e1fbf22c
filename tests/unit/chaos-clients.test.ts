/** The chaos client mix (`--clients`): flag parsing, round-robin assignment, per-transport figures in the checker and the summary. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseChaosArgs, UsageError } from '../../scripts/chaos/cli.js';
import { check } from '../../scripts/chaos/checker.js';
import { graphqlFrame } from '../../scripts/chaos/followers/graphql.js';
import { wireFrame } from '../../scripts/chaos/followers/follower.js';
import { CLIENT_KINDS, clientFor, ClientKind } from '../../scripts/chaos/followers/kind.js';
import type { AckedPost, Delivery, History } from '../../scripts/chaos/history.js';
import { renderSummaryTable, type ChaosReport } from '../../scripts/chaos/report.js';
import { GRAPHQL_TRANSPORT } from '../../app/src/graphql/server.js';
import { SSE_TRANSPORT } from '../../app/src/sse/stream.js';
import { WS_TRANSPORT } from '../../app/src/ws/socket.js';
import { historyOf, T0 } from '../support/chaos-history.js';

describe('chaos --clients flag', () => {
  it('GIVEN no --clients WHEN parsing THEN every follower uses the WebSocket', () => {
    assert.deepEqual(parseChaosArgs([], {}).clients, [ClientKind.WS]);
  });

  it('GIVEN a subset WHEN parsing THEN it is kept in the order given, each once', () => {
    assert.deepEqual(parseChaosArgs(['--clients', 'sse,graphql'], {}).clients, [ClientKind.SSE, ClientKind.GRAPHQL]);
    assert.deepEqual(parseChaosArgs(['--clients', 'graphql,ws,graphql'], {}).clients, [ClientKind.GRAPHQL, ClientKind.WS]);
    assert.deepEqual(parseChaosArgs(['--clients', 'all'], {}).clients, CLIENT_KINDS);
  });

  it('GIVEN a bad or empty value WHEN parsing THEN a UsageError names the flag and the valid values', () => {
    for (const bad of ['websocket', 'ws,', '']) {
      assert.throws(
        () => parseChaosArgs(['--clients', bad], {}),
        (e: Error) => e instanceof UsageError && /^--clients: /.test(e.message) && /ws, sse, graphql/.test(e.message),
        `--clients "${bad}"`,
      );
    }
  });

  it('GIVEN the app\'s transport names WHEN compared with ClientKind THEN they are the same strings', () => {
    assert.deepEqual([ClientKind.WS, ClientKind.SSE, ClientKind.GRAPHQL], [WS_TRANSPORT, SSE_TRANSPORT, GRAPHQL_TRANSPORT]);
  });
});

describe('chaos follower assignment', () => {
  it('GIVEN three kinds and seven followers WHEN assigning THEN follower i gets kind i mod 3', () => {
    const kinds = [ClientKind.WS, ClientKind.SSE, ClientKind.GRAPHQL];
    assert.deepEqual(
      Array.from({ length: 7 }, (_, i) => clientFor(kinds, i)),
      ['ws', 'sse', 'graphql', 'ws', 'sse', 'graphql', 'ws'],
    );
    assert.deepEqual(Array.from({ length: 3 }, (_, i) => clientFor([ClientKind.SSE], i)), ['sse', 'sse', 'sse']);
  });

  it('GIVEN a WebSocket/SSE frame and a GraphQL postAdded WHEN mapped THEN both give the same wire frame', () => {
    const createdAt = new Date(T0).toISOString();
    const fromWs = wireFrame({ postId: '7', postText: 'chaos post nonce=x', author_user_id: 'carol', cursor: '42', createdAt });
    const fromGql = graphqlFrame({ postId: '7', postText: 'chaos post nonce=x', authorUserId: 'carol', cursor: '42', createdAt });
    assert.deepEqual(fromWs, fromGql);
    assert.equal(wireFrame({ type: 'hello' }), undefined);
  });
});

/** alice (ws), bob (sse) and dave (graphql) follow carol. */
function mixedHistory(parts: Partial<History>): History {
  return historyOf({
    users: ['alice', 'bob', 'carol', 'dave'],
    follows: [
      ['alice', 'carol'],
      ['bob', 'carol'],
      ['dave', 'carol'],
    ],
    followers: [
      { user: 'alice', transport: ClientKind.WS },
      { user: 'bob', transport: ClientKind.SSE },
      { user: 'dave', transport: ClientKind.GRAPHQL },
    ],
    ...parts,
  });
}

const post = (postId: string, ackAt: number): AckedPost => ({ postId, author: 'carol', nonce: `n-${postId}`, sentAt: ackAt - 5, ackAt });
const frame = (user: string, p: AckedPost, receivedAt: number): Delivery => ({ user, postId: p.postId, author: p.author, nonce: p.nonce, receivedAt });

describe('chaos checker per transport', () => {
  it('GIVEN the SSE follower missed a post and the GraphQL one got a duplicate WHEN checked THEN loss, duplicates and latency are counted against their transport', () => {
    const p1 = post('p1', T0 + 100);
    const p2 = post('p2', T0 + 200);
    const r = check(
      mixedHistory({
        acked: [p1, p2],
        deliveries: [frame('alice', p1, T0 + 110), frame('alice', p2, T0 + 210), frame('bob', p1, T0 + 120), frame('dave', p1, T0 + 130), frame('dave', p2, T0 + 230), frame('dave', p2, T0 + 240)],
      }),
    );
    assert.equal(r.lost, 1);
    assert.deepEqual(r.byTransport, {
      ws: { followers: 1, expected: 2, delivered: 2, lost: 0, duplicates: 0, p50Ms: 10, p99Ms: 10 },
      sse: { followers: 1, expected: 2, delivered: 1, lost: 1, duplicates: 0, p50Ms: 20, p99Ms: 20 },
      graphql: { followers: 1, expected: 2, delivered: 2, lost: 0, duplicates: 1, p50Ms: 30, p99Ms: 30 },
    });
  });

  it('GIVEN a history written before --clients WHEN checked THEN every follower counts as ws', () => {
    const p1 = post('p1', T0 + 100);
    const { followers: _, ...legacy } = mixedHistory({ acked: [p1], deliveries: [frame('alice', p1, T0 + 110)] });
    assert.deepEqual(check(legacy).byTransport, { ws: { followers: 3, expected: 3, delivered: 1, lost: 2, duplicates: 0, p50Ms: 10, p99Ms: 10 } });
  });

  it('GIVEN a mixed run WHEN the summary is rendered THEN a line gives delivered, lost and latency per transport', () => {
    const p1 = post('p1', T0 + 100);
    const result = check(mixedHistory({ acked: [p1], deliveries: [frame('alice', p1, T0 + 110), frame('dave', p1, T0 + 130)] }));
    const report: ChaosReport = {
      target: 'local',
      seed: 1,
      startedAt: new Date(T0).toISOString(),
      finishedAt: new Date(T0).toISOString(),
      runTimeS: 1,
      options: { clients: ['ws', 'sse', 'graphql'] },
      runs: [{ scenario: 'app-kill', mode: 'mirrored', startedAt: T0, durationS: 1, result, faults: [], counters: {} }],
    };
    assert.match(renderSummaryTable(report), /app-kill\/mirrored: by transport: ws \(1 followers\) delivered 1\/1 lost 0 dup 0 p50 10 ms p99 10 ms; sse \(1 followers\) delivered 0\/1 lost 1 dup 0; graphql \(1 followers\) delivered 1\/1 lost 0 dup 0 p50 30 ms p99 30 ms/);
  });
});
