/**
 * The memory override the charts render, on a real RabbitMQ node: booted with
 * `total_memory_available_override_value` from the spec's container limit, the node's memory
 * high watermark is the relative watermark of that figure, not of this machine's memory (what the
 * node would see in a container without the override). Skips when rabbitmq-server is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MEMORY_HIGH_WATERMARK, memoryAvailableOverrideBytes, memoryQuantityBytes } from '../../rabbitmq-cluster/index.js';
import { resolveSpec, waitFor } from '../../shared/index.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { RABBITMQ_BIN_DIR, installedRabbitmqVersion, startRabbitCluster, type RabbitCluster } from '../../scripts/local/rabbitmq.js';

const missing = existsSync(`${RABBITMQ_BIN_DIR}/rabbitmq-server`) ? false : 'rabbitmq-server is not installed; skipping';
const spec = resolveSpec({ rabbitmq: { version: installedRabbitmqVersion() ?? '3.10.8', resources: { memoryLimit: '1Gi' } } });
const override = memoryAvailableOverrideBytes(memoryQuantityBytes('rabbitmq.resources.memoryLimit', spec.rabbitmq.resources.memoryLimit));

describe('RabbitMQ memory override on a real node', { skip: missing }, () => {
  const root = join(REPO_ROOT, '.local');
  mkdirSync(root, { recursive: true });
  const workDir = mkdtempSync(join(root, 'it-memory-override-'));
  let cluster: RabbitCluster;

  before(async () => {
    cluster = await startRabbitCluster({ spec, workDir, nodes: 1, namePrefix: 'rfkmem', totalMemoryAvailableBytes: override });
  });

  after(async () => {
    await cluster?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  test('GIVEN a 1Gi container limit WHEN the node runs with the rendered override THEN its memory limit is 0.6 of limit minus 20 %', async () => {
    // The management agent reports node stats a few seconds after boot.
    const memLimit = await waitFor(
      'the node\'s mem_limit in /api/nodes',
      async () => (await cluster.managementApi<Array<{ mem_limit?: number }>>(0, '/api/nodes'))[0]?.mem_limit,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.equal(override, 858993460);
    assert.ok(Math.abs(memLimit - override * MEMORY_HIGH_WATERMARK) <= 1, `mem_limit ${memLimit}, expected ${override * MEMORY_HIGH_WATERMARK}`);
  });
});
