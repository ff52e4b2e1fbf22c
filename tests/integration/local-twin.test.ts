/**
 * The local twin end to end through its CLI (`up`, `status`, `down` on real processes), and the
 * twin's load balancer against real HTTP/WebSocket backends.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { Routes, waitFor } from '../../shared/index.js';
import { signToken } from '../../app/src/auth/jwt.js';
import { readTwinState, isRecordedAlive } from '../../scripts/local/control.js';
import { startLoadBalancer, type Backend, type LoadBalancer } from '../../scripts/local/load-balancer.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { freePort } from '../../scripts/local/ports.js';
import { isPidAlive } from '../../scripts/local/process.js';
import { TwinRole, twinStateFile, type TwinState } from '../../scripts/local/twin.js';

const execFileAsync = promisify(execFile);
const root = join(REPO_ROOT, '.local');
mkdirSync(root, { recursive: true });

async function cli(workDir: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'local.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, FEEDKIT_WORKDIR: workDir },
      timeout: timeoutMs,
      maxBuffer: 8 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

function pidsOf(state: TwinState, role: TwinRole): number[] {
  return state.processes.filter((p) => p.role === role).map((p) => p.pid);
}

describe('npm run local (CLI on real processes)', () => {
  const workDir = mkdtempSync(join(root, 'it-twin-'));
  const stateFile = twinStateFile(workDir);
  let state: TwinState;

  before(async () => {
    const up = await cli(workDir, ['up', '--replicas', '2'], 400_000);
    assert.equal(up.code, 0, `local up failed:\n${up.stderr.slice(-3000)}`);
    assert.match(up.stdout, /feed WebSocket\s+ws:\/\/127\.0\.0\.1:\d+\/post\/feed\/posted/);
    state = readTwinState(stateFile)!;
  });

  after(async () => {
    // Whatever happened above, leave nothing running.
    const left = readTwinState(stateFile);
    if (left) await cli(workDir, ['down'], 180_000);
    rmSync(workDir, { recursive: true, force: true });
  });

  test('GIVEN local up WHEN it returns THEN the state file is private and records a live pid for every part', () => {
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
    assert.ok(state.jwtSecret.length >= 32);
    assert.equal(pidsOf(state, TwinRole.RABBITMQ).length, 3);
    assert.equal(pidsOf(state, TwinRole.HAPROXY).length, 2);
    assert.equal(pidsOf(state, TwinRole.APP).length, 2);
    assert.equal(pidsOf(state, TwinRole.POSTGRES).length, 1);
    assert.equal(pidsOf(state, TwinRole.LOAD_BALANCER).length, 1);
    for (const p of state.processes) assert.ok(isRecordedAlive(p), `${p.name} (pid ${p.pid}) is not running`);
  });

  test('GIVEN a running twin WHEN status runs THEN it exits 0 and lists every process as running', async () => {
    const status = await cli(workDir, ['status'], 60_000);
    assert.equal(status.code, 0, status.stderr);
    for (const p of state.processes) assert.match(status.stdout, new RegExp(`${p.name.replace(/[.@]/g, '\\$&')}\\s+pid ${p.pid}\\s+running`));
  });

  test('GIVEN bob follows alice WHEN alice posts through the load balancer THEN bob gets the frame on his WebSocket', async () => {
    const alice = await signToken(state.jwtSecret, 'alice', 600);
    const bob = await signToken(state.jwtSecret, 'bob', 600);
    const follow = await fetch(`${state.urls.httpApi}${Routes.FRIEND_SET}alice`, { method: 'PUT', headers: { authorization: `Bearer ${bob}` } });
    assert.equal(follow.status, 200);
    const ws = new WebSocket(`${state.urls.feedWebSocket}?token=${bob}`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    try {
      const frame = new Promise<Record<string, string>>((resolve) => ws.on('message', (d) => resolve(JSON.parse(String(d)))));
      const created = await fetch(`${state.urls.httpApi}${Routes.POST_CREATE}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'hello bob' }),
      });
      assert.equal(created.status, 200);
      const { id } = (await created.json()) as { id: string };
      const got = await Promise.race([frame, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no frame within 20 s')), 20_000))]);
      assert.equal(got['postId'], id);
      assert.equal(got['author_user_id'], 'alice');
    } finally {
      ws.close();
    }
  });

  test('GIVEN one app replica killed with -9 WHEN clients call the load balancer THEN every request is answered by the other', async () => {
    const victim = state.processes.find((p) => p.role === TwinRole.APP && p.name === 'app-0')!;
    process.kill(victim.pid, 'SIGKILL');
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${state.urls.httpApi}${Routes.HEALTH}`);
      assert.equal(res.status, 200);
    }
    const status = await cli(workDir, ['status'], 60_000);
    assert.equal(status.code, 1, 'status reports the killed replica');
    assert.match(status.stdout, /app-0\s+pid \d+\s+GONE/);
  });

  test('GIVEN a running twin WHEN down runs THEN every recorded pid is gone and the state file is removed', async () => {
    const down = await cli(workDir, ['down'], 180_000);
    assert.equal(down.code, 0, down.stderr);
    for (const p of state.processes) assert.equal(isPidAlive(p.pid) && isRecordedAlive(p), false, `${p.name} (pid ${p.pid}) still runs`);
    assert.equal(readTwinState(stateFile), undefined);
    assert.equal((await cli(workDir, ['status'], 60_000)).code, 3);
  });
});

describe('twin load balancer', () => {
  const servers: Server[] = [];
  const ready = [true, true, true];
  let lb: LoadBalancer;
  let lbPort: number;
  const backends: Backend[] = [];

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const server = createServer((req, res) => {
        if (req.url === Routes.READY) res.writeHead(ready[i] ? 200 : 503).end();
        else res.writeHead(200, { 'content-type': 'text/plain' }).end(`backend-${i}`);
      });
      const wss = new WebSocketServer({ server });
      wss.on('connection', (ws) => ws.send(`ws-backend-${i}`));
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      servers.push(server);
      backends.push({ host: '127.0.0.1', port });
    }
    lbPort = await freePort();
    lb = await startLoadBalancer({ port: lbPort, backends, checkIntervalMs: 100 });
  });

  after(async () => {
    await lb?.close();
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  const hit = async () => (await fetch(`http://127.0.0.1:${lbPort}/x`)).text();

  test('GIVEN three ready backends WHEN six requests arrive THEN each backend answers two', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await hit());
    for (const name of ['backend-0', 'backend-1', 'backend-2']) assert.equal(answers.filter((a) => a === name).length, 2, answers.join(','));
  });

  test('GIVEN a backend whose /readyz fails WHEN requests arrive THEN it gets none', async () => {
    const inRotation = () => lb.ready().some((b) => b.port === backends[1]!.port);
    ready[1] = false;
    try {
      await waitFor('the balancer to take backend-1 out of rotation', async () => (inRotation() ? undefined : true), { timeoutMs: 10_000, intervalMs: 50 });
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await hit());
      assert.ok(!answers.includes('backend-1'), answers.join(','));
    } finally {
      // The next tests expect all three backends again, as before this one.
      ready[1] = true;
      await waitFor('backend-1 back in rotation', async () => inRotation() || undefined, { timeoutMs: 10_000, intervalMs: 50 });
    }
  });

  test('GIVEN a WebSocket client WHEN it connects through the balancer THEN the upgrade reaches a backend', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${lbPort}/socket`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
    });
    ws.close();
    assert.match(first, /^ws-backend-\d$/);
  });
});
