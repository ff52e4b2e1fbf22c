/**
 * Consumes this replica's queue: each message goes to the local sockets of the user in its routing
 * key, then is acked. Declares the topology, restores bindings and starts consuming on every
 * (re)connect; a broker-side cancel (mirror failover, queue deleted) re-declares and re-consumes.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { userIdFromRoutingKey } from '../../../spec/index.js';
import { parseFrame, type FeedFrame } from '../ws/frame.js';
import type { BindingRegistry } from './bindings.js';
import type { AmqpConnection } from './connection.js';
import { consumerArguments, declareTopology, type ReplicaTopology } from './topology.js';

/** Hands a frame to the local sockets of `userId`; synchronous so the ack follows the hand-off. */
export type LocalDelivery = (userId: string, frame: FeedFrame) => void;

export interface ReplicaConsumerProps {
  readonly amqp: AmqpConnection;
  readonly topology: ReplicaTopology;
  readonly bindings: BindingRegistry;
  readonly prefetch: number;
  readonly deliver: LocalDelivery;
  readonly log: Logger;
  /** Called on each broker-side cancel. */
  readonly onCancel?: () => void;
}

export class ReplicaConsumer {
  private consumerTag: string | undefined;
  private channel: Channel | undefined;
  private stopped = false;

  constructor(private readonly props: ReplicaConsumerProps) {
    props.amqp.onUp((ch) => this.setup(ch.consume));
    props.amqp.on('up', () => props.bindings.reconcileAll());
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
    const queue = await declareTopology(ch, this.props.topology);
    await ch.prefetch(this.props.prefetch);
    await this.props.bindings.bindAllOn(ch);
    await this.consume(ch, queue);
  }

  private async consume(ch: Channel, queue: string): Promise<void> {
    if (this.stopped) return;
    const { consumerTag } = await ch.consume(queue, (msg) => this.onMessage(ch, queue, msg), {
      noAck: false,
      arguments: consumerArguments(this.props.topology.queueMode),
    });
    this.consumerTag = consumerTag;
  }

  private onMessage(ch: Channel, queue: string, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // Broker cancel: the mirror master moved, or the queue was deleted. Re-declare, re-bind, resume.
      this.props.log.warn({ queue }, 'amqp: consumer cancelled by the broker; re-subscribing');
      this.consumerTag = undefined;
      this.props.onCancel?.();
      void (async () => {
        await declareTopology(ch, this.props.topology);
        await this.props.bindings.bindAllOn(ch);
        await this.consume(ch, queue);
      })().catch((e: Error) => this.props.amqp.fail(`re-subscribe after cancel failed: ${e.message}`));
      return;
    }
    const userId = userIdFromRoutingKey(msg.fields.routingKey);
    const frame = parseFrame(msg.content);
    if (userId === undefined || frame === undefined) {
      this.props.log.error({ routingKey: msg.fields.routingKey }, 'amqp: dropping a message that is not a feed frame');
      ch.ack(msg);
      return;
    }
    try {
      this.props.deliver(userId, frame);
    } finally {
      // Acked once it is in the local sockets' buffers; a client that drops it catches up with ?since=.
      ch.ack(msg);
    }
  }
}
