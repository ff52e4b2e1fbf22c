/** The chaos suite's GraphQL follower against a server that hangs in the WebSocket handshake (loopback TCP, no binaries). */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../shared/index.js';
import { CONNECT_TIMEOUT_MS } from '../../scripts/chaos/followers/follower.js';
import { GraphqlFollower } from '../../scripts/chaos/followers/graphql.js';

describe('GraphQL follower', () => {
  let server: Server;
  const held: Socket[] = [];

  before(async () => {
    // Accepts the connection and reads the upgrade request, answers nothing: a hung front or replica.
    server = createServer((s) => held.push(s.on('error', () => undefined)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('GIVEN a server that never answers the handshake WHEN the follower gives up on the attempt THEN nothing throws and the next attempt is scheduled', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    const counters: Record<string, number> = {};
    const { port } = server.address() as { port: number };
    const follower = new GraphqlFollower({ user: 'u1', token: 't', baseUrl: `http://127.0.0.1:${port}`, onFrame: () => undefined, counters, rand: () => 0.5, baseMs: 60_000, capMs: 60_000 });
    try {
      follower.connect();
      await waitFor('the upgrade request held by the server', async () => (held.length > 0 ? true : undefined), { timeoutMs: 5000, intervalMs: 10 });
      follower.keepAlive(Date.now() + CONNECT_TIMEOUT_MS + 1);
      // ws emits the 'error' of a close during the handshake with process.nextTick (abortHandshake):
      // every nextTick callback has run before the next setImmediate.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(uncaught, []);
      assert.deepEqual([counters['connectTimeouts'], counters['reconnects']], [1, 1]);
    } finally {
      follower.close();
      process.off('uncaughtException', onUncaught);
    }
  });
});
