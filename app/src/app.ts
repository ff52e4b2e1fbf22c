/** Wires one feed replica together: Postgres, AMQP, outbox relay, WebSocket hub, HTTP server. */
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { CloseCodes, replicaQueueName } from '../../shared/constants.js';
import { backoffMs, Jitter, sleep } from '../../shared/retry.js';
import { CanaryStatus, DeliveryCanary } from './amqp/canary.js';
import { AmqpConnection } from './amqp/connection.js';
import { ReplicaConsumer } from './amqp/consumer.js';
import { CcBatchPublisher, type FeedPublisher } from './amqp/publisher.js';
import { ReplicaReaper } from './amqp/reaper.js';
import { createTokenVerifier } from './auth/jwt.js';
import type { FeedAppConfig } from './config.js';
import { migrate } from './db/migrations.js';
import { ReplicaRegistry } from './db/replicas.js';
import { createPool, FeedStore } from './db/store.js';
import { FeedGraphql } from './graphql/server.js';
import { apiRoutes, type ApiDeps } from './http/api.js';
import { createFeedHttpServer } from './http/server.js';
import { createMetrics } from './metrics.js';
import { OutboxRelay } from './outbox/relay.js';
import { FeedSocketHub } from './ws/hub.js';

/** A running replica. */
export interface FeedApp {
  /** The HTTP port it listens on (useful with port 0). */
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly replicaId: string;
  readonly log: Logger;
  /** True once the broker connection is up (readiness also needs Postgres). */
  brokerUp(): boolean;
  /** The RabbitMQ node the AMQP connection is on (the per-node hash of its direct reply-to addresses), when up and known. */
  amqpNode(): string | undefined;
  /** Graceful shutdown: readyz fails, sockets close with 1012, in-flight work ends, the relay flushes, AMQP and Postgres close. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Logger to use. @default pino JSON on stdout at `config.logLevel` */
  readonly logger?: Logger;
  /** Also export Node process metrics (off for in-process test replicas). @default true */
  readonly processMetrics?: boolean;
  /** How long start-up waits for Postgres (migrations need it). @default 60000 */
  readonly databaseWaitMs?: number;
  /** How long start-up waits for the broker before serving anyway (fan-out waits in the outbox). @default 10000 */
  readonly brokerWaitMs?: number;
  /** Swap the fan-out encoding. @default one message per chunk of followers with the CC header (CcBatchPublisher) */
  readonly publisher?: (amqp: AmqpConnection) => FeedPublisher;
}

/** Errors of a database that is still starting or not reachable yet; anything else (bad password, bad SQL) fails at once. */
const TRANSIENT_DB_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P03', '53300']);

async function migrateWhenReachable(store: FeedStore, log: Logger, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const client = await store.pool.connect();
      try {
        const applied = await migrate(client);
        log.info({ applied }, 'db: schema up to date');
        return;
      } finally {
        client.release();
      }
    } catch (e) {
      if (Date.now() > deadline || !TRANSIENT_DB_ERRORS.has((e as { code?: string }).code ?? '')) throw e;
      log.warn({ err: (e as Error).message, attempt }, 'db: not reachable yet; retrying');
      await sleep(backoffMs(attempt, { baseMs: 100, capMs: 2000, jitter: Jitter.NONE }));
    }
  }
}

/** Whether chunks need every recipient's key (a previous-release replica is live); when the registry cannot tell, they get them. */
async function perUserRoutedReplicaLive(registry: ReplicaRegistry, staleMs: number, log: Logger): Promise<boolean> {
  try {
    return await registry.perUserRoutedReplicaLive(staleMs);
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'outbox: replica registry unreadable; publishing chunks with every recipient key');
    return true;
  }
}

export async function startFeedApp(config: FeedAppConfig, opts: StartOptions = {}): Promise<FeedApp> {
  const log = opts.logger ?? pino({ level: config.logLevel, base: { replica: config.replicaId } });
  const pool = createPool(config.databaseUrl, config.databasePassword);
  pool.on('error', (err) => log.warn({ err: err.message }, 'db: idle client error'));
  const store = new FeedStore(pool);
  const metrics = createMetrics(() => store.outboxBacklog(), opts.processMetrics ?? true);
  try {
    await migrateWhenReachable(store, log, opts.databaseWaitMs ?? 60_000);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }

  let moved = false;
  const amqp = new AmqpConnection({
    urls: config.amqpUrls,
    log,
    onReconnect: () => metrics.amqpReconnects.inc(),
    onMove: () => {
      metrics.amqpMoves.inc();
      moved = true;
    },
    connectionName: config.replicaId,
    // A hung node accepts TCP and never answers: the canary's bound is the app's bound for every AMQP wait.
    connectTimeoutMs: config.canaryTimeoutMs,
    setupTimeoutMs: 2 * config.canaryTimeoutMs,
  });
  const canary = new DeliveryCanary({
    amqp,
    replicaId: config.replicaId,
    intervalMs: config.canaryIntervalMs,
    timeoutMs: config.canaryTimeoutMs,
    log,
    onRoundTrip: (ms) => {
      metrics.canaryRoundTrip.set(ms / 1000);
      metrics.canarySilent.set(0);
      relay.wake();
    },
    onFailure: (f) => {
      metrics.canaryFailures.inc({ phase: f.phase });
      metrics.canarySilent.set(1);
    },
    onSilent: (f) => {
      // Nothing reaches these subscribers until the path flows again (after a move, or a new quorum
      // leader: up to ~10 s with the kit's liveness kill and net_ticktime). Sent now, they replay from Postgres on a replica whose path flows, and new
      // ones are refused here (FeedHttpServerProps.silent) until it does.
      log.warn({ sockets: hub.size, phase: f.phase }, 'canary: delivery path silent; closing local sockets with 1012 so they resume on another replica');
      void hub.closeAll(CloseCodes.SERVICE_RESTART, 'replica delivery path silent: reconnect with since', 5000, 'amqp_silent');
    },
  });
  const queue = replicaQueueName(config.replicaId);
  const hub = new FeedSocketHub({
    store,
    log,
    metrics,
    replayLimit: config.replayLimit,
    pingIntervalMs: config.wsPingIntervalMs,
    maxBufferedBytes: config.wsMaxBufferedBytes,
    maxPerUser: config.subscriptionsPerUser,
  });
  const consumer = new ReplicaConsumer({
    amqp,
    topology: { replicaId: config.replicaId, queueMode: config.queueMode, queueExpiresMs: config.queueExpiresMs },
    prefetch: config.prefetch,
    deliver: (userId, frame) => hub.deliver(userId, frame),
    log,
    onCancel: () => metrics.consumerCancels.inc(),
    onCanary: (messageId) => canary.delivered(messageId),
    onQueueLost: () => {
      metrics.queueLosses.inc();
      log.warn({ sockets: hub.size }, 'amqp: closing local sockets with 1012 so they replay what the lost queue held');
      void hub.closeAll(CloseCodes.SERVICE_RESTART, 'replica queue lost: reconnect with since', 5000, 'queue_lost');
    },
  });
  const registry = new ReplicaRegistry(pool);
  const reaper = new ReplicaReaper({
    registry,
    amqp,
    replicaId: config.replicaId,
    queue,
    queueMode: config.queueMode,
    heartbeatMs: config.replicaHeartbeatMs,
    staleMs: config.replicaStaleMs,
    log,
    reaped: metrics.replicaQueuesReaped,
    deferred: metrics.replicaReapsDeferred,
  });
  // The relay waits for confirms as long as the canary does: a batch held longer is on a silent
  // path, and the retry goes out on a renewed channel. Seen in a quorum partition chaos run
  // (RabbitMQ 3.10): a fresh channel's batch, published on a healthy node just after the move,
  // registered with the cut-off leader named in the queue's record and was nacked only 15 s later
  // (the old bound), 22 s after the cut; its retry on a renewed channel went through at once.
  const relay = new OutboxRelay({
    store,
    publisher: (opts.publisher ?? ((a) => new CcBatchPublisher(a, { confirmTimeoutMs: config.canaryTimeoutMs, perUserRoutedReplicaLive: () => perUserRoutedReplicaLive(registry, config.replicaStaleMs, log) })))(amqp),
    // Only through a connection whose canary came back via the majority witness: a publish confirmed
    // by a node cut off in a minority is undone by the heal (autoheal), and nobody would replay it.
    brokerUp: () => amqp.channels !== undefined && canary.flowsOnConnection,
    log,
    metrics,
  });
  amqp.on('up', () => relay.wake());
  amqp.on('up', () => {
    if (!moved) return;
    moved = false;
    // What the queue handed the old consumer between the stall and the move stays with it, unread,
    // until net_ticktime declares its node down: local sockets replay it from Postgres instead.
    log.warn({ sockets: hub.size }, 'amqp: moved off a silent node; closing local sockets with 1012 so they replay what the old consumer held');
    void hub.closeAll(CloseCodes.SERVICE_RESTART, 'replica moved its broker connection: reconnect with since', 5000, 'amqp_moved');
  });
  // Registered before the queue is first declared, so a crash at any point leaves a row to reap.
  try {
    await reaper.start();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  amqp.start();
  if (!(await amqp.waitUp(opts.brokerWaitMs ?? 10_000))) log.warn('amqp: not up yet; serving anyway, fan-out waits in the outbox');
  relay.start();
  canary.start();

  let draining = false;
  const verify = createTokenVerifier(config);
  const api: ApiDeps = { store, relay, metrics, postsPerUserPerMinute: config.postsPerUserPerMinute };
  const http = createFeedHttpServer({
    routes: apiRoutes(api),
    graphql: new FeedGraphql({ ...api, hub, verify, log, maxConnectionsPerUser: config.subscriptionsPerUser }),
    verify,
    hub,
    metrics,
    log,
    draining: () => draining,
    subscribed: () => consumer.subscribed,
    silent: () => canary.silentReason,
    async readiness() {
      const postgres = await Promise.race([store.ping().then(() => true), sleep(2000).then(() => false)]).catch(() => false);
      const broker = amqp.channels !== undefined;
      // Up but silent (a hung or cut-off node): not ready until a canary comes back.
      const flowing = canary.status !== CanaryStatus.SILENT;
      const reason = canary.silentReason;
      return { ready: !draining && postgres && broker && flowing, postgres, amqp: broker, canary: canary.status, ...(reason !== undefined ? { reason } : {}), draining };
    },
  });
  const server = http.server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, queue, queueMode: config.queueMode }, 'feed app listening');

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    const deadline = Date.now() + config.shutdownTimeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    draining = true;
    log.info({ sockets: hub.size }, 'shutdown: draining');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await hub.closeAll(CloseCodes.SERVICE_RESTART, 'server restart: reconnect with since', Math.min(5000, left()));
    while (http.inFlight() > 0 && left() > 0) await sleep(50);
    await consumer.stop();
    canary.stop();
    const flushed = await relay.flush(left());
    log.info({ flushed }, 'shutdown: outbox relay flushed');
    // Every local socket is gone and clients replay from Postgres, so the queue has no reader left.
    const deleted = (await amqp.channels?.consume.deleteQueue(queue).then(() => true, () => false)) ?? false;
    // Without the delete the row stays, goes stale, and another replica reaps the queue.
    await reaper.stop(deleted).catch((e: Error) => log.warn({ err: e.message }, 'shutdown: replica registry row not removed'));
    await amqp.close();
    hub.stop();
    server.closeAllConnections();
    await closed;
    await pool.end().catch(() => undefined);
    log.info('shutdown: done');
  }

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    replicaId: config.replicaId,
    log,
    brokerUp: () => amqp.channels !== undefined,
    amqpNode: () => amqp.node,
    close: () => (closing ??= shutdown()),
  };
}
