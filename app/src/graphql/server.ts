/**
 * GraphQL at `/graphql`: queries and mutations over HTTP (POST, JSON), the `postAdded`
 * subscription over WebSocket with the graphql-ws protocol. Resolvers call the same functions as
 * the HTTP API; each subscription is one hub subscriber, like a socket or an event stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, Kind, execute, parse, validate, visit, type DocumentNode, type ExecutionResult } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { AuthError, tokenFromRequest, type Principal, type TokenVerifier } from '../auth/jwt.js';
import { createPost, DEFAULT_FEED_LIMIT, getPost, MAX_FEED_LIMIT, userParam, type ApiDeps } from '../http/api.js';
import { HttpError, readJsonObject, sendJson } from '../http/respond.js';
import type { Post } from '../db/store.js';
import type { FeedFrame } from '../ws/frame.js';
import { CloseCodes } from '../../../shared/constants.js';
import { CURSOR, SUBSCRIPTION_CAP_RETRY_AFTER_S, type EndReason, type FeedSocketHub, type SubscriberSink } from '../ws/hub.js';
import { ConnectionCap, type ConnectionSlot } from './connection-cap.js';
import { feedSchema } from './schema.js';

/** Name of this transport in metrics and logs. */
export const GRAPHQL_TRANSPORT = 'graphql';

/**
 * Most fields one document may select: the schema has no recursion, so breadth (aliases: a thousand
 * `feed(limit: 100)` in one 64 KiB body) is the way one request could cost a thousand.
 */
export const MAX_GRAPHQL_FIELDS = 100;

/** Largest graphql-ws message a client may send (subscribe messages are small). */
const MAX_GRAPHQL_WS_MESSAGE_BYTES = 64 * 1024;

export interface FeedGraphqlProps extends ApiDeps {
  readonly hub: FeedSocketHub;
  readonly verify: TokenVerifier;
  readonly log: Logger;
  /** graphql-ws connections one user may hold on this replica (the hub's per-user subscription cap). */
  readonly maxConnectionsPerUser: number;
}

interface Context {
  readonly userId: string;
  /** Set on WebSocket connections: what a subscription is registered with. */
  readonly principal?: Principal;
  readonly socket?: WebSocket;
}

const postOut = (p: Post) => ({ id: p.id, text: p.text, authorUserId: p.authorId, cursor: p.cursor, createdAt: p.createdAt });
const frameOut = (f: FeedFrame) => ({ postId: f.postId, postText: f.postText, authorUserId: f.author_user_id, cursor: f.cursor, createdAt: f.createdAt });

/** A GraphQL error the client can act on: the HTTP API's status and message. */
function clientError(e: HttpError): GraphQLError {
  return new GraphQLError(e.message, { extensions: { status: e.status, ...(e.headers['retry-after'] !== undefined ? { retryAfterSeconds: Number(e.headers['retry-after']) } : {}) } });
}

/** One subscription's frames as an async iterator the graphql-ws server pulls from. */
class SubscriptionSink implements SubscriberSink, AsyncIterableIterator<{ postAdded: ReturnType<typeof frameOut> }> {
  private readonly queue: FeedFrame[] = [];
  private queuedBytes = 0;
  private waiting: ((r: IteratorResult<{ postAdded: ReturnType<typeof frameOut> }>) => void) | undefined;
  private done = false;
  /** Called once when the subscription is over (client complete, socket gone, ended by the hub). */
  onDone: () => void = () => undefined;

  constructor(private readonly socket: WebSocket) {}

  get open(): boolean {
    return !this.done && this.socket.readyState === WebSocket.OPEN;
  }

  get bufferedBytes(): number {
    return this.queuedBytes + this.socket.bufferedAmount;
  }

  send(frame: FeedFrame): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: { postAdded: frameOut(frame) }, done: false });
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.postText.length + frame.postId.length + 128;
  }

  /** The reason travels as the WebSocket close code, as on the feed socket; every subscription of that socket ends with it. */
  end(reason: EndReason): void {
    this.socket.close(reason.code, reason.message);
    this.finish();
  }

  probe(): boolean {
    return true; // graphql-ws pings the socket itself
  }

  terminate(): void {
    this.socket.terminate();
    this.finish();
  }

  next(): Promise<IteratorResult<{ postAdded: ReturnType<typeof frameOut> }>> {
    const frame = this.queue.shift();
    if (frame !== undefined) {
      this.queuedBytes -= frame.postText.length + frame.postId.length + 128;
      return Promise.resolve({ value: { postAdded: frameOut(frame) }, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<{ postAdded: ReturnType<typeof frameOut> }>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = undefined;
    this.onDone();
  }
}

export class FeedGraphql {
  private readonly schema = feedSchema();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_GRAPHQL_WS_MESSAGE_BYTES, clientTracking: false });
  private readonly cap: ConnectionCap;
  /** The place each counted connection holds, released when the socket closes. */
  private readonly slots = new WeakMap<WebSocket, ConnectionSlot>();

  constructor(private readonly props: FeedGraphqlProps) {
    this.cap = new ConnectionCap(props.maxConnectionsPerUser);
    useServer<Record<string, unknown>, { principal: Principal }>(
      {
        schema: this.schema,
        roots: { query: this.queries(), mutation: this.mutations(), subscription: this.subscriptions() },
        onConnect: async (ctx) => {
          const fromParams = ctx.connectionParams?.['token'];
          const url = new URL(ctx.extra.request.url ?? '/', 'http://localhost');
          const token = typeof fromParams === 'string' && fromParams !== '' ? fromParams : tokenFromRequest(ctx.extra.request.headers.authorization, url);
          if (token === undefined) return false;
          let principal: Principal;
          try {
            principal = await props.verify(token);
          } catch (e) {
            if (e instanceof AuthError) return false;
            throw e;
          }
          if (!this.holdSlot(ctx.extra.socket, principal.userId)) {
            // graphql-ws would close with 4403 on false; the close below wins (a second close is a no-op).
            ctx.extra.socket.close(CloseCodes.TOO_MANY_CONNECTIONS, this.cap.message());
            return false;
          }
          (ctx.extra as { principal?: Principal }).principal = principal;
          return true;
        },
        context: (ctx): Context => ({ userId: ctx.extra.principal!.userId, principal: ctx.extra.principal!, socket: ctx.extra.socket }),
      },
      this.wss,
    );
  }

  /**
   * The connection cap before the upgrade: when the upgrade request carries a valid token
   * (Authorization or `?token=`), takes a place for its user or throws 429. Without one (the token
   * comes in `connectionParams`) or with an invalid one, the cap is applied at connection_init.
   */
  async admitUpgrade(req: IncomingMessage, url: URL): Promise<ConnectionSlot | undefined> {
    const token = tokenFromRequest(req.headers.authorization, url);
    if (token === undefined) return undefined;
    let principal: Principal;
    try {
      principal = await this.props.verify(token);
    } catch (e) {
      if (e instanceof AuthError) return undefined; // connection_init may still bring a valid one
      throw e;
    }
    const slot = this.cap.acquire(principal.userId);
    if (!slot) throw new HttpError(429, this.cap.message(), { 'retry-after': String(SUBSCRIPTION_CAP_RETRY_AFTER_S) });
    return slot;
  }

  /** Completes a graphql-ws upgrade; `slot` is the place {@link admitUpgrade} took, held until the socket closes. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, slot?: ConnectionSlot): void {
    let completed = false;
    if (!socket.destroyed) {
      // ws completes the upgrade synchronously (no verifyClient), so `completed` is known on return.
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        completed = true;
        if (slot) this.keepSlot(ws, slot);
        this.wss.emit('connection', ws, req);
      });
    }
    if (!completed) slot?.release();
  }

  /** Whether `socket` holds a place for `userId` now: the one from the upgrade, or a new one; false at the cap. */
  private holdSlot(socket: WebSocket, userId: string): boolean {
    const held = this.slots.get(socket);
    if (held?.userId === userId) return true;
    // connectionParams named another user than the upgrade request: count the one that subscribes.
    held?.release();
    const slot = this.cap.acquire(userId);
    if (!slot) return false;
    this.keepSlot(socket, slot);
    return true;
  }

  private keepSlot(socket: WebSocket, slot: ConnectionSlot): void {
    this.slots.set(socket, slot);
    socket.once('close', () => slot.release());
  }

  /** `POST /graphql` with `{"query", "variables"?, "operationName"?}`: 200 with `data`/`errors`, 400 when the document does not parse or validate. */
  async http(req: IncomingMessage, res: ServerResponse, userId: string): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} is not allowed on /graphql; POST {"query": ...}`, { allow: 'POST' });
    const body = await readJsonObject(req);
    const { query, variables, operationName } = body;
    if (typeof query !== 'string') throw new HttpError(400, 'query is required and must be a string');
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) throw new HttpError(400, 'variables must be an object');
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') throw new HttpError(400, 'operationName must be a string');
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (e) {
      return sendJson(res, 400, { errors: [{ message: (e as GraphQLError).message }], error: (e as GraphQLError).message });
    }
    let fields = 0;
    visit(document, { [Kind.FIELD]: () => void fields++ });
    if (fields > MAX_GRAPHQL_FIELDS) throw new HttpError(400, `the document selects ${fields} fields; at most ${MAX_GRAPHQL_FIELDS} per request`);
    const invalid = validate(this.schema, document);
    if (invalid.length > 0) return sendJson(res, 400, { errors: invalid.map((e) => ({ message: e.message })), error: invalid[0]!.message });
    if (document.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'subscription')) {
      throw new HttpError(400, 'subscriptions run over WebSocket (graphql-ws protocol) at /graphql, not over HTTP');
    }
    const result = (await execute({
      schema: this.schema,
      document,
      rootValue: { ...this.queries(), ...this.mutations() },
      contextValue: { userId } satisfies Context,
      variableValues: (variables ?? undefined) as Record<string, unknown> | undefined,
      operationName: (operationName ?? undefined) as string | undefined,
    })) as ExecutionResult;
    sendJson(res, 200, { ...result, ...(result.errors ? { errors: result.errors.map((e) => this.masked(e)) } : {}) });
  }

  /** A resolver's unexpected error keeps its path but not its message (logged instead). */
  private masked(e: GraphQLError): GraphQLError {
    if (e.originalError === undefined || e.originalError instanceof GraphQLError) return e;
    this.props.log.error({ err: e.originalError.message, path: e.path }, 'graphql: resolver failed');
    return new GraphQLError('internal error', { path: e.path ?? [] });
  }

  private queries() {
    const { store } = this.props;
    return {
      post: wrap(async ({ id }: { id: string }) => {
        try {
          return postOut(await getPost(store, id));
        } catch (e) {
          if (e instanceof HttpError && e.status === 404) return null;
          throw e;
        }
      }),
      feed: wrap(async ({ offset, limit }: { offset: number; limit: number }, ctx: Context) => {
        if (offset < 0 || offset > 1_000_000) throw new HttpError(400, `offset must be in [0, 1000000], got ${offset}`);
        if (limit < 1 || limit > MAX_FEED_LIMIT) throw new HttpError(400, `limit must be in [1, ${MAX_FEED_LIMIT}] (default ${DEFAULT_FEED_LIMIT}), got ${limit}`);
        return (await store.feed(ctx.userId, offset, limit)).map(postOut);
      }),
    };
  }

  private mutations() {
    const deps: ApiDeps = this.props;
    return {
      createPost: wrap(async ({ text }: { text: string }, ctx: Context) => {
        const p = await createPost(deps, ctx.userId, text);
        return { id: p.id, cursor: p.cursor, createdAt: p.createdAt };
      }),
      follow: wrap(async ({ userId }: { userId: string }, ctx: Context) => {
        await deps.store.follow(ctx.userId, userParam(userId));
        return true;
      }),
      unfollow: wrap(async ({ userId }: { userId: string }, ctx: Context) => {
        await deps.store.unfollow(ctx.userId, userParam(userId));
        return true;
      }),
    };
  }

  private subscriptions() {
    const { hub } = this.props;
    return {
      postAdded: wrap(({ since }: { since?: string | null }, ctx: Context) => {
        if (ctx.principal === undefined || ctx.socket === undefined) throw new HttpError(400, 'subscriptions run over WebSocket (graphql-ws protocol) at /graphql');
        if (since !== undefined && since !== null && !CURSOR.test(since)) throw new HttpError(400, `since must be a cursor from a post, got "${since.slice(0, 32)}"`);
        if (!hub.admits(ctx.userId)) throw new HttpError(429, hub.capMessage(), { 'retry-after': String(SUBSCRIPTION_CAP_RETRY_AFTER_S) });
        const sink = new SubscriptionSink(ctx.socket);
        const sub = hub.subscribe(ctx.principal, since ?? undefined, sink, GRAPHQL_TRANSPORT);
        // graphql-ws returns the iterator when the client completes it or the socket closes.
        sink.onDone = () => sub.ended();
        return sink;
      }),
    };
  }
}

/** Turns the API's HttpError into a GraphQL error carrying its status. */
function wrap<A, R>(fn: (args: A, ctx: Context) => R): (args: A, ctx: Context) => R {
  return (args, ctx) => {
    try {
      const r = fn(args, ctx);
      return (r instanceof Promise ? r.catch(rethrow) : r) as R;
    } catch (e) {
      return rethrow(e);
    }
  };
}

function rethrow(e: unknown): never {
  throw e instanceof HttpError ? clientError(e) : e;
}
