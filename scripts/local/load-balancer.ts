/**
 * The twin's stand-in for the Kubernetes Service in front of the app replicas: HTTP and WebSocket
 * upgrades, round-robin over the replicas whose `/readyz` answers 200 (checked every second, and at
 * once when a connection to a replica fails). Runs as its own process so it outlives `local up`:
 *
 *   node --import tsx scripts/local/load-balancer.ts --port 8080 --backends 127.0.0.1:8081,127.0.0.1:8082
 */
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Routes } from '../../shared/index.js';
import { numberFlag, parseCli, parseFlags, STRING, TCP_PORT, UsageError } from '../cli-args.js';

/** One app replica behind the balancer. */
export interface Backend {
  readonly host: string;
  readonly port: number;
}

/** Options of {@link startLoadBalancer}. */
export interface LoadBalancerOptions {
  /** Port to listen on (127.0.0.1). */
  readonly port: number;
  readonly backends: readonly Backend[];
  /**
   * Readiness check period.
   * @default 1000
   */
  readonly checkIntervalMs?: number;
}

/** Methods safe to send again to another replica after a failure before any response. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Largest request body buffered for a retry on another replica. */
const MAX_BUFFERED_BODY = 1024 * 1024;

/** A running balancer (in this process). */
export interface LoadBalancer {
  readonly port: number;
  /** Backends whose last readiness check passed. */
  ready(): Backend[];
  close(): Promise<void>;
}

/** Which replicas answered their last readiness check, and whose turn it is. */
class BackendPool {
  private readonly isReady: Map<Backend, boolean>;
  private next = 0;

  constructor(private readonly backends: readonly Backend[]) {
    this.isReady = new Map(backends.map((b) => [b, false]));
  }

  async checkAll(): Promise<void> {
    await Promise.all(this.backends.map((b) => this.check(b)));
  }

  ready(): Backend[] {
    return this.backends.filter((b) => this.isReady.get(b));
  }

  /** Ready backends in round-robin order starting at the next turn. */
  candidates(): Backend[] {
    const ready = this.ready();
    if (ready.length === 0) return [];
    const start = this.next++ % ready.length;
    return [...ready.slice(start), ...ready.slice(0, start)];
  }

  /** A failed connection is fresher news than the last check: skip the replica until it passes again. */
  markDown(b: Backend): void {
    this.isReady.set(b, false);
    void this.check(b);
  }

  private async check(b: Backend): Promise<void> {
    try {
      const res = await fetch(`http://${b.host}:${b.port}${Routes.READY}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer().catch(() => undefined);
      this.isReady.set(b, res.status === 200);
    } catch {
      this.isReady.set(b, false);
    }
  }
}

/** Buffers the request body (a retry on another replica must send it again), then forwards it. */
function proxyRequest(pool: BackendPool, agent: Agent, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BUFFERED_BODY) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BUFFERED_BODY) {
      res.writeHead(413).end('request body too large for the local load balancer\n');
      return;
    }
    forwardRequest({ pool, agent, req, res, body: Buffer.concat(chunks) }, pool.candidates());
  });
}

/** One HTTP request on its way through the balancer. */
interface Exchange {
  readonly pool: BackendPool;
  readonly agent: Agent;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: Buffer;
}

/** Sends the request to the first of `list`; on a failure that is safe to repeat, to the next. */
function forwardRequest(x: Exchange, list: Backend[]): void {
  const { req, res } = x;
  const b = list.shift();
  if (!b) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('no ready app replica\n');
    return;
  }
  const up = request(
    { agent: x.agent, host: b.host, port: b.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' } },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  let sent = false;
  up.on('socket', (s: Socket) => s.once('connect', () => (sent = true)));
  up.on('error', () => {
    if (!res.headersSent && (!sent || IDEMPOTENT.has(req.method ?? ''))) {
      // Never reached the replica, or harmless to repeat: send it elsewhere (a dying replica may still accept).
      x.pool.markDown(b);
      forwardRequest(x, list);
    } else if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('app replica closed the connection\n');
    } else {
      res.destroy();
    }
  });
  up.end(x.body);
}

/** Pipes a WebSocket upgrade to the first of `list` that accepts a TCP connection. */
function proxyUpgrade(pool: BackendPool, req: IncomingMessage, client: Socket, head: Buffer, list: Backend[]): void {
  const b = list.shift();
  if (!b) {
    client.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  const up = connect({ host: b.host, port: b.port });
  let connected = false;
  up.once('connect', () => {
    connected = true;
    // The upgrade request was already parsed here: send it again, byte for byte, to the replica.
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    up.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) up.write(head);
    up.pipe(client);
    client.pipe(up);
  });
  up.on('error', () => {
    if (!connected) {
      pool.markDown(b);
      proxyUpgrade(pool, req, client, head, list);
    } else client.destroy();
  });
  up.on('close', () => client.destroy());
  client.on('error', () => up.destroy());
  client.on('close', () => up.destroy());
}

/** Starts the balancer in this process. */
export async function startLoadBalancer(opts: LoadBalancerOptions): Promise<LoadBalancer> {
  const pool = new BackendPool([...opts.backends]);
  await pool.checkAll();
  const timer = setInterval(() => void pool.checkAll(), opts.checkIntervalMs ?? 1000);
  // No pooled connections: a pooled socket to a replica that just died fails in ways that look like a sent request.
  const agent = new Agent({ keepAlive: false });
  const server: Server = createServer((req, res) => proxyRequest(pool, agent, req, res));
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => proxyUpgrade(pool, req, client, head, pool.candidates()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  return {
    port: opts.port,
    ready: () => pool.ready(),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const USAGE = 'usage: node --import tsx scripts/local/load-balancer.ts --port P --backends HOST:PORT[,HOST:PORT…]';

/** The command line (the twin starts this file as its own process). Throws a {@link UsageError}. */
export function parseLoadBalancerArgs(argv: readonly string[]): LoadBalancerOptions {
  const v = parseFlags(argv, { port: STRING, backends: STRING }).values;
  if (v.port === undefined) throw new UsageError('--port: give the TCP port to listen on, e.g. --port 8080');
  const port = numberFlag('port', v.port, TCP_PORT);
  const backends = (v.backends ?? '').split(',').filter(Boolean).map((hp) => {
    const [host, p] = hp.split(':');
    if (!host || p === undefined || !Number.isInteger(Number(p)) || Number(p) < TCP_PORT.min || Number(p) > TCP_PORT.max) {
      throw new UsageError(`--backends: "${hp}" is not host:port. Fix: --backends 127.0.0.1:8081,127.0.0.1:8082`);
    }
    return { host, port: Number(p) };
  });
  if (backends.length === 0) throw new UsageError('--backends: give at least one host:port');
  return { port, backends };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opts = parseCli(USAGE, () => parseLoadBalancerArgs(process.argv.slice(2)));
  const lb = await startLoadBalancer(opts);
  process.stdout.write(`load balancer on 127.0.0.1:${lb.port} -> ${opts.backends.map((b) => `${b.host}:${b.port}`).join(', ')}\n`);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => void lb.close().finally(() => process.exit(0)));
  }
}
