/** The delivery canary's rounds (pure state machine) and the node read from a direct reply-to address. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CanaryPhase, CanaryRounds, CanaryStatus } from '../../app/src/amqp/canary.js';
import { nodeFromReplyTo } from '../../app/src/amqp/node-probe.js';
import { canaryRoutingKey, DIRECT_REPLY_TO, userRoutingKey } from '../../shared/index.js';

describe('CanaryRounds', () => {
  it('GIVEN a fresh canary WHEN nothing has happened THEN it is pending with no round in flight', () => {
    const r = new CanaryRounds(5000);
    assert.equal(r.status, CanaryStatus.PENDING);
    assert.equal(r.inFlight, false);
    assert.equal(r.lastRoundTripMs, undefined);
  });

  it('GIVEN a round WHEN its confirm and then its delivery arrive THEN it completes once both did, with the round trip', () => {
    const r = new CanaryRounds(5000);
    const seq = r.begin(1000);
    assert.equal(r.confirmed(seq, 1003), undefined, 'the confirm alone completes nothing');
    assert.equal(r.status, CanaryStatus.PENDING);
    assert.equal(r.delivered(seq, 1007), 7);
    assert.equal(r.status, CanaryStatus.OK);
    assert.equal(r.lastRoundTripMs, 7);
    assert.equal(r.inFlight, false);
  });

  it('GIVEN a round WHEN the delivery arrives before the confirm THEN it completes on the confirm', () => {
    const r = new CanaryRounds(5000);
    const seq = r.begin(0);
    assert.equal(r.delivered(seq, 4), undefined);
    assert.equal(r.confirmed(seq, 6), 6);
    assert.equal(r.status, CanaryStatus.OK);
  });

  it('GIVEN a round without its confirm WHEN the timeout passes THEN it fails in the confirm phase and the canary is silent', () => {
    const r = new CanaryRounds(5000);
    r.begin(0);
    assert.equal(r.expire(4999), undefined, 'not before the timeout');
    assert.deepEqual(r.expire(5000), { phase: CanaryPhase.CONFIRM, waitedMs: 5000 });
    assert.equal(r.status, CanaryStatus.SILENT);
    assert.equal(r.inFlight, false);
    assert.equal(r.expire(9000), undefined, 'a failed round fails once');
  });

  it('GIVEN an unconfirmed round WHEN a fifth of the timeout passes THEN it is due to be sent again, once', () => {
    const r = new CanaryRounds(5000);
    const seq = r.begin(0);
    assert.equal(r.resendAfterMs, 1000);
    assert.equal(r.resendDue(999), undefined, 'not before a fifth of the timeout');
    assert.equal(r.resendDue(1000), seq);
    assert.equal(r.resendDue(2000), undefined, 'sent again once only');
    assert.deepEqual(r.expire(5000), { phase: CanaryPhase.CONFIRM, waitedMs: 5000 }, 'the resend does not move the deadline');
  });

  it('GIVEN a confirmed round still waiting for its delivery WHEN the resend age passes THEN it is not sent again', () => {
    const r = new CanaryRounds(5000);
    const seq = r.begin(0);
    r.confirmed(seq, 3);
    assert.equal(r.resendDue(1500), undefined);
  });

  it('GIVEN a round sent again WHEN the resent copy is confirmed and delivered THEN the round completes from its first send', () => {
    const r = new CanaryRounds(5000);
    const seq = r.begin(0);
    r.resendDue(1000);
    r.confirmed(seq, 1012);
    assert.equal(r.delivered(seq, 1015), 1015);
    assert.equal(r.status, CanaryStatus.OK);
  });

  it('GIVEN a confirmed round that never comes back WHEN the timeout passes THEN it fails in the delivery phase', () => {
    const r = new CanaryRounds(5000);
    const seq = r.begin(0);
    r.confirmed(seq, 2);
    assert.deepEqual(r.expire(6000), { phase: CanaryPhase.DELIVERY, waitedMs: 6000 });
  });

  it('GIVEN a silent canary WHEN a later round comes back THEN it is OK again, and the failed round arriving late changes nothing', () => {
    const r = new CanaryRounds(5000);
    const failed = r.begin(0);
    r.expire(5000);
    const next = r.begin(6000);
    assert.equal(r.confirmed(failed, 6001), undefined);
    assert.equal(r.delivered(failed, 6002), undefined);
    assert.equal(r.status, CanaryStatus.SILENT, 'the late confirm and delivery of the failed round do not count');
    r.confirmed(next, 6010);
    assert.equal(r.delivered(next, 6020), 20);
    assert.equal(r.status, CanaryStatus.OK);
  });

  it('GIVEN a round in flight WHEN it is abandoned (connection lost) THEN no verdict is given and a new round may start', () => {
    const r = new CanaryRounds(5000);
    const seq = r.begin(0);
    assert.throws(() => r.begin(1), /still in flight/);
    r.abandon();
    assert.equal(r.expire(10_000), undefined);
    assert.equal(r.status, CanaryStatus.PENDING);
    assert.notEqual(r.begin(10_000), seq);
  });

  it('GIVEN a timeout that is not positive WHEN the rounds are made THEN they refuse it', () => {
    assert.throws(() => new CanaryRounds(0), RangeError);
  });
});

describe('nodeFromReplyTo', () => {
  // Returned by RabbitMQ 3.10.8 for a mandatory unroutable publish with reply-to amq.rabbitmq.reply-to.
  const observed = `${DIRECT_REPLY_TO}.g1h2AA5yZXBseUA3MjgxNjI5MgAAA1QAAAAAaw5PCA==.xtq01B7tFcSb5qD1qciW0A==`;

  it('GIVEN a rewritten reply-to address from RabbitMQ 3.10 WHEN decoded THEN it names the per-node hash', () => {
    assert.equal(nodeFromReplyTo(observed), 'reply@72816292');
  });

  it('GIVEN a pid with a small atom node name WHEN decoded THEN the name is read with its one-byte length', () => {
    const name = Buffer.from('rabbit@host-1');
    const pid = Buffer.concat([Buffer.from([131, 103, 119, name.length]), name, Buffer.alloc(9)]);
    assert.equal(nodeFromReplyTo(`${DIRECT_REPLY_TO}.${pid.toString('base64')}.key`), 'rabbit@host-1');
  });

  it('GIVEN addresses of another form WHEN decoded THEN nothing is made up', () => {
    for (const v of [undefined, '', DIRECT_REPLY_TO, 'some-queue', `${DIRECT_REPLY_TO}.bm90IGEgcGlk.key`, `${DIRECT_REPLY_TO}.g1h2AP9yZQ==.key`]) {
      assert.equal(nodeFromReplyTo(v), undefined, String(v));
    }
  });
});

describe('canaryRoutingKey', () => {
  it('GIVEN a replica id WHEN its canary key is made THEN the all-users binding cannot match it', () => {
    const key = canaryRoutingKey('feed-7d9c-x2');
    assert.equal(key, 'canary.feed-7d9c-x2');
    assert.equal(key.startsWith(userRoutingKey('')), false);
  });
});
