/**
 * `fanout`: how a post reaches F followers spread over the replica queues, measured on the real
 * cluster with amqplib (the broker path alone). Per-follower: F persistent messages, routing key
 * `user.{followerId}` each, F confirms. Batched: ONE persistent message whose routing key is the
 * first follower's and whose `CC` header carries the other keys; the body lists the recipients.
 * The topic exchange routes a message to the SET of matching queues, so a queue bound to several
 * of the keys gets one copy, and the consumer hands it to every listed recipient it holds locally.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { EXCHANGE, EXCHANGE_TYPE, QueueMode, replicaQueueArguments, replicaQueueName, sleep, userIdFromRoutingKey, userRoutingKey } from '../../shared/index.js';
import { figure, type Figure } from './report.js';
import type { BenchStack } from './stack.js';
import { summarize, type Summary } from './stats.js';

export enum FanoutMethod {
  PER_FOLLOWER = 'per-follower',
  CC_BATCH = 'cc-batch',
}

export interface FanoutOptions {
  readonly modes: readonly QueueMode[];
  readonly followerCounts: readonly number[];
  readonly postsPerSize: number;
  /** Replica queues the followers are spread over. */
  readonly replicas: number;
  readonly log: (line: string) => void;
}

/** One (mode, F, method) cell. */
export interface FanoutCell {
  readonly mode: QueueMode;
  readonly followers: number;
  readonly method: FanoutMethod;
  readonly posts: number;
  /** Broker messages consumed per post (copies across all replica queues). */
  readonly brokerMessagesPerPost: number;
  /** Most copies of one post one queue received. */
  readonly maxCopiesPerQueue: number;
  /** Publisher confirms per post. */
  readonly confirmsPerPost: number;
  /** Bytes published per post (bodies; the CC header adds the keys). */
  readonly bytesPerPost: number;
  /** Publish until every confirm arrived (ms). */
  readonly publishMs: Summary;
  /** Publish start until the last follower's delivery (ms). */
  readonly lastDeliveryMs: Summary;
  /** Deliveries to followers per post (must equal `followers`). */
  readonly deliveriesPerPost: number;
}

/** Frame body of a batched post: the recipients travel with it (the CC header also carries them). */
export function batchedBody(postId: string, recipients: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify({ postId, postText: 'x'.repeat(120), author_user_id: 'fan-author', cursor: '1', createdAt: new Date().toISOString(), recipients }));
}

/** Recipients of a consumed message: the routing key's user for per-follower, the listed ones for batched. */
export function recipientsOf(msg: Pick<ConsumeMessage, 'fields' | 'content'>): { postId: string; users: string[] } {
  const body = JSON.parse(msg.content.toString('utf8')) as { postId: string; recipients?: string[] };
  if (Array.isArray(body.recipients)) return { postId: body.postId, users: body.recipients };
  const user = userIdFromRoutingKey(msg.fields.routingKey);
  return { postId: body.postId, users: user === undefined ? [] : [user] };
}

interface PostTrack {
  deliveries: number;
  messages: number;
  perQueue: Map<string, number>;
  lastAt: number;
}

/** One CC publish + confirm, timed on a connection with amqplib's defaults (Nagle on, as the app connects) and with noDelay. */
export interface NagleResult {
  readonly mode: QueueMode;
  readonly followers: number;
  readonly defaultOptionsMs: Summary;
  readonly noDelayMs: Summary;
}

async function nagleProbe(amqpUrl: string, followers: readonly string[], noDelayChannel: ConfirmChannel): Promise<Omit<NagleResult, 'mode'>> {
  const conn = await amqp.connect(amqpUrl);
  try {
    const plain = await conn.createConfirmChannel();
    const keys = followers.map(userRoutingKey);
    const time = async (ch: ConfirmChannel): Promise<Summary> => {
      const ms: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = Date.now();
        ch.publish(EXCHANGE, keys[0]!, batchedBody(`nagle-${randomUUID()}`, followers), { persistent: true, headers: { CC: keys.slice(1) } });
        await ch.waitForConfirms();
        ms.push(Date.now() - t0);
      }
      return summarize(ms);
    };
    return { followers: followers.length, defaultOptionsMs: await time(plain), noDelayMs: await time(noDelayChannel) };
  } finally {
    await conn.close().catch(() => undefined);
  }
}

export async function runFanout(stack: BenchStack, opts: FanoutOptions): Promise<{ figures: Figure[]; details: { cells: FanoutCell[]; nagle: NagleResult[]; guarantee: string } }> {
  const cells: FanoutCell[] = [];
  const nagle: NagleResult[] = [];
  const maxF = Math.max(...opts.followerCounts);
  for (const mode of opts.modes) {
    const run = randomBytes(3).toString('hex');
    const queues = Array.from({ length: opts.replicas }, (_, r) => replicaQueueName(`bench-fan-${mode}-${run}-r${r}`));
    const users = Array.from({ length: maxF }, (_, j) => `fan-${run}-u${j}`);
    const queueOf = (j: number) => queues[j % queues.length]!;
    // noDelay: without it Nagle's algorithm meets the broker's delayed ACK and a lone publish waits ~40 ms for its confirm.
    const pubConn: ChannelModel = await amqp.connect(stack.amqpUrl, { noDelay: true });
    const conConn: ChannelModel = await amqp.connect(stack.amqpUrl, { noDelay: true });
    try {
      const setup: Channel = await conConn.createChannel();
      await setup.assertExchange(EXCHANGE, EXCHANGE_TYPE, { durable: true });
      for (const q of queues) await setup.assertQueue(q, { durable: true, exclusive: false, autoDelete: false, arguments: replicaQueueArguments(mode, 600_000) });
      opts.log(`fanout/${mode}: binding ${users.length} followers over ${queues.length} replica queues`);
      for (const [j, u] of users.entries()) await setup.bindQueue(queueOf(j), EXCHANGE, userRoutingKey(u));
      const localUsers = new Map(queues.map((q) => [q, new Set(users.filter((_, j) => queueOf(j) === q))]));
      const tracks = new Map<string, PostTrack>();
      for (const q of queues) {
        const ch = await conConn.createChannel();
        await ch.prefetch(200);
        await ch.consume(q, (msg) => {
          if (!msg) return;
          const at = Date.now();
          const { postId, users: listed } = recipientsOf(msg);
          const t = tracks.get(postId);
          if (t) {
            t.messages++;
            t.perQueue.set(q, (t.perQueue.get(q) ?? 0) + 1);
            // Hand-off to the local recipients only: a queue gets one copy for all of its bound keys.
            const local = localUsers.get(q)!;
            for (const u of listed) if (local.has(u)) t.deliveries++;
            t.lastAt = at;
          }
          ch.ack(msg);
        });
      }
      const pub: ConfirmChannel = await pubConn.createConfirmChannel();
      for (const f of opts.followerCounts) {
        const followers = users.slice(0, f);
        for (const method of [FanoutMethod.PER_FOLLOWER, FanoutMethod.CC_BATCH]) {
          const publishMs: number[] = [];
          const lastMs: number[] = [];
          let messages = 0;
          let deliveries = 0;
          let maxCopies = 0;
          let bytes = 0;
          for (let p = 0; p < opts.postsPerSize; p++) {
            const postId = randomUUID();
            const track: PostTrack = { deliveries: 0, messages: 0, perQueue: new Map(), lastAt: 0 };
            tracks.set(postId, track);
            const t0 = Date.now();
            if (method === FanoutMethod.PER_FOLLOWER) {
              const body = Buffer.from(JSON.stringify({ postId, postText: 'x'.repeat(120), author_user_id: 'fan-author', cursor: '1', createdAt: new Date().toISOString() }));
              for (const u of followers) {
                bytes += body.length;
                if (!pub.publish(EXCHANGE, userRoutingKey(u), body, { persistent: true, contentType: 'application/json', messageId: postId })) {
                  await new Promise<void>((r) => pub.once('drain', () => r()));
                }
              }
            } else {
              const body = batchedBody(postId, followers);
              const keys = followers.map(userRoutingKey);
              bytes += body.length + keys.slice(1).reduce((s, k) => s + k.length + 1, 0);
              pub.publish(EXCHANGE, keys[0]!, body, { persistent: true, contentType: 'application/json', messageId: postId, headers: { CC: keys.slice(1) } });
            }
            await pub.waitForConfirms();
            publishMs.push(Date.now() - t0);
            const deadline = Date.now() + 30_000;
            while (track.deliveries < f && Date.now() < deadline) await sleep(2);
            if (track.deliveries < f) throw new Error(`fanout/${mode}/${method}/F=${f}: only ${track.deliveries} of ${f} deliveries within 30 s`);
            await sleep(20); // let stray extra copies show up before counting
            lastMs.push(track.lastAt - t0);
            messages += track.messages;
            deliveries += track.deliveries;
            maxCopies = Math.max(maxCopies, ...track.perQueue.values());
            tracks.delete(postId);
          }
          const cell: FanoutCell = {
            mode,
            followers: f,
            method,
            posts: opts.postsPerSize,
            brokerMessagesPerPost: Math.round((messages / opts.postsPerSize) * 10) / 10,
            maxCopiesPerQueue: maxCopies,
            confirmsPerPost: method === FanoutMethod.PER_FOLLOWER ? f : 1,
            bytesPerPost: Math.round(bytes / opts.postsPerSize),
            publishMs: summarize(publishMs),
            lastDeliveryMs: summarize(lastMs),
            deliveriesPerPost: Math.round((deliveries / opts.postsPerSize) * 10) / 10,
          };
          cells.push(cell);
          opts.log(`fanout/${mode} F=${f} ${method}: ${cell.brokerMessagesPerPost} msgs/post (max ${maxCopies} per queue), publish p50 ${cell.publishMs.p50} ms, last delivery p50 ${cell.lastDeliveryMs.p50} ms p99 ${cell.lastDeliveryMs.p99} ms`);
        }
      }
      nagle.push({ mode, ...(await nagleProbe(stack.amqpUrl, users.slice(0, Math.min(100, users.length)), pub)) });
      for (const q of queues) await setup.deleteQueue(q).catch(() => undefined);
    } finally {
      await Promise.allSettled([pubConn.close(), conConn.close()]);
    }
  }
  const figures: Figure[] = [];
  for (const mode of opts.modes) {
    for (const f of opts.followerCounts) {
      const per = cells.find((c) => c.mode === mode && c.followers === f && c.method === FanoutMethod.PER_FOLLOWER);
      const cc = cells.find((c) => c.mode === mode && c.followers === f && c.method === FanoutMethod.CC_BATCH);
      figures.push(
        figure({
          scenario: 'fanout',
          name: `broker messages per post, F=${f}, ${mode} (CC batch vs per-follower)`,
          unit: 'messages',
          ours: cc?.brokerMessagesPerPost,
          baseline: per?.brokerMessagesPerPost,
          baselineName: 'per-follower',
          limit: `CC: one copy per replica queue holding a follower (${opts.replicas} queues)`,
        }),
        figure({
          scenario: 'fanout',
          name: `publish+confirm time per post, F=${f}, ${mode} (CC vs per-follower)`,
          unit: 'ms p50',
          ours: cc?.publishMs.p50,
          baseline: per?.publishMs.p50,
          baselineName: 'per-follower',
          limit: 'per-follower: F persistent writes replicated to every mirror/follower; CC: one write per queue',
        }),
        figure({
          scenario: 'fanout',
          name: `last follower's delivery, F=${f}, ${mode} (CC vs per-follower)`,
          unit: 'ms p50',
          ours: cc?.lastDeliveryMs.p50,
          baseline: per?.lastDeliveryMs.p50,
          baselineName: 'per-follower',
          limit: 'consumer prefetch 200 and acks per message; CC body grows with F (recipient list)',
        }),
      );
    }
  }
  for (const n of nagle) {
    figures.push(
      figure({
        scenario: 'fanout',
        name: `one CC publish+confirm (F=${n.followers}), ${n.mode}: noDelay vs amqplib defaults (the app's options)`,
        unit: 'ms p50',
        ours: n.noDelayMs.p50,
        baseline: n.defaultOptionsMs.p50,
        baselineName: 'amqplib defaults (Nagle on)',
        limit: 'with Nagle on, a publish that does not fill a segment waits for the broker\'s delayed ACK (~40 ms) before its confirm',
      }),
    );
  }
  return {
    figures,
    details: {
      cells,
      nagle,
      guarantee:
        'A publisher confirm for a routed persistent message is sent only after every queue it was routed to accepted it (RabbitMQ publisher-confirms docs), so one confirm covers all CC-routed copies; the measured maxCopiesPerQueue shows how many copies one queue got for one post.',
    },
  };
}
