/**
 * The commands the scripts run (kubectl, iptables, ss, apt-get, rabbitmqctl, haproxy -c, initdb, git,
 * ps), through zx's `$`: every
 * call has a timeout, runs quietly (its output is returned, not echoed) and a failure becomes a
 * {@link CommandError} naming the command line and its stderr. Arguments are passed as an array,
 * so zx quotes each one: what reaches the program is exactly `args`.
 */
import { spawn, spawnSync, type SpawnOptions, type SpawnSyncOptions } from 'node:child_process';
import { $, type ProcessOutput } from 'zx';

/**
 * bash's flags that skip every startup file. zx runs each command as `bash -c <line>` with
 * socketpairs for stdio, and bash takes a socket on stdin for an ssh session: below SHLVL 2 it then
 * sources ~/.bashrc before the command. A user's rc file must not run inside the suite: on the
 * development machine it ran `pyenv init`, whose rehash, killed by a timeout, left its lock behind,
 * and from then on every command waited for that lock until its own timeout (two chaos runs lost).
 */
export const NO_STARTUP_FILES = ['--norc', '--noprofile'] as const;

/** The line and shell Node would run for `spawn(file, args, { shell })`, run with {@link NO_STARTUP_FILES}. */
function withoutStartupFiles(file: string, args: readonly string[], shell: unknown): [string, string[]] | undefined {
  if (typeof shell !== 'string') return undefined;
  return [shell, [...NO_STARTUP_FILES, '-c', [file, ...args].join(' ')]];
}

/** `child_process.spawn` for zx that starts its shell without startup files ({@link NO_STARTUP_FILES}). */
const spawnShell = ((file: string, args: readonly string[], options: SpawnOptions) => {
  const direct = withoutStartupFiles(file, args, options.shell);
  return direct ? spawn(direct[0], direct[1], { ...options, shell: false }) : spawn(file, args, options);
}) as typeof spawn;

/** `child_process.spawnSync` for zx, as {@link spawnShell}. */
const spawnShellSync = ((file: string, args: readonly string[], options: SpawnSyncOptions) => {
  const direct = withoutStartupFiles(file, args, options.shell);
  return direct ? spawnSync(direct[0], direct[1], { ...options, shell: false }) : spawnSync(file, args, options);
}) as typeof spawnSync;

/** Options of {@link run}, {@link runOutput} and {@link runSync}. */
export interface CommandOptions {
  /** Milliseconds before the command (and its children) are killed; no call may hang a run. */
  readonly timeoutMs: number;
  /**
   * The signal that stops a command at its timeout. A probe uses SIGKILL, as the kubelet does: a
   * command stuck on a hung peer must not get to choose how long it takes to go.
   * @default 'SIGTERM' ({@link runSync}: always SIGKILL)
   */
  readonly timeoutSignal?: NodeJS.Signals;
  /** Written to the command's stdin. */
  readonly input?: string;
  /** The environment. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Working directory. @default the current directory */
  readonly cwd?: string;
}

/** A command that failed, timed out or could not start; the message names the command line and why. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

/** `cmd args…` as a line for messages. */
export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].join(' ');
}

/**
 * Whether a command that failed was stopped at its timeout. zx signals the shell's children too, so
 * the shell may die of the signal or exit with its child's 128 + signal: the duration tells.
 */
export function timedOut(out: ProcessOutput, timeoutMs: number): boolean {
  return !out.ok && out.duration >= timeoutMs;
}

function stdoutOf(cmd: string, args: readonly string[], out: ProcessOutput, timeoutMs: number): string {
  if (out.ok) return out.stdout;
  const line = commandLine(cmd, args);
  const stderr = out.stderr.trim();
  const why =
    timedOut(out, timeoutMs)
      ? `timed out after ${timeoutMs / 1000} s${stderr ? ` (${stderr})` : ''}`
      : stderr || (out.exitCode !== null ? `exit code ${out.exitCode}` : `killed by ${out.signal ?? 'an error'}`);
  throw new CommandError(`${line} failed: ${why}`, line, stderr, out.exitCode);
}

/** zx options common to both forms: output captured, not echoed; a failure is inspected, not thrown. */
function zxOptions(opts: CommandOptions) {
  return {
    quiet: true,
    nothrow: true,
    spawn: spawnShell,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  };
}

/**
 * Runs `cmd args…` and resolves with its whole outcome (exit code, signal, stdout, stderr), failed
 * or not: for the callers to whom a failure is a verdict, not an error (a liveness check).
 */
export function runOutput(cmd: string, args: readonly string[], opts: CommandOptions): Promise<ProcessOutput> {
  return $({ ...zxOptions(opts), timeout: opts.timeoutMs, timeoutSignal: opts.timeoutSignal ?? 'SIGTERM' })`${cmd} ${[...args]}`;
}

/** Runs `cmd args…`; resolves with its stdout, rejects with a {@link CommandError}. */
export async function run(cmd: string, args: readonly string[], opts: CommandOptions): Promise<string> {
  return stdoutOf(cmd, args, await runOutput(cmd, args, opts), opts.timeoutMs);
}

/**
 * {@link run} for the places that cannot wait (a `process.on('exit')` handler). zx arms its own
 * timeout only once a command has started, which in sync mode is after it ended, so the timeout is
 * handed to `spawnSync` itself.
 */
export function runSync(cmd: string, args: readonly string[], opts: CommandOptions): string {
  const spawnWithTimeout = ((file: string, argv: readonly string[], o: SpawnSyncOptions) =>
    spawnShellSync(file, argv, { ...o, timeout: opts.timeoutMs, killSignal: 'SIGKILL' })) as typeof spawnSync;
  const out = $({ ...zxOptions(opts), sync: true, spawnSync: spawnWithTimeout })`${cmd} ${[...args]}`;
  return stdoutOf(cmd, args, out, opts.timeoutMs);
}
