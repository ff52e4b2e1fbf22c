/**
 * The app front's rendered haproxy.cfg on the real HAProxy, before three tiny HTTP/WebSocket
 * backends on loopback: `haproxy -c` accepts it, the random balance skips a replica whose /readyz fails
 * (requests and WebSocket upgrades alike), and a request that fails on one replica is an error to
 * the client, never retried on another — as through a Kubernetes Service. Skips when haproxy is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { resolveSpec, Routes, waitFor } from '../../shared/index.js';
import { HAPROXY_BIN, HaproxyFront, startHaproxy, type HaproxyInstance } from '../../scripts/local/haproxy.js';
import { freePort } from '../../scripts/local/ports.js';

const haproxyMissing = spawnSync(HAPROXY_BIN, ['-v']).error ? `${HAPROXY_BIN} is not installed (apt-get install haproxy); skipping` : false;

/** Header carrying a request's own id, so a backend's log shows which requests reached it. */
const REQUEST_ID = 'x-test-request';
/** Path on which a backend logs the request, then drops the connection without answering. */
const DROP_PATH = '/drop';

/** A tiny app replica: answers its name, says whether it is ready on /readyz, echoes WebSocket frames. */
class Backend {
  ready = true;
  /** Request ids seen, in order. */
  readonly seen: string[] = [];
  /** X-Forwarded-For of the last request. */
  forwardedFor: string | undefined;
  private server: Server | undefined;

  private constructor(readonly name: string, readonly port: number) {}

  static async start(name: string): Promise<Backend> {
    const b = new Backend(name, await freePort());
    await b.listen();
    return b;
  }

  /** Stops listening and cuts every connection, as a killed process would. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url === Routes.READY) {
        res.writeHead(this.ready ? 200 : 503).end();
        return;
      }
      this.record(req);
      if (req.url === DROP_PATH) req.socket.destroy();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(this.name);
    });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      this.record(req);
      ws.on('message', (data) => ws.send(`${this.name}:${String(data)}`));
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
    this.server = server;
  }

  private record(req: IncomingMessage): void {
    this.seen.push(String(req.headers[REQUEST_ID] ?? ''));
    this.forwardedFor = req.headers['x-forwarded-for'] as string | undefined;
  }
}

describe('HAProxy app front before real HTTP backends', { skip: haproxyMissing }, () => {
  const work = mkdtempSync(join(tmpdir(), 'feedkit-app-front-'));
  const backends: Backend[] = [];
  let front: HaproxyInstance;
  let nextId = 0;

  before(async () => {
    for (let i = 0; i < 3; i++) backends.push(await Backend.start(`backend-${i}`));
    front = await startHaproxy({
      spec: resolveSpec(),
      front: HaproxyFront.APP,
      workDir: work,
      name: 'app-front',
      servers: backends.map((b) => ({ name: b.name, host: '127.0.0.1', port: b.port })),
    });
    for (const b of backends) await front.waitForServerStatus(b.name, 'UP', 10_000);
  });

  after(async () => {
    await front?.stop();
    await Promise.all(backends.map((b) => b.kill()));
    rmSync(work, { recursive: true, force: true });
  });

  /** One request with a fresh id: the status and body the client got (status 0: the connection failed). */
  async function hit(path = '/x'): Promise<{ id: string; status: number; body: string }> {
    const id = `r${nextId++}`;
    try {
      const res = await fetch(`${front.url}${path}`, { headers: { [REQUEST_ID]: id }, signal: AbortSignal.timeout(10_000) });
      return { id, status: res.status, body: await res.text() };
    } catch {
      return { id, status: 0, body: '' };
    }
  }

  /** Sets backend i's readiness and waits until the front has acted on it. */
  async function setReady(i: number, ready: boolean): Promise<void> {
    backends[i]!.ready = ready;
    await front.waitForServerStatus(backends[i]!.name, ready ? 'UP' : 'DOWN', 10_000);
  }

  test('GIVEN the rendered config WHEN haproxy -c checks it THEN it is valid', () => {
    const r = spawnSync(HAPROXY_BIN, ['-c', '-f', front.configFile], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /Configuration file is valid/);
  });

  test('GIVEN three ready backends WHEN 90 requests arrive THEN every backend answers a share of them, with X-Forwarded-For set', async () => {
    const answers = [];
    for (let i = 0; i < 90; i++) answers.push((await hit()).body);
    // 30 each on average; fewer than 10 for any of the three happens about once in 1.3 million runs.
    for (const b of backends) assert.ok(answers.filter((a) => a === b.name).length >= 10, answers.join(','));
    assert.equal(backends[0]!.forwardedFor, '127.0.0.1');
  });

  test('GIVEN three clients whose requests come in lockstep, one per rotation each WHEN they repeat THEN a client is not sent to the same backend every time', async () => {
    const seenByFirst = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const [first] = [await hit(), await hit(), await hit()];
      seenByFirst.add(first!.body);
    }
    // Round robin sends the first of every three requests to the same backend; at random, all 12 alike is 1 in 177,000.
    assert.ok(seenByFirst.size > 1, `the first client always reached ${[...seenByFirst].join(',')}`);
  });

  test('GIVEN one backend holding open WebSockets and two idle ones WHEN requests arrive THEN the busy one still gets its share (no least-loaded preference, which after a kill favours the dead replica)', async () => {
    await setReady(1, false);
    await setReady(2, false);
    const sockets: WebSocket[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const ws = new WebSocket(`${front.url.replace(/^http/, 'ws')}${Routes.FEED_SOCKET}`);
        await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
        sockets.push(ws);
      }
      await setReady(1, true);
      await setReady(2, true);
      const answers = [];
      for (let i = 0; i < 90; i++) answers.push((await hit()).body);
      // 30 on average at one draw; below 14 is about 1 in 24,000 runs. Least loaded of two draws gave it 9.
      const busy = answers.filter((a) => a === backends[0]!.name).length;
      assert.ok(busy >= 14, `the backend holding 8 sockets answered ${busy} of 90`);
    } finally {
      for (const ws of sockets) ws.close();
      await setReady(1, true);
      await setReady(2, true);
    }
  });

  test('GIVEN two backends whose /readyz answers 503 WHEN requests and WebSocket upgrades arrive THEN only the ready one gets them', async () => {
    await setReady(1, false);
    await setReady(2, false);
    try {
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await hit());
      assert.deepEqual(answers.map((a) => `${a.status} ${a.body}`), Array(6).fill('200 backend-0'));
      for (let i = 0; i < 3; i++) {
        const ws = new WebSocket(`${front.url.replace(/^http/, 'ws')}${Routes.FEED_SOCKET}`);
        const echo = await new Promise<string>((resolve, reject) => {
          ws.once('open', () => ws.send(`hello-${i}`));
          ws.once('message', (d) => resolve(String(d)));
          ws.once('error', reject);
        });
        ws.close();
        assert.equal(echo, `backend-0:hello-${i}`);
      }
    } finally {
      // The next tests expect all three backends in rotation again.
      await setReady(1, true);
      await setReady(2, true);
    }
  });

  test('GIVEN a backend that drops a request mid-way WHEN the front sees the connection close THEN the client gets an error and the request reached one backend once', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await hit(DROP_PATH);
      // 502 on a fresh client connection; on a kept-alive one HAProxy closes it without an answer.
      assert.ok(r.status === 502 || r.status === 0, `request ${r.id}: ${r.status} ${r.body}`);
      const receivers = backends.flatMap((b) => b.seen.filter((id) => id === r.id).map(() => b.name));
      assert.equal(receivers.length, 1, `request ${r.id} reached ${receivers.join(', ')}: it was sent again`);
    }
  });

  test('GIVEN a backend killed while in rotation WHEN requests arrive before the check notices THEN those sent to it fail with 503 and are not retried on another (as a Kubernetes Service)', async () => {
    const victim = backends[0]!;
    await victim.kill();
    // Well within the 2 failed checks (1 s apart) the front needs to take it out of rotation.
    const early = [];
    for (let i = 0; i < 30; i++) early.push(await hit());
    const failed = early.filter((r) => r.status !== 200);
    // None of 30 at random is 1 in 190,000.
    assert.ok(failed.length > 0, `no request was sent to the killed backend: ${early.map((r) => r.body).join(',')}`);
    for (const r of failed) {
      assert.equal(r.status, 503, `request ${r.id}: ${r.status} ${r.body}`);
      const receivers = backends.filter((b) => b.seen.includes(r.id)).map((b) => b.name);
      assert.deepEqual(receivers, [], `request ${r.id} failed for the client but reached ${receivers.join(', ')}`);
    }
    for (const r of early.filter((x) => x.status === 200)) assert.notEqual(r.body, victim.name);

    await front.waitForServerStatus(victim.name, 'DOWN', 10_000);
    const later = [];
    for (let i = 0; i < 6; i++) later.push(await hit());
    assert.deepEqual(later.map((r) => r.status), Array(6).fill(200), 'once the check marks it down, the others answer everything');
  });
});
