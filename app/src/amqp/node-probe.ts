/**
 * Which RabbitMQ node a connection landed on, asked over AMQP alone. RabbitMQ does not name its node
 * in the server properties (`cluster_name` is the same on every node), the management API is a
 * second path that may hang with the node, and behind a round-robin HAProxy front the peer address
 * is the front's. But direct reply-to does: a message published with `reply-to:
 * amq.rabbitmq.reply-to` has it rewritten to an address that carries the publishing channel's pid,
 * and an Erlang pid carries its node (RabbitMQ 3.10 puts a stable per-node hash there, e.g.
 * `reply@72816292`, instead of the real name). Published mandatory to a routing key no queue has,
 * the message is returned at once by the channel's own node: no queue, no metadata transaction, so
 * it answers even while another node of the cluster hangs.
 */
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { DIRECT_REPLY_TO, NODE_PROBE_ROUTING_KEY } from '../../../shared/constants.js';

/** Erlang external term format tags met in an encoded pid. */
const Etf = Object.freeze({
  VERSION: 131,
  PID: 103,
  NEW_PID: 88,
  ATOM: 100,
  SMALL_ATOM: 115,
  ATOM_UTF8: 118,
  SMALL_ATOM_UTF8: 119,
} as const);

/**
 * The node of a rewritten direct reply-to address (`amq.rabbitmq.reply-to.<base64 pid>.<key>`), or
 * undefined when the address has another form. Pure.
 */
export function nodeFromReplyTo(replyTo: string | undefined): string | undefined {
  const prefix = `${DIRECT_REPLY_TO}.`;
  if (replyTo === undefined || !replyTo.startsWith(prefix)) return undefined;
  const encoded = replyTo.slice(prefix.length).split('.')[0] ?? '';
  const b = Buffer.from(encoded, 'base64');
  if (b.length < 4 || b[0] !== Etf.VERSION || (b[1] !== Etf.PID && b[1] !== Etf.NEW_PID)) return undefined;
  const tag = b[2];
  const wide = tag === Etf.ATOM || tag === Etf.ATOM_UTF8;
  if (!wide && tag !== Etf.SMALL_ATOM && tag !== Etf.SMALL_ATOM_UTF8) return undefined;
  const start = wide ? 5 : 4;
  const length = wide ? b.readUInt16BE(3) : b[3]!;
  if (length === 0 || start + length > b.length) return undefined;
  return b.subarray(start, start + length).toString('utf8');
}

/**
 * Asks the broker which node `model` is connected to (see the file comment), on a channel of its
 * own. Resolves undefined when the broker answers with an address it cannot read; rejects after
 * `timeoutMs` or when the channel fails.
 */
export async function probeNode(model: ChannelModel, timeoutMs: number): Promise<string | undefined> {
  const ch = await model.createChannel();
  ch.on('error', () => undefined); // the pending call rejects with it
  let timer: NodeJS.Timeout | undefined;
  try {
    await ch.consume(DIRECT_REPLY_TO, () => undefined, { noAck: true });
    const returned = new Promise<ConsumeMessage>((resolve, reject) => {
      ch.once('return', resolve);
      ch.once('close', () => reject(new Error('node probe channel closed')));
      timer = setTimeout(() => reject(new Error(`node probe unanswered after ${timeoutMs} ms`)), timeoutMs);
    });
    ch.publish('', NODE_PROBE_ROUTING_KEY, Buffer.alloc(0), { mandatory: true, replyTo: DIRECT_REPLY_TO });
    return nodeFromReplyTo((await returned).properties.replyTo as string | undefined);
  } finally {
    clearTimeout(timer);
    void ch.close().catch(() => undefined);
  }
}
