/**
 * The twin's stand-in for the Kubernetes Service in front of the app replicas: HTTP and WebSocket
 * upgrades, round-robin over the replicas whose `/readyz` answers 200 (checked every second, and at
 * once when a connection to a replica fails). Runs as its own process so it outlives `local up`:
 *
 *   node --import tsx scripts/local/load-balancer.ts --port 8080 --backends 127.0.0.1:8081,127.0.0.1:8082
 */
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
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

/** Starts the balancer in this process. */
export async function startLoadBalancer(opts: LoadBalancerOptions): Promise<LoadBalancer> {
  const backends = [...opts.backends];
  const isReady = new Map<Backend, boolean>(backends.map((b) => [b, false]));
  let next = 0;

  const check = async (b: Backend): Promise<void> => {
    try {
      const res = await fetch(`http://${b.host}:${b.port}${Routes.READY}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer().catch(() => undefined);
      isReady.set(b, res.status === 200);
    } catch {
      isReady.set(b, false);
    }
  };
  const checkAll = () => Promise.all(backends.map(check));
  await checkAll();
  const timer = setInterval(() => void checkAll(), opts.checkIntervalMs ?? 1000);

  /** Ready backends in round-robin order starting at the next turn. */
  const candidates = (): Backend[] => {
    const ready = backends.filter((b) => isReady.get(b));
    if (ready.length === 0) return [];
    const start = next++ % ready.length;
    return [...ready.slice(start), ...ready.slice(0, start)];
  };

  const markDown = (b: Backend) => {
    isReady.set(b, false);
    void check(b);
  };

  // No pooled connections: a pooled socket to a replica that just died fails in ways that look like a sent request.
  const agent = new Agent({ keepAlive: false });

  const server: Server = createServer((req, res) => {
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
      const body = Buffer.concat(chunks);
      const tryNext = (list: Backend[]) => {
        const b = list.shift();
        if (!b) {
          res.writeHead(503, { 'content-type': 'text/plain' }).end('no ready app replica\n');
          return;
        }
        const up = request(
          { agent, host: b.host, port: b.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' } },
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
            markDown(b);
            tryNext(list);
          } else if (!res.headersSent) {
            res.writeHead(502, { 'content-type': 'text/plain' }).end('app replica closed the connection\n');
          } else {
            res.destroy();
          }
        });
        up.end(body);
      };
      tryNext(candidates());
    });
  });

  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const tryNext = (list: Backend[]) => {
      const b = list.shift();
      if (!b) {
        client.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const up = connect({ host: b.host, port: b.port });
      let connected = false;
      up.once('connect', () => {
        connected = true;
        const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        up.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length) up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', () => {
        if (!connected) {
          markDown(b);
          tryNext(list);
        } else client.destroy();
      });
      up.on('close', () => client.destroy());
      client.on('error', () => up.destroy());
      client.on('close', () => up.destroy());
    };
    tryNext(candidates());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });

  return {
    port: opts.port,
    ready: () => backends.filter((b) => isReady.get(b)),
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
