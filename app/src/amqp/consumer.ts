/**
 * Consumes this replica's queue: each message goes to the local sockets of its recipients (the users
 * listed in a batched message, or the user in a per-follower message's routing key), then is acked.
 * The queue is bound to every user's key, so most recipients of a chunk usually live on other
 * replicas and are skipped here. Declares the topology and starts consuming on every (re)connect; a
 * broker-side cancel (mirror failover, queue deleted) re-declares and re-consumes. Before re-declaring it checks
 * passively whether the queue still exists: when it was deleted (a reaper, x-expires, an operator)
 * the messages routed meanwhile are gone, so `onQueueLost` tells the app to send its local sockets
 * back to replay from Postgres.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { replicaQueueName } from '../../../shared/constants.js';
import { decodeFeedMessage, type FeedFrame } from '../ws/frame.js';
import type { AmqpConnection } from './connection.js';
import { consumerArguments, declareTopology, queueExists, type ReplicaTopology } from './topology.js';

/** Hands a frame to the local sockets of `userId`; synchronous so the ack follows the hand-off. */
export type LocalDelivery = (userId: string, frame: FeedFrame) => void;

export interface ReplicaConsumerProps {
  readonly amqp: AmqpConnection;
  readonly topology: ReplicaTopology;
  readonly prefetch: number;
  readonly deliver: LocalDelivery;
  readonly log: Logger;
  /** Called on each broker-side cancel. */
  readonly onCancel?: () => void;
  /**
   * Called once the queue is consumed again after it was found deleted: messages routed while it
   * was gone are lost for the local sockets, which must reconnect with `since`.
   */
  readonly onQueueLost?: () => void;
}

export class ReplicaConsumer {
  private consumerTag: string | undefined;
  private channel: Channel | undefined;
  private stopped = false;
  /** The queue has been consumed at least once: from then on its absence means loss. */
  private consumedBefore = false;
  /** A loss found during a (re)connect, reported once the connection is up (sticky across failed attempts). */
  private lossPending = false;
  private declaredOnce = false;

  constructor(private readonly props: ReplicaConsumerProps) {
    props.amqp.onUp((ch) => this.setup(ch.consume));
    props.amqp.on('up', () => {
      if (this.lossPending) this.reportLoss();
    });
  }

  /**
   * True once the queue and its binding were declared: from then on every post published is kept
   * for this replica, connected or not (a lost queue is reported through `onQueueLost`), so a socket
   * that opens is subscribed.
   */
  get subscribed(): boolean {
    return this.declaredOnce;
  }

  /** Stops consuming; unacked messages return to the queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    const ch = this.channel;
    const tag = this.consumerTag;
    this.consumerTag = undefined;
    if (ch && tag) await ch.cancel(tag).catch(() => undefined);
  }

  private async setup(ch: Channel): Promise<void> {
    this.channel = ch;
    await this.checkLoss();
    const queue = await declareTopology(ch, this.props.topology);
    this.declaredOnce = true;
    await ch.prefetch(this.props.prefetch);
    await this.consume(ch, queue);
  }

  private async consume(ch: Channel, queue: string): Promise<void> {
    if (this.stopped) return;
    const { consumerTag } = await ch.consume(queue, (msg) => this.onMessage(ch, queue, msg), {
      noAck: false,
      arguments: consumerArguments(this.props.topology.queueMode),
    });
    this.consumerTag = consumerTag;
    this.consumedBefore = true;
  }

  /** Before a re-declare: was the queue deleted since we last consumed it? */
  private async checkLoss(): Promise<void> {
    if (!this.consumedBefore || this.lossPending) return;
    const queue = replicaQueueName(this.props.topology.replicaId);
    if (await queueExists(this.props.amqp, queue)) return;
    this.lossPending = true;
    this.props.log.warn({ queue }, 'amqp: replica queue was deleted; messages routed meanwhile are lost here, local sockets will replay');
  }

  private reportLoss(): void {
    this.lossPending = false;
    this.props.onQueueLost?.();
  }

  private onMessage(ch: Channel, queue: string, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // Broker cancel: the mirror master moved, or the queue was deleted. Re-declare, resume.
      this.props.log.warn({ queue }, 'amqp: consumer cancelled by the broker; re-subscribing');
      this.consumerTag = undefined;
      this.props.onCancel?.();
      void (async () => {
        await this.checkLoss();
        await declareTopology(ch, this.props.topology);
        await this.consume(ch, queue);
        if (this.lossPending) this.reportLoss();
      })().catch((e: Error) => this.props.amqp.fail(`re-subscribe after cancel failed: ${e.message}`));
      return;
    }
    const decoded = decodeFeedMessage(msg.content, msg.fields.routingKey);
    if (decoded === undefined) {
      // Acked, not requeued: a message that cannot be decoded now never will be.
      this.props.log.error({ routingKey: msg.fields.routingKey, messageId: msg.properties.messageId }, 'amqp: dropping a message that is not a feed message');
      ch.ack(msg);
      return;
    }
    // A queue gets one copy of a batched message for all its matched keys: every listed user with
    // sockets here gets it (deliver is a no-op for users without local sockets).
    for (const userId of decoded.recipients) {
      try {
        this.props.deliver(userId, decoded.frame);
      } catch (e) {
        this.props.log.error({ err: (e as Error).message, messageId: msg.properties.messageId }, 'amqp: local delivery failed');
      }
    }
    // Acked once it is in the local sockets' buffers; a client that drops it catches up with ?since=.
    ch.ack(msg);
  }
}
