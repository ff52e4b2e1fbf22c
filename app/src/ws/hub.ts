/**
 * The subscribers of this replica, by user, whatever their transport: a WebSocket, an event stream
 * (SSE) or a GraphQL subscription is one {@link Subscriber} here, so fan-out, `since` replay from
 * Postgres, postId dedupe at the replay/live boundary, token expiry, slow-consumer handling,
 * keep-alive and the per-user cap exist once. A transport only adapts its wire to
 * {@link SubscriberSink}.
 *
 * The replica queue receives every user's posts (one binding, declared before the server accepts
 * subscribers), so a subscriber is subscribed the moment it is registered: "open" means
 * "subscribed". With `since` the replay is queried after that, live frames are held back until the
 * replay is sent, and the overlap is dropped by postId (also live copies that land within
 * {@link REPLAY_OVERLAP_MS} after the replay). A live frame of the post whose cursor is `since` is
 * dropped too: the client got that post, and the replay (posts after it) does not name it. Earlier
 * cursors stay: relays publish out of order, so a client holding `since` may lack one of them.
 */
import type { Logger } from 'pino';
import { CloseCodes } from '../../../shared/constants.js';
import type { Principal } from '../auth/jwt.js';
import type { FeedStore } from '../db/store.js';
import type { FeedMetrics } from '../metrics.js';
import { toFrame, type FeedFrame } from './frame.js';

/** A cursor as clients pass it back (`since`, Last-Event-ID): a decimal bigint. */
export const CURSOR = /^\d{1,19}$/;

/** The cursor's value, or undefined when `cursor` is not one (a frame from an unknown publisher). */
export function cursorOf(cursor: string): bigint | undefined {
  return CURSOR.test(cursor) ? BigInt(cursor) : undefined;
}

/** Retry-After (seconds) of a subscription refused by the per-user cap: a slot frees when one of the user's own subscriptions ends. */
export const SUBSCRIPTION_CAP_RETRY_AFTER_S = 5;

/** Longest a timer may be set for (setTimeout overflows above 2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long after a replay its post ids still drop live copies: a post acknowledged just before the
 * subscriber came back is in the replay, and its fan-out can land after the replay ended (the relay
 * publishes asynchronously). Clients dedupe by postId anyway; this keeps that the exception.
 */
export const REPLAY_OVERLAP_MS = 30_000;

/** How long a closed subscriber may take to acknowledge before its transport is torn down. */
const CLOSE_GRACE_MS = 5000;

/** Why a subscription ends: a close code of the WebSocket contract (SSE and GraphQL carry it in their last message). */
export interface EndReason {
  readonly code: number;
  /** Shown to the client. */
  readonly message: string;
  /** Label of feed_ws_closes_total. */
  readonly metric: string;
}

/** One transport's end of a subscription: what the hub needs to deliver to it and end it. */
export interface SubscriberSink {
  /** Whether a frame can be sent now. */
  readonly open: boolean;
  /** Bytes accepted for the peer but not yet sent (slow-consumer bound). */
  readonly bufferedBytes: number;
  send(frame: FeedFrame): void;
  /** Ends the subscription telling the client why; the transport reports the end with {@link Subscriber.ended}. */
  end(reason: EndReason): void;
  /** Keep-alive tick; false when the peer failed the previous probe (the hub terminates it). */
  probe(): boolean;
  /** Drops the connection without a goodbye (a peer that stopped reading). */
  terminate(): void;
}

export interface FeedSocketHubProps {
  readonly store: FeedStore;
  readonly log: Logger;
  readonly metrics: FeedMetrics;
  readonly replayLimit: number;
  /** Keep-alive period of every subscriber (WebSocket ping, SSE comment). */
  readonly pingIntervalMs: number;
  readonly maxBufferedBytes: number;
  /** Subscriptions one user may hold on this replica. */
  readonly maxPerUser: number;
}

/** A registered subscriber; its transport calls {@link ended} exactly when its connection is gone. */
export class Subscriber {
  /** Live frames held back while the replay is being sent; undefined once live. */
  held: FeedFrame[] | undefined;
  /** Post ids the replay sent, for {@link REPLAY_OVERLAP_MS} after it. */
  replayed: Set<string> | undefined;
  overlap: NodeJS.Timeout | undefined;
  expiry: NodeJS.Timeout | undefined;
  private resolveGone!: () => void;
  /** Resolves once the transport reported the end. */
  readonly gone = new Promise<void>((resolve) => (this.resolveGone = resolve));
  private endRequested = false;

  constructor(
    readonly sink: SubscriberSink,
    readonly userId: string,
    readonly transport: string,
    private readonly hub: FeedSocketHub,
    /** The `since` it subscribed with: the cursor of a post the client has. */
    readonly resumedAt: bigint | undefined,
  ) {}

  /** Whether this is the post the client resumed from (it has it; no other cursor tells). */
  resumedFrom(cursor: bigint | undefined): boolean {
    return cursor !== undefined && cursor === this.resumedAt;
  }

  /** Ends it from the hub or the transport (e.g. 1008 for inbound data); the first reason wins. */
  end(reason: EndReason): void {
    if (this.endRequested || !this.sink.open) return;
    this.endRequested = true;
    this.hub.countEnd(reason.metric);
    this.sink.end(reason);
    // A peer that never reads never completes the goodbye either.
    setTimeout(() => this.sink.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** The transport's connection is gone: unregister. Idempotent. */
  ended(): void {
    this.hub.remove(this);
    this.resolveGone();
  }
}

export class FeedSocketHub {
  private readonly byUser = new Map<string, Set<Subscriber>>();
  private readonly ping: NodeJS.Timeout;

  constructor(private readonly props: FeedSocketHubProps) {
    this.ping = setInterval(() => this.probeAll(), props.pingIntervalMs);
    this.ping.unref();
  }

  /** Number of subscribers, all transports. */
  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /** Whether `userId` may open one more subscription here (below the per-user cap). */
  admits(userId: string): boolean {
    return (this.byUser.get(userId)?.size ?? 0) < this.props.maxPerUser;
  }

  /** The refusal a client over the cap gets. */
  capMessage(): string {
    return `at most ${this.props.maxPerUser} feed subscriptions per user on one replica; close one first`;
  }

  /**
   * Registers a subscriber: from this call on every post for `principal` reaches `sink`; with
   * `since`, the posts after that cursor are replayed first. No broker work: the replica queue
   * already receives every user's posts. The caller checks {@link admits} in the same tick.
   */
  subscribe(principal: Principal, since: string | undefined, sink: SubscriberSink, transport: string): Subscriber {
    const sub = new Subscriber(sink, principal.userId, transport, this, since === undefined ? undefined : cursorOf(since));
    let set = this.byUser.get(sub.userId);
    if (!set) this.byUser.set(sub.userId, (set = new Set()));
    set.add(sub);
    this.props.metrics.subscriptions.inc({ transport });
    // No child logger per subscriber: at 15,000 idle sockets each one costs about a kilobyte.
    this.props.log.debug({ userId: sub.userId, since, transport }, 'feed: subscribed');
    sub.expiry = setTimeout(
      () => sub.end({ code: CloseCodes.TOKEN_EXPIRED, message: 'token expired', metric: 'token_expired' }),
      Math.min(MAX_TIMER_MS, Math.max(0, principal.expiresAt - Date.now())),
    );
    if (since !== undefined) {
      sub.held = [];
      void this.replay(sub, since).catch((e: Error) => {
        this.props.log.warn({ userId: sub.userId, err: e.message }, 'feed: replay failed; ending so the client retries');
        sub.end({ code: 1011, message: 'replay failed, retry', metric: 'replay_failed' });
      });
    }
    return sub;
  }

  /** Hands a live frame to every local subscriber of `userId`. */
  deliver(userId: string, frame: FeedFrame): void {
    const set = this.byUser.get(userId);
    if (!set) return;
    // The relay publishes after the commit, so a subscriber that came back with this post's cursor can see its fan-out later.
    const cursor = cursorOf(frame.cursor);
    for (const sub of set) {
      if (sub.resumedFrom(cursor)) continue;
      if (sub.held) {
        sub.held.push(frame);
        continue;
      }
      if (sub.replayed?.has(frame.postId)) continue;
      if (this.send(sub, frame)) {
        this.props.metrics.deliveryLatency.observe(Math.max(0, Date.now() - Date.parse(frame.createdAt)) / 1000);
      }
    }
  }

  /** Ends every subscriber with `code` and waits (at most `timeoutMs`) for them to go; `metric` labels feed_ws_closes_total. */
  async closeAll(code: number, message: string, timeoutMs: number, metric = 'shutdown'): Promise<void> {
    const all = [...this.byUser.values()].flatMap((s) => [...s]);
    await Promise.all(
      all.map(async (sub) => {
        sub.end({ code, message, metric });
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
        await Promise.race([sub.gone, late]);
        clearTimeout(timer);
        sub.sink.terminate();
      }),
    );
  }

  stop(): void {
    clearInterval(this.ping);
  }

  /** Counts an end by reason (Subscriber.end). */
  countEnd(metric: string): void {
    this.props.metrics.socketCloses.inc({ reason: metric });
  }

  /** Unregisters `sub` (Subscriber.ended); a second call does nothing. */
  remove(sub: Subscriber): void {
    const set = this.byUser.get(sub.userId);
    if (!set?.delete(sub)) return;
    clearTimeout(sub.expiry);
    clearTimeout(sub.overlap);
    if (set.size === 0) this.byUser.delete(sub.userId);
    this.props.metrics.subscriptions.dec({ transport: sub.transport });
    this.props.log.debug({ userId: sub.userId, transport: sub.transport }, 'feed: unsubscribed');
  }

  private async replay(sub: Subscriber, since: string): Promise<void> {
    const limit = this.props.replayLimit;
    const { posts, truncated } = await this.props.store.replay(sub.userId, since, limit);
    // Post ids the replay sent: their held live duplicates are dropped.
    const replayed = new Set<string>();
    for (const post of posts) {
      replayed.add(post.id);
      if (!this.send(sub, toFrame(post))) return;
    }
    if (truncated) {
      // Bounded replay: the client resubscribes with the last cursor it got and continues from there.
      sub.end({ code: CloseCodes.REPLAY_TRUNCATED, message: `replay truncated at ${limit} posts; reconnect with since=<last cursor>`, metric: 'replay_truncated' });
      return;
    }
    const held = sub.held ?? [];
    sub.held = undefined;
    sub.replayed = replayed;
    sub.overlap = setTimeout(() => (sub.replayed = undefined), REPLAY_OVERLAP_MS);
    sub.overlap.unref();
    for (const frame of held) if (!replayed.has(frame.postId) && !this.send(sub, frame)) return;
  }

  /** Sends one frame; ends a slow consumer instead of growing its buffer. False when the subscriber is gone. */
  private send(sub: Subscriber, frame: FeedFrame): boolean {
    if (!sub.sink.open) return false;
    if (sub.sink.bufferedBytes > this.props.maxBufferedBytes) {
      sub.end({ code: CloseCodes.SLOW_CONSUMER, message: 'slow consumer: reconnect with since', metric: 'slow_consumer' });
      return false;
    }
    sub.sink.send(frame);
    this.props.metrics.deliveries.inc();
    return true;
  }

  private probeAll(): void {
    for (const set of this.byUser.values()) {
      for (const sub of set) {
        if (sub.sink.probe()) continue;
        this.countEnd('ping_timeout');
        sub.sink.terminate();
      }
    }
  }
}
