/**
 * The benchmark report: one JSON file per run (`reports/bench-<timestamp>.json`) and a terminal
 * table. Every figure sits next to the baseline measured in the same run on the same machine, and
 * the report records the command, the git commit and the machine (cores, memory, load).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { runSync } from '../shell.js';
import { ratio } from './stats.js';

/** One headline figure: ours against the baseline measured in the same run. */
export interface Figure {
  /** Scenario that produced it, e.g. `throughput`. */
  readonly scenario: string;
  /** What is measured, e.g. `max sustained delivery rate (mirrored)`. */
  readonly name: string;
  readonly unit: string;
  readonly ours: number | undefined;
  readonly baseline: number | undefined;
  /** What the baseline is, e.g. `raw amqplib publish→consume`. */
  readonly baselineName: string;
  /** ours / baseline. */
  readonly ratio: number | undefined;
  /** Target on the ratio, e.g. `≥ 0.8`; undefined when none. */
  readonly target?: string;
  /** What limits this figure on this machine. */
  readonly limit: string;
}

/** Builds a {@link Figure}, computing the ratio. */
export function figure(f: Omit<Figure, 'ratio'>): Figure {
  return { ...f, ratio: ratio(f.ours, f.baseline) };
}

/** The machine the run was on. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** 1-minute load average at the start. */
  readonly loadAvgAtStart: number;
  /** Erlang VMs (RabbitMQ nodes) running on the machine at the start, ours excluded (none started yet). */
  readonly otherBeamProcessesAtStart: number;
  /** True when other RabbitMQ VMs ran or the 1-minute load exceeded the core count at the start: figures are noisier. */
  readonly busy: boolean;
}

/** The result of one scenario (its details are scenario-specific). */
export interface ScenarioResult {
  readonly scenario: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly figures: readonly Figure[];
  readonly details: unknown;
  /** Set when the scenario failed; figures may then be partial. */
  readonly error?: string;
}

export interface BenchReport {
  readonly command: string;
  readonly gitCommit: string;
  /** True when the working tree had uncommitted changes under scripts/ or app/. */
  readonly gitDirty: boolean;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: MachineInfo;
  readonly scenarios: readonly ScenarioResult[];
  /** Things worth knowing when reading the figures (busy machine, skipped parts). */
  readonly notes: readonly string[];
}

/** Number of `beam.smp` processes on the machine (other engineers' RabbitMQ nodes before we start ours). */
export function countBeamProcesses(): number {
  try {
    const out = runSync('ps', ['-eo', 'comm='], { timeoutMs: 10_000 });
    return out.split('\n').filter((l) => l.trim() === 'beam.smp').length;
  } catch {
    return 0;
  }
}

/** Cores, memory and load of this machine. */
export function machineInfo(): MachineInfo {
  const cores = cpus().length;
  const load = Math.round(loadavg()[0]! * 100) / 100;
  const beams = countBeamProcesses();
  return {
    cores,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAvgAtStart: load,
    otherBeamProcessesAtStart: beams,
    busy: beams > 0 || load > cores,
  };
}

/** `bench-2026-11-23T10-00-00Z.json` for a date. */
export function reportFileName(at: Date): string {
  return `bench-${at.toISOString().slice(0, 19).replace(/:/g, '-')}Z.json`;
}

/** Writes the report atomically (temp file, rename); returns the path. */
export function writeBenchReport(report: BenchReport, outDir: string, at: Date): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, reportFileName(at));
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(tmp, file);
  return file;
}

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** The summary table: scenario, figure, ours, baseline, ratio, target, limit (pure). */
export function renderBenchTable(report: Pick<BenchReport, 'scenarios'>): string {
  const rows: string[][] = [['scenario', 'figure', 'ours', 'baseline', 'ratio', 'target', 'limit']];
  for (const s of report.scenarios) {
    if (s.error !== undefined) rows.push([s.scenario, `ERROR: ${s.error.slice(0, 80)}`, '', '', '', '', '']);
    for (const f of s.figures) {
      rows.push([f.scenario, `${f.name} [${f.unit}]`, fmt(f.ours), `${fmt(f.baseline)} (${f.baselineName})`, fmt(f.ratio), f.target ?? '', f.limit]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.min(c === 6 ? 70 : 60, Math.max(...rows.map((r) => r[c]!.length))));
  return rows.map((r) => r.map((cell, c) => pad(c === 6 ? cell : cell.slice(0, widths[c]), widths[c]!)).join('  ').trimEnd()).join('\n');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A README-ready Markdown table of a report: every figure with ours, baseline, ratio, target and limit (pure). */
export function renderBenchMarkdown(report: Pick<BenchReport, 'scenarios' | 'command' | 'gitCommit' | 'machine' | 'startedAt'>): string {
  const m = report.machine;
  const lines = [
    `Measured with \`${report.command}\` at commit \`${report.gitCommit.slice(0, 12)}\` on ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC, ` +
      `on ${m.cores} cores (${m.cpuModel}) and ${m.memoryGiB} GiB, Node ${m.node}${m.busy ? ' — the machine was shared with other workloads (busy), so figures are noisier' : ''}.`,
    '',
    '| scenario | figure | unit | ours | baseline (same run) | ratio | target | what limits it here |',
    '| --- | --- | --- | ---: | --- | ---: | --- | --- |',
  ];
  for (const s of report.scenarios) {
    if (s.error !== undefined) lines.push(`| ${s.scenario} | ERROR: ${mdCell(s.error)} | | | | | | |`);
    for (const f of s.figures) {
      lines.push(`| ${f.scenario} | ${mdCell(f.name)} | ${f.unit} | ${fmt(f.ours)} | ${fmt(f.baseline)} (${mdCell(f.baselineName)}) | ${fmt(f.ratio)} | ${f.target ?? ''} | ${mdCell(f.limit)} |`);
    }
  }
  return lines.join('\n');
}
