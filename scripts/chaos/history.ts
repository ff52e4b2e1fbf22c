/**
 * What one chaos run records. The workload writes it, the checker reads it; both sides share these
 * shapes so a history can be saved, reloaded and re-checked. All times are wall-clock milliseconds
 * since the epoch taken on the client (the chaos process), so latencies never mix two clocks.
 */

/** A post the HTTP API acknowledged with 200 and an id. */
export interface AckedPost {
  /** The id the API returned. */
  readonly postId: string;
  /** User id of the author (the token's `sub`). */
  readonly author: string;
  /** Unique text nonce of the attempt that succeeded. */
  readonly nonce: string;
  /** When the first attempt was sent. */
  readonly sentAt: number;
  /** When the 200 arrived. */
  readonly ackAt: number;
}

/**
 * A create attempt whose outcome is unknown: it failed in a way that may have committed the post
 * (timeout, reset, 5xx). Its nonce may also belong to a later, acknowledged attempt (a retry). It
 * is never counted as acknowledged; a delivery of an unknown post id carrying its nonce is counted
 * as `indeterminateDelivered`, not as unexpected.
 */
export interface IndeterminatePost {
  readonly nonce: string;
  readonly author: string;
  readonly sentAt: number;
}

/** A follower and the transport it subscribed with (`--clients`). */
export interface FollowerRecord {
  readonly user: string;
  /** A {@link ClientKind} value: ws, sse or graphql. */
  readonly transport: string;
}

/** One frame received on a follower's subscription, whatever its transport (before dedupe). */
export interface Delivery {
  /** The follower whose socket received the frame. */
  readonly user: string;
  readonly postId: string;
  /** `author_user_id` of the frame (`authorUserId` in GraphQL). */
  readonly author: string;
  /** Nonce parsed from `postText`, when present. */
  readonly nonce?: string;
  /** Client receive time. */
  readonly receivedAt: number;
  /** Server `createdAt`, parsed; undefined when absent or unparsable. */
  readonly createdAt?: number;
  readonly cursor?: string;
}

/** A fault the scenario injected. */
export interface FaultEvent {
  /** Short name, e.g. `kill -9 rabbit-2`. */
  readonly name: string;
  /** When the fault was injected. */
  readonly at: number;
  /** When the heal action finished (node restarted, process resumed); undefined if none. */
  readonly healedAt?: number;
}

/** A whole run of the workload under one scenario. */
export interface History {
  readonly users: readonly string[];
  /** Follow edges `[follower, followee]`, all set before load started. */
  readonly follows: ReadonlyArray<readonly [string, string]>;
  readonly acked: readonly AckedPost[];
  readonly indeterminate: readonly IndeterminatePost[];
  readonly deliveries: readonly Delivery[];
  /** Every follower's transport. Absent in histories written before `--clients`: all were ws. */
  readonly followers?: readonly FollowerRecord[];
  readonly faults: readonly FaultEvent[];
  /** Load start, load end (last create sent), end of the quiet period. */
  readonly startedAt: number;
  readonly loadEndedAt: number;
  readonly endedAt: number;
  /** Client counters: socket reconnects, create attempts that failed, 4009 replay truncations. */
  readonly counters: Readonly<Record<string, number>>;
}
