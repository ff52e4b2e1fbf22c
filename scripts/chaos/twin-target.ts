/** Opens the local twin as a chaos target: one fresh twin per queue mode, in its own work folder. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { QueueMode } from '../../shared/index.js';
import { REPO_ROOT } from '../local/paths.js';
import { ensureSystemPackages, PARTITION_REQUIREMENTS, SYSTEM_REQUIREMENTS } from '../local/system.js';
import { startTwin } from '../local/twin.js';
import type { ChaosOptions, OpenedTarget } from './cli.js';
import { LocalTarget } from './local-target.js';
import { partitionUnavailable } from './partition.js';
import { PARTITION_SCENARIOS } from './scenarios.js';

/** Where chaos twins live (git-ignored); a twin's folder is kept only when a scenario on it failed (for its logs). */
export const CHAOS_WORK_ROOT = join(REPO_ROOT, '.local', 'chaos');

/** Starts a twin in `mode` (never the `npm run local` one: its own folder, ports and node names). */
export async function openLocalTwin(mode: QueueMode, opts: ChaosOptions, log: (line: string) => void): Promise<OpenedTarget> {
  // As root, install what is missing (the partition scenario's tools too); otherwise the error names
  // the packages, and a partition without iptables is reported as skipped with the install command.
  const root = process.getuid?.() === 0;
  await ensureSystemPackages([...SYSTEM_REQUIREMENTS, ...(root && opts.scenarios.some((n) => PARTITION_SCENARIOS.has(n)) ? PARTITION_REQUIREMENTS : [])]);
  const workDir = join(CHAOS_WORK_ROOT, `${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  log(`starting the local twin (${mode}, ${opts.appReplicas} app replicas) in ${workDir}`);
  const started = Date.now();
  const twin = await startTwin({ workDir, queueMode: mode, appReplicas: opts.appReplicas, logLevel: opts.appLogLevel });
  log(`twin ready in ${Math.round((Date.now() - started) / 1000)} s at ${twin.baseUrl}`);
  const blocker = await partitionUnavailable();
  return {
    target: new LocalTarget(twin, blocker),
    close: async (failed) => {
      log(`stopping the ${mode} twin (by pid)`);
      await twin.stop();
      if (failed || opts.keep) log(`kept ${workDir} (${failed ? 'logs of the failed scenario' : '--keep'})`);
      else rmSync(workDir, { recursive: true, force: true });
    },
  };
}
