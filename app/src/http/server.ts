/** The HTTP server: health, readiness, metrics, the authenticated API, and the WebSocket upgrade. */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Routes } from '../../../shared/constants.js';
import { AuthError, tokenFromRequest, type Principal, type TokenVerifier } from '../auth/jwt.js';
import type { FeedMetrics } from '../metrics.js';
import type { ConnectionSlot } from '../graphql/connection-cap.js';
import type { FeedGraphql } from '../graphql/server.js';
import { CURSOR, SUBSCRIPTION_CAP_RETRY_AFTER_S, type FeedSocketHub } from '../ws/hub.js';
import { FeedSocketServer } from '../ws/socket.js';
import { startEventStream } from '../sse/stream.js';
import { matchRoute, type ApiRoute } from './api.js';
import { HttpError, sendJson } from './respond.js';



/** The request target as a URL; undefined when it cannot be one (e.g. `//[`, which `new URL` rejects). */
function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

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
  /** GraphQL at /graphql (HTTP and graphql-ws). @default none: /graphql is 404 */
  readonly graphql?: FeedGraphql;
  /** Whether the replica queue exists and receives the feed: until then an upgrade could not be "subscribed" and is refused. */
  readonly subscribed: () => boolean;
  /**
   * Why the replica's delivery path is silent (the canary's reason), or undefined while it flows.
   * A new subscriber would be "subscribed" to nothing, so it is refused and goes to another replica.
   * @default never silent
   */
  readonly silent?: () => string | undefined;
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

/** Status for a request Node's HTTP parser refused (the default answer is a bare 400 without a body). */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/** Answers a request the parser refused with a JSON error too, unless a response already started or the peer is gone. */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  rejectUpgrade(socket, clientErrorStatus(err.code), `malformed HTTP request (${err.code ?? 'parse error'}); check the request line, headers and body framing`);
}

function rejectUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: message });
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'content-type: application/json; charset=utf-8', `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
  for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/** A subscription request that passed every check: who, and from which cursor. */
interface Admitted {
  readonly principal: Principal;
  readonly since: string | undefined;
}

/** Why this replica takes no new subscriber now (answered 503 with Retry-After: 1), or undefined when it does. */
function notServing(props: FeedHttpServerProps): string | undefined {
  if (props.draining()) return 'replica is shutting down; reconnect to another replica';
  if (!props.subscribed()) return 'replica is not receiving the feed yet; reconnect shortly';
  const silent = props.silent?.();
  if (silent !== undefined) return `replica's delivery path is silent (${silent}); reconnect to another replica`;
  return undefined;
}

/**
 * The checks every feed transport makes before it subscribes, in order: draining, queue not
 * declared yet or delivery path silent (503), token (401), `since` (400); then the caller runs {@link checkCap} and
 * subscribes with no await in between. Throws {@link HttpError}.
 * `resumeFrom` is a cursor from the transport's own resume mechanism (SSE's Last-Event-ID), which
 * wins over `?since=`.
 */
async function admitSubscriber(props: FeedHttpServerProps, req: IncomingMessage, url: URL, resumeFrom?: string): Promise<Admitted> {
  const refused = notServing(props);
  if (refused !== undefined) throw new HttpError(503, refused, { 'retry-after': '1' });
  const principal = await authenticateOr401(props.verify, req, url);
  const since = resumeFrom ?? url.searchParams.get('since') ?? undefined;
  if (since !== undefined && !CURSOR.test(since)) throw new HttpError(400, `since must be a cursor from a frame, got "${since.slice(0, 32)}"`);
  return { principal, since };
}

/** 429 when `userId` holds the most subscriptions allowed; synchronous, so the subscribe that follows in the same tick cannot be overtaken. */
function checkCap(hub: FeedSocketHub, userId: string): void {
  if (!hub.admits(userId)) throw new HttpError(429, hub.capMessage(), { 'retry-after': String(SUBSCRIPTION_CAP_RETRY_AFTER_S) });
}

async function authenticateOr401(verify: TokenVerifier, req: IncomingMessage, url: URL): Promise<Principal> {
  try {
    return await authenticate(verify, req, url);
  } catch (e) {
    if (e instanceof AuthError) throw new HttpError(401, e.reason, { 'www-authenticate': 'Bearer' });
    throw e;
  }
}

/**
 * graphql-ws: the replica must be serving the feed, and a token in the upgrade request must not
 * exceed its user's connection cap (429); the token is checked at connection_init, the cap per
 * connection (here or at connection_init) and per subscription.
 */
async function upgradeGraphql(props: FeedHttpServerProps, graphql: FeedGraphql, req: IncomingMessage, url: URL, socket: Duplex, head: Buffer): Promise<void> {
  const refused = notServing(props);
  if (refused !== undefined) return rejectUpgrade(socket, 503, refused, { 'retry-after': '1' });
  let slot: ConnectionSlot | undefined;
  try {
    slot = await graphql.admitUpgrade(req, url);
  } catch (e) {
    if (e instanceof HttpError) return rejectUpgrade(socket, e.status, e.message, e.headers);
    throw e;
  }
  graphql.upgrade(req, socket, head, slot);
}

export function createFeedHttpServer(props: FeedHttpServerProps): FeedHttpServer {
  let inFlight = 0;
  const { metrics, log } = props;
  const sockets = new FeedSocketServer(props.hub, metrics, log);

  /** `GET /post/feed/events`: the checks, then the stream (the hub holds it from here; the request counts as handled). */
  async function eventStream(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed on ${Routes.FEED_EVENTS}`, { allow: 'GET' });
    const lastEventId = req.headers['last-event-id'];
    const { principal, since } = await admitSubscriber(props, req, url, typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId.trim() : undefined);
    checkCap(props.hub, principal.userId);
    startEventStream(props.hub, res, principal, since);
  }

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
    if (path === Routes.FEED_EVENTS) {
      await eventStream(req, res, url);
      return 'events';
    }
    const graphql = path === Routes.GRAPHQL ? props.graphql : undefined;
    const hit = graphql === undefined ? matchRoute(props.routes, method, path) : undefined;
    if (!hit && !graphql) throw new HttpError(404, `no route ${method} ${path}`);
    if (props.draining()) throw new HttpError(503, 'replica is shutting down; retry on another replica', { connection: 'close', 'retry-after': '1' });
    const principal = await authenticateOr401(props.verify, req, url);
    if (graphql) {
      await graphql.http(req, res, principal.userId);
      return Routes.GRAPHQL;
    }
    await hit!.route.handle(req, res, principal.userId, hit!.param, url);
    return hit!.route.path;
  }

  const server = createServer((req, res) => {
    inFlight++;
    const url = requestUrl(req);
    let route = 'unknown';
    (url === undefined ? Promise.reject(new HttpError(400, 'the request target is not a valid URL path')) : handle(req, res, url))
      .then((r) => (route = r))
      .catch((e: unknown) => {
        if (e instanceof HttpError) {
          sendJson(res, e.status, { error: e.message }, e.headers);
        } else {
          log.error({ err: (e as Error).message, path: url?.pathname }, 'http: request failed');
          if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
          else res.destroy();
        }
      })
      .finally(() => {
        inFlight--;
        metrics.httpRequests.inc({ route, status: String(res.statusCode) });
      });
  });

  server.on('clientError', answerClientError);

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const url = requestUrl(req);
    void (async () => {
      if (url === undefined) return rejectUpgrade(socket, 400, 'the request target is not a valid URL path');
      if (url.pathname === Routes.GRAPHQL && props.graphql) return upgradeGraphql(props, props.graphql, req, url, socket, head);
      if (url.pathname !== Routes.FEED_SOCKET) return rejectUpgrade(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
      let admitted: Admitted;
      try {
        admitted = await admitSubscriber(props, req, url);
        checkCap(props.hub, admitted.principal.userId);
      } catch (e) {
        if (e instanceof HttpError) return rejectUpgrade(socket, e.status, e.message, e.headers);
        throw e;
      }
      // Same tick as checkCap, and ws completes the upgrade (and subscribes) synchronously.
      sockets.upgrade(req, socket, head, admitted.principal, admitted.since);
    })().catch((e: Error) => {
      log.error({ err: e.message }, 'ws: upgrade failed');
      if (!socket.destroyed) rejectUpgrade(socket, 500, 'internal error');
    });
  });

  return { server, inFlight: () => inFlight };
}
