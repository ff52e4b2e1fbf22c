/** Test helpers for the feed app: a WebSocket follower that records frames, and a JSON HTTP caller. */
import WebSocket from 'ws';
import { Routes, waitFor } from '../../shared/index.js';
import type { FeedFrame } from '../../app/src/index.js';

/** A follower's socket: every frame it got (duplicates included), in arrival order. */
export class FeedClient {
  readonly frames: FeedFrame[] = [];
  /** Close code once closed. */
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as FeedFrame));
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = String(reason);
        resolve(code);
      }),
    );
  }

  /** Opens a socket (token as Bearer header unless `viaQuery`); rejects with the HTTP status on a refused upgrade. */
  static connect(baseUrl: string, token: string | undefined, opts: { since?: string; viaQuery?: boolean } = {}): Promise<FeedClient> {
    const url = new URL(Routes.FEED_SOCKET, baseUrl.replace(/^http/, 'ws'));
    if (opts.since !== undefined) url.searchParams.set('since', opts.since);
    if (token !== undefined && opts.viaQuery) url.searchParams.set('token', token);
    const headers = token !== undefined && !opts.viaQuery ? { authorization: `Bearer ${token}` } : undefined;
    const ws = new WebSocket(url, { headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new FeedClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new UpgradeRefused(res.statusCode ?? 0, res.headers)));
      ws.once('error', reject);
    });
  }

  /** Distinct post ids received. */
  postIds(): Set<string> {
    return new Set(this.frames.map((f) => f.postId));
  }

  /** Highest cursor received, what a client passes back as `since`. */
  lastCursor(): string | undefined {
    let max: bigint | undefined;
    for (const f of this.frames) if (max === undefined || BigInt(f.cursor) > max) max = BigInt(f.cursor);
    return max?.toString();
  }

  /** Waits until every id in `ids` has arrived. */
  async waitForPosts(ids: Iterable<string>, timeoutMs = 30_000): Promise<void> {
    const want = [...ids];
    await waitFor(`${want.length} post(s) on a socket`, async () => (want.every((id) => this.postIds().has(id)) ? true : undefined), { timeoutMs, intervalMs: 50 });
  }

  close(): Promise<number> {
    this.ws.close();
    return this.closed;
  }
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: Readonly<Record<string, string | string[] | undefined>> = {},
  ) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

/** A JSON response. */
export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
}

/** Calls the API; `body` is sent as JSON unless it is a string (sent raw with `contentType`). */
export async function callApi<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; contentType?: string } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] = opts.contentType ?? 'application/json';
  }
  const res = await fetch(new URL(path, baseUrl), { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}
