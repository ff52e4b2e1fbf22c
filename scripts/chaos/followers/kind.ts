/**
 * The transports a chaos follower can subscribe with (`--clients`). The values are the app's own
 * transport names (WS_TRANSPORT, SSE_TRANSPORT, GRAPHQL_TRANSPORT, checked by a unit test), so a
 * report's per-transport figures line up with the app's `feed_subscriptions{transport}` metric.
 */
export enum ClientKind {
  /** The feed WebSocket with the original JSON frames. */
  WS = 'ws',
  /** Server-Sent Events at `GET /post/feed/events`. */
  SSE = 'sse',
  /** The graphql-ws `postAdded` subscription at `/graphql`. */
  GRAPHQL = 'graphql',
}

/** Every kind, in the order `--clients` lists them by default. */
export const CLIENT_KINDS: readonly ClientKind[] = Object.values(ClientKind);

/** The transport of follower number `index`: round-robin over `clients`, so a seed reproduces the mix. */
export function clientFor(clients: readonly ClientKind[], index: number): ClientKind {
  if (clients.length === 0) throw new Error('clientFor: no client kinds to choose from');
  return clients[index % clients.length]!;
}
