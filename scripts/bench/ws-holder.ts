/**
 * A child process that holds many WebSocket clients from one loopback source address (a process
 * may open at most 20,000 files here, so the benchmarks spread clients over several of these).
 * Configured by the BENCH_HOLDER_CONFIG environment variable (JSON, see {@link HolderConfig});
 * the token secret comes in BENCH_JWT_SECRET. The parent reads its state over a small HTTP
 * control port on 127.0.0.1: GET /status, GET /opens, POST /marker?id=<postId>, POST /close.
 */
import { createServer } from 'node:http';
import WebSocket from 'ws';
import { backoffMs, Jitter, type BackoffOptions } from '../../shared/index.js';
import { mintToken } from '../chaos/workload.js';

/** What the parent passes in BENCH_HOLDER_CONFIG. */
export interface HolderConfig {
  /** Port of the control HTTP server (127.0.0.1). */
  readonly controlPort: number;
  /** `ws://host:port` bases; every client starts on `targets[initialTarget]`. */
  readonly targets: readonly string[];
  /** @default 0 */
  readonly initialTarget?: number;
  /** Path (and query) of the socket URL, e.g. `/post/feed/posted`. */
  readonly path: string;
  /** User ids, one client each; with `auth` each gets its own token. */
  readonly users: readonly string[];
  /** Mint an HS256 token per user (BENCH_JWT_SECRET) and pass it as `?token=`. */
  readonly auth: boolean;
  /** Source address of every client (127.0.0.x). */
  readonly localAddress: string;
  /** Handshakes in flight at once. */
  readonly concurrency: number;
  /** Reconnect on close to a random other target, with `since` = the last cursor seen. */
  readonly reconnect: boolean;
  /** Give up a handshake after this long (then retry). */
  readonly handshakeTimeoutMs: number;
}

/** What GET /opens answers: when the holder began connecting and each client's first open. */
export interface HolderOpens {
  /** When the first handshake started (ms since epoch; tokens are minted before), 0 before that. */
  readonly startedAt: number;
  /** Per client that opened: handshake start of the attempt that succeeded → `open` (ms), in open order. */
  readonly latenciesMs: readonly number[];
  /** First-open times (ms since epoch), ascending. */
  readonly openedAt: readonly number[];
}

/** What GET /status answers. */
export interface HolderStatus {
  readonly clients: number;
  readonly open: number;
  /** Clients that opened at least once. */
  readonly everOpened: number;
  readonly connectFailures: number;
  /** Closes of an open socket. */
  readonly closes: number;
  /** First time an open socket closed (ms since epoch), 0 when none. */
  readonly firstCloseAt: number;
  /** Times (ms since epoch) of every re-open after a close, ascending. */
  readonly reopenTimes: readonly number[];
  /** Clients that have received the marker post. */
  readonly marker: number;
  /** Latest time a client received the marker, 0 when none. */
  readonly lastMarkerAt: number;
  readonly frames: number;
  readonly rssBytes: number;
}

class Client {
  ws: WebSocket | undefined;
  open = false;
  everOpened = false;
  wasClosed = false;
  attempt = 0;
  /** First open: handshake start of the successful attempt and the open time (ms since epoch). */
  firstOpen: { startedAt: number; openedAt: number } | undefined;
  target: number;
  lastCursor: string | undefined;
  readonly got = new Map<string, number>();

  constructor(
    readonly user: string,
    readonly token: string | undefined,
    target: number,
  ) {
    this.target = target;
  }
}

const config = JSON.parse(process.env['BENCH_HOLDER_CONFIG'] ?? 'null') as HolderConfig | null;
if (!config) {
  process.stderr.write('ws-holder: BENCH_HOLDER_CONFIG is not set; it must hold the JSON HolderConfig\n');
  process.exit(2);
}
const secret = process.env['BENCH_JWT_SECRET'] ?? '';
if (config.auth && secret === '') {
  process.stderr.write('ws-holder: BENCH_JWT_SECRET is not set but auth is on\n');
  process.exit(2);
}

const rand = Math.random;
/** As the chaos workload's followers: 100 ms doubling to 3 s, equal jitter. */
const reconnectBackoff: BackoffOptions = { baseMs: 100, capMs: 3000, jitter: Jitter.EQUAL, random: rand };
const clients: Client[] = [];
let connectFailures = 0;
let closes = 0;
let firstCloseAt = 0;
let frames = 0;
let marker: string | undefined;
let stopped = false;
let startedAt = 0;
const reopenTimes: number[] = [];
const firstOpens: Array<{ startedAt: number; openedAt: number }> = [];

function socketUrl(c: Client): string {
  const url = new URL(config!.path, config!.targets[c.target]!);
  if (c.token !== undefined) url.searchParams.set('token', c.token);
  if (c.lastCursor !== undefined) url.searchParams.set('since', c.lastCursor);
  return url.toString();
}

/** Opens one client; resolves when it opened or failed (a failure schedules a reconnect when enabled). */
function connect(c: Client): Promise<void> {
  return new Promise((resolve) => {
    const attemptAt = Date.now();
    const ws = new WebSocket(socketUrl(c), { localAddress: config!.localAddress, handshakeTimeout: config!.handshakeTimeoutMs, perMessageDeflate: false });
    c.ws = ws;
    let settled = false;
    const settle = () => {
      if (!settled) {
        settled = true;
        resolve();
      }
    };
    ws.on('open', () => {
      c.open = true;
      c.attempt = 0;
      if (c.wasClosed) reopenTimes.push(Date.now());
      if (!c.everOpened) {
        c.firstOpen = { startedAt: attemptAt, openedAt: Date.now() };
        firstOpens.push(c.firstOpen);
      }
      c.everOpened = true;
      settle();
    });
    ws.on('message', (data) => {
      frames++;
      try {
        const f = JSON.parse(String(data)) as { postId?: unknown; cursor?: unknown };
        if (typeof f.cursor === 'string') c.lastCursor = f.cursor;
        if (typeof f.postId === 'string' && !c.got.has(f.postId)) c.got.set(f.postId, Date.now());
      } catch {
        /* not a feed frame */
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (c.ws !== ws) return;
      if (c.open) {
        closes++;
        if (firstCloseAt === 0) firstCloseAt = Date.now();
        c.wasClosed = true;
      } else connectFailures++;
      const wasOpen = c.wasClosed && c.everOpened;
      c.open = false;
      settle();
      // A connect that failed (SYN backlog full, handshake timeout) is always retried; a close of an open socket only with `reconnect`.
      if (stopped || (wasOpen && !config!.reconnect)) return;
      if (!c.everOpened && !config!.reconnect) {
        setTimeout(() => void connect(c), backoffMs(c.attempt++, reconnectBackoff));
        return;
      }
      const n = config!.targets.length;
      if (n > 1) c.target = (c.target + 1 + Math.floor(rand() * (n - 1))) % n;
      setTimeout(() => void connect(c), backoffMs(c.attempt++, reconnectBackoff));
    });
  });
}

function status(): HolderStatus {
  let open = 0;
  let everOpened = 0;
  let withMarker = 0;
  let lastMarkerAt = 0;
  for (const c of clients) {
    if (c.open) open++;
    if (c.everOpened) everOpened++;
    const at = marker !== undefined ? c.got.get(marker) : undefined;
    if (at !== undefined) {
      withMarker++;
      lastMarkerAt = Math.max(lastMarkerAt, at);
    }
  }
  return {
    clients: clients.length,
    open,
    everOpened,
    connectFailures,
    closes,
    firstCloseAt,
    reopenTimes: [...reopenTimes].sort((a, b) => a - b),
    marker: withMarker,
    lastMarkerAt,
    frames,
    rssBytes: process.memoryUsage.rss(),
  };
}

const control = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/status') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status()));
  } else if (req.method === 'GET' && url.pathname === '/opens') {
    const opens: HolderOpens = { startedAt, latenciesMs: firstOpens.map((o) => o.openedAt - o.startedAt), openedAt: firstOpens.map((o) => o.openedAt) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(opens));
  } else if (req.method === 'POST' && url.pathname === '/marker') {
    marker = url.searchParams.get('id') ?? undefined;
    res.writeHead(204).end();
  } else if (req.method === 'POST' && url.pathname === '/close') {
    stopped = true;
    for (const c of clients) c.ws?.terminate();
    res.writeHead(204).end();
  } else res.writeHead(404).end();
});
control.listen(config.controlPort, '127.0.0.1');

for (const user of config.users) clients.push(new Client(user, config.auth ? await mintToken(secret, user) : undefined, config.initialTarget ?? 0));
let next = 0;
startedAt = Date.now();
await Promise.all(
  Array.from({ length: Math.max(1, config.concurrency) }, async () => {
    while (next < clients.length && !stopped) await connect(clients[next++]!);
  }),
);
