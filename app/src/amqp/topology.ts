/** The exchange and this replica's queue, declared with the same arguments as the broker definitions. */
import type { Channel } from 'amqplib';
import { ALL_USERS_BINDING_KEY, EXCHANGE, EXCHANGE_TYPE, QueueMode, replicaQueueArguments, replicaQueueName } from '../../../shared/constants.js';
import { ReplyCode, replyCode, type AmqpConnection } from './connection.js';

export interface ReplicaTopology {
  readonly replicaId: string;
  readonly queueMode: QueueMode;
  readonly queueExpiresMs: number;
}

/** Declares (idempotently) the exchange, the replica queue and its one binding (every user); returns the queue name. */
export async function declareTopology(ch: Channel, t: ReplicaTopology): Promise<string> {
  await ch.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
  const queue = replicaQueueName(t.replicaId);
  // Durable (survives a broker restart, mirrored by the ^post_feed policy), not exclusive (exclusive
  // queues are never mirrored), x-expires so a dead replica's queue goes away.
  await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false, arguments: replicaQueueArguments(t.queueMode, t.queueExpiresMs) });
  // Constant in the users here: a connect, a failover or a reconnect storm costs no binding work.
  await ch.bindQueue(queue, EXCHANGE, ALL_USERS_BINDING_KEY);
  return queue;
}

/** Consumer arguments: failover cancel notification only for mirrored queues (a quorum queue answers 406). */
export function consumerArguments(mode: QueueMode): Record<string, unknown> {
  return mode === QueueMode.MIRRORED ? { 'x-cancel-on-ha-failover': true } : {};
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
