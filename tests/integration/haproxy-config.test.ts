/**
 * The rendered haproxy.cfg against the real HAProxy: `haproxy -c` accepts both variants, and the
 * AMQP health check marks a real RabbitMQ node UP, a non-AMQP port DOWN, and the node DOWN once
 * it hangs (cutting its clients' sessions) or stops. Skips with a message when haproxy (or rabbitmq-server) is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { EXCHANGE, objectNames, QueueMode, replicaQueueArguments, replicaQueueName, resolveSpec, waitFor } from '../../shared/index.js';
import { HaproxyNames, haproxyServersForCluster, renderHaproxyCfg, type HaproxyCfgOptions } from '../../haproxy/index.js';
import {
  DEFAULT_USER_DEFINITIONS_FILE,
  DEFINITIONS_FILE,
  PeerDiscoveryKind,
  renderDefaultUserDefinitions,
  renderDefinitions,
  renderEnabledPlugins,
  renderRabbitmqConf,
} from '../../rabbitmq-cluster/index.js';
import { synth } from '../support/charts.js';

const HAPROXY = 'haproxy';
const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const haproxyMissing = spawnSync(HAPROXY, ['-v']).error ? 'haproxy is not installed (apt-get install haproxy); skipping' : false;
const rabbitMissing = haproxyMissing || (existsSync(RABBITMQ_SERVER) ? false : `${RABBITMQ_SERVER} is missing (apt-get install rabbitmq-server); skipping`);

const spec = resolveSpec();
const work = mkdtempSync(join(tmpdir(), 'feedkit-haproxy-'));
const children: ChildProcess[] = [];
/** Output of each started process, shown when a wait times out. */
const outputs = new Map<string, string[]>();

after(async () => {
  for (const child of children) stop(child);
  await Promise.all(children.map((child) => exited(child, 60_000).catch((e: Error) => console.error(e.message))));
  rmSync(work, { recursive: true, force: true });
});

function haproxyCheck(cfg: string, file: string): { status: number | null; output: string } {
  const path = join(work, file);
  writeFileSync(path, cfg);
  const r = spawnSync(HAPROXY, ['-c', '-f', path], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((ok) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => ok(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

/** Starts a process in its own group so stop() ends it and its children (never by name). */
function start(cmd: string, args: string[], env: NodeJS.ProcessEnv, label: string): ChildProcess {
  const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  outputs.set(label, chunks);
  child.stdout?.on('data', (d: Buffer) => chunks.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => chunks.push(d.toString()));
  children.push(child);
  return child;
}

function recentOutput(): string {
  return [...outputs].map(([label, chunks]) => `--- ${label}\n${chunks.join('').slice(-2000)}`).join('\n');
}

function stop(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

async function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`pid ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      ok();
    });
  });
}

/** Server status from the stats CSV (`svname` → `status`). */
async function statuses(statsPort: number): Promise<Map<string, string>> {
  const res = await fetch(`http://127.0.0.1:${statsPort}${HaproxyNames.STATS_PATH};csv`);
  const [header, ...rows] = (await res.text()).trim().split('\n');
  const cols = header!.replace(/^# /, '').split(',');
  const name = cols.indexOf('svname');
  const status = cols.indexOf('status');
  return new Map(rows.map((r) => r.split(',')).filter((c) => c[0] === HaproxyNames.BACKEND).map((c) => [c[name]!, c[status]!]));
}

/** Polls `probe` every 500 ms; a timeout also shows what HAProxy and RabbitMQ printed, the likeliest why. */
async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  await waitFor(what, async () => (await probe()) || undefined, { timeoutMs, intervalMs: 500 }).catch((e: Error) => {
    throw new Error(`${e.message}\n${recentOutput()}`);
  });
}

describe('haproxy -c accepts the rendered config', { skip: haproxyMissing }, () => {
  test('GIVEN the Kubernetes variant with resolvers and pod DNS names WHEN checked by haproxy -c THEN it is valid', () => {
    const r = haproxyCheck(renderHaproxyCfg(spec, { servers: haproxyServersForCluster(spec), resolvers: {} }), 'k8s.cfg');
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /Configuration file is valid/);
  });

  test("GIVEN the chart's ConfigMap haproxy.cfg WHEN checked by haproxy -c THEN it is valid (pod names need not resolve: init-addr none)", () => {
    const cfg: string = synth().get('ConfigMap', objectNames(spec.namespace).haproxyConfig).data['haproxy.cfg'];
    const r = haproxyCheck(cfg, 'chart.cfg');
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /Configuration file is valid/);
  });

  test('GIVEN the loopback variant WHEN checked by haproxy -c THEN it is valid', () => {
    const r = haproxyCheck(
      renderHaproxyCfg(spec, {
        servers: [1, 2, 3].map((i) => ({ name: `rabbit-${i}`, host: '127.0.0.1', port: 41000 + i })),
        amqpBind: { host: '127.0.0.1', port: 42001 },
        statsBind: { host: '127.0.0.1', port: 42002 },
      }),
      'loopback.cfg',
    );
    assert.equal(r.status, 0, r.output);
    assert.doesNotMatch(r.output, /WARNING|ALERT/);
  });
});

describe('the AMQP health check against a real RabbitMQ node', { skip: rabbitMissing }, () => {
  let node: ChildProcess;
  let statsPort: number;
  let frontPort: number;
  let managementPort: number;
  const username = 'feedkit';
  const password = randomBytes(16).toString('hex');

  before(async () => {
    const [amqp, mgmt, prom, dist, front, stats] = (await freePorts(6)) as [number, number, number, number, number, number];
    statsPort = stats;
    frontPort = front;
    managementPort = mgmt;
    const nodeName = `rfk-${randomBytes(4).toString('hex')}-1@localhost`;
    const home = join(work, 'home');
    const defs = join(work, 'definitions');
    mkdirSync(home);
    mkdirSync(defs);
    writeFileSync(join(home, '.erlang.cookie'), randomBytes(24).toString('hex'), { mode: 0o600 });
    writeFileSync(join(defs, DEFINITIONS_FILE), renderDefinitions(spec));
    writeFileSync(join(defs, DEFAULT_USER_DEFINITIONS_FILE), renderDefaultUserDefinitions(username, password), { mode: 0o600 });
    writeFileSync(join(work, 'enabled_plugins'), renderEnabledPlugins(PeerDiscoveryKind.CLASSIC));
    writeFileSync(join(work, 'rabbitmq.conf'), renderRabbitmqConf(spec, {
      peerDiscovery: { kind: PeerDiscoveryKind.CLASSIC, nodes: [nodeName] },
      definitionsPath: defs,
      amqp: { host: '127.0.0.1', port: amqp },
      management: { host: '127.0.0.1', port: mgmt },
      prometheus: { host: '127.0.0.1', port: prom },
    }));
    node = start(RABBITMQ_SERVER, [], {
      ...process.env,
      HOME: home,
      RABBITMQ_NODENAME: nodeName,
      RABBITMQ_NODE_PORT: String(amqp),
      RABBITMQ_DIST_PORT: String(dist),
      RABBITMQ_MNESIA_BASE: join(work, 'mnesia'),
      RABBITMQ_LOG_BASE: join(work, 'log'),
      RABBITMQ_CONFIG_FILE: join(work, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(work, 'enabled_plugins'),
    }, 'rabbitmq-server');

    // Two servers: the node's AMQP port, and its management HTTP port (open, but not AMQP).
    const options: HaproxyCfgOptions = {
      servers: [
        { name: 'amqp', host: '127.0.0.1', port: amqp },
        { name: 'http', host: '127.0.0.1', port: mgmt },
      ],
      amqpBind: { host: '127.0.0.1', port: front },
      statsBind: { host: '127.0.0.1', port: stats },
    };
    const cfg = join(work, 'live.cfg');
    writeFileSync(cfg, renderHaproxyCfg(spec, options));
    start(HAPROXY, ['-db', '-f', cfg], process.env, 'haproxy');
    await waitUntil('the RabbitMQ node to pass the AMQP check', 120_000, async () => (await statuses(statsPort)).get('amqp') === 'UP');
  });

  test('GIVEN a booted node WHEN HAProxy sends the 8-byte header THEN the AMQP port is UP', async () => {
    assert.equal((await statuses(statsPort)).get('amqp'), 'UP');
  });

  test('GIVEN definitions loaded at boot WHEN a client logs in through HAProxy THEN the default user works, the exchange exists and a replica queue gets the HA policy', async () => {
    const conn = await amqp.connect(`amqp://${username}:${password}@127.0.0.1:${frontPort}`);
    try {
      const channel = await conn.createChannel();
      await channel.checkExchange(EXCHANGE);
      const queue = replicaQueueName(`it-${randomBytes(3).toString('hex')}`);
      await channel.assertQueue(queue, { durable: true, arguments: replicaQueueArguments(QueueMode.MIRRORED, spec.rabbitmq.queueExpiresMs) });
      const auth = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      // The management API reports the applied policy with its next stats emission.
      await waitUntil(`queue ${queue} to show policy ${spec.rabbitmq.policy.name}`, 30_000, async () => {
        const res = await fetch(`http://127.0.0.1:${managementPort}/api/queues/%2F/${encodeURIComponent(queue)}`, { headers: { authorization: auth } });
        return ((await res.json()) as { policy?: string }).policy === spec.rabbitmq.policy.name;
      });
    } finally {
      await conn.close();
    }
  });

  test('GIVEN no guest in the definitions WHEN guest logs in through HAProxy THEN it is refused', async () => {
    await assert.rejects(amqp.connect(`amqp://guest:guest@127.0.0.1:${frontPort}`), /ACCESS.REFUSED/);
  });

  test('GIVEN an open port that does not speak AMQP WHEN checked THEN it is DOWN (the expect rule is not vacuous)', async () => {
    await waitUntil('the HTTP port to be marked down', 30_000, async () => (await statuses(statsPort)).get('http') === 'DOWN');
  });

  test('GIVEN a client connected through HAProxy WHEN the node hangs (SIGSTOP) THEN the check marks it DOWN and HAProxy cuts the session, long before AMQP heartbeats could', async () => {
    // heartbeat=0: only HAProxy can end this connection while the node is stopped.
    const conn = await amqp.connect(`amqp://${username}:${password}@127.0.0.1:${frontPort}?heartbeat=0`);
    const closed = new Promise<number>((ok) => conn.on('close', () => ok(Date.now())));
    conn.on('error', () => undefined);
    const stoppedAt = Date.now();
    // The whole group: rabbitmq-server is a script whose child is the Erlang VM.
    process.kill(-node.pid!, 'SIGSTOP');
    try {
      await waitUntil('the hung node to be marked down', 30_000, async () => (await statuses(statsPort)).get('amqp')?.startsWith('DOWN') ?? false);
      const cutAfterMs = (await closed) - stoppedAt;
      console.log(`hung node: session cut ${cutAfterMs} ms after SIGSTOP`);
      assert.ok(cutAfterMs < spec.haproxy.amqpHeartbeatSeconds * 1000, `cut after ${cutAfterMs} ms, not before one AMQP heartbeat`);
    } finally {
      process.kill(-node.pid!, 'SIGCONT');
    }
    await waitUntil('the resumed node to be UP again', 30_000, async () => (await statuses(statsPort)).get('amqp') === 'UP');
  });

  test('GIVEN the node stops WHEN checked THEN it is marked DOWN', async () => {
    stop(node);
    await exited(node, 60_000);
    await waitUntil('the stopped node to be marked down', 30_000, async () => (await statuses(statsPort)).get('amqp')?.startsWith('DOWN') ?? false);
  });
});
