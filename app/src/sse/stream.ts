/**
 * The Server-Sent Events transport of the feed (`GET /post/feed/events`): the same frames as the
 * WebSocket, as `text/event-stream`, for browsers' `EventSource` and proxies that only pass HTTP.
 * Each frame is one `message` event whose `id:` is the resume cursor, so `EventSource` reconnects
 * with `Last-Event-ID` and the hub replays what it missed; a subscription the server ends gets a
 * last `close` event carrying the WebSocket close code and why.
 */
import type { ServerResponse } from 'node:http';
import type { Principal } from '../auth/jwt.js';
import type { FeedFrame } from '../ws/frame.js';
import { cursorOf, type EndReason, type FeedSocketHub, type SubscriberSink } from '../ws/hub.js';

/** Name of this transport in metrics and logs. */
export const SSE_TRANSPORT = 'sse';

/** Reconnect delay the stream asks `EventSource` for, in milliseconds. */
export const SSE_RETRY_MS = 1000;

/** Event type of the last event of a stream the server ends: `{"code", "reason"}`. */
export const SSE_CLOSE_EVENT = 'close';

/** Response headers of the stream: no caching, and no buffering in nginx-style proxies (`X-Accel-Buffering`). */
export const SSE_HEADERS = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
});

class EventStreamSink implements SubscriberSink {
  /**
   * The `id:` of each event is the highest cursor this stream has sent (or was resumed from), which
   * is the frame's own cursor unless two relays published out of order: `Last-Event-ID` is then
   * always a cursor the client may resume from, like the highest cursor a WebSocket client keeps.
   */
  private resumeFrom: bigint | undefined;

  constructor(
    private readonly res: ServerResponse,
    since: string | undefined,
  ) {
    this.resumeFrom = since === undefined ? undefined : cursorOf(since);
  }

  get open(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  send(frame: FeedFrame): void {
    const cursor = cursorOf(frame.cursor);
    if (cursor !== undefined && (this.resumeFrom === undefined || cursor > this.resumeFrom)) this.resumeFrom = cursor;
    const id = this.resumeFrom === undefined ? '' : `id: ${this.resumeFrom}\n`;
    this.res.write(`${id}data: ${JSON.stringify(frame)}\n\n`);
  }

  end(reason: EndReason): void {
    this.res.end(`event: ${SSE_CLOSE_EVENT}\ndata: ${JSON.stringify({ code: reason.code, reason: reason.message })}\n\n`);
  }

  probe(): boolean {
    // A comment: proxies see traffic, EventSource ignores it. A dead peer surfaces as a write error and 'close'.
    this.res.write(': keep-alive\n\n');
    return true;
  }

  terminate(): void {
    this.res.destroy();
  }
}

/** Starts the stream on `res` and subscribes it (the caller checked auth, `since` and the per-user cap in this tick). */
export function startEventStream(hub: FeedSocketHub, res: ServerResponse, principal: Principal, since: string | undefined): void {
  res.writeHead(200, SSE_HEADERS);
  // The first bytes go out at once, so clients and proxies see the stream open before any post.
  res.write(`retry: ${SSE_RETRY_MS}\n: subscribed\n\n`);
  const sub = hub.subscribe(principal, since, new EventStreamSink(res, since), SSE_TRANSPORT);
  res.once('close', () => sub.ended());
}
