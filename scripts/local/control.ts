/**
 * `status` and `down` of a twin started by an earlier process: everything comes from the state
 * file, and only the recorded pids are signalled (after checking their start time, so a reused
 * pid is never hit).
 */
import { rmSync } from 'node:fs';
import { isPortAnswering } from './ports.js';
import { progress, signalGroup } from './process.js';
import { TwinRole, isRecordedAlive, type TwinProcessRecord, type TwinState } from './state.js';
import { sleep } from '../../shared/index.js';

export { readTwinState, isRecordedAlive } from './state.js';

/** What `status` shows for one process. */
export interface ProcessStatus {
  readonly record: TwinProcessRecord;
  readonly alive: boolean;
  /** Port → answering a TCP connect. */
  readonly ports: Readonly<Record<number, boolean>>;
}

/** Liveness and port checks of every recorded process. */
export async function twinStatus(state: TwinState): Promise<ProcessStatus[]> {
  return Promise.all(
    state.processes.map(async (record) => {
      const alive = isRecordedAlive(record);
      const ports: Record<number, boolean> = {};
      // The dist port of a RabbitMQ node is Erlang's; it answers too, but the listeners that matter come first.
      for (const port of record.ports) ports[port] = alive && (await isPortAnswering(port, '127.0.0.1', 1000));
      return { record, alive, ports };
    }),
  );
}

/** Order `down` stops roles in: front to back, so nothing reconnects to a half-stopped stack. */
const STOP_ORDER: readonly TwinRole[] = [TwinRole.APP_FRONT, TwinRole.APP, TwinRole.HAPROXY, TwinRole.RABBITMQ, TwinRole.EPMD, TwinRole.POSTGRES];

/** Grace per role before SIGKILL. */
const GRACE_MS: Readonly<Record<TwinRole, number>> = {
  [TwinRole.APP_FRONT]: 5_000,
  [TwinRole.APP]: 30_000,
  [TwinRole.HAPROXY]: 5_000,
  [TwinRole.RABBITMQ]: 60_000,
  [TwinRole.EPMD]: 5_000,
  [TwinRole.POSTGRES]: 30_000,
};

/**
 * Stops exactly the recorded processes (SIGTERM to each process group, SIGKILL after the role's
 * grace), role by role, then deletes the state file. Returns the names stopped.
 */
export async function stopRecordedTwin(state: TwinState, stateFile: string): Promise<string[]> {
  const stopped: string[] = [];
  for (const role of STOP_ORDER) {
    const procs = state.processes.filter((p) => p.role === role && isRecordedAlive(p));
    if (procs.length === 0) continue;
    progress(`down: stopping ${procs.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`);
    for (const p of procs) {
      signalGroup(p.pid, 'SIGCONT'); // a paused process cannot act on SIGTERM
      signalGroup(p.pid, 'SIGTERM');
    }
    const deadline = Date.now() + GRACE_MS[role];
    let lastReport = Date.now();
    while (procs.some(isRecordedAlive) && Date.now() < deadline) {
      await sleep(200);
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        progress(`down: still waiting for ${procs.filter(isRecordedAlive).map((p) => p.name).join(', ')}`);
      }
    }
    for (const p of procs) {
      if (isRecordedAlive(p)) {
        progress(`down: ${p.name} (pid ${p.pid}) ignored SIGTERM for ${GRACE_MS[role] / 1000} s: SIGKILL`);
        signalGroup(p.pid, 'SIGKILL');
      }
      stopped.push(p.name);
    }
  }
  rmSync(stateFile, { force: true });
  return stopped;
}
