/**
 * The twin's liveness watchdog on a real RabbitMQ node: a SIGSTOPped node fails the chart's HTTP
 * check and is killed and started again, as the kubelet would; a node the twin stopped on purpose is
 * left stopped.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveSpec, sleep, waitFor } from '../../shared/index.js';
import { checkNode, LivenessWatchdog } from '../../scripts/local/liveness.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { installedRabbitmqVersion, startRabbitCluster, type RabbitCluster } from '../../scripts/local/rabbitmq.js';

const LIVENESS = { enabled: true, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3, refusedSeconds: 60, terminationGracePeriodSeconds: 1 } as const;
const root = join(REPO_ROOT, '.local');
mkdirSync(root, { recursive: true });
const workDir = mkdtempSync(join(root, 'it-liveness-'));
let cluster: RabbitCluster;
let watchdog: LivenessWatchdog | undefined;

/** One check with the test's own refused-since file. */
function check(port: number, timeoutSeconds: number) {
  return checkNode(port, { timeoutSeconds, refusedSeconds: LIVENESS.refusedSeconds, stateFile: join(workDir, 'check-refused-since') });
}

before(async () => {
  const spec = resolveSpec({ rabbitmq: { version: installedRabbitmqVersion() ?? '3.10.8', liveness: LIVENESS } });
  cluster = await startRabbitCluster({ spec, workDir, nodes: 1, namePrefix: 'rfkl' });
});

after(async () => {
  await watchdog?.stop();
  await cluster?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('liveness watchdog on a real node', () => {
  it('GIVEN a running node WHEN it is checked THEN it passes, and WHEN it is SIGSTOPped THEN the check times out', async () => {
    const port = cluster.nodes[0]!.prometheusPort;
    assert.deepEqual(await check(port, 2), { ok: true });
    cluster.pauseNode(0);
    try {
      const r = await check(port, 1);
      assert.equal(r.ok, false);
      assert.match(r.detail ?? '', /no answer within 1 s/);
    } finally {
      cluster.resumeNode(0);
    }
  });

  it('GIVEN the watchdog WHEN the node hangs THEN it is killed after the threshold and runs again as a new process', async () => {
    watchdog = new LivenessWatchdog(cluster, LIVENESS);
    await sleep(1500); // a passed check first: failures count only after one
    const before = cluster.nodes[0]!.groupPid;
    cluster.pauseNode(0);
    await waitFor('the hung node restarted by the watchdog', async () => (watchdog!.restarts === 1 ? true : undefined), { timeoutMs: 90_000, intervalMs: 200 });
    assert.ok(cluster.isUp(0), 'running, not paused');
    assert.notEqual(cluster.nodes[0]!.groupPid, before, 'a new process');
    // Booted as far as AMQP; the Prometheus listener comes with the plugins a moment later.
    await waitFor('the restarted node passing the check', async () => ((await check(cluster.nodes[0]!.prometheusPort, 2)).ok || undefined), { timeoutMs: 30_000, intervalMs: 200 });
  });

  it('GIVEN the watchdog WHEN the twin stops a node on purpose THEN it stays stopped', async () => {
    assert.ok(watchdog, 'the previous test started the watchdog');
    await cluster.stopNode(0);
    await sleep(LIVENESS.periodSeconds * (LIVENESS.failureThreshold + 2) * 1000);
    assert.equal(cluster.nodes[0]!.groupPid, undefined, 'not started again');
    assert.equal(watchdog.restarts, 1);
  });
});
