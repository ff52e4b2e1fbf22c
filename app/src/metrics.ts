/** Prometheus metrics of one replica; a registry per app so several replicas can run in one process (tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The metrics every part of the app updates. */
export interface FeedMetrics {
  readonly registry: Registry;
  readonly connections: Gauge;
  readonly subscriptions: Gauge<'transport'>;
  readonly deliveries: Counter;
  readonly deliveryLatency: Histogram;
  readonly outboxBacklog: Gauge;
  readonly published: Counter;
  readonly resent: Counter;
  readonly amqpReconnects: Counter;
  readonly consumerCancels: Counter;
  readonly postsCreated: Counter;
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly socketCloses: Counter<'reason'>;
  readonly replicaQueuesReaped: Counter;
  readonly replicaReapsDeferred: Counter;
  readonly queueLosses: Counter;
  readonly canaryFailures: Counter<'phase'>;
  readonly canaryRoundTrip: Gauge;
  readonly canarySilent: Gauge;
  readonly amqpMoves: Counter;
}

/** Creates the metrics; `outboxBacklog` asks `backlog()` at scrape time. */
export function createMetrics(backlog: () => Promise<number>, defaultMetrics: boolean): FeedMetrics {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    connections: new Gauge({ name: 'feed_ws_connections', help: 'Open feed WebSockets', registers }),
    subscriptions: new Gauge({ name: 'feed_subscriptions', help: 'Open feed subscriptions by transport (ws, sse, graphql)', labelNames: ['transport'] as const, registers }),
    deliveries: new Counter({ name: 'feed_deliveries_total', help: 'Frames handed to local subscribers of every transport (live and replay)', registers }),
    deliveryLatency: new Histogram({
      name: 'feed_delivery_latency_seconds',
      help: 'Post createdAt to hand-off to the local socket, live deliveries only',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    outboxBacklog: new Gauge({
      name: 'feed_outbox_backlog',
      help: 'Outbox rows not yet published (all replicas share the outbox)',
      registers,
      async collect() {
        try {
          this.set(await backlog());
        } catch {
          // Postgres down: keep the last value rather than fail the whole scrape.
        }
      },
    }),
    published: new Counter({ name: 'feed_outbox_published_total', help: 'Outbox rows whose messages the broker confirmed in full', registers }),
    resent: new Counter({
      name: 'feed_outbox_resent_messages_total',
      help: "Messages the outbox relay sent again on a fresh channel because the first channel's confirms stopped (clients dedupe the copies by postId)",
      registers,
    }),
    amqpReconnects: new Counter({ name: 'feed_amqp_reconnects_total', help: 'AMQP connections re-established after a loss', registers }),
    consumerCancels: new Counter({ name: 'feed_amqp_consumer_cancels_total', help: 'Broker-side consumer cancels (mirror failover, queue deleted) recovered by re-subscribing', registers }),
    postsCreated: new Counter({ name: 'feed_posts_created_total', help: 'Posts stored', registers }),
    httpRequests: new Counter({ name: 'feed_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'] as const, registers }),
    socketCloses: new Counter({ name: 'feed_ws_closes_total', help: 'Server-initiated ends of subscriptions (every transport) by reason', labelNames: ['reason'] as const, registers }),
    replicaQueuesReaped: new Counter({ name: 'feed_replica_queues_reaped_total', help: 'Queues of dead replicas (stale heartbeat, no consumer) this replica deleted', registers }),
    replicaReapsDeferred: new Counter({ name: 'feed_replica_reaps_deferred_total', help: 'Stale replicas whose queue was kept because it still had a consumer', registers }),
    queueLosses: new Counter({ name: 'feed_replica_queue_losses_total', help: "This replica's queue found deleted (reaped or expired); local sockets closed to replay", registers }),
    canaryFailures: new Counter({
      name: 'feed_canary_failures_total',
      help: 'Delivery canaries whose publish confirm (phase=confirm) or delivery back (phase=delivery) did not come within CANARY_TIMEOUT_MS',
      labelNames: ['phase'] as const,
      registers,
    }),
    canaryRoundTrip: new Gauge({ name: 'feed_canary_round_trip_seconds', help: 'Publish to confirm-and-delivery of the last delivery canary that came back', registers }),
    canarySilent: new Gauge({ name: 'feed_canary_silent', help: '1 while the last delivery canary failed and none has come back since (the replica is not ready), else 0', registers }),
    amqpMoves: new Counter({ name: 'feed_amqp_node_moves_total', help: 'AMQP connections dropped because the delivery path through their node went silent; the next one avoids that node', registers }),
  };
}
