/**
 * The RabbitMQ liveness check as a bash script, shared by the chart (an exec probe) and the local
 * twin's watchdog, so both judge a node the same way. Pure: the caller runs it with
 * `bash -c <script>` and a deadline of the probe's timeout.
 *
 * Why a script and not an HTTP probe: the check must tell a hung node from a node whose rabbit app
 * is stopped on purpose. A hung VM (SIGSTOP, a frozen VM) still completes TCP handshakes in the
 * kernel and then answers nothing: that fails. A node paused by `pause_minority` (or restarting the
 * rabbit app for autoheal) has no listener, so the connection is refused: that passes for a
 * while (`refusedSeconds`), because the VM that stopped the app is alive and starts it again when
 * the cluster heals; an app that never comes back fails then. An HTTP probe fails both at once, and the kill of a paused minority node made it boot while still cut off; twice in chaos
 * runs the heal then came mid-boot and the boot hung in Erlang's `global` sync for minutes.
 */
import { checkListener, RenderInputError } from '../shared/index.js';

/** The shell the script needs (`/dev/tcp` and `read -t` are bash's). */
export const LIVENESS_SHELL = 'bash';

/** Where the chart's check keeps its refused-since time: the container's own filesystem, gone with a restart. */
export const LIVENESS_STATE_FILE = '/tmp/feedkit-liveness-refused-since';

/** The loopback address the check connects to. */
const LOOPBACK = '127.0.0.1';

/** Exit status of a node that passes the check; anything else fails it. */
export const LIVENESS_PASS = 0;

/** Options of {@link renderLivenessScript}. */
export interface LivenessScriptOptions {
  /** Port of the node's Prometheus endpoint, on the loopback interface. */
  readonly port: number;
  /** Path to GET; it must answer without credentials. */
  readonly path: string;
  /** Seconds to wait for the status line after connecting. */
  readonly timeoutSeconds: number;
  /** Seconds of refused connections after which the check fails anyway (the rabbit app never came back). */
  readonly refusedSeconds: number;
  /**
   * File that remembers since when connections are refused; it must not outlive the node's process
   * (a container's `/tmp`), or a restarted node would inherit the old count.
   */
  readonly stateFile: string;
}

/** Renders the check; it prints why it failed or passed on stdout (the kubelet records it in the probe's event). */
export function renderLivenessScript(opts: LivenessScriptOptions): string {
  checkOptions(opts);
  const { port, path, timeoutSeconds, refusedSeconds, stateFile } = opts;
  return [
    '# Liveness: fail a node that accepts a connection and does not answer, or that has refused',
    `# connections for ${refusedSeconds} s.`,
    `state=${stateFile}`,
    `if ! exec 3<>/dev/tcp/${LOOPBACK}/${port}; then`,
    '  # No listener: the rabbit app is stopped on purpose (pause_minority, an autoheal restart), for a while.',
    '  now=$(date +%s)',
    '  [ -s "$state" ] || echo "$now" > "$state"',
    '  refused=$((now - $(cat "$state")))',
    `  if [ "$refused" -ge ${refusedSeconds} ]; then echo "port ${port} refused for $refused s: the rabbit app has not come back"; exit 1; fi`,
    `  echo "port ${port} refused for $refused s: the rabbit app is stopped, the node is not hung"; exit ${LIVENESS_PASS}`,
    'fi',
    'rm -f "$state"',
    `printf 'GET ${path} HTTP/1.0\\r\\nHost: ${LOOPBACK}\\r\\n\\r\\n' >&3`,
    `if ! IFS= read -r -t ${timeoutSeconds} status <&3; then echo "no answer within ${timeoutSeconds} s"; exit 1; fi`,
    'case "$status" in',
    `  'HTTP/1.'[01]' '[23]*) exit ${LIVENESS_PASS} ;;`,
    '  *) echo "answered: ${status%$\'\\r\'}"; exit 1 ;;',
    'esac',
    '',
  ].join('\n');
}

function checkOptions({ port, path, timeoutSeconds, refusedSeconds, stateFile }: LivenessScriptOptions): void {
  checkListener('liveness', { host: LOOPBACK, port });
  checkPlainPath('path', path, '/metrics/detailed');
  checkPlainPath('stateFile', stateFile, LIVENESS_STATE_FILE);
  checkWholeSeconds('timeoutSeconds', timeoutSeconds);
  checkWholeSeconds('refusedSeconds', refusedSeconds);
}

/** Paths are pasted into the script unquoted, so only characters no shell treats specially. */
function checkPlainPath(field: string, path: string, example: string): void {
  if (!/^\/[A-Za-z0-9/_.-]+$/.test(path)) throw new RenderInputError(field, `"${path}" is not a plain absolute path`, `use letters, digits and / _ . - only, e.g. "${example}"`);
}

function checkWholeSeconds(field: string, seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RenderInputError(field, `${seconds} is not a whole number of seconds ≥ 1`, 'use 1 or more');
}
