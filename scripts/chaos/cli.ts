/** Command line of `npm run chaos`: parsing (pure) and the run over targets, modes and scenarios. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppEnv, LOG_LEVELS, type LogLevel, mergeOverrides, overridesFromEnv, parseOverrides, QueueMode, resolveSpec } from '../../shared/index.js';
import { BOOLEAN, enumFlag, listFlag, numberFlag, parseFlags, parseOrExitCode, STRING, UsageError } from '../cli-args.js';
import { commitLabel, gitState } from '../local/git.js';
import { REPO_ROOT } from '../local/paths.js';
import { parseBudgetFlags, type BudgetOverride } from './budget.js';
import { CLIENT_KINDS, ClientKind } from './followers/kind.js';
import { KubernetesTarget } from './kubernetes.js';
import { LEGEND, renderSummaryTable, reportOk, runBroken, runOk, writeReport, type ChaosReport, type ScenarioRun } from './report.js';
import { runScenario, type RunOptions } from './run.js';
import { parseScenarios, SCENARIO_NAMES, type ScenarioName } from './scenarios.js';
import type { ChaosTarget } from './target.js';

export enum TargetKind {
  LOCAL = 'local',
  KUBERNETES = 'kubernetes',
}

/** Parsed command line. */
export interface ChaosOptions {
  readonly target: TargetKind;
  readonly scenarios: readonly ScenarioName[];
  readonly modes: readonly QueueMode[];
  /** Seconds of load per scenario (the heal may extend it). */
  readonly durationS: number;
  readonly seed: number;
  readonly smoke: boolean;
  readonly users: number;
  readonly postsPerSecond: number;
  /** Seconds a killed part stays down. */
  readonly downS: number;
  /** Where the JSON and HTML go. */
  readonly outDir: string;
  /** Kubernetes: the app's URL, the HS256 secret, an overrides file. */
  readonly url?: string;
  readonly jwtSecret?: string;
  readonly specFile?: string;
  /** Number of app replicas of the local twin. */
  readonly appReplicas: number;
  /** A saved report to print as the summary table instead of running anything. */
  readonly render?: string;
  /** Keep each local twin's work folder (app, RabbitMQ, HAProxy logs) even when every scenario passed. */
  readonly keep: boolean;
  /** Transports of the followers, assigned round-robin (`--clients ws,sse,graphql`); ws by default. */
  readonly clients: readonly ClientKind[];
  /** Stall budgets the verdict judges (`--budget`, `--no-budget`); issue 13's targets by default. */
  readonly budget: BudgetOverride;
  /** The local twin's app replicas log at this level (`--app-log-level`; `info` shows every connect and canary round). @default 'warn' */
  readonly appLogLevel: LogLevel;
}

export const USAGE = `usage: npm run chaos -- [--target local|kubernetes] [--scenario NAME[,NAME]|all] [--queue-mode mirrored|quorum|both]
                      [--duration S] [--seed N] [--smoke] [--users N] [--rate POSTS_PER_S] [--down S] [--apps N] [--out DIR] [--keep]
                      [--clients ws,sse,graphql] [--app-log-level warn|info|debug]
                      [--budget KEY=DURATION[,KEY=DURATION] | --no-budget]
                      [--url URL --jwt-secret S --spec FILE]   (kubernetes target; JWT_SECRET also works)
       npm run chaos -- --render reports/chaos-<timestamp>.json   (print a saved report's summary table)
scenarios: ${SCENARIO_NAMES.join(' ')}
--budget: replaces issue 13's per-scenario targets for every scenario of the run; keys p99 (fault-window p99),
          wait (worst follower wait), drained; durations like 1500ms, 1.5s, 2m, or off; e.g. --budget p99=30s,wait=40s
--clients: the followers' transports, any of ${CLIENT_KINDS.join(',')} (default ws); follower i uses the (i mod n)th, and
           the report splits delivered and lost by transport
--no-budget: judge loss, unexpected deliveries and operator actions only`;

export { UsageError };

const QUEUE_MODES_OR_BOTH = [...Object.values(QueueMode), 'both'] as const;

/** Parses argv (without node and script). Throws {@link UsageError}. */
export function parseChaosArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): ChaosOptions {
  const v = parseFlags(argv, {
    target: STRING, scenario: STRING, 'queue-mode': STRING, duration: STRING, seed: STRING, smoke: BOOLEAN, users: STRING, rate: STRING,
    down: STRING, out: STRING, url: STRING, 'jwt-secret': STRING, spec: STRING, apps: STRING, render: STRING, keep: BOOLEAN,
    budget: STRING, 'no-budget': BOOLEAN, clients: STRING, 'app-log-level': STRING,
  }).values;
  const target = enumFlag('target', v.target, Object.values(TargetKind)) ?? TargetKind.LOCAL;
  const smoke = v.smoke ?? false;
  const scenarios = parseScenarios(v.scenario ?? (smoke ? 'node-kill,app-kill' : 'all'));
  const modeRaw = enumFlag('queue-mode', v['queue-mode'], QUEUE_MODES_OR_BOTH) ?? (smoke ? QueueMode.MIRRORED : target === TargetKind.KUBERNETES ? undefined : 'both');
  const modes = modeRaw === undefined ? [] : modeRaw === 'both' ? [QueueMode.MIRRORED, QueueMode.QUORUM] : [modeRaw];
  if (target === TargetKind.KUBERNETES && modes.length > 1) {
    throw new UsageError('--queue-mode: a Kubernetes cluster runs one mode; give the one it was deployed with (mirrored or quorum)');
  }
  const jwtSecret = v['jwt-secret'] ?? env[AppEnv.JWT_SECRET];
  if (target === TargetKind.KUBERNETES && v.url === undefined) {
    throw new UsageError('--url: the kubernetes target needs the feed app URL, e.g. --url http://localhost:8080 after kubectl port-forward');
  }
  return {
    target,
    scenarios,
    modes,
    durationS: numberFlag('duration', v.duration, { min: 5 }, smoke ? 30 : 40),
    seed: Math.floor(numberFlag('seed', v.seed, { min: 0 }, Math.floor(Math.random() * 2 ** 31))),
    smoke,
    users: Math.floor(numberFlag('users', v.users, { min: 2 }, smoke ? 20 : 30)),
    postsPerSecond: numberFlag('rate', v.rate, { min: 0.1 }, 10),
    downS: numberFlag('down', v.down, { min: 0 }, 5),
    outDir: v.out ?? join(REPO_ROOT, 'reports'),
    appReplicas: Math.floor(numberFlag('apps', v.apps, { min: 2 }, 3)),
    keep: v.keep ?? false,
    budget: parseBudgetFlags(v.budget, v['no-budget'] ?? false),
    clients: parseClients(v.clients),
    appLogLevel: enumFlag('app-log-level', v['app-log-level'], LOG_LEVELS) ?? 'warn',
    ...(v.url !== undefined ? { url: v.url } : {}),
    ...(jwtSecret !== undefined ? { jwtSecret } : {}),
    ...(v.spec !== undefined ? { specFile: v.spec } : {}),
    ...(v.render !== undefined ? { render: v.render } : {}),
  };
}

/** `--clients`: a comma-separated subset of {@link CLIENT_KINDS} (or all), each once, in the order given; ws when absent. */
export function parseClients(raw: string | undefined): ClientKind[] {
  if (raw === undefined) return [ClientKind.WS];
  return [...new Set(listFlag('clients', raw, CLIENT_KINDS, 'client transport'))];
}

/** Writes a progress line (stderr; stdout carries the summary). */
export function progressLine(line: string): void {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** A target for one queue mode; `close` tears down what it started. */
export interface OpenedTarget {
  readonly target: ChaosTarget;
  /** Tears down what was started; `failed` keeps logs and data for a post-mortem. */
  close(failed: boolean): Promise<void>;
}

/** Opens the local twin in `mode`; injected so tests and the CLI share the loop below. */
export type LocalOpener = (mode: QueueMode, opts: ChaosOptions, log: (line: string) => void) => Promise<OpenedTarget>;

/** Runs every scenario in every mode; writes the report after each scenario, so a cut-short run keeps what it measured. */
export async function runChaos(opts: ChaosOptions, openLocal: LocalOpener, log: (line: string) => void = progressLine): Promise<{ report: ChaosReport; files: { json: string; html: string } }> {
  const started = new Date();
  const git = gitState(REPO_ROOT);
  const runs: ScenarioRun[] = [];
  const runOpts: RunOptions = {
    seed: opts.seed,
    durationS: opts.durationS,
    users: opts.users,
    postsPerSecond: opts.postsPerSecond,
    downS: opts.downS,
    budget: opts.budget,
    clients: opts.clients,
    log,
  };
  const build = (): ChaosReport => ({
    target: opts.target,
    seed: opts.seed,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    runTimeS: Math.round((Date.now() - started.getTime()) / 1000),
    gitCommit: git.commit,
    gitDirty: git.dirty,
    options: { ...opts, jwtSecret: opts.jwtSecret === undefined ? undefined : '(set)', node: process.version },
    runs,
  });
  let files = writeReport(build(), opts.outDir);
  log(`seed ${opts.seed}; scenarios ${opts.scenarios.join(', ')}; report ${files.html}`);

  const open = async (mode: QueueMode | undefined): Promise<OpenedTarget> => {
    if (opts.target === TargetKind.LOCAL) return openLocal(mode!, opts, log);
    const overrides = opts.specFile ? parseOverrides(readFileSync(opts.specFile, 'utf8'), opts.specFile) : {};
    const spec = resolveSpec(mergeOverrides(overrides, overridesFromEnv(process.env)));
    const t = new KubernetesTarget({
      spec,
      url: opts.url!,
      ...(opts.jwtSecret !== undefined ? { jwtSecret: opts.jwtSecret } : {}),
      ...(mode !== undefined ? { queueMode: mode } : {}),
      log,
    });
    await t.resolveJwtSecret();
    return { target: t, close: async () => undefined };
  };

  for (const mode of opts.modes.length ? opts.modes : [undefined]) {
    log(`opening the ${opts.target} target${mode ? ` in ${mode} mode` : ''}`);
    let opened: OpenedTarget | undefined;
    let failed = false;
    try {
      opened = await open(mode);
      for (const [k, scenario] of opts.scenarios.entries()) {
        log(`scenario ${scenario} (${opened.target.queueMode}) starting`);
        const run = await runScenario(opened.target, scenario, runOpts);
        runs.push(run);
        failed ||= !runOk(run);
        files = writeReport(build(), opts.outDir);
        if (runBroken(run) && opts.target === TargetKind.LOCAL && k < opts.scenarios.length - 1) {
          // A stack left broken would fail every later scenario for the same reason: start a fresh twin.
          log(`${scenario} failed: replacing the twin so the next scenarios start from a healthy stack`);
          await opened.close(true);
          opened = undefined;
          opened = await open(mode);
        }
      }
    } catch (e) {
      failed = true;
      const error = `target failed: ${e instanceof Error ? e.message : String(e)}`;
      log(error);
      for (const scenario of opts.scenarios) {
        if (!runs.some((r) => r.scenario === scenario && r.mode === (mode ?? opened?.target.queueMode))) {
          runs.push({ scenario, mode: mode ?? 'unknown', startedAt: Date.now(), durationS: 0, faults: [], counters: {}, error });
        }
      }
    } finally {
      await opened?.close(failed).catch((e: Error) => log(`teardown failed: ${e.message}`));
    }
  }
  const report = build();
  files = writeReport(report, opts.outDir);
  return { report, files };
}

/** The CLI: parse, run, print the summary, exit non-zero on any loss, unexpected delivery or error. */
export async function main(argv: readonly string[], openLocal: LocalOpener): Promise<number> {
  const parsed = parseOrExitCode(USAGE, () => parseChaosArgs(argv));
  if (!parsed.ok) return parsed.exitCode;
  const opts = parsed.value;
  if (opts.render !== undefined) {
    let saved: ChaosReport;
    try {
      saved = JSON.parse(readFileSync(opts.render, 'utf8')) as ChaosReport;
    } catch (e) {
      process.stderr.write(`--render: cannot read "${opts.render}": ${(e as Error).message}\n`);
      return 2;
    }
    process.stdout.write(`${renderSummaryTable(saved)}\n\n${LEGEND.join('\n')}\n\nrun time ${saved.runTimeS} s; seed ${saved.seed}${saved.gitCommit ? `; commit ${commitLabel(saved.gitCommit, saved.gitDirty)}` : ''}; ${reportOk(saved) ? 'PASS' : 'FAIL'}\n`);
    return reportOk(saved) ? 0 : 1;
  }
  const { report, files } = await runChaos(opts, openLocal);
  process.stdout.write(`\n${renderSummaryTable(report)}\n\n${LEGEND.join('\n')}\n\nrun time ${report.runTimeS} s; commit ${commitLabel(report.gitCommit ?? 'unknown', report.gitDirty)}; report: ${files.json} and ${files.html}\n`);
  const ok = reportOk(report);
  process.stdout.write(ok ? 'PASS: nothing lost, nothing unexpected, nobody waited past the budget\n' : 'FAIL: see the table above\n');
  return ok ? 0 : 1;
}
