/** Command line of `npm run bench`: parsing (pure), the scenario plans for full and quick runs, and the run. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QueueMode } from '../../shared/index.js';
import { BOOLEAN, listFlag, parseFlags, parseOrExitCode, STRING } from '../cli-args.js';
import { commitLabel, gitState } from '../local/git.js';
import { REPO_ROOT } from '../local/paths.js';
import { stopAllManaged } from '../local/process.js';
import { machineInfo, renderBenchMarkdown, renderBenchTable, writeBenchReport, type BenchReport, type Figure, type ScenarioResult } from './report.js';
import { benchLog, startBenchStack, type BenchStack } from './stack.js';
import { runConnectRate } from './connect-rate.js';
import { runConnections } from './connections.js';
import { runFailoverAtScale } from './failover-at-scale.js';
import { runFailoverGap } from './failover-gap.js';
import { runFanout } from './fanout.js';
import { runReconnectStorm } from './reconnect-storm.js';
import { runRouting } from './routing.js';
import { runThroughput } from './throughput.js';

/** Scenario names, in the order `all` runs them. */
export const BENCH_SCENARIOS = ['throughput', 'fanout', 'routing', 'connections', 'connect-rate', 'reconnect-storm', 'failover-gap', 'failover-at-scale'] as const;
export type BenchScenario = (typeof BENCH_SCENARIOS)[number];

export interface BenchOptions {
  /** Only print a saved report as a README-ready Markdown table (no run). */
  readonly render?: string;
  readonly scenarios: readonly BenchScenario[];
  readonly quick: boolean;
  readonly outDir: string;
}

export const BENCH_USAGE = `usage: npm run bench -- [--scenario NAME[,NAME]|all] [--quick] [--out DIR]
       npm run bench -- --render reports/bench-<timestamp>.json   (print a saved report as Markdown)
scenarios: ${BENCH_SCENARIOS.join(' ')}
--quick: a short form (smaller sizes, mirrored mode only, a few minutes for all scenarios) to check a change cheaply`;

/** Parses argv (without node and script). Throws a `UsageError` (scripts/cli-args.ts). */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const v = parseFlags(argv, { scenario: STRING, quick: BOOLEAN, out: STRING, render: STRING }).values;
  const scenarios = listFlag('scenario', v.scenario ?? 'all', BENCH_SCENARIOS, 'scenario');
  return { scenarios, quick: v.quick ?? false, outDir: v.out ?? join(REPO_ROOT, 'reports'), ...(v.render !== undefined ? { render: v.render } : {}) };
}

/** Queue modes a run covers: both in a full run, mirrored (the default) in a quick one. */
export function benchModes(quick: boolean): QueueMode[] {
  return quick ? [QueueMode.MIRRORED] : [QueueMode.MIRRORED, QueueMode.QUORUM];
}

type Runner = (stack: BenchStack, quick: boolean, log: (line: string) => void) => Promise<{ figures: Figure[]; details: unknown }>;

const RUNNERS: Record<BenchScenario, Runner> = {
  throughput: (stack, quick, log) =>
    runThroughput(stack, {
      modes: benchModes(quick),
      replicas: 2,
      authors: quick ? 10 : 20,
      followersPerAuthor: 10,
      windowS: quick ? 2 : 6,
      drainS: quick ? 3 : 15,
      latencyWindowS: quick ? 2 : 8,
      maxSteps: quick ? 3 : 8,
      refineSteps: quick ? 1 : 3,
      oursStartRate: quick ? 400 : 100,
      rawStartRate: quick ? 1000 : 500,
      log,
    }),
  fanout: (stack, quick, log) =>
    runFanout(stack, { modes: benchModes(quick), followerCounts: [10, 100, 1000], postsPerSize: quick ? 3 : 20, replicas: 3, log }),
  routing: (stack, quick, log) =>
    runRouting(stack, { modes: benchModes(quick), replicaCounts: [3, 30], followerCounts: [10, 100, 1000], postsPerCell: quick ? 5 : 20, connectSamples: quick ? 50 : 200, log }),
  connections: (stack, quick, log) =>
    runConnections(stack, { connections: quick ? 500 : 15_000, socketsPerUser: quick ? 1 : 5, mode: QueueMode.MIRRORED, settleS: quick ? 1 : 5, openTimeoutS: quick ? 60 : 240, log }),
  'connect-rate': (stack, quick, log) =>
    runConnectRate(stack, { sockets: quick ? 500 : 3000, concurrency: 200, mode: QueueMode.MIRRORED, openTimeoutS: quick ? 60 : 180, log }),
  'reconnect-storm': (stack, quick, log) =>
    runReconnectStorm(stack, { sockets: quick ? 500 : 5000, mode: QueueMode.MIRRORED, broadcastMessages: quick ? 500 : 5000, bindSample: quick ? 100 : 300, timeoutS: quick ? 90 : 240, log }),
  'failover-gap': (stack, quick, log) =>
    runFailoverGap(stack, { modes: benchModes(quick), kills: quick ? 1 : 20, downS: quick ? 1 : 2, settleS: quick ? 1 : 2, users: 12, postsPerSecond: 10, seed: 42, log }),
  'failover-at-scale': (stack, quick, log) =>
    runFailoverAtScale(stack, { mode: QueueMode.MIRRORED, userCounts: quick ? [0, 1000] : [0, 1000, 5000, 15_000], cuts: quick ? 1 : 8, postIntervalMs: 100, afterS: 2, cutTimeoutS: 120, openTimeoutS: quick ? 60 : 300, log }),
};

/** Runs the scenarios on one stack; writes the report after every scenario so a cut-short run keeps what it measured. */
export async function runBench(opts: BenchOptions, argv: readonly string[], log: (line: string) => void = benchLog): Promise<{ report: BenchReport; file: string }> {
  const started = new Date();
  const machine = machineInfo();
  const git = gitState(REPO_ROOT);
  const notes: string[] = [];
  if (machine.busy) {
    notes.push(`machine busy at start: ${machine.otherBeamProcessesAtStart} other RabbitMQ VM(s) running, 1-min load ${machine.loadAvgAtStart} on ${machine.cores} cores; figures are noisier than on an idle machine`);
  }
  if (git.dirty) notes.push('the working tree had uncommitted changes under scripts/, app/ or shared/ when this ran');
  const scenarios: ScenarioResult[] = [];
  const build = (): BenchReport => ({
    command: `npm run bench -- ${argv.join(' ')}`.trim(),
    gitCommit: git.commit,
    gitDirty: git.dirty,
    quick: opts.quick,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    scenarios,
    notes,
  });
  let file = writeBenchReport(build(), opts.outDir, started);
  log(`scenarios ${opts.scenarios.join(', ')}${opts.quick ? ' (quick)' : ''}; machine ${machine.cores} cores, ${machine.memoryGiB} GiB${machine.busy ? ' (busy)' : ''}; report ${file}`);
  const runId = `${started.toISOString().slice(0, 19).replace(/[:T]/g, '-')}-${randomBytes(2).toString('hex')}`;
  let stack: BenchStack | undefined;
  try {
    const t0 = Date.now();
    stack = await startBenchStack(runId);
    log(`stack up in ${Math.round((Date.now() - t0) / 1000)} s`);
    for (const name of opts.scenarios) {
      const s0 = Date.now();
      log(`scenario ${name} starting`);
      let result: ScenarioResult;
      try {
        const { figures, details } = await RUNNERS[name](stack, opts.quick, log);
        result = { scenario: name, startedAt: new Date(s0).toISOString(), durationS: Math.round((Date.now() - s0) / 1000), figures, details };
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        log(`scenario ${name} failed: ${error}`);
        result = { scenario: name, startedAt: new Date(s0).toISOString(), durationS: Math.round((Date.now() - s0) / 1000), figures: [], details: {}, error };
        await stack.stopApps().catch(() => undefined);
      }
      scenarios.push(result);
      file = writeBenchReport(build(), opts.outDir, started);
      log(`scenario ${name} done in ${result.durationS} s`);
    }
  } catch (e) {
    notes.push(`stack failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    log('stopping everything started here');
    await stack?.stop().catch((e: Error) => log(`teardown failed: ${e.message}`));
    await stopAllManaged(10_000);
  }
  const report = build();
  file = writeBenchReport(report, opts.outDir, started);
  return { report, file };
}

/** The CLI: parse, run, print the table; exit code 2 on bad flags, 1 when a scenario failed. */
export async function benchMain(argv: readonly string[]): Promise<number> {
  const parsed = parseOrExitCode(BENCH_USAGE, () => parseBenchArgs(argv));
  if (!parsed.ok) return parsed.exitCode;
  const opts = parsed.value;
  if (opts.render !== undefined) {
    let saved: BenchReport;
    try {
      saved = JSON.parse(readFileSync(opts.render, 'utf8')) as BenchReport;
    } catch (e) {
      process.stderr.write(`--render: cannot read "${opts.render}": ${(e as Error).message}\n`);
      return 2;
    }
    process.stdout.write(`${renderBenchMarkdown(saved)}\n`);
    return 0;
  }
  const { report, file } = await runBench(opts, argv);
  const m = report.machine;
  process.stdout.write(
    `\n${renderBenchTable(report)}\n\nmachine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}${m.busy ? ', BUSY at start (other RabbitMQ VMs or load above the core count)' : ''}; commit ${commitLabel(report.gitCommit, report.gitDirty)}\n` +
      `${report.notes.map((n) => `note: ${n}\n`).join('')}report: ${file}\n`,
  );
  return report.scenarios.some((s) => s.error !== undefined) || report.notes.some((n) => n.startsWith('stack failed')) ? 1 : 0;
}
