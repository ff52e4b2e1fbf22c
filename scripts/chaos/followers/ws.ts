/** A follower on the feed WebSocket (`Routes.FEED_SOCKET`): `?token=` and `?since=` in the URL, pings when idle. */
import WebSocket from 'ws';
import { Routes } from '../../../shared/index.js';
import { bump, ReconnectingFollower, wireFrame } from './follower.js';
import { ClientKind } from './kind.js';

/** Longest the WebSocket handshake may take. */
const HANDSHAKE_TIMEOUT_MS = 5000;

export class WsFollower extends ReconnectingFollower {
  readonly transport = ClientKind.WS;
  private ws: WebSocket | undefined;

  protected open(): void {
    const params = new URLSearchParams({ token: this.props.token });
    if (this.lastCursor !== undefined) params.set('since', this.lastCursor);
    const wsBase = this.props.baseUrl.replace(/^http/, 'ws');
    const ws = new WebSocket(`${wsBase}${Routes.FEED_SOCKET}?${params}`, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.ws = ws;
    ws.on('open', () => this.markOpen());
    ws.on('message', (data) => {
      let frame: unknown;
      try {
        frame = JSON.parse(String(data));
      } catch {
        bump(this.props.counters, 'badFrames');
        return;
      }
      const f = wireFrame(frame);
      if (f) this.received(f);
      else this.alive();
    });
    ws.on('pong', () => this.alive());
    ws.on('unexpected-response', (_req, res) => {
      bump(this.props.counters, `socketHttp${res.statusCode ?? 0}`);
      ws.terminate();
    });
    ws.on('error', () => undefined); // 'close' follows and reconnects
    ws.on('close', (code) => {
      if (this.ws === ws) this.gone(code);
    });
  }

  protected drop(): void {
    const ws = this.ws;
    this.ws = undefined;
    ws?.terminate();
  }

  protected probe(): void {
    try {
      this.ws?.ping();
    } catch {
      /* closing: 'close' follows */
    }
  }
}
