/** The HTTP server: health, readiness, metrics, the authenticated API, and the WebSocket upgrade. */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Routes } from '../../../shared/constants.js';
import { AuthError, tokenFromRequest, type Principal, type TokenVerifier } from '../auth/jwt.js';
import type { FeedMetrics } from '../metrics.js';
import type { FeedSocketHub } from '../ws/hub.js';
import { matchRoute, type ApiRoute } from './api.js';
import { HttpError, sendJson } from './respond.js';

/** `?since=` is a cursor: a decimal bigint. */
const CURSOR = /^\d{1,19}$/;

export interface ReadinessReport {
  readonly ready: boolean;
  readonly [check: string]: unknown;
}

export interface FeedHttpServerProps {
  readonly routes: readonly ApiRoute[];
  readonly verify: TokenVerifier;
  readonly hub: FeedSocketHub;
  readonly metrics: FeedMetrics;
  readonly log: Logger;
  readonly readiness: () => Promise<ReadinessReport>;
  readonly draining: () => boolean;
  /** Whether the replica queue exists and receives the feed: until then an upgrade could not be "subscribed" and is refused. */
  readonly subscribed: () => boolean;
}

export interface FeedHttpServer {
  readonly server: Server;
  /** Requests being handled right now. */
  inFlight(): number;
}

async function authenticate(verify: TokenVerifier, req: IncomingMessage, url: URL): Promise<Principal> {
  const token = tokenFromRequest(req.headers.authorization, url);
  if (token === undefined) throw new AuthError('missing bearer token (Authorization: Bearer <jwt> or ?token=)');
  return verify(token);
}

function rejectUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: message });
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'content-type: application/json; charset=utf-8', `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
  for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

export function createFeedHttpServer(props: FeedHttpServerProps): FeedHttpServer {
  let inFlight = 0;
  const { metrics, log } = props;

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<string> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === Routes.HEALTH) {
      sendJson(res, 200, { status: 'ok' });
      return 'healthz';
    }
    if (path === Routes.READY) {
      const report = await props.readiness();
      sendJson(res, report.ready ? 200 : 503, report);
      return 'readyz';
    }
    if (path === Routes.METRICS) {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return 'metrics';
    }
    if (path === Routes.FEED_SOCKET) throw new HttpError(426, `${Routes.FEED_SOCKET} is a WebSocket endpoint; send an Upgrade request`, { upgrade: 'websocket' });
    const hit = matchRoute(props.routes, method, path);
    if (!hit) throw new HttpError(404, `no route ${method} ${path}`);
    if (props.draining()) throw new HttpError(503, 'replica is shutting down; retry on another replica', { connection: 'close', 'retry-after': '1' });
    let principal: Principal;
    try {
      principal = await authenticate(props.verify, req, url);
    } catch (e) {
      if (e instanceof AuthError) throw new HttpError(401, e.reason, { 'www-authenticate': 'Bearer' });
      throw e;
    }
    await hit.route.handle(req, res, principal.userId, hit.param, url);
    return hit.route.path;
  }

  const server = createServer((req, res) => {
    inFlight++;
    const url = new URL(req.url ?? '/', 'http://localhost');
    let route = 'unknown';
    handle(req, res, url)
      .then((r) => (route = r))
      .catch((e: unknown) => {
        if (e instanceof HttpError) {
          sendJson(res, e.status, { error: e.message }, e.headers);
        } else {
          log.error({ err: (e as Error).message, path: url.pathname }, 'http: request failed');
          if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
          else res.destroy();
        }
      })
      .finally(() => {
        inFlight--;
        metrics.httpRequests.inc({ route, status: String(res.statusCode) });
      });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://localhost');
    void (async () => {
      if (url.pathname !== Routes.FEED_SOCKET) return rejectUpgrade(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
      if (props.draining()) return rejectUpgrade(socket, 503, 'replica is shutting down; reconnect to another replica', { 'retry-after': '1' });
      if (!props.subscribed()) return rejectUpgrade(socket, 503, 'replica is not receiving the feed yet; reconnect shortly', { 'retry-after': '1' });
      let principal: Principal;
      try {
        principal = await authenticate(props.verify, req, url);
      } catch (e) {
        if (e instanceof AuthError) return rejectUpgrade(socket, 401, e.reason, { 'www-authenticate': 'Bearer' });
        throw e;
      }
      const since = url.searchParams.get('since') ?? undefined;
      if (since !== undefined && !CURSOR.test(since)) return rejectUpgrade(socket, 400, `since must be a cursor from a frame, got "${since.slice(0, 32)}"`);
      props.hub.upgrade(req, socket, head, principal, since);
    })().catch((e: Error) => {
      log.error({ err: e.message }, 'ws: upgrade failed');
      if (!socket.destroyed) rejectUpgrade(socket, 500, 'internal error');
    });
  });

  return { server, inFlight: () => inFlight };
}
