/**
 * The app's AMQP connection across several URLs, on a real RabbitMQ node behind two TCP fronts
 * (standing in for two HAProxy instances).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { AmqpConnection } from '../../app/src/amqp/connection.js';
import { DEFAULT_SPEC, sleep } from '../../shared/index.js';
import { startRabbitCluster, type RabbitCluster } from '../../scripts/local/rabbitmq.js';
import { testWorkDir } from '../support/app-backends.js';
import { TcpFront } from '../support/tcp-front.js';

/** How long a renewal on a live broker may take in the tests: it takes milliseconds. */
const RENEWAL_BOUND_MS = 5000;

describe('AMQP connection over several fronts', () => {
  const dir = testWorkDir('amqp-conn');
  let rabbit: RabbitCluster;
  const fronts: TcpFront[] = [];

  before(async () => {
    rabbit = await startRabbitCluster({ spec: DEFAULT_SPEC, workDir: join(dir, 'rabbit'), nodes: 1, namePrefix: 'conn' });
    fronts.push(await TcpFront.open(rabbit.nodes[0]!.amqpPort), await TcpFront.open(rabbit.nodes[0]!.amqpPort));
  });

  after(async () => {
    await Promise.allSettled(fronts.map((f) => f.close()));
    await rabbit?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (f: TcpFront) => `amqp://${encodeURIComponent(rabbit.username)}:${encodeURIComponent(rabbit.password)}@127.0.0.1:${f.port}`;

  it('GIVEN a connection through the first front WHEN that front drops it THEN the reconnect goes through the next front, not back to the first', async () => {
    const [a, b] = fronts as [TcpFront, TcpFront];
    const conn = new AmqpConnection({ urls: [url(a), url(b)], log: pino({ level: 'silent' }), backoffBaseMs: 50 });
    conn.start();
    try {
      assert.equal(await conn.waitUp(15_000), true, 'first connection');
      assert.deepEqual([a.accepted, b.accepted], [1, 0]);
      const down = new Promise<void>((resolve) => conn.once('down', () => resolve()));
      const up = new Promise<void>((resolve) => conn.once('up', () => resolve()));
      a.dropAll();
      await down;
      await Promise.race([up, new Promise((_, reject) => setTimeout(() => reject(new Error('no reconnect within 15 s')), 15_000))]);
      assert.deepEqual([a.accepted, b.accepted], [1, 1], 'the front that lost the connection is tried last');
      const ch = conn.channels?.consume;
      assert.ok(ch, 'channels are open after the reconnect');
      await ch.checkExchange('amq.topic');
    } finally {
      await conn.close();
    }
  });

  it('GIVEN a connection lost again and again, each time after it was stable WHEN the next loss comes THEN it reconnects at once: the backoff is for URLs that fail, not for losses', async () => {
    const [a, b] = fronts as [TcpFront, TcpFront];
    // Any backoff taken after a loss would be 30 s or more: far beyond the wait below.
    const conn = new AmqpConnection({ urls: [url(a), url(b)], log: pino({ level: 'silent' }), backoffBaseMs: 60_000, backoffMaxMs: 60_000, random: () => 0.5, minStableMs: 200 });
    conn.start();
    try {
      assert.equal(await conn.waitUp(15_000), true, 'first connection');
      for (let loss = 1; loss <= 6; loss++) {
        await sleep(300);
        const down = new Promise<void>((resolve) => conn.once('down', () => resolve()));
        a.dropAll();
        b.dropAll();
        await down;
        assert.equal(await conn.waitUp(10_000), true, `reconnected after loss ${loss}`);
      }
    } finally {
      await conn.close();
    }
  });

  it('GIVEN a publish channel stuck in the broker (its close never answered) WHEN it is renewed, and the new one must be renewed too THEN both renewals happen: closing the old channel holds nothing back', async () => {
    const front = await TcpFront.open(rabbit.nodes[0]!.amqpPort);
    const conn = new AmqpConnection({ urls: [url(front)], log: pino({ level: 'silent' }) });
    const channelNumber = (ch: unknown) => (ch as { ch: number }).ch;
    const within = async <T>(what: string, p: Promise<T>): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not return within ${RENEWAL_BOUND_MS} ms`)), RENEWAL_BOUND_MS)));
      try {
        return await Promise.race([p, late]);
      } finally {
        clearTimeout(timer);
      }
    };
    conn.start();
    try {
      assert.equal(await conn.waitUp(15_000), true, 'connected through the front');
      const first = conn.channels!.publish;
      front.withholdChannel(channelNumber(first));
      await within('the first renewal', conn.renewPublishChannel('test: first channel stuck', first));
      const second = conn.channels!.publish;
      assert.notEqual(second, first, 'renewed once');
      front.withholdChannel(channelNumber(second));
      await within('the second renewal', conn.renewPublishChannel('test: second channel stuck', second));
      const third = conn.channels!.publish;
      assert.ok(third !== second && third !== first, 'renewed again while the first channel\'s close is unanswered');
      third.publish('', 'feedkit-test-no-such-queue', Buffer.from('{}'));
      await within('a confirm on the third channel', third.waitForConfirms());
    } finally {
      await conn.close();
      await front.close();
    }
  });

  it('GIVEN a connection dropped right after it came up (a node that accepts and drops) WHEN it is lost THEN the next attempt waits for the backoff', async () => {
    const [a, b] = fronts as [TcpFront, TcpFront];
    const conn = new AmqpConnection({ urls: [url(a), url(b)], log: pino({ level: 'silent' }), backoffBaseMs: 60_000, backoffMaxMs: 60_000, random: () => 0.5, minStableMs: 60_000 });
    conn.start();
    try {
      assert.equal(await conn.waitUp(15_000), true, 'first connection');
      const down = new Promise<void>((resolve) => conn.once('down', () => resolve()));
      a.dropAll();
      b.dropAll();
      await down;
      assert.equal(await conn.waitUp(2000), false, 'no reconnect during the 30 s backoff');
    } finally {
      await conn.close();
    }
  });
});
