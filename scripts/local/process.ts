/**
 * Child processes of the local twin and its tests: spawned in their own process group, logged to a
 * file, stopped by pid (never by name: other engineers run the same servers on this machine), and
 * stopped on exit, SIGINT and SIGTERM unless released to outlive this process (`npm run local -- up`).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A process this library started (or adopted by pid), stoppable by pid and process group. */
export interface ManagedProcess {
  /** Human name used in progress lines and errors. */
  readonly name: string;
  /** Pid of the spawned process (leader of its own process group when spawned here). */
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  /** True until the process has exited. */
  readonly running: boolean;
  /** SIGTERM to the process group, SIGKILL after `timeoutMs` (default 15 s); resolves once it is gone. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL to the process group; resolves once it is gone. */
  kill9(): Promise<void>;
  /** SIGSTOP to the process group. */
  pause(): void;
  /** SIGCONT to the process group. */
  resume(): void;
  /** Keep the process running after this Node process exits (it is no longer stopped by the exit handler). */
  release(): void;
}

/** Options of {@link spawnManaged}. */
export interface SpawnManagedOptions {
  /** Variables added to (or, with `undefined`, removed from) the inherited environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Inherit this process's environment under `env`.
   * @default true
   */
  readonly inheritEnv?: boolean;
  /** Working directory. @default the current directory */
  readonly cwd?: string;
  /** File that receives stdout and stderr (appended; parent folders are created). */
  readonly logFile: string;
  /** Run as this uid (e.g. the `postgres` user). @default this process's uid */
  readonly uid?: number;
  /** Run with this gid. @default this process's gid */
  readonly gid?: number;
}

/** Writes a progress line to stderr (stdout stays clean for values other scripts parse). */
export function progress(message: string): void {
  process.stderr.write(`[local ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const live = new Set<ManagedProcess>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // 'exit' runs synchronously: no time to wait for a graceful stop, so kill what is left.
  process.on('exit', () => {
    for (const p of live) signalGroup(p.pid, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress(`${sig}: stopping ${live.size} process(es) started here`);
      void stopAllManaged(5000).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
}

let stoppingAll = false;

/** Whether this process is stopping everything it started (a signal, or {@link stopAllManaged}): an exit now is not a crash. */
export function stoppingAllManaged(): boolean {
  return stoppingAll;
}

/** Stops every process started here that was not released, in parallel. */
export async function stopAllManaged(timeoutMs = 15_000): Promise<void> {
  stoppingAll = true;
  await Promise.allSettled([...live].map((p) => p.stop(timeoutMs)));
}

/**
 * Waits until every promise has settled, then throws the first failure. Unlike Promise.all, no
 * start is still running unobserved when the caller cleans up after a failure.
 */
export async function waitAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Sends `signal` to the process group led by `pid`, falling back to the pid alone; false when nothing got it. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** True when a process with this pid exists (zombies included). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function makeHandle(name: string, pid: number, exited: Promise<number | null>, onRelease: () => void): ManagedProcess {
  let running = true;
  const done = exited.then((code) => {
    running = false;
    live.delete(handle);
    return code;
  });
  const waitGone = async (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const ok = await Promise.race([done.then(() => true as const), timeout]);
    clearTimeout(timer);
    return ok;
  };
  const handle: ManagedProcess = {
    name,
    pid,
    exited: done,
    get running() {
      return running;
    },
    async stop(timeoutMs = 15_000) {
      if (!running) return;
      signalGroup(pid, 'SIGCONT'); // a paused process cannot act on SIGTERM
      signalGroup(pid, 'SIGTERM');
      if (!(await waitGone(timeoutMs))) {
        progress(`${name} (pid ${pid}) did not stop within ${timeoutMs} ms: SIGKILL`);
        signalGroup(pid, 'SIGKILL');
        if (!(await waitGone(10_000))) throw new Error(`${name} (pid ${pid}) survived SIGKILL for 10 s`);
      }
      // Right after the leader exits, clear stragglers of its group (e.g. an Erlang VM under its wrapper shell).
      signalGroup(pid, 'SIGKILL');
    },
    async kill9() {
      signalGroup(pid, 'SIGKILL');
      if (running && !(await waitGone(10_000))) throw new Error(`${name} (pid ${pid}) survived SIGKILL for 10 s`);
    },
    pause() {
      signalGroup(pid, 'SIGSTOP');
    },
    resume() {
      signalGroup(pid, 'SIGCONT');
    },
    release() {
      live.delete(handle);
      onRelease();
    },
  };
  live.add(handle);
  installExitHandlers();
  return handle;
}

/**
 * Starts `cmd args` detached in its own process group with output appended to `opts.logFile`.
 * The process is stopped when this Node process exits unless {@link ManagedProcess.release}d.
 */
export function spawnManaged(name: string, cmd: string, args: readonly string[], opts: SpawnManagedOptions): ManagedProcess {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a', 0o640);
  const env: Record<string, string> = {};
  if (opts.inheritEnv ?? true) for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  let child;
  try {
    child = spawn(cmd, [...args], {
      cwd: opts.cwd,
      env,
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) {
    throw new Error(`${name}: could not start "${cmd}" (is it installed and executable?); log: ${opts.logFile}`);
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  return makeHandle(name, child.pid, exited, () => child.unref());
}

/**
 * A handle on a process started elsewhere (e.g. by an earlier `npm run local -- up`), found by pid.
 * Its exit is noticed by polling; it is not stopped on exit unless `stopOnExit`.
 */
export function adoptProcess(name: string, pid: number, stopOnExit = false): ManagedProcess {
  const exited = new Promise<number | null>((resolve) => {
    const timer = setInterval(() => {
      if (!isPidAlive(pid) || isZombie(pid)) {
        clearInterval(timer);
        resolve(null);
      }
    }, 200);
    timer.unref();
  });
  const handle = makeHandle(name, pid, exited, () => undefined);
  if (!stopOnExit) handle.release();
  return handle;
}

/** Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat); tells a pid from a reused one. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is a zombie (exited, not yet reaped by its parent). */
export function isZombie(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; state Z is a zombie.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return / Z /.test(stat.slice(stat.lastIndexOf(')')));
  } catch {
    return false;
  }
}
