/**
 * What the workload needs of one follower, whatever its transport, and the reconnect logic they
 * share: exponential backoff with jitter, `since` = the last cursor seen, a stall detector, and a
 * bound on a connection attempt that never opens. A transport only opens and drops its wire.
 */
import { backoffMs, CloseCodes, Jitter } from '../../../shared/index.js';
import type { ClientKind } from './kind.js';

/** A feed frame as every transport carries it, mapped to one shape. */
export interface WireFrame {
  readonly postId: string;
  /** `author_user_id` on the WebSocket and SSE, `authorUserId` in GraphQL. */
  readonly author: string;
  readonly postText?: string;
  readonly cursor?: string;
  readonly createdAt?: string;
}

/** One follower's subscription with reconnect and `since` resume. */
export interface Follower {
  readonly user: string;
  readonly transport: ClientKind;
  /** Resolves at the first successful open (subscribed, so nothing acknowledged afterwards is missed). */
  readonly opened: Promise<void>;
  readonly isOpen: boolean;
  connect(): void;
  /** Called every couple of seconds: probes an idle connection, drops a silent or hung one. */
  keepAlive(now: number): void;
  close(): void;
}

/** What every follower is built with. */
export interface FollowerProps {
  readonly user: string;
  readonly token: string;
  /** HTTP base URL of the front, without a trailing slash. */
  readonly baseUrl: string;
  readonly onFrame: (user: string, frame: WireFrame, at: number) => void;
  /** Shared client counters (reconnects, deadSockets, replayTruncated, ...). */
  readonly counters: Record<string, number>;
  readonly rand: () => number;
  /** First reconnect delay and its cap (ms). */
  readonly baseMs: number;
  readonly capMs: number;
}

/** Silence after which an open connection counts as dead: the server's keep-alive comes every few seconds. */
export const SILENCE_DEAD_MS = 15_000;
/** Silence after which the client probes (WebSocket ping, graphql-ws ping). */
export const SILENCE_PROBE_MS = 4_000;
/** Longest a connection attempt may take to open before it is abandoned and retried. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Adds one to `counters[name]`. */
export function bump(counters: Record<string, number>, name: string): void {
  counters[name] = (counters[name] ?? 0) + 1;
}

/** Maps a JSON frame of the WebSocket or SSE (snake-case author) to a {@link WireFrame}; undefined when it is no feed frame. */
export function wireFrame(f: unknown): WireFrame | undefined {
  if (!f || typeof f !== 'object') return undefined;
  const o = f as Record<string, unknown>;
  if (o['postId'] === undefined) return undefined;
  return {
    postId: String(o['postId']),
    author: String(o['author_user_id']),
    ...(typeof o['postText'] === 'string' ? { postText: o['postText'] } : {}),
    ...(typeof o['cursor'] === 'string' || typeof o['cursor'] === 'number' ? { cursor: String(o['cursor']) } : {}),
    ...(typeof o['createdAt'] === 'string' ? { createdAt: o['createdAt'] } : {}),
  };
}

/** The reconnect loop of every transport; subclasses open and drop one connection. */
export abstract class ReconnectingFollower implements Follower {
  abstract readonly transport: ClientKind;
  private attempt = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private connectingSince = 0;
  private openedOnce!: () => void;
  /** The cursor of the last frame received: where a reconnect resumes. */
  protected lastCursor: string | undefined;
  /** Last time anything arrived on the open connection (frame, pong, keep-alive). */
  protected lastSeen = 0;
  readonly opened = new Promise<void>((r) => (this.openedOnce = r));
  isOpen = false;
  /** Silence after which the open connection counts as dead; a transport without client pings waits longer. */
  protected readonly silenceDeadMs: number = SILENCE_DEAD_MS;

  constructor(protected readonly props: FollowerProps) {}

  get user(): string {
    return this.props.user;
  }

  /** Starts one connection attempt, resuming from {@link lastCursor} when set. */
  protected abstract open(): void;
  /** Tears the current connection down at once; its callbacks must be ignored from here. */
  protected abstract drop(): void;
  /** Asks the server for a sign of life (ping); a transport whose server sends keep-alives may do nothing. */
  protected abstract probe(): void;

  connect(): void {
    if (this.stopped) return;
    this.connectingSince = Date.now();
    this.open();
  }

  /** The current connection is open and subscribed. */
  protected markOpen(): void {
    this.isOpen = true;
    this.attempt = 0;
    this.lastSeen = Date.now();
    this.openedOnce();
  }

  /** Something arrived on the current connection. */
  protected alive(): void {
    this.lastSeen = Date.now();
  }

  /** A frame arrived on the current connection. */
  protected received(frame: WireFrame): void {
    const at = Date.now();
    this.lastSeen = at;
    if (frame.cursor !== undefined) this.lastCursor = frame.cursor;
    this.props.onFrame(this.props.user, frame, at);
  }

  /** The current connection is gone (closed, failed or refused): schedule the next attempt. */
  protected gone(code?: number): void {
    this.isOpen = false;
    if (this.stopped || this.timer !== undefined) return;
    bump(this.props.counters, 'reconnects');
    if (code === CloseCodes.REPLAY_TRUNCATED) bump(this.props.counters, 'replayTruncated');
    const delay = backoffMs(this.attempt++, { baseMs: this.props.baseMs, capMs: this.props.capMs, jitter: Jitter.EQUAL, random: this.props.rand });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
  }

  keepAlive(now: number): void {
    if (this.stopped || this.timer !== undefined) return;
    if (!this.isOpen) {
      if (now - this.connectingSince > CONNECT_TIMEOUT_MS) this.abandon('connectTimeouts');
      return;
    }
    if (now - this.lastSeen > this.silenceDeadMs) this.abandon('deadSockets');
    else if (now - this.lastSeen > SILENCE_PROBE_MS) this.probe();
  }

  private abandon(counter: string): void {
    bump(this.props.counters, counter);
    this.drop();
    this.gone();
  }

  close(): void {
    this.stopped = true;
    this.isOpen = false;
    if (this.timer) clearTimeout(this.timer);
    this.drop();
  }
}
