/** Pure parts of the batched (CC-header) fan-out: chunking, the messages of an entry, and decoding both message formats. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { userIdFromRoutingKey, userRoutingKey } from '../../shared/index.js';
import { batchedMessages, RecipientKeys, CC_BATCH_MAX_HEADER_BYTES, CC_BATCH_MAX_RECIPIENTS, chunkRecipients } from '../../app/src/amqp/publisher.js';
import type { OutboxEntry } from '../../app/src/db/store.js';
import { decodeFeedMessage, encodeBatchedBody, parseFrame, toFrame, type FeedFrame } from '../../app/src/ws/frame.js';

const CONTRACT_KEYS = ['author_user_id', 'createdAt', 'cursor', 'postId', 'postText'];
const post = { id: '6f1c2b1e-8d4a-4c1e-9a57-1d3b2f0e4a11', authorId: 'alice', text: 'hello', cursor: '42', createdAt: '2026-11-23T10:00:00.000Z' };
const frame: FeedFrame = toFrame(post);
const users = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const entry = (followerIds: string[]): OutboxEntry => ({ outboxId: '7', post, followerIds });

describe('chunkRecipients', () => {
  it('GIVEN more ids than one chunk WHEN chunked THEN every id is in exactly one chunk, in order, none over the bound', () => {
    const ids = users(1203);
    const chunks = chunkRecipients(ids, 500);
    assert.deepEqual(chunks.map((c) => c.length), [500, 500, 203]);
    assert.deepEqual(chunks.flat(), ids);
  });

  it('GIVEN an exact multiple of the bound WHEN chunked THEN there is no empty trailing chunk', () => {
    assert.deepEqual(chunkRecipients(users(1000), 500).map((c) => c.length), [500, 500]);
  });

  it('GIVEN no ids WHEN chunked THEN there are no chunks (nothing to publish)', () => {
    assert.deepEqual(chunkRecipients([]), []);
  });

  it('GIVEN no bound WHEN chunked THEN the default bound applies', () => {
    assert.deepEqual(chunkRecipients(users(CC_BATCH_MAX_RECIPIENTS + 1)).map((c) => c.length), [CC_BATCH_MAX_RECIPIENTS, 1]);
  });

  it('GIVEN ids whose keys pass the byte bound before the count bound WHEN chunked THEN chunks are cut by bytes, in order', () => {
    const ids = users(10).map((u) => u.padEnd(20, 'x')); // key "user." + 20 = 25 bytes, 30 in the CC array
    const chunks = chunkRecipients(ids, 500, 100);
    assert.deepEqual(chunks.map((c) => c.length), [3, 3, 3, 1]);
    assert.deepEqual(chunks.flat(), ids);
  });

  it('GIVEN a bound below 1 or not an integer WHEN chunked THEN a RangeError names the bound', () => {
    assert.throws(() => chunkRecipients(users(3), 0), /max must be an integer >= 1/);
    assert.throws(() => chunkRecipients(users(3), 1.5), /max must be an integer >= 1/);
  });
});

describe('batchedMessages', () => {
  it('GIVEN an entry with followers over several chunks WHEN encoded THEN each message routes to its first follower and CCs the rest of its chunk', () => {
    const followers = users(7);
    const messages = batchedMessages(entry(followers), 3);
    assert.equal(messages.length, 3);
    const routed = messages.flatMap((m) => [m.routingKey, ...(m.cc ?? [])]);
    assert.deepEqual(routed, followers.map(userRoutingKey), 'every follower routed exactly once');
    for (const m of messages) {
      const decoded = decodeFeedMessage(m.body, m.routingKey)!;
      assert.deepEqual(decoded.frame, frame);
      assert.deepEqual(decoded.recipients.map(userRoutingKey), [m.routingKey, ...(m.cc ?? [])], 'the body lists exactly the keys it is routed on');
    }
  });

  it('GIVEN queues bound to every user (no previous-release replica) WHEN encoded with the first key only THEN each chunk routes on one key, carries no CC, and its body still lists the whole chunk', () => {
    const followers = users(7);
    const messages = batchedMessages(entry(followers), 3, RecipientKeys.FIRST);
    assert.deepEqual(messages.map((m) => m.cc), [undefined, undefined, undefined]);
    const listed = messages.flatMap((m) => decodeFeedMessage(m.body, m.routingKey)!.recipients);
    assert.deepEqual(listed, followers, 'every follower listed exactly once');
    assert.deepEqual(messages.map((m) => m.routingKey), [followers[0], followers[3], followers[6]].map((f) => userRoutingKey(f!)));
  });

  it('GIVEN an entry with one follower WHEN encoded THEN one message with an empty CC list', () => {
    const [m, ...rest] = batchedMessages(entry(['bob']));
    assert.equal(rest.length, 0);
    assert.equal(m!.routingKey, userRoutingKey('bob'));
    assert.deepEqual(m!.cc, []);
  });

  it('GIVEN an entry with no followers WHEN encoded THEN there is nothing to publish', () => {
    assert.deepEqual(batchedMessages(entry([])), []);
  });

  it('GIVEN as many followers as the count bound, all with the longest user id WHEN encoded THEN each CC header fits the 64 KiB headers buffer of amqplib and every follower is routed once', () => {
    const longest = users(CC_BATCH_MAX_RECIPIENTS, '').map((i) => `${i}-`.padEnd(128, 'x'));
    const messages = batchedMessages(entry(longest));
    assert.ok(messages.length > 1, 'cut by bytes, not by count');
    for (const m of messages) {
      // AMQP field array of longstr: 1 type byte + 4 length bytes + the key, per element.
      const ccBytes = (m.cc ?? []).reduce((sum, k) => sum + 5 + Buffer.byteLength(k), 0);
      assert.ok(ccBytes <= CC_BATCH_MAX_HEADER_BYTES && ccBytes + 64 < 65_536, `CC header takes ${ccBytes} bytes`);
    }
    assert.deepEqual(messages.flatMap((m) => [m.routingKey, ...(m.cc ?? [])]), longest.map(userRoutingKey));
  });
});

describe('decodeFeedMessage', () => {
  it('GIVEN a batched body WHEN decoded THEN the frame has exactly the contract keys and the recipients are listed', () => {
    const decoded = decodeFeedMessage(encodeBatchedBody(frame, ['bob', 'carol']), userRoutingKey('bob'))!;
    assert.deepEqual(Object.keys(decoded.frame).sort(), CONTRACT_KEYS);
    assert.deepEqual(decoded.frame, frame);
    assert.deepEqual(decoded.recipients, ['bob', 'carol']);
  });

  it('GIVEN an old per-follower body WHEN decoded THEN the one recipient comes from the routing key', () => {
    const decoded = decodeFeedMessage(Buffer.from(JSON.stringify(frame)), userRoutingKey('dave'))!;
    assert.deepEqual(decoded.frame, frame);
    assert.deepEqual(decoded.recipients, ['dave']);
    assert.equal(userIdFromRoutingKey(userRoutingKey('dave')), 'dave');
  });

  it('GIVEN a per-follower body with extra keys WHEN decoded THEN only the contract keys reach the frame', () => {
    const body = Buffer.from(JSON.stringify({ ...frame, recipientsHint: ['x'], internal: 1 }));
    assert.deepEqual(Object.keys(decodeFeedMessage(body, userRoutingKey('dave'))!.frame).sort(), CONTRACT_KEYS);
    assert.deepEqual(Object.keys(parseFrame(body)!).sort(), CONTRACT_KEYS);
  });

  it('GIVEN malformed messages WHEN decoded THEN each is undefined, never a throw', () => {
    const cases: Array<[string, Buffer, string]> = [
      ['not JSON', Buffer.from('{"postId": '), userRoutingKey('bob')],
      ['JSON null', Buffer.from('null'), userRoutingKey('bob')],
      ['a JSON array', Buffer.from('[1,2]'), userRoutingKey('bob')],
      ['a frame missing postText', Buffer.from(JSON.stringify({ ...frame, postText: undefined })), userRoutingKey('bob')],
      ['a frame with a numeric cursor', Buffer.from(JSON.stringify({ ...frame, cursor: 42 })), userRoutingKey('bob')],
      ['a per-follower frame on a non-user routing key', Buffer.from(JSON.stringify(frame)), 'post.created'],
      ['batched with recipients not an array', Buffer.from(JSON.stringify({ frame, recipients: 'bob' })), userRoutingKey('bob')],
      ['batched with a non-string recipient', Buffer.from(JSON.stringify({ frame, recipients: ['bob', 7] })), userRoutingKey('bob')],
      ['batched with an empty recipient', Buffer.from(JSON.stringify({ frame, recipients: [''] })), userRoutingKey('bob')],
      ['batched without a frame', Buffer.from(JSON.stringify({ recipients: ['bob'] })), userRoutingKey('bob')],
      ['batched with the frame flattened', Buffer.from(JSON.stringify({ ...frame, recipients: ['bob'] })), userRoutingKey('bob')],
    ];
    for (const [what, body, key] of cases) assert.equal(decodeFeedMessage(body, key), undefined, what);
  });
});
