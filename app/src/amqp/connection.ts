/**
 * One AMQP connection kept alive: tries the URLs in order, starting after the one whose connection
 * was lost last (that front or node is the likeliest to be dead), backs off with full jitter after a
 * round of failures, and on every (re)connect opens a confirm channel for publishing and a channel for
 * consuming, then runs the `onUp` hooks (declare, re-bind, consume). A channel that closes under us
 * takes the connection down with it, so every recovery goes through the same path.
 *
 * A hung or cut-off node keeps the TCP connection up and answers nothing, so every wait here is
 * bounded by the app's own timeouts (connect, setup, close), not by heartbeats or `net_ticktime`.
 * The connection knows which node it landed on ({@link probeNode}); {@link AmqpConnection.moveOffNode}
 * destroys it and keeps the next connections off that node, even through a round-robin front.
 */
import { EventEmitter } from 'node:events';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import { backoffMs, sleep } from '../../../shared/retry.js';
import { probeNode } from './node-probe.js';

/** The channels of the current connection. */
export interface AmqpChannels {
  readonly publish: ConfirmChannel;
  readonly consume: Channel;
}

export interface AmqpConnectionProps {
  /** URLs tried in order; the next one on failure, and after a loss the one after the lost one. */
  readonly urls: readonly string[];
  readonly log: Logger;
  /** Called after a connection that replaced a lost one is up. */
  readonly onReconnect?: () => void;
  /** First backoff delay ceiling. @default 200 */
  readonly backoffBaseMs?: number;
  /** Largest backoff delay ceiling. @default 10000 */
  readonly backoffMaxMs?: number;
  /** The backoff's random source, in [0, 1) (tests pin it). @default Math.random */
  readonly random?: () => number;
  /** A connection lost sooner than this after it came up counts as a failed attempt. @default {@link MIN_STABLE_CONNECTION_MS} */
  readonly minStableMs?: number;
  /** Bound on the TCP connect and AMQP handshake of one attempt (a hung node accepts TCP and never answers). @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Bound on the node probe plus the `onUp` hooks of one attempt; beyond it the attempt is destroyed and the next URL tried. @default 15000 */
  readonly setupTimeoutMs?: number;
  /** Bound on a graceful close before the socket is destroyed (a hung node never sends close-ok). @default 2000 */
  readonly closeTimeoutMs?: number;
  /** How long a node the connection was moved off stays avoided. @default 30000 */
  readonly avoidNodeMs?: number;
  /** Shown as the connection's name in the management UI and `rabbitmqctl list_connections`. @default none */
  readonly connectionName?: string;
  /** Called each time {@link AmqpConnection.moveOffNode} drops a connection. */
  readonly onMove?: () => void;
}

/** A connection lost sooner than this after it came up counts as a failed attempt (backoff), not as a loss. */
export const MIN_STABLE_CONNECTION_MS = 2000;

/** Connections in a row that may land on the avoided node before one is accepted anyway (it may be the only node left). */
export const MAX_AVOIDED_LANDINGS = 6;

/** Destroys the socket under an amqplib connection: its pending calls fail and it emits 'close' at once. */
function destroySocket(model: ChannelModel, reason: string): void {
  const stream = (model.connection as unknown as { stream?: { destroy(err?: Error): void } }).stream;
  stream?.destroy(new Error(reason));
}

/** Closes gracefully, but destroys the socket when the broker has not confirmed within `boundMs`. */
async function closeBounded(model: ChannelModel, boundMs: number): Promise<void> {
  await bounded(model.close(), boundMs, 'close', () => destroySocket(model, `close not confirmed within ${boundMs} ms`)).catch(() => undefined);
}

/** Rejects when `work` takes longer than `ms`, after calling `onLate` (which should make `work` fail). */
async function bounded<T>(work: Promise<T>, ms: number, what: string, onLate: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate();
      reject(new Error(`${what} took longer than ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined); // the loser's rejection is expected once onLate ran
  }
}

/** AMQP reply codes the app reacts to. */
export const ReplyCode = Object.freeze({
  NOT_FOUND: 404,
  PRECONDITION_FAILED: 406,
} as const);

/** The AMQP reply code of a channel error (amqplib puts it in `code`), if any. */
export function replyCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Hides the password of an AMQP URL for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable url>';
  }
}

export class AmqpConnection extends EventEmitter {
  private model: ChannelModel | undefined;
  private current: AmqpChannels | undefined;
  private closing = false;
  private everConnected = false;
  private wake: (() => void) | undefined;
  private readonly hooks: Array<(ch: AmqpChannels) => Promise<void>> = [];
  private loop: Promise<void> | undefined;
  /** Index in `urls` where the next round of attempts starts. */
  private startAt = 0;
  /** Channels closed on purpose (a renewed confirm channel): their close must not drop the connection. */
  private readonly retired = new WeakSet<Channel>();
  private renewing = false;
  /** The node the live connection is on, when the probe could tell. */
  private currentNode: string | undefined;
  /** The node the last move left, kept off until `avoidUntil`. */
  private avoidNode: string | undefined;
  private avoidUntil = 0;
  private avoidedLandings = 0;

  constructor(private readonly props: AmqpConnectionProps) {
    super();
  }

  /** The node the live connection is on (RabbitMQ's per-node hash, see node-probe.ts); undefined while down or unknown. */
  get node(): string | undefined {
    return this.current ? this.currentNode : undefined;
  }

  /** Channels of the live connection, once its `onUp` hooks have run; undefined while down. */
  get channels(): AmqpChannels | undefined {
    return this.current;
  }

  /** Registers a hook run (in registration order) on every connect before the connection counts as up. */
  onUp(hook: (ch: AmqpChannels) => Promise<void>): void {
    this.hooks.push(hook);
  }

  /** Starts connecting in the background; emits 'up' each time a connection is ready. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves true once up, false after `timeoutMs`. */
  async waitUp(timeoutMs: number): Promise<boolean> {
    if (this.current) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('up', onUp);
        resolve(false);
      }, timeoutMs);
      const onUp = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('up', onUp);
    });
  }

  /** Drops the current connection (a hook found it unusable); the loop reconnects. */
  fail(reason: string): void {
    if (!this.model) return;
    this.props.log.warn({ reason }, 'amqp: dropping connection to recover');
    void closeBounded(this.model, this.closeTimeoutMs);
  }

  /**
   * The delivery path through this connection went silent: destroys the socket at once (a graceful
   * close would wait for a hung node's close-ok) and keeps the next connections off its node for
   * `avoidNodeMs`, so a reconnect through a round-robin front lands elsewhere.
   */
  moveOffNode(reason: string): void {
    const model = this.model;
    if (!model) return;
    const node = this.currentNode;
    if (node !== undefined) {
      this.avoidNode = node;
      this.avoidUntil = Date.now() + (this.props.avoidNodeMs ?? 30_000);
    }
    this.avoidedLandings = 0;
    this.props.log.warn({ node, reason }, 'amqp: moving the connection off its node');
    this.props.onMove?.();
    destroySocket(model, reason);
  }

  /**
   * Opens a confirm channel on the live connection for a caller that manages it (the canary): its
   * errors are logged, and its closing leaves the connection up. Throws when there is no connection.
   */
  async openConfirmChannel(): Promise<ConfirmChannel> {
    const model = this.model;
    if (!model) throw new Error('amqp is down');
    const ch = await model.createConfirmChannel();
    ch.on('error', (err: Error) => this.props.log.warn({ err: err.message }, 'amqp: channel error'));
    return ch;
  }

  private get closeTimeoutMs(): number {
    return this.props.closeTimeoutMs ?? 2000;
  }

  /**
   * Runs `fn` on a channel of its own, closed afterwards. The broker closes a channel on a failed
   * check or delete (404, 406): that rejects `fn`'s call but, unlike on the shared channels, leaves
   * the connection up. Usable from `onUp` hooks. Throws when there is no connection.
   */
  async withScratchChannel<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const model = this.model;
    if (!model) throw new Error('amqp is down');
    const ch = await model.createChannel();
    let closed = false;
    ch.on('error', () => undefined); // the failed call rejects with the same error
    ch.once('close', () => (closed = true));
    try {
      return await fn(ch);
    } finally {
      if (!closed) await ch.close().catch(() => undefined);
    }
  }

  /**
   * Replaces the confirm channel of the live connection with a fresh one and closes the old one
   * (its pending confirms fail once the broker answers the close; a channel stuck in the broker may
   * not answer until the heal, so the publisher's own confirm timeout is what gives its rows back to
   * the outbox for a retry). Measured on RabbitMQ 3.10
   * (mirrored app-kill chaos): a channel that published to a mirrored queue whose consumer died
   * stops getting confirms for everything it publishes afterwards, even after that queue is
   * deleted, while a new channel gets them at once. Call it after a confirm timeout or a nack, with
   * the channel that saw it: when that one was already replaced, nothing is done.
   */
  async renewPublishChannel(reason: string, stale?: ConfirmChannel): Promise<void> {
    const model = this.model;
    const cur = this.current;
    if (!model || !cur || this.renewing) return;
    if (stale !== undefined && cur.publish !== stale) return;
    this.renewing = true;
    try {
      const publish = await model.createConfirmChannel();
      this.watchChannel(model, publish);
      if (this.current !== cur) {
        // The connection went down or was renewed meanwhile.
        this.retire(publish);
        return;
      }
      this.current = { ...cur, publish };
      this.retire(cur.publish);
      this.props.log.warn({ reason }, 'amqp: renewed the publish channel');
    } catch (e) {
      this.props.log.warn({ reason, err: (e as Error).message }, 'amqp: could not renew the publish channel; dropping the connection');
      this.fail(`publish channel renewal failed: ${(e as Error).message}`);
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Closes a channel the connection no longer uses, without waiting for it. The broker answers the
   * close only once the channel's pending work ends, and a channel stuck on a quorum leader cut off
   * from the cluster waits for the heal: awaited here, it held `renewing` and every later renewal
   * was skipped (quorum partition chaos run on 6ee428b: the relay retried on the same stuck channel
   * for 10 s after its node was declared down).
   */
  private retire(ch: ConfirmChannel): void {
    this.retired.add(ch);
    void ch.close().catch(() => undefined);
  }

  /** Logs channel errors; a channel of the connection that closes (not retired) takes the connection down. */
  private watchChannel(model: ChannelModel, ch: Channel): void {
    ch.on('error', (err: Error) => this.props.log.warn({ err: err.message }, 'amqp: channel error'));
    ch.once('close', () => {
      if (this.model === model && !this.retired.has(ch)) void closeBounded(model, this.closeTimeoutMs);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    const m = this.model;
    this.current = undefined;
    if (m) await closeBounded(m, this.closeTimeoutMs);
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closing) {
      const up = await this.connectOnce();
      if (this.closing) break;
      if (up === undefined) {
        await this.backOff(++failures, 'amqp: no URL answered; retrying after a backoff');
        continue;
      }
      const upAt = Date.now();
      await up.lost;
      // A loss after a stable connection is not a failure: the next round starts at once, at the
      // next URL. One lost right after connecting (a node that accepts and drops) backs off.
      const stable = Date.now() - upAt >= (this.props.minStableMs ?? MIN_STABLE_CONNECTION_MS);
      failures = stable ? 0 : failures + 1;
      if (failures > 0) await this.backOff(failures, 'amqp: connection lost right after connecting; retrying after a backoff');
    }
  }

  /** Full jitter: replicas that lost the broker together do not reconnect in lockstep. */
  private async backOff(failures: number, message: string): Promise<void> {
    const delayMs = backoffMs(failures, { baseMs: this.props.backoffBaseMs ?? 200, capMs: this.props.backoffMaxMs ?? 10_000, random: this.props.random });
    this.props.log.info({ failures, delayMs: Math.round(delayMs) }, message);
    await this.sleep(delayMs);
  }

  /**
   * Tries each URL once; returns the live connection's `lost` promise (resolved when it is gone), or
   * undefined if none worked. The promise is wrapped: an async function returning a bare promise
   * adopts it, which made the caller wait for the loss and then back off as if every URL had failed,
   * with a ceiling growing at every loss of the process's life (10 s after six: the reconnect
   * stalls of the full chaos runs and the failover bench).
   */
  private async connectOnce(): Promise<{ readonly lost: Promise<void> } | undefined> {
    const urls = this.props.urls;
    for (let k = 0; k < urls.length; k++) {
      const index = (this.startAt + k) % urls.length;
      const url = urls[index]!;
      if (this.closing) return undefined;
      let model: ChannelModel | undefined;
      try {
        model = await amqp.connect(url, {
          timeout: this.props.connectTimeoutMs ?? 5000,
          noDelay: true, // without it, Nagle meets the broker's delayed ACK: a lone publish waits ~40 ms for its confirm
          ...(this.props.connectionName !== undefined ? { clientProperties: { connection_name: this.props.connectionName } } : {}),
        });
        const m = model;
        const lost = new Promise<void>((resolve) => m.once('close', () => resolve()));
        m.on('error', (err: Error) => this.props.log.warn({ err: err.message }, 'amqp: connection error'));
        m.on('blocked', (reason: string) => this.props.log.warn({ reason }, 'amqp: connection blocked by the broker'));
        this.model = m;
        const setupMs = this.props.setupTimeoutMs ?? 15_000;
        const channels = await bounded(this.setUp(m), setupMs, 'connection setup (node probe, declare, consume)', () => destroySocket(m, `setup took longer than ${setupMs} ms`));
        if (this.closing) return undefined;
        this.current = channels;
        void lost.then(() => this.onLost(m, index));
        this.props.log.info({ url: redactUrl(url), node: this.currentNode, reconnect: this.everConnected }, 'amqp: connected');
        if (this.everConnected) this.props.onReconnect?.();
        this.everConnected = true;
        this.emit('up');
        return { lost };
      } catch (e) {
        this.props.log.warn({ url: redactUrl(url), err: (e as Error).message }, 'amqp: connect failed');
        if (model) await closeBounded(model, this.closeTimeoutMs);
        if (this.model === model) this.model = undefined;
      }
    }
    return undefined;
  }

  /** Probes the node (refusing the avoided one), opens the channels and runs the hooks. */
  private async setUp(model: ChannelModel): Promise<AmqpChannels> {
    this.currentNode = await probeNode(model, this.props.setupTimeoutMs ?? 15_000);
    this.refuseAvoidedNode(this.currentNode);
    const publish = await model.createConfirmChannel();
    const consume = await model.createChannel();
    for (const ch of [publish, consume]) this.watchChannel(model, ch);
    const channels = { publish, consume };
    for (const hook of this.hooks) await hook(channels);
    return channels;
  }

  /** Throws when `node` is the one the last move left, unless that happened too often in a row (it may be the only node up). */
  private refuseAvoidedNode(node: string | undefined): void {
    if (node === undefined || node !== this.avoidNode || Date.now() >= this.avoidUntil) {
      this.avoidedLandings = 0;
      return;
    }
    if (++this.avoidedLandings > MAX_AVOIDED_LANDINGS) {
      this.props.log.warn({ node, landings: this.avoidedLandings }, 'amqp: every attempt lands on the avoided node; accepting it');
      this.avoidedLandings = 0;
      return;
    }
    throw new Error(`landed on node ${node}, which the connection was just moved off; trying another`);
  }

  private onLost(model: ChannelModel, index: number): void {
    this.startAt = (index + 1) % this.props.urls.length;
    if (this.model === model) this.current = undefined; // `current` may hold a renewed publish channel
    if (this.model === model) this.model = undefined;
    if (!this.closing) {
      this.props.log.warn({ node: this.currentNode }, 'amqp: connection lost; reconnecting');
      this.emit('down');
    }
  }

  /** Sleeps `ms`, or less when close() wakes it: closing must not wait out a backoff. */
  private async sleep(ms: number): Promise<void> {
    const early = new AbortController();
    this.wake = () => early.abort();
    await sleep(ms, undefined, { signal: early.signal }).catch(() => undefined);
    this.wake = undefined;
  }
}
