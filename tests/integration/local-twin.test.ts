/**
 * The local twin end to end through its CLI (`up`, `status`, `down` on real processes), its HAProxy
 * app front included. The front alone, against tiny backends, is tested in haproxy-app-front.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Routes, waitFor } from '../../shared/index.js';
import { signToken } from '../../app/src/auth/jwt.js';
import { readTwinState, isRecordedAlive } from '../../scripts/local/control.js';
import { parseStatsCsv } from '../../scripts/local/haproxy.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
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
    assert.equal(pidsOf(state, TwinRole.APP_FRONT).length, 1);
    for (const p of state.processes) assert.ok(isRecordedAlive(p), `${p.name} (pid ${p.pid}) is not running`);
  });

  test('GIVEN a running twin WHEN status runs THEN it exits 0 and lists every process as running', async () => {
    const status = await cli(workDir, ['status'], 60_000);
    assert.equal(status.code, 0, status.stderr);
    for (const p of state.processes) assert.match(status.stdout, new RegExp(`${p.name.replace(/[.@]/g, '\\$&')}\\s+pid ${p.pid}\\s+running`));
  });

  test('GIVEN bob follows alice WHEN alice posts through the app front THEN bob gets the frame on his WebSocket', async () => {
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

  // Changed with the HAProxy front: the Node balancer sent a failed request again to another replica;
  // like a Kubernetes Service, the front does not, so requests may fail until the check notices.
  test('GIVEN one app replica killed with -9 WHEN clients call the app front THEN requests sent to it fail with 502/503 (no retry on another replica) until the readiness check takes it out, then the other answers all', async () => {
    const victim = state.processes.find((p) => p.role === TwinRole.APP && p.name === 'app-0')!;
    process.kill(victim.pid, 'SIGKILL');
    const health = async () => (await fetch(`${state.urls.httpApi}${Routes.HEALTH}`)).status;
    const early = [];
    for (let i = 0; i < 4; i++) early.push(await health());
    // 503: connection refused; 502: the kernel accepted the connection while the process was dying.
    for (const s of early) assert.ok(s === 200 || s === 502 || s === 503, `status ${s}: ${early.join(',')}`);
    await waitFor('the app front to mark app-0 DOWN', async () => {
      const rows = parseStatsCsv(await (await fetch(`${state.urls.appFrontStats};csv`)).text());
      return rows.find((r) => r['svname'] === 'app-0')?.['status']?.startsWith('DOWN') || undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    for (let i = 0; i < 6; i++) assert.equal(await health(), 200);
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
