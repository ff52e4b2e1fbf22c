/**
 * The chaos report: a JSON file, a self-contained HTML page (inline SVG, no external assets) and a
 * terminal summary table. The renderers are pure; {@link writeReport} does the I/O.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commitLabel } from '../local/git.js';
import { describeBudget, overBudget, type Budget } from './budget.js';
import type { CheckResult, LatencyPoint } from './checker.js';
import type { FaultEvent } from './history.js';
import type { TransportFigures } from './per-transport.js';

/** One scenario in one queue mode. */
export interface ScenarioRun {
  readonly scenario: string;
  readonly mode: string;
  /** Load start (epoch ms). */
  readonly startedAt: number;
  /** Wall time of the whole scenario including heal and quiet period, seconds. */
  readonly durationS: number;
  /** Present when the scenario ran to its check. */
  readonly result?: CheckResult;
  /** Faults as injected (for the plot's marks). */
  readonly faults: readonly FaultEvent[];
  /** Workload counters (reconnects, failed create attempts, ...). */
  readonly counters: Readonly<Record<string, number>>;
  /** Why the scenario did not run (e.g. the machine cannot partition); not a failure. */
  readonly skipped?: string;
  /** Why the scenario broke before its check; a failure. */
  readonly error?: string;
  /** Lines shown with the run (reports before issue 13 put operator actions here, when they did not fail the run). */
  readonly notes?: readonly string[];
  /** Operator actions the scenario had to take to make the stack whole (e.g. restart a split-off node); each fails the run. */
  readonly operatorActions?: readonly string[];
  /** The stall budget the run was judged against; absent: nothing but loss is judged (or an older report). */
  readonly budget?: Budget;
}

export interface ChaosReport {
  readonly target: string;
  readonly seed: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly runTimeS: number;
  /** HEAD when the run started; absent in reports written before it was recorded. */
  readonly gitCommit?: string;
  /** True when scripts/, app/ or shared/ had uncommitted changes. */
  readonly gitDirty?: boolean;
  /** CLI options and workload parameters, for reproduction. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly runs: readonly ScenarioRun[];
}

/**
 * Why a run failed, one line per reason (an error, loss or unexpected deliveries, each operator
 * action, each figure over budget); empty when it passed or was skipped.
 */
export function failureReasons(run: ScenarioRun): string[] {
  if (run.skipped !== undefined) return [];
  const error = run.error !== undefined ? [`error: ${run.error}`] : [];
  const r = run.result;
  // A run that broke after its load still has figures: its stall is a reason of its own.
  if (!r) return error.length ? error : ['not checked'];
  return [
    ...error,
    ...(r.ok ? [] : [`lost ${r.lost}, unexpected ${r.unexpected}`]),
    ...(run.operatorActions ?? []).map((a) => `needed an ${a}`),
    ...overBudget(r, run.budget).map((o) => `over budget (${describeBudget(run.budget)}): ${o}`),
  ];
}

/**
 * A run passes when it was skipped, or it was checked with nothing lost, nothing unexpected, no
 * operator action, and its fault-window p99, worst follower wait and drain time within its budget.
 */
export function runOk(run: ScenarioRun): boolean {
  return failureReasons(run).length === 0;
}

/** True when the run left something broken (an error, a loss): the next scenario should get a fresh stack. */
export function runBroken(run: ScenarioRun): boolean {
  return run.skipped === undefined && (run.error !== undefined || run.result?.ok !== true);
}

/** True when every run passed. */
export function reportOk(report: ChaosReport): boolean {
  return report.runs.every(runOk);
}

function fmtS(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : v.toFixed(1);
}

/** The worst gap of a run: the fault with the longest drain (or flow-again) time. */
export function longestGap(run: ScenarioRun): { name: string; flowAgainS: number | null; drainedS: number | null } | undefined {
  const faults = run.result?.faults ?? [];
  let best: (typeof faults)[number] | undefined;
  const weight = (f: (typeof faults)[number]) => f.drainedS ?? f.flowAgainS ?? Number.POSITIVE_INFINITY;
  for (const f of faults) if (!best || weight(f) > weight(best)) best = f;
  return best && { name: best.name, flowAgainS: best.flowAgainS, drainedS: best.drainedS };
}

/** Column headers of the summary table. */
export const SUMMARY_COLUMNS = [
  'scenario',
  'mode',
  'verdict',
  'acked',
  'expected',
  'delivered',
  'lost',
  'dup',
  'unexp',
  'p50 ms',
  'p99 ms',
  'max ms',
  'fault p50 ms',
  'fault p99 ms',
  'fault max ms',
  'worst wait s',
  'flow again s',
  'drained s',
] as const;

/** Rows of the summary table (strings), one per run. */
export function summaryRows(report: ChaosReport): string[][] {
  return report.runs.map((run) => {
    const r = run.result;
    const verdict = run.skipped !== undefined ? 'SKIP' : runOk(run) ? 'PASS' : 'FAIL';
    if (!r) return [run.scenario, run.mode, verdict, ...SUMMARY_COLUMNS.slice(3).map(() => '-')];
    const worst = r.faults.reduce<{ flow: number | null; drain: number | null }>(
      (acc, f) => ({
        flow: f.flowAgainS === null ? acc.flow : Math.max(acc.flow ?? 0, f.flowAgainS),
        drain: f.drainedS === null ? acc.drain : Math.max(acc.drain ?? 0, f.drainedS),
      }),
      { flow: null, drain: null },
    );
    return [
      run.scenario,
      run.mode,
      verdict,
      String(r.acknowledged),
      String(r.expectedDeliveries),
      String(r.delivered),
      String(r.lost),
      String(r.duplicates),
      String(r.unexpected),
      String(Math.round(r.latency.p50Ms)),
      String(Math.round(r.latency.p99Ms)),
      String(Math.round(r.latency.maxMs)),
      ...faultWindowCells(r),
      r.waits?.worst ? fmtS(r.waits.worst.waitMs / 1000) : '-',
      fmtS(worst.flow),
      fmtS(worst.drain),
    ];
  });
}

/** One line of per-transport figures for a run with a client mix; undefined when its followers used one transport. */
export function transportLine(r: CheckResult): string | undefined {
  const rows = Object.entries(r.byTransport ?? {});
  if (rows.length < 2) return undefined;
  const latency = (f: TransportFigures) => (f.p99Ms === undefined ? '' : ` p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms`);
  return `by transport: ${rows.map(([t, f]) => `${t} (${f.followers} followers) delivered ${f.delivered}/${f.expected} lost ${f.lost} dup ${f.duplicates}${latency(f)}`).join('; ')}`;
}

function faultWindowCells(r: CheckResult): string[] {
  const w = r.faultWindow;
  if (!w || w.count === 0) return ['-', '-', '-'];
  return [w.p50Ms, w.p99Ms, w.maxMs].map((ms) => String(Math.round(ms)));
}

/** What the figures mean: printed under the text table and in the HTML report. */
export const LEGEND = [
  'p50/p99/max ms: latency (client receive − client ack, first receipt per follower) of every delivery of the run.',
  'fault p50/p99/max ms: the same for posts created inside a fault window (first create attempt sent between a fault and the end of its heal); - when none was delivered.',
  'worst wait s: the longest time any one follower had at least one acknowledged post outstanding (from the ack of the oldest outstanding post to its delivery, overlapping waits merged; a post never delivered keeps the wait open until the end of the run).',
  'flow again s: from the fault until the first delivery of a post created after it, anywhere; drained s: until the last stalled delivery (latency above 3 × the pre-fault p99, at least 1 s) of a post acknowledged around or after the fault.',
  'PASS: nothing lost, nothing unexpected, no operator action, and fault p99, worst wait and drained within the scenario\'s budget (issue 13 targets unless --budget/--no-budget).',
] as const;

/** A fixed-width text table (also valid Markdown) of every run. */
export function renderSummaryTable(report: ChaosReport): string {
  const rows = [Array.from(SUMMARY_COLUMNS), ...summaryRows(report)];
  const widths = SUMMARY_COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const notes = report.runs.flatMap((r) => [
    ...(r.skipped !== undefined ? [`- ${r.scenario}/${r.mode}: skipped: ${r.skipped}`] : []),
    ...(r.result && transportLine(r.result) !== undefined ? [`- ${r.scenario}/${r.mode}: ${transportLine(r.result)}`] : []),
    ...failureReasons(r).map((n) => `- ${r.scenario}/${r.mode}: FAIL: ${n}`),
    ...(r.notes ?? []).map((n) => `- ${r.scenario}/${r.mode}: ${n}`),
  ]);
  return [line(rows[0]!), sep, ...rows.slice(1).map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const PLOT = { width: 720, height: 220, left: 56, right: 12, top: 12, bottom: 32 } as const;

/** Inline SVG: p50 and max latency per second, faults as red lines, heals as green lines. */
export function renderLatencySvg(series: readonly LatencyPoint[], faults: readonly FaultEvent[], startedAt: number, durationS: number): string {
  const w = PLOT.width - PLOT.left - PLOT.right;
  const h = PLOT.height - PLOT.top - PLOT.bottom;
  const tMax = Math.max(1, durationS, ...series.map((p) => p.t + 1));
  const yMax = Math.max(10, ...series.map((p) => p.maxMs));
  const x = (t: number) => PLOT.left + (t / tMax) * w;
  const y = (ms: number) => PLOT.top + h - (ms / yMax) * h;
  const path = (pick: (p: LatencyPoint) => number) =>
    series.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t + 0.5).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(' ');
  const marks = faults
    .map((f) => {
      const tf = (f.at - startedAt) / 1000;
      const heal =
        f.healedAt === undefined
          ? ''
          : `<line class="heal" x1="${x((f.healedAt - startedAt) / 1000).toFixed(1)}" x2="${x((f.healedAt - startedAt) / 1000).toFixed(1)}" y1="${PLOT.top}" y2="${PLOT.top + h}"/>`;
      return (
        `<line class="fault" x1="${x(tf).toFixed(1)}" x2="${x(tf).toFixed(1)}" y1="${PLOT.top}" y2="${PLOT.top + h}"/>` +
        `<text class="mark" x="${(x(tf) + 3).toFixed(1)}" y="${PLOT.top + 10}">${esc(f.name)}</text>${heal}`
      );
    })
    .join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((q) => {
      const ms = yMax * q;
      const t = tMax * q;
      return (
        `<text class="axis" x="${PLOT.left - 4}" y="${(y(ms) + 4).toFixed(1)}" text-anchor="end">${Math.round(ms)}</text>` +
        `<text class="axis" x="${x(t).toFixed(1)}" y="${PLOT.height - 14}" text-anchor="middle">${Math.round(t)}</text>`
      );
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${PLOT.width} ${PLOT.height}" width="${PLOT.width}" height="${PLOT.height}" role="img" aria-label="delivery latency over time">` +
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${w}" height="${h}" class="frame"/>${ticks}` +
    `<text class="axis" x="${PLOT.left + w / 2}" y="${PLOT.height - 2}" text-anchor="middle">seconds since load start</text>` +
    `<text class="axis" x="12" y="${PLOT.top + h / 2}" transform="rotate(-90 12 ${PLOT.top + h / 2})" text-anchor="middle">latency ms</text>` +
    `${marks}<path class="max" d="${path((p) => p.maxMs)}"/><path class="p50" d="${path((p) => p.p50Ms)}"/></svg>`
  );
}

/** Fault-window latency, worst and typical follower wait, and the budget they were judged against. */
function renderStallTable(r: CheckResult, budget: Budget | undefined): string {
  const [p50, p99, max] = faultWindowCells(r);
  const w = r.waits?.worst;
  const worst = w ? `${fmtS(w.waitMs / 1000)} (${esc(w.follower)}, ${fmtS(w.fromS)}–${fmtS(w.toS)} s, ${w.posts} posts${w.open ? ', never delivered' : ''})` : '-';
  return (
    `<table><tr><th>fault window s</th><th>fault p50 ms</th><th>fault p99 ms</th><th>fault max ms</th><th>worst follower wait s</th><th>median follower's worst wait s</th><th>budget</th></tr>` +
    `<tr><td>${fmtS(r.faultWindow?.windowS)}</td><td>${p50}</td><td>${p99}</td><td>${max}</td><td>${worst}</td><td>${r.waits ? fmtS(r.waits.p50Ms / 1000) : '-'}</td><td>${esc(describeBudget(budget))}</td></tr></table>`
  );
}

const CSS = `body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.PASS{background:#e6f6e6}.FAIL{background:#fbe3e3}.SKIP{background:#f1f1f1}.NOTE{background:#fff4d6}
svg .frame{fill:#fafafa;stroke:#bbb}svg .p50{fill:none;stroke:#1565c0;stroke-width:1.5}svg .max{fill:none;stroke:#ef6c00;stroke-width:1}
svg .fault{stroke:#c62828;stroke-dasharray:4 3}svg .heal{stroke:#2e7d32;stroke-dasharray:2 3}svg text{font-size:10px}svg .mark{fill:#c62828}
.legend span{margin-right:1.5em}section{margin-bottom:2.5em}`;

/** The self-contained HTML report. */
export function renderHtml(report: ChaosReport): string {
  const head = ['<tr>', ...SUMMARY_COLUMNS.map((c) => `<th>${esc(c)}</th>`), '</tr>'].join('');
  const body = summaryRows(report)
    .map((r) => `<tr class="${r[2]}">${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('\n');
  const sections = report.runs
    .map((run) => {
      const title = `<h2>${esc(run.scenario)} — ${esc(run.mode)}</h2>`;
      if (run.skipped !== undefined) return `<section>${title}<p>Skipped: ${esc(run.skipped)}</p></section>`;
      const r = run.result;
      const err =
        failureReasons(run).map((n) => `<p class="FAIL">FAIL: ${esc(n)}</p>`).join('') +
        (run.notes ?? []).map((n) => `<p class="NOTE">Note: ${esc(n)}</p>`).join('');
      if (!r) return `<section>${title}${err}</section>`;
      const faultRows = r.faults
        .map(
          (f) =>
            `<tr><td>${esc(f.name)}</td><td>${fmtS(f.atS)}</td><td>${fmtS(f.healedAfterS)}</td><td>${fmtS(f.flowAgainS)}</td><td>${fmtS(f.drainedS)}</td></tr>`,
        )
        .join('');
      const counters = Object.entries(run.counters)
        .map(([k, v]) => `${esc(k)}=${v}`)
        .join(', ');
      const samples = [...r.lostSample.map((d) => `lost ${d.postId} at ${d.user}`), ...r.unexpectedSample.map((d) => `unexpected ${d.postId} at ${d.user} (${d.reason ?? ''})`)];
      return (
        `<section>${title}${err}` +
        renderLatencySvg(r.series, run.faults, run.startedAt, run.durationS) +
        `<p class="legend"><span style="color:#1565c0">— p50</span><span style="color:#ef6c00">— max</span><span style="color:#c62828">┆ fault</span><span style="color:#2e7d32">┆ heal done</span></p>` +
        `<table><tr><th>acknowledged</th><th>indeterminate</th><th>expected</th><th>delivered</th><th>lost</th><th>duplicates</th><th>unexpected</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>` +
        `<tr><td>${r.acknowledged}</td><td>${r.indeterminate} (${r.indeterminateDelivered} delivered)</td><td>${r.expectedDeliveries}</td><td>${r.delivered}</td><td>${r.lost}</td><td>${r.duplicates}</td><td>${r.unexpected}</td><td>${Math.round(r.latency.p50Ms)}</td><td>${Math.round(r.latency.p99Ms)}</td><td>${Math.round(r.latency.maxMs)}</td></tr></table>` +
        `<table><tr><th>fault</th><th>at s</th><th>heal done after s</th><th>flow again after s</th><th>backlog drained after s</th></tr>${faultRows}</table>` +
        renderStallTable(r, run.budget) +
        (transportLine(r) !== undefined ? `<p>${esc(transportLine(r)!)}.</p>` : '') +
        `<p>Latency: ${esc(r.latency.basis)}. Client counters: ${counters || 'none'}. Run time ${fmtS(run.durationS)} s.</p>` +
        (samples.length ? `<pre>${esc(samples.join('\n'))}</pre>` : '') +
        `</section>`
      );
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>feedkit chaos report ${esc(report.startedAt)}</title><style>${CSS}</style></head><body>
<h1>feedkit chaos report</h1>
<p>Target <b>${esc(report.target)}</b>, seed ${report.seed}${report.gitCommit !== undefined ? `, commit ${esc(commitLabel(report.gitCommit, report.gitDirty))}` : ''}, started ${esc(report.startedAt)}, run time ${fmtS(report.runTimeS)} s. Verdict: <b>${reportOk(report) ? 'PASS — nothing lost, nothing unexpected, nobody waited past the budget' : 'FAIL'}</b>.</p>
<p>Every post the API acknowledged is expected at every follower of its author (Jepsen total-queue style).</p>
<ul>${LEGEND.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
<table>${head}
${body}</table>
${sections}
<pre>${esc(JSON.stringify(report.options, null, 2))}</pre>
</body></html>
`;
}

/** `chaos-2026-11-23T10-15-00Z` from a date. */
export function reportBaseName(at: Date): string {
  return `chaos-${at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}`;
}

/** Writes `<dir>/chaos-<timestamp>.json` and `.html`; returns both paths. */
export function writeReport(report: ChaosReport, dir: string): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, reportBaseName(new Date(report.startedAt)));
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.html`, renderHtml(report));
  return { json: `${base}.json`, html: `${base}.html` };
}
