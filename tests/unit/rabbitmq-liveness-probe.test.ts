/**
 * rabbitmq-cluster/liveness-probe.ts: the rendered check run by real bash against loopback stand-ins
 * for the node's Prometheus port: one that answers, one with no listener (the rabbit app stopped by
 * pause_minority), one that accepts and never answers (a hung VM), one that answers an error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LIVENESS_PASS, LIVENESS_SHELL, renderLivenessScript } from '../../rabbitmq-cluster/index.js';
import { RenderInputError } from '../../shared/index.js';

const PATH = '/metrics/detailed';
const REFUSED_S = 60;
const stateDir = mkdtempSync(join(tmpdir(), 'liveness-'));
let stateN = 0;
/** A fresh refused-since file per check, as each container starts with its own /tmp. */
const freshState = () => join(stateDir, `refused-since-${++stateN}`);
const servers: Server[] = [];
const sockets: Socket[] = [];

after(() => {
  rmSync(stateDir, { recursive: true, force: true });
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function httpStandIn(status: number): Promise<number> {
  return listen(createHttpServer((req, res) => res.writeHead(req.url === PATH ? status : 404).end('ok')));
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs the rendered script; exit code, stdout and how long it took. */
function runCheck(port: number, timeoutSeconds = 1, stateFile = freshState()): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  const script = renderLivenessScript({ port, path: PATH, timeoutSeconds, refusedSeconds: REFUSED_S, stateFile });
  const child = spawn(LIVENESS_SHELL, ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(killer);
    resolve({ code, out, ms: Date.now() - t0 });
  }));
}

describe('RabbitMQ liveness script', () => {
  it('GIVEN a node whose Prometheus endpoint answers 200 WHEN checked THEN it passes', async () => {
    const r = await runCheck(await httpStandIn(200));
    assert.equal(r.code, LIVENESS_PASS, r.out);
  });

  it('GIVEN a node with no listener (its rabbit app stopped by pause_minority) WHEN checked THEN it passes and says why', async () => {
    const r = await runCheck(await closedPort());
    assert.equal(r.code, LIVENESS_PASS);
    assert.match(r.out, /refused for 0 s: the rabbit app is stopped, the node is not hung/);
  });

  it('GIVEN a node that has refused connections for longer than refusedSeconds WHEN checked THEN it fails: the rabbit app never came back', async () => {
    const state = freshState();
    writeFileSync(state, `${Math.floor(Date.now() / 1000) - REFUSED_S - 40}\n`);
    const r = await runCheck(await closedPort(), 1, state);
    assert.notEqual(r.code, LIVENESS_PASS);
    assert.match(r.out, /refused for 10\d s: the rabbit app has not come back/);
  });

  it('GIVEN a refused-since record WHEN the node answers again THEN the record is cleared', async () => {
    const state = freshState();
    writeFileSync(state, `${Math.floor(Date.now() / 1000) - 30}\n`);
    const r = await runCheck(await httpStandIn(200), 1, state);
    assert.equal(r.code, LIVENESS_PASS);
    assert.equal(existsSync(state), false);
  });

  it('GIVEN a node that accepts the connection and never answers (a hung VM) WHEN checked THEN it fails after the timeout', async () => {
    const port = await listen(createTcpServer((socket) => sockets.push(socket)));
    const r = await runCheck(port, 1);
    assert.notEqual(r.code, LIVENESS_PASS);
    assert.match(r.out, /no answer within 1 s/);
    assert.ok(r.ms >= 900 && r.ms < 5000, `took ${r.ms} ms`);
  });

  it('GIVEN a node that answers 503 WHEN checked THEN it fails naming the status line', async () => {
    const r = await runCheck(await httpStandIn(503));
    assert.notEqual(r.code, LIVENESS_PASS);
    assert.match(r.out, /answered: HTTP\/1\.[01] 503/);
  });

  it('GIVEN a path with shell metacharacters WHEN rendered THEN it is refused naming the field', () => {
    assert.throws(() => renderLivenessScript({ port: 15692, path: "/x'; rm -rf /", timeoutSeconds: 2, refusedSeconds: REFUSED_S, stateFile: '/tmp/x' }), (e: unknown) => e instanceof RenderInputError && e.field === 'path');
  });
});
