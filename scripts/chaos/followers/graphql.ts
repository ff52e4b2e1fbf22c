/**
 * A follower on the graphql-ws `postAdded` subscription at `Routes.GRAPHQL`, with graphql-ws's own
 * client. Its retry is off: our reconnect (backoff, jitter, `since` = last cursor) is the one every
 * transport shares, and a new client per attempt keeps the old one's late callbacks out.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Routes } from '../../../shared/index.js';
import { bump, CONNECT_TIMEOUT_MS, ReconnectingFollower, SILENCE_PROBE_MS, type WireFrame } from './follower.js';
import { ClientKind } from './kind.js';

/** The subscription every GraphQL follower runs. */
export const POST_ADDED_SUBSCRIPTION = 'subscription ($since: String) { postAdded(since: $since) { postId postText authorUserId cursor createdAt } }';

/**
 * `since` of the first subscribe. graphql-ws does not acknowledge a subscribe, so "connected" is
 * not yet "subscribed": a post created in between would be missed. Resuming from cursor 0 closes
 * that gap through the replay, and costs nothing: the run's users are new, so there is nothing
 * older to replay.
 */
export const FIRST_SINCE = '0';

/** The `postAdded` payload. */
interface PostAdded {
  readonly postId: string;
  readonly postText: string;
  readonly authorUserId: string;
  readonly cursor: string;
  readonly createdAt: string;
}

/** Maps a `postAdded` payload to a {@link WireFrame}. */
export function graphqlFrame(p: PostAdded): WireFrame {
  return { postId: String(p.postId), author: String(p.authorUserId), postText: p.postText, cursor: String(p.cursor), createdAt: p.createdAt };
}

/**
 * ws's WebSocket with an 'error' listener of its own. graphql-ws's `terminate()` closes a socket
 * still in its handshake and then clears `onerror`; ws reports that close as an 'error' event a tick
 * later, and an EventEmitter with no 'error' listener throws: a follower giving up on a hung
 * handshake killed a full chaos run (d418227, mirrored partition). Errors still reach graphql-ws
 * through `onerror` while it listens.
 */
class TerminableWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on('error', () => undefined);
  }
}

/** The close code of a graphql-ws error, when it is a close event. */
function closeCode(e: unknown): number | undefined {
  return e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : undefined;
}

export class GraphqlFollower extends ReconnectingFollower {
  readonly transport = ClientKind.GRAPHQL;
  private client: Client | undefined;

  protected open(): void {
    const url = new URL(Routes.GRAPHQL, this.props.baseUrl.replace(/^http/, 'ws'));
    const client: Client = createClient({
      url: url.toString(),
      webSocketImpl: TerminableWebSocket,
      connectionParams: { token: this.props.token },
      retryAttempts: 0,
      // Protocol pings: each pong is a sign of life for the stall detector.
      keepAlive: SILENCE_PROBE_MS,
      connectionAckWaitTimeout: CONNECT_TIMEOUT_MS,
      on: {
        connected: () => this.client === client && this.markOpen(),
        message: () => this.client === client && this.alive(),
      },
    });
    this.client = client;
    const current = () => this.client === client;
    client.subscribe<{ postAdded: PostAdded }>(
      { query: POST_ADDED_SUBSCRIPTION, variables: { since: this.lastCursor ?? FIRST_SINCE } },
      {
        next: (r) => {
          if (!current()) return;
          if (r.data?.postAdded) this.received(graphqlFrame(r.data.postAdded));
          else bump(this.props.counters, 'graphqlErrors');
        },
        error: (e) => {
          if (!current()) return;
          if (closeCode(e) === undefined) bump(this.props.counters, 'graphqlErrors');
          this.drop();
          this.gone(closeCode(e));
        },
        complete: () => {
          if (!current()) return;
          this.drop();
          this.gone();
        },
      },
    );
  }

  protected drop(): void {
    const client = this.client;
    this.client = undefined;
    client?.terminate();
    void client?.dispose();
  }

  protected probe(): void {
    // The client pings every SILENCE_PROBE_MS itself (keepAlive above).
  }
}
