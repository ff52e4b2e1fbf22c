/**
 * Metric names the alerts and the dashboard query. The feed app's are registered in
 * app/src/metrics.ts (a unit test pins these to that registry, so a rename there fails the test);
 * RabbitMQ's come from its rabbitmq_prometheus plugin (aggregated `/metrics` and the per-queue
 * `/metrics/detailed`), HAProxy's from its built-in Prometheus exporter, `erlang_vm_dist_*` from
 * the Erlang collector RabbitMQ ships.
 */

/** The feed app's metrics. */
export const FeedMetric = Object.freeze({
  WS_CONNECTIONS: 'feed_ws_connections',
  DELIVERIES: 'feed_deliveries_total',
  DELIVERY_LATENCY: 'feed_delivery_latency_seconds',
  OUTBOX_BACKLOG: 'feed_outbox_backlog',
  OUTBOX_PUBLISHED: 'feed_outbox_published_total',
  AMQP_RECONNECTS: 'feed_amqp_reconnects_total',
  CONSUMER_CANCELS: 'feed_amqp_consumer_cancels_total',
  POSTS_CREATED: 'feed_posts_created_total',
  HTTP_REQUESTS: 'feed_http_requests_total',
  WS_CLOSES: 'feed_ws_closes_total',
  QUEUE_LOSSES: 'feed_replica_queue_losses_total',
} as const);

/** RabbitMQ's metrics (rabbitmq_prometheus). */
export const RabbitmqMetric = Object.freeze({
  IDENTITY_INFO: 'rabbitmq_identity_info',
  MEMORY_ALARM: 'rabbitmq_alarms_memory_used_watermark',
  DISK_ALARM: 'rabbitmq_alarms_free_disk_space_watermark',
  /** Per peer: 1 pending, 2 up_pending, 3 up. */
  DIST_NODE_STATE: 'erlang_vm_dist_node_state',
  /** Per queue, from `/metrics/detailed?family=queue_consumer_count`. */
  DETAILED_QUEUE_CONSUMERS: 'rabbitmq_detailed_queue_consumers',
  /** Per queue, from `/metrics/detailed?family=queue_coarse_metrics`. */
  DETAILED_QUEUE_MESSAGES: 'rabbitmq_detailed_queue_messages',
  RESIDENT_MEMORY_LIMIT: 'rabbitmq_resident_memory_limit_bytes',
  PROCESS_RESIDENT_MEMORY: 'rabbitmq_process_resident_memory_bytes',
} as const);

/** HAProxy's metrics (its built-in exporter). */
export const HaproxyMetric = Object.freeze({
  BACKEND_ACTIVE_SERVERS: 'haproxy_backend_active_servers',
  BACKEND_CURRENT_SESSIONS: 'haproxy_backend_current_sessions',
} as const);

/** Query-string families of RabbitMQ's `/metrics/detailed` the RabbitMQ scrape asks for. */
export const RABBITMQ_DETAILED_FAMILIES = Object.freeze(['queue_coarse_metrics', 'queue_consumer_count'] as const);

/** Path of RabbitMQ's per-object endpoint. */
export const RABBITMQ_DETAILED_PATH = '/metrics/detailed';
