/**
 * The local process library against real RabbitMQ and HAProxy processes: a cluster booted from the
 * rendered config forms, survives kill -9 and a full stop, and HAProxy balances over it and marks
 * a dead node DOWN.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { EXCHANGE, MIRRORED_POLICY_DEFINITION, POLICY_NAME, QueueMode, resolveSpec, sleep, waitFor } from '../../shared/index.js';
import { parseStatsCsv, startHaproxy, type HaproxyInstance } from '../../scripts/local/haproxy.js';
import { installedRabbitmqVersion, startRabbitCluster, type RabbitCluster, type RabbitNode } from '../../scripts/local/rabbitmq.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';

const version = installedRabbitmqVersion() ?? '3.10.8';
const root = join(REPO_ROOT, '.local');
mkdirSync(root, { recursive: true });

function nodeNamed(cluster: RabbitCluster, nodename: string): RabbitNode {
  const node = cluster.nodes.find((n) => n.nodename === nodename);
  assert.ok(node, `no node ${nodename}`);
  return node;
}

async function sessionTotals(haproxy: HaproxyInstance): Promise<Map<string, number>> {
  const res = await fetch(`${haproxy.statsUrl};csv`);
  const rows = parseStatsCsv(await res.text()).filter((r) => r['svname'] !== 'BACKEND' && r['svname'] !== 'FRONTEND' && r['pxname'] === 'rabbitmq');
  return new Map(rows.map((r) => [r['svname'] ?? '', Number(r['stot'])]));
}

// The quorum cluster boots while the mirrored suite runs: node boots mostly wait, so this halves the file's run time.
const quorumSpec = resolveSpec({ rabbitmq: { version, queueMode: QueueMode.QUORUM } });
const quorumWorkDir = mkdtempSync(join(root, 'it-rabbit-quorum-'));
// Exits on their own are restarted after a second here (the twin waits the kubelet's 10 s).
const RESTART_AFTER_MS = 1000;
const quorumStarting = startRabbitCluster({ spec: quorumSpec, workDir: quorumWorkDir, nodes: 3, namePrefix: 'rfkq', restartExitedAfterMs: RESTART_AFTER_MS });
quorumStarting.catch(() => undefined); // awaited (and reported) by the quorum suite

describe('local RabbitMQ cluster in mirrored mode, behind HAProxy', () => {
  const spec = resolveSpec({ rabbitmq: { version, queueMode: QueueMode.MIRRORED } });
  const workDir = mkdtempSync(join(root, 'it-rabbit-mirrored-'));
  let cluster: RabbitCluster;
  let haproxy: HaproxyInstance;

  before(async () => {
    cluster = await startRabbitCluster({ spec, workDir, nodes: 3 });
    haproxy = await startHaproxy({
      spec,
      workDir: join(workDir, 'haproxy'),
      servers: cluster.nodes.map((n) => ({ name: n.nodename.split('@')[0]!, host: '127.0.0.1', port: n.amqpPort })),
    });
  });

  after(async () => {
    await haproxy?.stop();
    await cluster?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  test('GIVEN the rendered config for 3 nodes WHEN the cluster starts THEN 3 nodes run and each sees the mirrored ha-feed policy', async () => {
    assert.equal(cluster.nodes.length, 3);
    for (const node of cluster.nodes) {
      assert.deepEqual(await cluster.runningNodes(node.index), cluster.nodes.map((n) => n.nodename).sort());
      const policy = await cluster.policy(node.index, POLICY_NAME);
      assert.ok(policy, `${node.nodename} has no ${POLICY_NAME} policy`);
      assert.equal(policy.definition['ha-mode'], MIRRORED_POLICY_DEFINITION['ha-mode']);
      assert.ok(node.pid !== undefined && node.pid !== node.groupPid, 'the Erlang VM pid is known');
    }
  });

  test('GIVEN HAProxy in front WHEN three AMQP clients connect through it THEN each node gets one session and the exchange exists', async () => {
    const beforeTotals = await sessionTotals(haproxy);
    const url = new URL(haproxy.url);
    url.username = cluster.username;
    url.password = cluster.password;
    const conns = [];
    for (let i = 0; i < 3; i++) conns.push(await amqp.connect(url.toString()));
    try {
      const ch = await conns[0]!.createChannel();
      await ch.checkExchange(EXCHANGE);
      await ch.close();
      const afterTotals = await sessionTotals(haproxy);
      for (const [server, total] of afterTotals) {
        assert.equal(total - (beforeTotals.get(server) ?? 0), 1, `server ${server} got ${total - (beforeTotals.get(server) ?? 0)} sessions`);
      }
    } finally {
      for (const c of conns) await c.close().catch(() => undefined);
    }
  });

  test('GIVEN a node killed with -9 WHEN HAProxy checks it and it is restarted THEN HAProxy marks it DOWN, and it rejoins with the policy and is UP again', async () => {
    const victim = nodeNamed(cluster, cluster.nodes[1]!.nodename);
    const server = victim.nodename.split('@')[0]!;
    await cluster.killNode(victim.index);
    assert.equal(nodeNamed(cluster, victim.nodename).pid, undefined);
    await haproxy.waitForServerStatus(server, 'DOWN', 30_000);
    await cluster.waitForRunningNodes(2, 30_000);

    await cluster.startNode(victim.index);
    await cluster.waitForRunningNodes(3, 30_000);
    assert.ok(await cluster.policy(victim.index, POLICY_NAME), 'the restarted node has the policy');
    await haproxy.waitForServerStatus(server, 'UP', 30_000);
  });

  test('GIVEN all three nodes stopped WHEN they are started in parallel THEN the cluster re-forms without force_boot', async () => {
    await cluster.stopAll();
    assert.ok(cluster.nodes.every((n) => n.pid === undefined));
    await cluster.startAll();
    await cluster.waitForRunningNodes(3, 60_000);
    assert.ok(await cluster.policy(0, POLICY_NAME));
  });
});

describe('local RabbitMQ cluster in quorum mode', () => {
  let cluster: RabbitCluster;

  before(async () => {
    cluster = await quorumStarting;
  });

  after(async () => {
    await cluster?.stop();
    rmSync(quorumWorkDir, { recursive: true, force: true });
  });

  test('GIVEN the rendered config in quorum mode WHEN the cluster starts THEN 3 nodes run, no ha-feed policy exists, and the exchange does', async () => {
    await cluster.waitForRunningNodes(3, 10_000);
    for (const node of cluster.nodes) assert.equal(await cluster.policy(node.index, POLICY_NAME), undefined);
    const exchange = await cluster.managementApi<{ name: string; type: string; durable: boolean }>(0, `/api/exchanges/%2F/${EXCHANGE}`);
    assert.equal(exchange.durable, true);
  });

  test('GIVEN restarts after an exit WHEN a node stops on its own THEN it is started again and rejoins; WHEN the cluster kills a node THEN it stays down', async () => {
    const victim = cluster.nodes[2]!;
    const before = victim.groupPid;
    // `rabbitmqctl stop` ends the VM with code 0, as RabbitMQ 3.10 does on a feature-flag sync race during a parallel boot.
    await cluster.rabbitmqctl(victim.index, ['stop'], 30_000);
    await waitFor('the node started again', async () => {
      const n = cluster.nodes[victim.index]!;
      return n.groupPid !== undefined && n.groupPid !== before ? true : undefined;
    }, { timeoutMs: RESTART_AFTER_MS + 10_000, intervalMs: 100 });
    await cluster.waitForNode(victim.index, 120_000);
    await cluster.waitForRunningNodes(3, 30_000);

    await cluster.killNode(victim.index);
    // An absence has nothing to poll for: three restart delays pass without one.
    await sleep(RESTART_AFTER_MS * 3);
    assert.equal(cluster.nodes[victim.index]!.groupPid, undefined, 'a node the cluster killed is not restarted');
    assert.equal(cluster.nodes[victim.index]!.restartPending, false);
    await cluster.startNode(victim.index);
  });
});
