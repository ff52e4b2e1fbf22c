/** The exchange and this replica's queue, declared with the same arguments as the broker definitions. */
import type { Channel } from 'amqplib';
import { ALL_USERS_BINDING_KEY, CANARY_WITNESS_BINDING_KEY, CANARY_WITNESS_QUEUE, canaryRoutingKey, canaryWitnessArguments, EXCHANGE, EXCHANGE_TYPE, QueueMode, replicaQueueArguments, replicaQueueName } from '../../../shared/constants.js';
import { ReplyCode, replyCode, type AmqpConnection } from './connection.js';

export interface ReplicaTopology {
  readonly replicaId: string;
  readonly queueMode: QueueMode;
  readonly queueExpiresMs: number;
}

/**
 * Declares (idempotently) the exchange, the replica queue, its binding for every user and the one
 * for its own delivery canary (a key no user binding matches), and in mirrored mode the canary
 * witness ({@link CANARY_WITNESS_QUEUE}); returns the queue name.
 */
export async function declareTopology(ch: Channel, t: ReplicaTopology): Promise<string> {
  await ch.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
  const queue = replicaQueueName(t.replicaId);
  // Durable (survives a broker restart, mirrored by the ^post_feed policy), not exclusive (exclusive
  // queues are never mirrored), x-expires so a dead replica's queue goes away.
  await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false, arguments: replicaQueueArguments(t.queueMode, t.queueExpiresMs) });
  // Constant in the users here: a connect, a failover or a reconnect storm costs no binding work.
  await ch.bindQueue(queue, EXCHANGE, ALL_USERS_BINDING_KEY);
  await ch.bindQueue(queue, EXCHANGE, canaryRoutingKey(t.replicaId));
  if (t.queueMode === QueueMode.MIRRORED) {
    // A quorum replica queue already needs a majority to confirm; a mirrored one does not.
    await ch.assertQueue(CANARY_WITNESS_QUEUE, { durable: true, exclusive: false, autoDelete: false, arguments: canaryWitnessArguments() });
    await ch.bindQueue(CANARY_WITNESS_QUEUE, EXCHANGE, CANARY_WITNESS_BINDING_KEY);
  }
  return queue;
}

/**
 * Consumer arguments: failover cancel notification only for mirrored queues (a quorum queue answers
 * 406), and a priority. A connection moved off a hung node leaves its consumer registered until
 * `net_ticktime` declares the node down, and the queue would keep handing it messages (round robin,
 * up to the prefetch) that nobody reads: each consume of this process passes a higher
 * `x-priority` (`generation`), so the queue serves the newest consumer while it has credit
 * (RabbitMQ 3.10.8, quorum and classic alike: 40 of 40 messages to the higher one).
 */
export function consumerArguments(mode: QueueMode, generation = 0): Record<string, unknown> {
  return { ...(mode === QueueMode.MIRRORED ? { 'x-cancel-on-ha-failover': true } : {}), 'x-priority': generation };
}

/** Whether `queue` exists, checked passively on a scratch channel (a 404 closes the channel it is asked on). */
export async function queueExists(amqp: AmqpConnection, queue: string): Promise<boolean> {
  try {
    await amqp.withScratchChannel((ch) => ch.checkQueue(queue));
    return true;
  } catch (e) {
    if (replyCode(e) === ReplyCode.NOT_FOUND) return false;
    throw e;
  }
}
