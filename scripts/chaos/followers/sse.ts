/**
 * A follower on Server-Sent Events (`Routes.FEED_EVENTS`) with the `eventsource` package. The
 * token goes in an Authorization header through a custom fetch (what a proxy-fronted client would
 * do); that fetch also watches the raw bytes, so the server's keep-alive comments (which
 * `EventSource` swallows) count as signs of life. Reconnects are ours, not EventSource's: it gives
 * up for good on a non-200 answer (503 while a replica starts, 429), and ours backs off with jitter
 * like the other transports, resuming with `?since=` = the last event id seen.
 */
import { EventSource } from 'eventsource';
import { SSE_CLOSE_EVENT } from '../../../app/src/sse/stream.js';
import { DEFAULT_WS_PING_INTERVAL_MS, Routes } from '../../../shared/index.js';
import { bump, ReconnectingFollower, SILENCE_DEAD_MS, wireFrame } from './follower.js';
import { ClientKind } from './kind.js';

export class SseFollower extends ReconnectingFollower {
  readonly transport = ClientKind.SSE;
  /**
   * The client cannot ping an event stream; the server writes a keep-alive comment every ping
   * interval (30 s by default), so an idle stream is dead only after one interval plus the margin
   * the other transports get.
   */
  protected override readonly silenceDeadMs = DEFAULT_WS_PING_INTERVAL_MS + SILENCE_DEAD_MS;
  private es: EventSource | undefined;
  /** Number of the current stream; callbacks of an older (dropped) one compare unequal and are ignored. */
  private generation = 0;
  /** Close code of the server's `close` event on the current stream, reported with the reconnect. */
  private closeCode: number | undefined;

  protected open(): void {
    const url = new URL(Routes.FEED_EVENTS, this.props.baseUrl);
    if (this.lastCursor !== undefined) url.searchParams.set('since', this.lastCursor);
    this.closeCode = undefined;
    const gen = ++this.generation;
    const current = () => this.generation === gen;
    // EventSource calls fetch inside its constructor: the stream is known by its generation, not by `es`.
    const es = new EventSource(url, { fetch: (input, init) => this.fetchStream(current, input, init) });
    this.es = es;
    es.addEventListener('open', () => {
      if (current()) this.markOpen();
    });
    es.addEventListener('message', (e) => {
      if (!current()) return;
      let frame: unknown;
      try {
        frame = JSON.parse(e.data);
      } catch {
        bump(this.props.counters, 'badFrames');
        return;
      }
      const f = wireFrame(frame);
      // The event id is the resume cursor (the highest sent so far), which is what `since` wants.
      if (f) this.received(e.lastEventId ? { ...f, cursor: e.lastEventId } : f);
    });
    es.addEventListener(SSE_CLOSE_EVENT, (e) => {
      try {
        this.closeCode = (JSON.parse((e as { data: string }).data) as { code?: number }).code;
      } catch {
        /* no code: a plain reconnect */
      }
    });
    es.addEventListener('error', (e) => {
      if (!current()) return;
      const status = (e as { code?: number }).code;
      if (status !== undefined && status > 0) bump(this.props.counters, `sseHttp${status}`);
      this.drop();
      this.gone(this.closeCode);
    });
  }

  /** fetch with the token header, whose body stream marks the follower alive on every chunk. */
  private async fetchStream(current: () => boolean, input: string | URL, init?: RequestInit): Promise<Response> {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${this.props.token}`);
    const res = await fetch(input, { ...init, headers });
    if (!res.body) return res;
    const watched = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, out) => {
          if (current()) this.alive();
          out.enqueue(chunk);
        },
      }),
    );
    return new Response(watched, { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  protected drop(): void {
    const es = this.es;
    this.es = undefined;
    this.generation++;
    es?.close();
  }

  protected probe(): void {
    // Nothing to send: the server writes a keep-alive comment every ping interval.
  }
}
