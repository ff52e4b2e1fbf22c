/**
 * The local WebSockets of this replica, by user. The replica queue receives every user's posts (one
 * binding, declared before the server accepts upgrades), so a socket is subscribed the moment the
 * upgrade completes: "open" means "subscribed". With `?since=` the replay is queried after that,
 * live frames are held back until the replay is sent, and the overlap is dropped by postId.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { CloseCodes } from '../../../shared/constants.js';
import type { Principal } from '../auth/jwt.js';
import type { FeedStore } from '../db/store.js';
import type { FeedMetrics } from '../metrics.js';
import { toFrame, type FeedFrame } from './frame.js';

/** Clients only send pings/pongs and maybe small control messages; anything larger closes with 1009. */
export const MAX_INBOUND_FRAME_BYTES = 4096;

/** Longest a timer may be set for (setTimeout overflows above 2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface FeedSocketHubProps {
  readonly store: FeedStore;
  readonly log: Logger;
  readonly metrics: FeedMetrics;
  readonly replayLimit: number;
  readonly pingIntervalMs: number;
  readonly maxBufferedBytes: number;
}

class FeedSocket {
  alive = true;
  /** Live frames held back while the replay is being sent; undefined once live. */
  held: FeedFrame[] | undefined;
  expiry: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly userId: string,
  ) {}
}

export class FeedSocketHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INBOUND_FRAME_BYTES, clientTracking: false });
  private readonly byUser = new Map<string, Set<FeedSocket>>();
  private readonly ping: NodeJS.Timeout;

  constructor(private readonly props: FeedSocketHubProps) {
    this.ping = setInterval(() => this.pingAll(), props.pingIntervalMs);
    this.ping.unref();
  }

  /** Number of open sockets. */
  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /**
   * Completes the upgrade, then replays from `since` (when given) and goes live. No broker work: the
   * replica queue already receives every user's posts, and the socket is in `byUser` as soon as the
   * upgrade completes, so a post acknowledged from then on reaches it.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, principal: Principal, since: string | undefined): void {
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, principal, since));
  }

  /** Hands a live frame to every local socket of `userId`. */
  deliver(userId: string, frame: FeedFrame): void {
    const set = this.byUser.get(userId);
    if (!set) return;
    for (const fs of set) {
      if (fs.held) {
        fs.held.push(frame);
        continue;
      }
      if (this.send(fs, frame)) {
        this.props.metrics.deliveryLatency.observe(Math.max(0, Date.now() - Date.parse(frame.createdAt)) / 1000);
      }
    }
  }

  /** Closes every socket with `code` and waits (at most `timeoutMs`) for them to go; `metric` labels feed_ws_closes_total. */
  async closeAll(code: number, reason: string, timeoutMs: number, metric = 'shutdown'): Promise<void> {
    const all = [...this.byUser.values()].flatMap((s) => [...s]);
    await Promise.all(
      all.map(
        (fs) =>
          new Promise<void>((resolve) => {
            if (fs.ws.readyState === WebSocket.CLOSED) return resolve();
            const t = setTimeout(() => {
              fs.ws.terminate();
              resolve();
            }, timeoutMs);
            fs.ws.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            this.props.metrics.socketCloses.inc({ reason: metric });
            fs.ws.close(code, reason);
          }),
      ),
    );
  }

  stop(): void {
    clearInterval(this.ping);
    this.wss.close();
  }

  private attach(ws: WebSocket, principal: Principal, since: string | undefined): void {
    const fs = new FeedSocket(ws, principal.userId);
    let set = this.byUser.get(fs.userId);
    if (!set) this.byUser.set(fs.userId, (set = new Set()));
    set.add(fs);
    this.props.metrics.connections.inc();
    // No child logger per socket: at 15,000 idle sockets each one costs about a kilobyte.
    const log = this.props.log;
    const userId = fs.userId;
    log.debug({ userId, since }, 'ws: open');

    fs.expiry = setTimeout(() => this.closeWith(fs, CloseCodes.TOKEN_EXPIRED, 'token expired', 'token_expired'), Math.min(MAX_TIMER_MS, Math.max(0, principal.expiresAt - Date.now())));
    ws.on('pong', () => (fs.alive = true));
    ws.on('message', () => undefined); // inbound frames carry nothing; maxPayload bounds them
    ws.on('error', (err) => log.debug({ userId, err: err.message }, 'ws: error'));
    ws.once('close', () => {
      clearTimeout(fs.expiry);
      set.delete(fs);
      if (set.size === 0 && this.byUser.get(fs.userId) === set) this.byUser.delete(fs.userId);
      this.props.metrics.connections.dec();
      log.debug({ userId }, 'ws: closed');
    });

    if (since !== undefined) {
      fs.held = [];
      void this.replay(fs, since).catch((e: Error) => {
        log.warn({ userId, err: e.message }, 'ws: replay failed; closing so the client retries');
        this.closeWith(fs, 1011, 'replay failed, retry', 'replay_failed');
      });
    }
  }

  private async replay(fs: FeedSocket, since: string): Promise<void> {
    const limit = this.props.replayLimit;
    const { posts, truncated } = await this.props.store.replay(fs.userId, since, limit);
    // Post ids the replay sent: their held live duplicates are dropped.
    const replayed = new Set<string>();
    for (const post of posts) {
      replayed.add(post.id);
      if (!this.send(fs, toFrame(post))) return;
    }
    if (truncated) {
      // Bounded replay: the client reconnects with the last cursor it got and continues from there.
      this.closeWith(fs, CloseCodes.REPLAY_TRUNCATED, `replay truncated at ${limit} posts; reconnect with since=<last cursor>`, 'replay_truncated');
      return;
    }
    const held = fs.held ?? [];
    fs.held = undefined;
    for (const frame of held) if (!replayed.has(frame.postId) && !this.send(fs, frame)) return;
  }

  /** Sends one frame; closes a slow consumer instead of growing its buffer. False when the socket is gone. */
  private send(fs: FeedSocket, frame: FeedFrame): boolean {
    if (fs.ws.readyState !== WebSocket.OPEN) return false;
    if (fs.ws.bufferedAmount > this.props.maxBufferedBytes) {
      this.closeWith(fs, CloseCodes.SLOW_CONSUMER, 'slow consumer: reconnect with since', 'slow_consumer');
      return false;
    }
    fs.ws.send(JSON.stringify(frame));
    this.props.metrics.deliveries.inc();
    return true;
  }

  private closeWith(fs: FeedSocket, code: number, reason: string, metric: string): void {
    if (fs.ws.readyState !== WebSocket.OPEN) return;
    this.props.metrics.socketCloses.inc({ reason: metric });
    fs.ws.close(code, reason);
    // A peer that never reads never answers the close handshake either.
    setTimeout(() => fs.ws.terminate(), 5000).unref();
  }

  private pingAll(): void {
    for (const set of this.byUser.values()) {
      for (const fs of set) {
        if (!fs.alive) {
          this.props.metrics.socketCloses.inc({ reason: 'ping_timeout' });
          fs.ws.terminate();
          continue;
        }
        fs.alive = false;
        fs.ws.ping();
      }
    }
  }
}
