/**
 * The chaos workload: U users with a seeded follow graph (set over the HTTP API before load), one
 * subscription per follower through the front (WebSocket, SSE or GraphQL, round-robin over
 * `clients`) with reconnect (exponential backoff, jitter, bounded) and `since` resume from the last
 * cursor seen, and authors creating posts at a fixed rate with
 * retries. It records every acknowledged post and every frame received into a {@link History}.
 */
import { SignJWT } from 'jose';
import { backoffMs, Jitter, Routes, sleep } from '../../shared/index.js';
import type { Follower, FollowerProps, WireFrame } from './followers/follower.js';
import { GraphqlFollower } from './followers/graphql.js';
import { clientFor, ClientKind } from './followers/kind.js';
import { SseFollower } from './followers/sse.js';
import { WsFollower } from './followers/ws.js';
import { followGraph, mulberry32, pick } from './graph.js';
import type { AckedPost, Delivery, FaultEvent, FollowerRecord, History, IndeterminatePost } from './history.js';

/** Options of {@link Workload.start}. */
export interface WorkloadOptions {
  /** HTTP base URL of the front (the twin's HAProxy app front or a Service), e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** HS256 secret the app verifies tokens with. */
  readonly jwtSecret: string;
  /** Seed of the follow graph, author choice and jitter. */
  readonly seed: number;
  /** Unique tag of this run; user ids are `chaos-<tag>-uNN`, so runs never share users. */
  readonly runTag: string;
  /** @default 30 */
  readonly users?: number;
  /** Posts created per second, across all authors. @default 10 */
  readonly postsPerSecond?: number;
  /** Per-request timeout. @default 5000 */
  readonly requestTimeoutMs?: number;
  /** Attempts per post before giving up. @default 6 */
  readonly maxCreateAttempts?: number;
  /** First reconnect delay. @default 100 */
  readonly reconnectBaseMs?: number;
  /** Reconnect delay cap. @default 3000 */
  readonly reconnectCapMs?: number;
  /** Most creates in flight; the rate is held back beyond it. @default 64 */
  readonly maxInFlight?: number;
  /** Transports of the followers, assigned round-robin (follower i gets `clients[i % n]`). @default [ws] */
  readonly clients?: readonly ClientKind[];
  /** Progress line sink. @default none */
  readonly log?: (line: string) => void;
}

/** One follower implementation per transport. */
const FOLLOWERS: Readonly<Record<ClientKind, new (props: FollowerProps) => Follower>> = {
  [ClientKind.WS]: WsFollower,
  [ClientKind.SSE]: SseFollower,
  [ClientKind.GRAPHQL]: GraphqlFollower,
};

/** Text of a post carries its nonce so a delivery of an unknown id can be traced to an attempt. */
export function postText(nonce: string): string {
  return `chaos post nonce=${nonce}`;
}

/** The nonce inside a post text, if any. */
export function nonceOf(text: unknown): string | undefined {
  return typeof text === 'string' ? /nonce=(\S+)/.exec(text)?.[1] : undefined;
}

/** HS256 token for `userId` signed with the twin's (or the user's) secret. */
export async function mintToken(secret: string, userId: string, ttlSeconds = 6 * 3600): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}


/** Outcome of one HTTP attempt. */
type Attempt = { kind: 'ok'; body: unknown } | { kind: 'rejected'; status: number; text: string } | { kind: 'ambiguous'; why: string };

async function request(method: string, url: string, token: string, body: unknown, timeoutMs: number): Promise<Attempt> {
  try {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (res.ok) {
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      return { kind: 'ok', body: parsed };
    }
    // 5xx and 429 may or may not have committed (a proxy can fail after the app did): ambiguous.
    if (res.status >= 500 || res.status === 429) return { kind: 'ambiguous', why: `HTTP ${res.status}` };
    return { kind: 'rejected', status: res.status, text: text.slice(0, 200) };
  } catch (e) {
    return { kind: 'ambiguous', why: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** A running workload; see the module comment. */
export class Workload {
  readonly users: string[];
  readonly follows: Array<[string, string]>;
  private readonly tokens = new Map<string, string>();
  private readonly followers: Follower[] = [];
  private readonly acked: AckedPost[] = [];
  private readonly indeterminate: IndeterminatePost[] = [];
  private readonly deliveries: Delivery[] = [];
  private readonly faults: FaultEvent[] = [];
  readonly counters: Record<string, number> = { createAttempts: 0, createFailures: 0, createRejected: 0, createAbandoned: 0, reconnects: 0 };
  private readonly rand: () => number;
  private readonly opts: Required<Omit<WorkloadOptions, 'log'>> & { log: (line: string) => void };
  private loadTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private seq = 0;
  private followersOf = new Map<string, string[]>();
  /** Primer post ids: late copies of them are not part of the history. */
  private readonly primerIds = new Set<string>();
  startedAt = 0;
  loadEndedAt = 0;

  private constructor(opts: WorkloadOptions) {
    this.opts = {
      users: 30,
      postsPerSecond: 10,
      requestTimeoutMs: 5000,
      maxCreateAttempts: 6,
      reconnectBaseMs: 100,
      reconnectCapMs: 3000,
      maxInFlight: 64,
      clients: [ClientKind.WS],
      log: () => undefined,
      ...opts,
    };
    if (!(this.opts.users >= 2)) throw new Error(`workload users: ${this.opts.users} is too few; use 2 or more`);
    if (!(this.opts.postsPerSecond > 0)) throw new Error(`workload postsPerSecond: ${this.opts.postsPerSecond} must be positive`);
    this.rand = mulberry32(opts.seed ^ 0x5eed);
    const width = String(this.opts.users - 1).length;
    this.users = Array.from({ length: this.opts.users }, (_, i) => `chaos-${opts.runTag}-u${String(i).padStart(width, '0')}`);
    this.follows = followGraph(this.users, opts.seed);
    for (const [follower, followee] of this.follows) {
      const list = this.followersOf.get(followee) ?? [];
      list.push(follower);
      this.followersOf.set(followee, list);
    }
  }

  /** Mints tokens, sets the follow graph, opens every follower and waits until all are open and primed; closes them if that fails. */
  static async start(opts: WorkloadOptions, openTimeoutMs = 60_000): Promise<Workload> {
    const w = new Workload(opts);
    for (const u of w.users) w.tokens.set(u, await mintToken(opts.jwtSecret, u));
    await w.setFollows();
    try {
      w.openFollowers();
      await w.waitOpen(openTimeoutMs);
      await w.prime(openTimeoutMs);
    } catch (e) {
      // The caller never gets the workload to close: its followers would reconnect forever and keep the process alive.
      w.close();
      throw e;
    }
    return w;
  }

  /**
   * One primer post per followed user, awaited at every follower before load starts: proves the
   * path end to end and gives every socket a cursor, so its first reconnect already resumes with
   * `since`. Primers are not part of the history.
   */
  private async prime(timeoutMs: number): Promise<void> {
    const authors = [...this.followersOf.keys()];
    const ids = new Map<string, string>();
    await Promise.all(
      authors.map(async (author) => {
        for (let attempt = 0; ; attempt++) {
          const r = await request('POST', this.url(Routes.POST_CREATE), this.tokens.get(author)!, { text: postText(`${this.opts.runTag}-primer-${author}`) }, this.opts.requestTimeoutMs);
          const id = r.kind === 'ok' ? (r.body as { id?: unknown } | undefined)?.id : undefined;
          if (typeof id === 'string' || typeof id === 'number') {
            ids.set(String(id), author);
            return;
          }
          if (r.kind === 'rejected' || attempt >= 10) throw new Error(`primer post by ${author} failed: ${r.kind === 'rejected' ? `HTTP ${r.status} ${r.text}` : r.kind === 'ambiguous' ? r.why : 'no id in the reply'}`);
          await sleep(300 * (attempt + 1));
        }
      }),
    );
    const expected = new Set<string>();
    for (const [id, author] of ids) for (const f of this.followersOf.get(author) ?? []) expected.add(`${f}\u0000${id}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const d of this.deliveries) expected.delete(`${d.user}\u0000${d.postId}`);
      if (expected.size === 0) break;
      if (Date.now() > deadline) {
        const sample = [...expected].slice(0, 5).map((k) => k.replace('\u0000', ' <- '));
        throw new Error(`${expected.size} primer deliveries missing after ${timeoutMs} ms (e.g. ${sample.join(', ')}): the feed does not deliver to open sockets`);
      }
      await sleep(100);
    }
    for (const id of ids.keys()) this.primerIds.add(id);
    this.deliveries.length = 0;
    this.opts.log(`primed: ${ids.size} primer posts reached every follower`);
  }

  private url(path: string): string {
    return new URL(path, this.opts.baseUrl).toString();
  }

  private async setFollows(): Promise<void> {
    const queue = [...this.follows];
    const worker = async () => {
      for (let edge = queue.shift(); edge; edge = queue.shift()) {
        const [follower, followee] = edge;
        for (let attempt = 0; ; attempt++) {
          const r = await request('PUT', this.url(`${Routes.FRIEND_SET}${encodeURIComponent(followee)}`), this.tokens.get(follower)!, undefined, this.opts.requestTimeoutMs);
          if (r.kind === 'ok') break;
          if (r.kind === 'rejected' || attempt >= 10) {
            throw new Error(`PUT ${Routes.FRIEND_SET}${followee} as ${follower} failed: ${r.kind === 'rejected' ? `HTTP ${r.status} ${r.text}` : r.why}`);
          }
          await sleep(200 * (attempt + 1));
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    this.opts.log(`follow graph set: ${this.users.length} users, ${this.follows.length} edges`);
  }

  private openFollowers(): void {
    const baseUrl = this.opts.baseUrl.replace(/\/$/, '');
    for (const [i, user] of [...new Set(this.follows.map(([follower]) => follower))].entries()) {
      const Impl = FOLLOWERS[clientFor(this.opts.clients, i)];
      const s = new Impl({
        user,
        token: this.tokens.get(user)!,
        baseUrl,
        onFrame: (u, f, at) => this.onFrame(u, f, at),
        counters: this.counters,
        rand: this.rand,
        baseMs: this.opts.reconnectBaseMs,
        capMs: this.opts.reconnectCapMs,
      });
      this.followers.push(s);
      s.connect();
    }
    this.keepAliveTimer = setInterval(() => {
      const now = Date.now();
      for (const s of this.followers) s.keepAlive(now);
    }, 2000);
  }

  private async waitOpen(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${this.followers.filter((s) => s.isOpen).length} of ${this.followers.length} followers opened within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all(this.followers.map((s) => s.opened)), timeout]);
    } finally {
      clearTimeout(timer);
    }
    const mix = this.opts.clients.map((k) => `${this.followers.filter((f) => f.transport === k).length} ${k}`).join(', ');
    this.opts.log(`${this.followers.length} followers open (${mix})`);
  }

  private onFrame(user: string, f: WireFrame, at: number): void {
    if (this.primerIds.has(f.postId)) return;
    const createdAt = f.createdAt !== undefined ? Date.parse(f.createdAt) : Number.NaN;
    const nonce = nonceOf(f.postText);
    this.deliveries.push({
      user,
      postId: f.postId,
      author: f.author,
      ...(nonce !== undefined ? { nonce } : {}),
      receivedAt: at,
      ...(Number.isFinite(createdAt) ? { createdAt } : {}),
      ...(f.cursor !== undefined ? { cursor: f.cursor } : {}),
    });
  }

  /** Starts creating posts at the fixed rate. */
  startLoad(): void {
    this.startedAt = Date.now();
    const intervalMs = 1000 / this.opts.postsPerSecond;
    let due = this.startedAt;
    const tick = () => {
      const now = Date.now();
      while (due <= now) {
        due += intervalMs;
        if (this.inFlight.size >= this.opts.maxInFlight) {
          this.counters['createsHeldBack'] = (this.counters['createsHeldBack'] ?? 0) + 1;
          continue;
        }
        const p = this.createOne().finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
      this.loadTimer = setTimeout(tick, Math.max(1, due - Date.now()));
    };
    tick();
  }

  private async createOne(): Promise<void> {
    const author = pick(this.rand, this.users);
    const nonce = `${this.opts.runTag}-${++this.seq}`;
    const sentAt = Date.now();
    for (let attempt = 1; attempt <= this.opts.maxCreateAttempts; attempt++) {
      this.counters['createAttempts']!++;
      const r = await request('POST', this.url(Routes.POST_CREATE), this.tokens.get(author)!, { text: postText(nonce) }, this.opts.requestTimeoutMs);
      if (r.kind === 'ok') {
        const id = (r.body as { id?: unknown } | undefined)?.id;
        if (typeof id !== 'string' && typeof id !== 'number') {
          this.counters['createBadBody'] = (this.counters['createBadBody'] ?? 0) + 1;
          return;
        }
        this.acked.push({ postId: String(id), author, nonce, sentAt, ackAt: Date.now() });
        return;
      }
      this.counters['createFailures']!++;
      if (r.kind === 'rejected') {
        // A 4xx means the app refused the request: nothing was written.
        this.counters['createRejected']!++;
        this.opts.log(`create rejected: HTTP ${r.status} ${r.text}`);
        return;
      }
      this.indeterminate.push({ nonce, author, sentAt });
      await sleep(backoffMs(attempt, { baseMs: 100, capMs: 2000, jitter: Jitter.EQUAL, random: this.rand }));
    }
    this.counters['createAbandoned']!++;
  }

  /** Stops creating posts and waits for creates in flight. */
  async stopLoad(): Promise<void> {
    if (this.loadTimer) clearTimeout(this.loadTimer);
    this.loadTimer = undefined;
    this.loadEndedAt = Date.now();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Records a fault; call `healed` once the heal action has finished. */
  fault(name: string): { healed: () => void } {
    const at = Date.now();
    const index = this.faults.length;
    this.faults.push({ name, at });
    return {
      healed: () => {
        this.faults[index] = { name, at, healedAt: Date.now() };
      },
    };
  }

  /** Expected (follower, post) pairs not yet received. */
  outstanding(): number {
    const got = new Set(this.deliveries.map((d) => `${d.user}\u0000${d.postId}`));
    let missing = 0;
    for (const p of this.acked) for (const f of this.followersOf.get(p.author) ?? []) if (!got.has(`${f}\u0000${p.postId}`)) missing++;
    return missing;
  }

  /**
   * The quiet period: waits until every expected delivery has arrived and then `settleMs` more (to
   * catch late duplicates), or until `maxMs` passed. Returns the outstanding count at the end.
   */
  async quiet(maxMs: number, settleMs = 3000): Promise<number> {
    const end = Date.now() + maxMs;
    let lastLog = Date.now();
    for (;;) {
      const missing = this.outstanding();
      if (missing === 0) {
        await sleep(Math.min(settleMs, Math.max(0, end - Date.now())));
        return this.outstanding();
      }
      if (Date.now() >= end) return missing;
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        this.opts.log(`quiet period: ${missing} deliveries outstanding, ${this.followers.filter((s) => s.isOpen).length}/${this.followers.length} followers open`);
      }
      await sleep(250);
    }
  }

  /** Number of followers whose connection is open now. */
  openSocketCount(): number {
    return this.followers.filter((s) => s.isOpen).length;
  }

  /** Closes every follower's connection. */
  close(): void {
    if (this.loadTimer) clearTimeout(this.loadTimer);
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    for (const s of this.followers) s.close();
  }

  /** The recorded history. */
  history(): History {
    return {
      users: this.users,
      follows: this.follows,
      acked: [...this.acked],
      indeterminate: [...this.indeterminate],
      deliveries: [...this.deliveries],
      followers: this.followers.map((s): FollowerRecord => ({ user: s.user, transport: s.transport })),
      faults: [...this.faults],
      startedAt: this.startedAt,
      loadEndedAt: this.loadEndedAt,
      endedAt: Date.now(),
      counters: { ...this.counters },
    };
  }
}
