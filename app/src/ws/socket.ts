/**
 * The WebSocket transport of the feed (`GET /post/feed/posted`): completes the upgrade and adapts
 * the socket to a hub subscriber. The feed is server-to-client; pings, pongs and close are the only
 * frames a client may send.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { CloseCodes } from '../../../shared/constants.js';
import type { Principal } from '../auth/jwt.js';
import type { FeedMetrics } from '../metrics.js';
import type { FeedFrame } from './frame.js';
import type { EndReason, FeedSocketHub, SubscriberSink } from './hub.js';

/** Clients only send pings/pongs and close; a larger frame closes with 1009 before it is read. */
export const MAX_INBOUND_FRAME_BYTES = 4096;

/** Name of this transport in metrics and logs. */
export const WS_TRANSPORT = 'ws';

class WebSocketSink implements SubscriberSink {
  /** Answered the last ping. */
  alive = true;

  constructor(readonly ws: WebSocket) {}

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  send(frame: FeedFrame): void {
    this.ws.send(JSON.stringify(frame));
  }

  end(reason: EndReason): void {
    this.ws.close(reason.code, reason.message);
  }

  probe(): boolean {
    if (!this.alive) return false;
    this.alive = false;
    this.ws.ping();
    return true;
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export class FeedSocketServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INBOUND_FRAME_BYTES, clientTracking: false });

  constructor(
    private readonly hub: FeedSocketHub,
    private readonly metrics: FeedMetrics,
    private readonly log: Logger,
  ) {}

  /**
   * Completes the upgrade and subscribes the socket. `ws` completes it synchronously (no
   * verifyClient, no extensions negotiated asynchronously), so a {@link FeedSocketHub.admits}
   * check just before holds.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, principal: Principal, since: string | undefined): void {
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, principal, since));
  }

  private attach(ws: WebSocket, principal: Principal, since: string | undefined): void {
    const sink = new WebSocketSink(ws);
    const sub = this.hub.subscribe(principal, since, sink, WS_TRANSPORT);
    this.metrics.connections.inc();
    const userId = principal.userId;
    ws.on('pong', () => (sink.alive = true));
    // A data frame is a client bug or a flood (maxPayload bounds its size).
    ws.on('message', () => sub.end({ code: CloseCodes.POLICY_VIOLATION, message: 'the feed socket is server-to-client only: send nothing but pong and close', metric: 'inbound_data' }));
    ws.on('error', (err) => this.log.debug({ userId, err: err.message }, 'ws: error'));
    ws.once('close', () => {
      this.metrics.connections.dec();
      sub.ended();
    });
  }
}
