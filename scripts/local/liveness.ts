/**
 * The local twin's kubelet for RabbitMQ: the same liveness check the chart renders
 * (`spec.rabbitmq.liveness`, the bash script of `renderLivenessScript` against the Prometheus port:
 * a node that accepts and does not answer fails, one with its rabbit app stopped passes), acted on
 * the same way. A node that fails `failureThreshold` checks in a row, after having passed
 * one since it started (what the startup probe gates), is killed after the probe's grace period and
 * started again. Only nodes whose process runs and that are not being drained or stopped (a
 * terminating pod) are checked: a node the twin stops is left alone.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LIVENESS_PASS, LIVENESS_SHELL, renderLivenessScript } from '../../rabbitmq-cluster/index.js';
import { RABBITMQ_LIVENESS_PATH, type LivenessSpec } from '../../shared/index.js';
import { NO_STARTUP_FILES, runOutput, timedOut } from '../shell.js';
import { progress } from './process.js';
import type { RabbitCluster } from './rabbitmq.js';

/** Milliseconds a check may run past its timeout, so the script's own "no answer" line gets out. */
const SCRIPT_REPORT_MARGIN_MS = 500;

/** The twin's refused-since file, in each node's folder. */
const LIVENESS_STATE_FILE_NAME = 'liveness-refused-since';

/** What one check needs: the probe's settings and where it keeps its refused-since time. */
export interface CheckSettings {
  /** Seconds to wait for the status line. */
  readonly timeoutSeconds: number;
  /** Seconds of refused connections after which the check fails anyway. */
  readonly refusedSeconds: number;
  /** The refused-since file; the watchdog deletes it when the node's process changes, as a container restart empties `/tmp`. */
  readonly stateFile: string;
}

/** What a check concluded. */
export interface CheckResult {
  readonly ok: boolean;
  /** What the check said when it failed (the status line, or no answer within the timeout). */
  readonly detail?: string;
}

/**
 * One container's failure count, as the kubelet keeps it (pure). Failures count only once a check
 * has passed since the process started; a success clears them.
 */
export class LivenessCounter {
  private passedSinceStart = false;
  private failures = 0;

  constructor(private readonly failureThreshold: number) {
    if (!Number.isInteger(failureThreshold) || failureThreshold < 1) throw new RangeError(`LivenessCounter: failureThreshold must be a whole number ≥ 1, got ${failureThreshold}`);
  }

  /** Failed checks in a row that count. */
  get failuresInRow(): number {
    return this.failures;
  }

  /** Records one check; true when it makes the container due for a restart. */
  record(ok: boolean): boolean {
    if (ok) {
      this.passedSinceStart = true;
      this.failures = 0;
      return false;
    }
    if (!this.passedSinceStart) return false;
    return ++this.failures >= this.failureThreshold;
  }

  /** A new process: back behind the startup gate. */
  reset(): void {
    this.passedSinceStart = false;
    this.failures = 0;
  }
}

/**
 * One run of the chart's liveness script ({@link renderLivenessScript}) against the node's
 * Prometheus port, bounded by `timeoutSeconds` as the kubelet bounds an exec probe (plus a moment
 * for the script to say why it failed).
 */
export async function checkNode(port: number, settings: CheckSettings): Promise<CheckResult> {
  const { timeoutSeconds, refusedSeconds, stateFile } = settings;
  const script = renderLivenessScript({ port, path: RABBITMQ_LIVENESS_PATH, timeoutSeconds, refusedSeconds, stateFile });
  const limitMs = timeoutSeconds * 1000 + SCRIPT_REPORT_MARGIN_MS;
  const out = await runOutput(LIVENESS_SHELL, [...NO_STARTUP_FILES, '-c', script], { timeoutMs: limitMs, timeoutSignal: 'SIGKILL' });
  if (out.exitCode === LIVENESS_PASS) return { ok: true };
  const said = out.stdout.trim();
  return { ok: false, detail: said !== '' ? said : timedOut(out, limitMs) ? `no result within ${limitMs} ms` : `exit ${String(out.exitCode)}` };
}

/** Runs the check on every node of `cluster` until {@link LivenessWatchdog.stop}. */
export class LivenessWatchdog {
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[];
  private restartCount = 0;

  constructor(
    private readonly cluster: RabbitCluster,
    private readonly settings: LivenessSpec,
  ) {
    this.loops = cluster.nodes.map((n) => this.watch(n.index));
  }

  /** Restarts this watchdog has completed (the node ran again). */
  get restarts(): number {
    return this.restartCount;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  private async watch(i: number): Promise<void> {
    const counter = new LivenessCounter(this.settings.failureThreshold);
    let pid: number | undefined;
    while (!this.abort.signal.aborted) {
      const node = this.cluster.nodes[i]!;
      const stateFile = join(node.dir, LIVENESS_STATE_FILE_NAME);
      // Stopped, started again by someone else, or being drained and stopped: probing starts over,
      // as a restarted container starts with an empty /tmp.
      if (node.groupPid !== pid || node.terminating) {
        counter.reset();
        rmSync(stateFile, { force: true });
      }
      pid = node.groupPid;
      const started = Date.now();
      if (pid !== undefined && !node.terminating) {
        const { timeoutSeconds, refusedSeconds } = this.settings;
        const result = await checkNode(node.prometheusPort, { timeoutSeconds, refusedSeconds, stateFile });
        // The node may have been stopped, replaced or drained during the check: that verdict is void.
        const now = this.cluster.nodes[i]!;
        if (now.groupPid === pid && !now.terminating) await this.record(counter, i, pid, result);
      }
      await this.pause(this.settings.periodSeconds * 1000 - (Date.now() - started));
    }
  }

  /**
   * Counts one verdict, restarting the node when it is due. Every failure that counts is logged, so a
   * soak shows near misses (fewer failures in a row than the threshold), not only restarts.
   */
  private async record(counter: LivenessCounter, i: number, pid: number, result: CheckResult): Promise<void> {
    const due = counter.record(result.ok);
    // A pass zeroes the count, so a count above zero is a failure that counted.
    if (counter.failuresInRow > 0 && !due) {
      progress(`liveness: ${this.cluster.nodes[i]!.nodename} failed check ${counter.failuresInRow} of ${this.settings.failureThreshold} in a row (${result.detail})`);
    }
    if (due) await this.restart(i, pid, result);
  }

  /** What the kubelet does to a container that failed its liveness probe: kill after the grace period, start again. */
  private async restart(i: number, pid: number, last: CheckResult): Promise<void> {
    const { nodename } = this.cluster.nodes[i]!;
    const grace = this.settings.terminationGracePeriodSeconds;
    progress(`liveness: ${nodename} failed ${this.settings.failureThreshold} checks in a row (${last.detail}); killing it after ${grace} s and starting it again`);
    await this.pause(grace * 1000);
    const now = this.cluster.nodes[i]!;
    if (this.abort.signal.aborted || now.groupPid !== pid || now.terminating) return;
    try {
      await this.cluster.killNode(i);
      // stop() does not wait out a boot: the twin stops the node with the rest.
      if (!(await this.unlessStopped(this.cluster.startNode(i)))) return;
      this.restartCount++;
      progress(`liveness: ${nodename} restarted`);
    } catch (e) {
      progress(`liveness: restarting ${nodename} failed: ${(e as Error).message}`);
    }
  }

  /** Resolves true when `work` does, false as soon as the watchdog is stopped (`work` goes on unobserved). */
  private async unlessStopped(work: Promise<void>): Promise<boolean> {
    work.catch(() => undefined);
    const stopped = new Promise<false>((resolve) => this.abort.signal.addEventListener('abort', () => resolve(false), { once: true }));
    return Promise.race([work.then(() => true), stopped]);
  }

  private async pause(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }
}
