/**
 * The delivery canary: every `intervalMs` the replica publishes one small message, with a confirm,
 * routed to its own queue alone (`canary.<replica id>`, bound next to `user.#`), and its consumer
 * acks it without touching sockets. A hung or cut-off node keeps the TCP connection (and even
 * heartbeats through HAProxy) up while confirms and deliveries stop until `net_ticktime`
 * (Erlang's 60 s; the kit sets 10 s) declares it down; the canary sees that within `timeoutMs`: the replica reports not-ready and moves
 * its connection to another node. Readiness comes back when a canary round-trips again.
 */
import { randomBytes } from 'node:crypto';
import type { ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import { canaryRoutingKey, EXCHANGE } from '../../../shared/constants.js';
import type { AmqpConnection } from './connection.js';

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** What the canary last concluded. */
export enum CanaryStatus {
  /** No round has completed or failed yet on this replica. */
  PENDING = 'pending',
  /** The last round came back in time. */
  OK = 'ok',
  /** A round did not come back in time, and none has since. */
  SILENT = 'silent',
  /** The canary is turned off (interval 0). */
  OFF = 'off',
}

/** The part of a round that did not come back in time. */
export enum CanaryPhase {
  /** The broker did not confirm the publish. */
  CONFIRM = 'confirm',
  /** The broker confirmed, but the message did not come back through the queue. */
  DELIVERY = 'delivery',
}

/** A round that did not come back in time. */
export interface CanaryFailure {
  readonly phase: CanaryPhase;
  readonly waitedMs: number;
}

interface Round {
  readonly seq: number;
  readonly sentAt: number;
  confirmed: boolean;
  delivered: boolean;
  resent: boolean;
}

/**
 * A round still unconfirmed after its timeout divided by this is published once more on a fresh
 * channel. Seen in the mirrored leader-kill chaos scenario (RabbitMQ 3.10): the first round on a
 * connection opened while the killed node's queues were failing over got no confirm in 5 s, and
 * a fresh connection's round came back in 14 ms; the stale channel, not the node, was silent.
 */
export const CANARY_RESEND_DIVISOR = 5;

/**
 * The canary's rounds as a pure state machine (times are passed in): one round in flight at most;
 * a round completes when both its confirm and its delivery arrived, and fails when `timeoutMs`
 * passes first. A round unconfirmed after {@link CanaryRounds.resendAfterMs} is due to be sent
 * again once (either copy's confirm and delivery count). Late or foreign deliveries (an earlier
 * round, another process) are ignored.
 */
export class CanaryRounds {
  private round: Round | undefined;
  private seq = 0;
  private state = CanaryStatus.PENDING;
  private rtt: number | undefined;

  constructor(private readonly timeoutMs: number) {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`CanaryRounds: timeoutMs must be a positive number, got ${timeoutMs}`);
  }

  get status(): CanaryStatus {
    return this.state;
  }

  /** Round trip of the last completed round, in ms. */
  get lastRoundTripMs(): number | undefined {
    return this.rtt;
  }

  get inFlight(): boolean {
    return this.round !== undefined;
  }

  /** Age at which an unconfirmed round is sent again: a fifth of the timeout. */
  get resendAfterMs(): number {
    return Math.round(this.timeoutMs / CANARY_RESEND_DIVISOR);
  }

  /**
   * When the round in flight is still unconfirmed at `resendAfterMs` and was not sent again yet:
   * marks it sent again and returns its sequence number (the caller publishes it once more).
   */
  resendDue(now: number): number | undefined {
    const r = this.round;
    if (!r || r.confirmed || r.resent || now - r.sentAt < this.resendAfterMs) return undefined;
    r.resent = true;
    return r.seq;
  }

  /** Starts a round at `now`; returns its sequence number. Throws while one is in flight. */
  begin(now: number): number {
    if (this.round) throw new Error(`canary round ${this.round.seq} is still in flight`);
    this.round = { seq: ++this.seq, sentAt: now, confirmed: false, delivered: false, resent: false };
    return this.seq;
  }

  /** The broker confirmed round `seq`; returns the round trip when that completed it. */
  confirmed(seq: number, now: number): number | undefined {
    return this.mark(seq, now, (r) => (r.confirmed = true));
  }

  /** Round `seq` came back through the queue; returns the round trip when that completed it. */
  delivered(seq: number, now: number): number | undefined {
    return this.mark(seq, now, (r) => (r.delivered = true));
  }

  /** When the round in flight is older than the timeout: fails it (status SILENT) and says which part was missing. */
  expire(now: number): CanaryFailure | undefined {
    const r = this.round;
    if (!r || now - r.sentAt < this.timeoutMs) return undefined;
    this.round = undefined;
    this.state = CanaryStatus.SILENT;
    return { phase: r.confirmed ? CanaryPhase.DELIVERY : CanaryPhase.CONFIRM, waitedMs: now - r.sentAt };
  }

  /** Drops the round in flight without a verdict (its connection was lost: that is reported elsewhere). */
  abandon(): void {
    this.round = undefined;
  }

  private mark(seq: number, now: number, set: (r: Round) => void): number | undefined {
    const r = this.round;
    if (!r || r.seq !== seq) return undefined;
    set(r);
    if (!r.confirmed || !r.delivered) return undefined;
    this.round = undefined;
    this.state = CanaryStatus.OK;
    this.rtt = now - r.sentAt;
    return this.rtt;
  }
}

export interface DeliveryCanaryProps {
  readonly amqp: AmqpConnection;
  readonly replicaId: string;
  /** Time between the end of a round and the next one. */
  readonly intervalMs: number;
  /** Bound on a round's confirm and delivery. */
  readonly timeoutMs: number;
  readonly log: Logger;
  /** Called with each completed round's round trip in ms. */
  readonly onRoundTrip?: (ms: number) => void;
  /** Called with each failed round, before the connection is moved. */
  readonly onFailure?: (failure: CanaryFailure) => void;
  /** Called once when the path turns silent (the first failed round after one that came back). */
  readonly onSilent?: (failure: CanaryFailure) => void;
}

/** Runs the canary rounds on the live connection (see the file comment). */
export class DeliveryCanary {
  private readonly rounds: CanaryRounds;
  /** Tells this process's canaries from those of an earlier process with the same replica id. */
  private readonly nonce = randomBytes(6).toString('hex');
  private channel: ConfirmChannel | undefined;
  /** Bumped by every channel open and drop: an open that finishes after a newer one (or a drop) is discarded. */
  private channelGeneration = 0;
  private timer: NodeJS.Timeout | undefined;
  private resendTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reason: string | undefined;
  /** Rounds failed since the last one that came back. */
  private failuresInRow = 0;
  /** A round came back on the current connection (reset when a connection comes up). */
  private flowedOnConnection = false;

  constructor(private readonly props: DeliveryCanaryProps) {
    this.rounds = new CanaryRounds(props.timeoutMs);
    props.amqp.on('up', () => {
      this.flowedOnConnection = false;
      this.schedule(0);
    });
    props.amqp.on('down', () => {
      this.rounds.abandon();
      this.channel = undefined;
      this.schedule(undefined);
    });
  }

  /** OFF when turned off, else what the last round concluded. */
  get status(): CanaryStatus {
    return this.props.intervalMs === 0 ? CanaryStatus.OFF : this.rounds.status;
  }

  /**
   * Whether publishing on the current connection is known to reach a majority: a round came back on
   * it (through the witness), or the canary is off. A fresh connection may have landed on a node cut
   * off in a minority, whose confirms a heal would undo.
   */
  get flowsOnConnection(): boolean {
    return this.status === CanaryStatus.OFF || (this.flowedOnConnection && this.status === CanaryStatus.OK);
  }

  /** Why the path counts as silent, while it does. */
  get silentReason(): string | undefined {
    return this.status === CanaryStatus.SILENT ? this.reason : undefined;
  }

  /** Starts the rounds (the first once the connection is up). */
  start(): void {
    if (this.props.amqp.channels) this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.schedule(undefined);
  }

  /** The consumer got a canary of this replica: `messageId` tells the round. */
  delivered(messageId: string | undefined): void {
    const seq = this.seqOf(messageId);
    if (seq !== undefined) this.completed(this.rounds.delivered(seq, Date.now()));
  }

  private seqOf(messageId: string | undefined): number | undefined {
    const [nonce, seq] = (messageId ?? '').split(':');
    return nonce === this.nonce && seq !== undefined && /^\d+$/.test(seq) ? Number(seq) : undefined;
  }

  /** Runs `send` after `ms` (replacing what was scheduled), or cancels when `ms` is undefined. */
  private schedule(ms: number | undefined): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    clearTimeout(this.resendTimer);
    this.resendTimer = undefined;
    if (ms === undefined || this.stopped || this.props.intervalMs === 0) return;
    this.timer = setTimeout(() => void this.send(), ms);
    this.timer.unref();
  }

  private async send(): Promise<void> {
    if (this.rounds.inFlight || !this.props.amqp.channels) return;
    const seq = this.rounds.begin(Date.now());
    this.timer = setTimeout(() => this.checkExpired(), this.props.timeoutMs);
    this.timer.unref();
    this.resendTimer = setTimeout(() => this.resendIfDue(), this.rounds.resendAfterMs);
    this.resendTimer.unref();
    await this.publishRound(seq);
  }

  /** A round unconfirmed for a while goes again on a fresh channel (see {@link CANARY_RESEND_DIVISOR}). */
  private resendIfDue(): void {
    this.resendTimer = undefined;
    const seq = this.rounds.resendDue(Date.now());
    if (seq === undefined || !this.props.amqp.channels) return;
    this.props.log.info({ node: this.props.amqp.node, seq, afterMs: this.rounds.resendAfterMs }, 'canary: round unconfirmed; sending it again on a fresh channel');
    this.dropChannel();
    void this.publishRound(seq);
  }

  private async publishRound(seq: number): Promise<void> {
    try {
      const ch = this.channel ?? (await this.openChannel());
      // Not persistent and expiring: a canary never piles up in the queue while the consumer is away.
      ch.publish(EXCHANGE, canaryRoutingKey(this.props.replicaId), Buffer.from(String(seq)), { messageId: `${this.nonce}:${seq}`, expiration: String(this.props.timeoutMs) }, (err: unknown) => {
        if (!err) this.completed(this.rounds.confirmed(seq, Date.now()));
      });
    } catch (e) {
      // No channel or a closed one: the round times out like any silent path would.
      this.props.log.debug({ err: (e as Error).message }, 'canary: publish failed');
    }
  }

  /** Opens the canary channel; throws when a newer open or a drop came meanwhile (that one publishes the round). */
  private async openChannel(): Promise<ConfirmChannel> {
    const generation = ++this.channelGeneration;
    const ch = await this.props.amqp.openConfirmChannel();
    if (generation !== this.channelGeneration) {
      void ch.close().catch(() => undefined);
      throw new Error('canary channel superseded while opening');
    }
    ch.once('close', () => {
      if (this.channel === ch) this.channel = undefined;
    });
    this.channel = ch;
    return ch;
  }

  /** Forgets the canary channel and closes it without waiting: a hung broker may never answer. */
  private dropChannel(): void {
    const ch = this.channel;
    this.channel = undefined;
    this.channelGeneration++;
    void ch?.close().catch(() => undefined);
  }

  private completed(rttMs: number | undefined): void {
    if (rttMs === undefined) return;
    if (this.reason !== undefined) this.props.log.info({ rttMs, failedRounds: this.failuresInRow }, 'canary: delivery path flows again; ready');
    this.reason = undefined;
    this.flowedOnConnection = true;
    this.failuresInRow = 0;
    this.props.onRoundTrip?.(rttMs);
    this.schedule(this.props.intervalMs);
  }

  private checkExpired(): void {
    const failure = this.rounds.expire(Date.now());
    if (!failure) return;
    const node = this.props.amqp.node;
    this.reason = failure.phase === CanaryPhase.CONFIRM ? `no publish confirm within ${failure.waitedMs} ms` : `confirmed but not delivered back within ${failure.waitedMs} ms`;
    this.props.onFailure?.(failure);
    if (++this.failuresInRow === 1) this.props.onSilent?.(failure);
    // Failing on node after node means the trouble is not the node (a hung mirror, a leader being
    // re-elected): move on the 1st, 2nd, 4th, 8th... failure in a row only, since each move also
    // sends the replica's sockets to replay.
    const move = isPowerOfTwo(this.failuresInRow);
    this.props.log.warn({ node, phase: failure.phase, waitedMs: failure.waitedMs, failedRounds: this.failuresInRow, move }, 'canary: delivery path silent; not ready');
    // The next round opens a fresh channel: on RabbitMQ 3.10 a channel that published to a mirrored
    // queue while a mirror hung got no confirm even after the node was declared down (a later
    // round on it failed at +24 s; a new channel's round came back in 7 ms).
    this.dropChannel();
    if (!move) return this.schedule(this.props.intervalMs);
    this.props.amqp.moveOffNode(`canary: ${this.reason}`);
    // The next round starts as soon as the new connection is up ('up' above); this is the fallback.
    this.schedule(this.props.intervalMs);
  }
}
