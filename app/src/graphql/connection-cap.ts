/**
 * graphql-ws connections per user on this replica. The hub caps subscriptions; a connection that
 * never subscribes costs a socket all the same, so connections are capped too, at the same number.
 */

/** A connection counted against its user; {@link release} gives the place back (idempotent). */
export interface ConnectionSlot {
  readonly userId: string;
  release(): void;
}

export class ConnectionCap {
  private readonly byUser = new Map<string, number>();

  /** @param maxPerUser graphql-ws connections one user may hold here (`app.limits.subscriptionsPerUser`). */
  constructor(readonly maxPerUser: number) {}

  /** Connections `userId` holds now. */
  count(userId: string): number {
    return this.byUser.get(userId) ?? 0;
  }

  /** Takes a place for `userId`; undefined when the user is at the cap. Synchronous, so checks and takes cannot interleave. */
  acquire(userId: string): ConnectionSlot | undefined {
    const n = this.count(userId);
    if (n >= this.maxPerUser) return undefined;
    this.byUser.set(userId, n + 1);
    let held = true;
    return {
      userId,
      release: () => {
        if (!held) return;
        held = false;
        const left = this.count(userId) - 1;
        if (left > 0) this.byUser.set(userId, left);
        else this.byUser.delete(userId);
      },
    };
  }

  /** The refusal a user over the cap gets (HTTP 429 body, close reason). */
  message(): string {
    return `at most ${this.maxPerUser} graphql-ws connections per user on one replica; close one first`;
  }
}
