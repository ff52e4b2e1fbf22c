/**
 * Ref-counted bindings `user.{id}` → this replica's queue: bound while the user has at least one
 * socket here, unbound when the last one closes. Operations on one user run one after another so a
 * quick close-then-open cannot leave the binding in the wrong state.
 */
import type { Logger } from 'pino';
import { EXCHANGE, userRoutingKey } from '../../../shared/index.js';
import type { Channel } from 'amqplib';
import type { Gauge } from 'prom-client';
import type { AmqpConnection } from './connection.js';

export class BindingRegistry {
  private readonly refs = new Map<string, number>();
  private readonly bound = new Set<string>();
  private readonly chains = new Map<string, Promise<void>>();
  private lastChange = 0;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly queue: string,
    private readonly log: Logger,
    private readonly gauge: Gauge,
  ) {}

  /** Users with at least one local socket. */
  users(): string[] {
    return [...this.refs.keys()];
  }

  /**
   * Adds a reference; resolves once the binding exists, or right away when AMQP is down (the
   * reconnect re-binds every current user before consuming again).
   */
  acquire(userId: string): Promise<void> {
    this.refs.set(userId, (this.refs.get(userId) ?? 0) + 1);
    return this.sync(userId);
  }

  /** Drops a reference; unbinds after the last one. */
  release(userId: string): Promise<void> {
    const n = (this.refs.get(userId) ?? 0) - 1;
    if (n > 0) this.refs.set(userId, n);
    else this.refs.delete(userId);
    return this.sync(userId);
  }

  /** When this replica last started a bind or unbind (epoch ms; 0 = never): how busy Mnesia's routing tables are here. */
  get lastChangeAt(): number {
    return this.lastChange;
  }

  /** Binds every user with references on `ch` (used by the connection hook). */
  async bindAllOn(ch: Channel): Promise<void> {
    this.bound.clear();
    for (const userId of this.refs.keys()) {
      this.lastChange = Date.now();
      await ch.bindQueue(this.queue, EXCHANGE, userRoutingKey(userId));
      this.bound.add(userId);
    }
    this.gauge.set(this.bound.size);
    this.log.info({ users: this.bound.size }, 'amqp: bindings restored');
  }

  /** Reconciles users whose references changed while the connection was coming up. */
  reconcileAll(): void {
    for (const userId of new Set([...this.refs.keys(), ...this.bound])) void this.sync(userId);
  }

  private sync(userId: string): Promise<void> {
    const prev = this.chains.get(userId) ?? Promise.resolve();
    const next = prev.then(() => this.apply(userId));
    this.chains.set(userId, next);
    void next.finally(() => {
      if (this.chains.get(userId) === next) this.chains.delete(userId);
    });
    return next;
  }

  private async apply(userId: string): Promise<void> {
    const want = this.refs.has(userId);
    if (want === this.bound.has(userId)) return;
    const ch = this.amqp.channels?.consume;
    if (!ch) {
      // Down: the state is reconciled by bindAllOn on reconnect.
      if (!want) this.bound.delete(userId);
      return;
    }
    this.lastChange = Date.now();
    try {
      if (want) {
        await ch.bindQueue(this.queue, EXCHANGE, userRoutingKey(userId));
        this.bound.add(userId);
      } else {
        await ch.unbindQueue(this.queue, EXCHANGE, userRoutingKey(userId));
        this.bound.delete(userId);
      }
      this.gauge.set(this.bound.size);
    } catch (e) {
      // The channel died under us; the reconnect path re-binds from `refs`.
      this.log.warn({ userId, err: (e as Error).message }, 'amqp: bind/unbind failed; will be reconciled on reconnect');
    }
  }
}
