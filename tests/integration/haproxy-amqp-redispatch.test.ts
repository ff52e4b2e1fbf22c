/**
 * The rendered AMQP front against the real HAProxy when a node dies between two checks: the
 * clients' connects that reach it are redispatched to a live node, none is cut. The nodes are
 * stand-ins that answer the protocol header as a RabbitMQ node does (enough for the AMQP check);
 * what is under test is HAProxy with the rendered retry, redispatch and markdown settings.
 * Skips with a message when haproxy is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveSpec } from '../../shared/index.js';
import { HaproxyNames } from '../../haproxy/index.js';
import { HAPROXY_BIN, parseStatsCsv, startHaproxy, type HaproxyInstance } from '../../scripts/local/haproxy.js';

const haproxyMissing = spawnSync(HAPROXY_BIN, ['-v']).error ? `${HAPROXY_BIN} is not installed (apt-get install haproxy); skipping` : false;

/** `connection.start` as the check's regex reads it: a method frame on channel 0, a size, class 10 method 10, padding. */
const CONNECTION_START_STANDIN = Buffer.from('010000000000ff000a000a0000000000000000', 'hex');
/** The AMQP 0-9-1 protocol header a client opens with. */
const AMQP_HEADER = Buffer.from('414d515000000901', 'hex');
const CLIENTS = 9;

/** A stand-in node: answers the protocol header with a connection.start-shaped frame and holds the socket. */
class StandInNode {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server = createServer((socket) => {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
    socket.once('data', () => socket.write(CONNECTION_START_STANDIN));
  });

  async listen(): Promise<number> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    return (this.server.address() as { port: number }).port;
  }

  /** Stops listening and drops its sockets: connects to its port are refused from now on. */
  die(): void {
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
  }
}

/** Connects through the front and sends the protocol header; true when connection.start came back before the socket closed. */
function handshake(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(AMQP_HEADER));
    const done = (answered: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      ok(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('data', () => done(true));
    socket.once('close', () => done(false));
    socket.on('error', () => undefined);
  });
}

/** Connects HAProxy sent away from server `name` to another one (`wredis` of the stats CSV). */
async function redispatchedFrom(front: HaproxyInstance, name: string): Promise<number> {
  const rows = parseStatsCsv(await (await fetch(`${front.statsUrl};csv`, { signal: AbortSignal.timeout(5000) })).text());
  return Number(rows.find((r) => r['pxname'] === HaproxyNames.BACKEND && r['svname'] === name)?.['wredis'] ?? 0);
}

describe('the AMQP front when a node dies between two checks', { skip: haproxyMissing }, () => {
  const work = mkdtempSync(join(tmpdir(), 'feedkit-redispatch-'));
  const nodes = [new StandInNode(), new StandInNode(), new StandInNode()];
  let front: HaproxyInstance;

  before(async () => {
    const ports = await Promise.all(nodes.map((n) => n.listen()));
    front = await startHaproxy({
      spec: resolveSpec(),
      workDir: work,
      name: 'amqp-front',
      servers: ports.map((port, i) => ({ name: `node-${i}`, host: '127.0.0.1', port })),
    });
    for (let i = 0; i < nodes.length; i++) await front.waitForServerStatus(`node-${i}`, 'UP', 15_000);
  });

  after(async () => {
    await front?.stop();
    for (const n of nodes) n.die();
    rmSync(work, { recursive: true, force: true });
  });

  test('GIVEN a node that stops listening WHEN nine clients connect before a check sees it THEN each reaches a live node and none is cut', async () => {
    nodes[0]!.die();
    // Round robin sends three of the nine to the dead node: no check has failed twice yet.
    const answered = await Promise.all(Array.from({ length: CLIENTS }, () => handshake(front.port, 5000)));
    const redispatched = await redispatchedFrom(front, 'node-0');
    assert.ok(redispatched >= 1, 'no client connect reached the dead node (wredis 0): the test proved nothing');
    // With `observe layer4 ... on-error mark-down` the connect that marked the node down was cut (1 of 9, every time).
    assert.deepEqual(answered.map((a, i) => (a ? 'answered' : `client ${i} cut`)), Array(CLIENTS).fill('answered'), `see ${front.logFile}`);
    await front.waitForServerStatus('node-0', 'DOWN', 10_000);
  });
});
