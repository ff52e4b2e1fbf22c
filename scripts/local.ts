/**
 * The local twin: `npm run local -- up | status | down`.
 *
 *   up      [--replicas N] [--queue-mode mirrored|quorum] [--port P] [--log-level L]
 *           starts RabbitMQ x3, HAProxy x2, PostgreSQL, N app replicas and the HAProxy app front,
 *           waits until ready, prints every URL and records pids in the state file
 *   status  [--json]   what runs: pid alive, ports answering
 *   down    stops exactly the recorded pids
 *
 * Work folder: .local/twin (git-ignored; --workdir or FEEDKIT_WORKDIR overrides), state in its state.json.
 */
import { QueueMode, LOG_LEVELS } from '../shared/index.js';
import { BOOLEAN, enumFlag, numberFlag, parseCli, parseFlags, STRING, TCP_PORT, UsageError } from './cli-args.js';
import { readTwinState, isRecordedAlive, stopRecordedTwin, twinStatus } from './local/control.js';
import { TWIN_DIR } from './local/paths.js';
import { ensureSystemPackages } from './local/system.js';
import { startTwin, twinStateFile, type TwinState } from './local/twin.js';

const USAGE = `usage: npm run local -- up [--replicas N] [--queue-mode mirrored|quorum] [--port P] [--log-level info]
       npm run local -- status [--json]
       npm run local -- down
  --workdir DIR   the twin's work folder (default ${TWIN_DIR}; also FEEDKIT_WORKDIR)`;

function fail(message: string, code = 1): never {
  process.stderr.write(`local: ${message}\n`);
  process.exit(code);
}

function printUrls(state: TwinState): void {
  const u = state.urls;
  const rows: [string, string][] = [
    ['feed WebSocket', u.feedWebSocket],
    ['HTTP API', u.httpApi],
    ...u.appReplicas.map((url, i): [string, string] => [`app replica ${i}`, url]),
    ...u.amqpFronts.map((url, i): [string, string] => [`AMQP front (HAProxy ${i})`, url]),
    ...u.haproxyStats.map((url, i): [string, string] => [`HAProxy ${i} stats`, url]),
    ['app front (HAProxy) stats', u.appFrontStats],
    ...u.rabbitmqManagement.map((url, i): [string, string] => [`RabbitMQ ${state.rabbitmq.nodes[i] ?? i} management`, url]),
    ...u.rabbitmqAmqp.map((url, i): [string, string] => [`RabbitMQ ${state.rabbitmq.nodes[i] ?? i} AMQP`, url]),
    ['PostgreSQL', u.postgres],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
}

const COMMANDS = ['up', 'status', 'down'] as const;

/** The command line, checked before anything starts. Throws a {@link UsageError}. */
function parseLocalArgs(argv: readonly string[]) {
  const options = { replicas: STRING, 'queue-mode': STRING, port: STRING, 'log-level': STRING, workdir: STRING, json: BOOLEAN };
  const { values: v, positionals } = parseFlags(argv, options, { positionals: true });
  const [command, ...extra] = positionals;
  if (command === undefined) throw new UsageError('give a command: up, status or down');
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command "${command}"`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" after ${command}`);
  return {
    command: command as (typeof COMMANDS)[number],
    replicas: numberFlag('replicas', v.replicas, { min: 1, max: 50, integer: true }),
    queueMode: enumFlag('queue-mode', v['queue-mode'], Object.values(QueueMode)),
    port: numberFlag('port', v.port, TCP_PORT),
    logLevel: enumFlag('log-level', v['log-level'], LOG_LEVELS),
    workDir: v.workdir || TWIN_DIR,
    json: v.json ?? false,
  };
}

async function up(args: LocalArgs): Promise<void> {
  const existing = readTwinState(TWIN_STATE_FILE);
  if (existing && existing.processes.some(isRecordedAlive)) {
    fail(`a twin already runs (state ${TWIN_STATE_FILE}). Fix: npm run local -- down`);
  }
  await ensureSystemPackages();
  const twin = await startTwin({
    workDir: args.workDir,
    ...(args.replicas !== undefined ? { appReplicas: args.replicas } : {}),
    ...(args.queueMode !== undefined ? { queueMode: args.queueMode } : {}),
    ...(args.port !== undefined ? { port: args.port } : {}),
    ...(args.logLevel !== undefined ? { logLevel: args.logLevel } : {}),
  });
  twin.release();
  const state = twin.state();
  process.stdout.write(`\nfeedkit local twin is up (queue mode ${state.queueMode}, ${twin.apps.length} app replica(s)):\n`);
  printUrls(state);
  process.stdout.write(`\n  state (pids, ports, secrets; mode 0600): ${twin.stateFile}\n  logs and data: ${twin.workDir}\n`);
  process.stdout.write(`  RabbitMQ user: ${state.rabbitmq.username} (password in the state file)\n`);
  process.stdout.write('  token: npm run token -- <userId>    stop: npm run local -- down\n');
}

async function status(args: LocalArgs): Promise<void> {
  const state = readTwinState(TWIN_STATE_FILE);
  if (!state) fail(`no twin recorded (${TWIN_STATE_FILE} does not exist). Start one: npm run local -- up`, 3);
  const rows = await twinStatus(state);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(rows.map((r) => ({ role: r.record.role, name: r.record.name, pid: r.record.pid, alive: r.alive, ports: r.ports, logFile: r.record.logFile })), null, 2)}\n`);
  } else {
    process.stdout.write(`twin in ${state.workDir} (queue mode ${state.queueMode}, started ${state.createdAt})\n`);
    const w = Math.max(...rows.map((r) => r.record.name.length));
    for (const r of rows) {
      const ports = Object.entries(r.ports).map(([p, ok]) => `${p}:${ok ? 'up' : 'DOWN'}`).join(' ');
      process.stdout.write(`  ${r.record.role.padEnd(13)} ${r.record.name.padEnd(w)}  pid ${String(r.record.pid).padEnd(7)} ${r.alive ? 'running' : 'GONE   '}  ${ports}\n`);
    }
    process.stdout.write('\n');
    printUrls(state);
  }
  const bad = rows.filter((r) => !r.alive || Object.values(r.ports).some((ok) => !ok));
  if (bad.length > 0) process.exitCode = 1;
}

async function down(): Promise<void> {
  const state = readTwinState(TWIN_STATE_FILE);
  if (!state) {
    process.stdout.write(`no twin recorded in ${TWIN_STATE_FILE}; nothing to stop\n`);
    return;
  }
  const stopped = await stopRecordedTwin(state, TWIN_STATE_FILE);
  process.stdout.write(stopped.length ? `stopped ${stopped.length} process(es): ${stopped.join(', ')}\n` : 'no recorded process was running\n');
  process.stdout.write(`logs kept in ${state.workDir}\n`);
}

type LocalArgs = ReturnType<typeof parseLocalArgs>;

const args = parseCli(USAGE, () => parseLocalArgs(process.argv.slice(2)));
const TWIN_STATE_FILE = twinStateFile(args.workDir);
try {
  if (args.command === 'up') await up(args);
  else if (args.command === 'status') await status(args);
  else await down();
} catch (e) {
  fail((e as Error).message);
}
// Released children must not keep this process alive; pending fetch sockets would delay the exit.
process.exit(process.exitCode ?? 0);
