/** Pure parts of the feed app's wire contract: routes, tokens, frames, queue and consumer arguments. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCodes, QueueMode, Routes } from '../../shared/index.js';
import { apiRoutes, checkPostText, matchRoute } from '../../app/src/http/api.js';
import { HttpError } from '../../app/src/http/respond.js';
import { AuthError, createTokenVerifier, signToken, tokenFromRequest } from '../../app/src/auth/jwt.js';
import { parseFrame, toFrame } from '../../app/src/ws/frame.js';
import { consumerArguments } from '../../app/src/amqp/topology.js';

// Handlers are never called here: matching needs only paths and methods.
const routes = apiRoutes({ store: undefined as never, relay: undefined as never, metrics: undefined as never, postsPerUserPerMinute: 1 });
const SECRET = 'k'.repeat(40);

describe('routes', () => {
  it('GIVEN the contract paths WHEN matched THEN each finds its route and parameter', () => {
    assert.equal(matchRoute(routes, 'POST', Routes.POST_CREATE)?.route.path, Routes.POST_CREATE);
    assert.equal(matchRoute(routes, 'GET', Routes.FEED)?.route.path, Routes.FEED);
    assert.equal(matchRoute(routes, 'GET', `${Routes.POST_GET}abc`)?.param, 'abc');
    assert.equal(matchRoute(routes, 'PUT', `${Routes.FRIEND_SET}bob`)?.param, 'bob');
    assert.equal(matchRoute(routes, 'PUT', `${Routes.FRIEND_DELETE}bob`)?.route.path, Routes.FRIEND_DELETE);
  });

  it('GIVEN an unknown path WHEN matched THEN there is no route', () => {
    assert.equal(matchRoute(routes, 'GET', '/nope'), undefined);
    assert.equal(matchRoute(routes, 'GET', `${Routes.POST_GET}a/b`), undefined);
    assert.equal(matchRoute(routes, 'GET', Routes.POST_GET), undefined);
  });

  it('GIVEN a known path with the wrong method WHEN matched THEN 405 names the allowed method', () => {
    assert.throws(() => matchRoute(routes, 'DELETE', `${Routes.FRIEND_SET}bob`), (e: unknown) => e instanceof HttpError && e.status === 405 && e.headers['allow'] === 'PUT');
  });
});

describe('post text', () => {
  const status = (text: unknown) => {
    try {
      checkPostText(text);
      return 200;
    } catch (e) {
      return (e as HttpError).status;
    }
  };

  it('GIVEN text PostgreSQL or UTF-8 cannot hold WHEN checked THEN it is a 400 naming the problem', () => {
    for (const bad of ['a\u0000b', 'x\uD800', '\uDC00y', 'a\uDBFFb\uDFFF'.slice(0, 3)]) assert.equal(status(bad), 400, JSON.stringify(bad));
    assert.throws(() => checkPostText('a\u0000'), /NUL character .* index 1/);
    assert.throws(() => checkPostText('ok \uD83D'), /lone UTF-16 surrogate .* at index 3/);
  });

  it('GIVEN valid text with astral characters WHEN checked THEN it passes, and length counts code points', () => {
    assert.equal(checkPostText('hi \uD83D\uDE00'), 'hi \uD83D\uDE00');
    assert.equal(status('\uD83D\uDE00'.repeat(4000)), 200);
    assert.equal(status('x'.repeat(4001)), 413);
    assert.equal(status(42), 400);
    assert.equal(status('  '), 400);
  });
});

describe('tokens', () => {
  it('GIVEN a Bearer header and a query token WHEN both are present THEN the header wins', () => {
    const url = new URL('http://x/p?token=fromquery');
    assert.equal(tokenFromRequest('Bearer fromheader', url), 'fromheader');
    assert.equal(tokenFromRequest(undefined, url), 'fromquery');
    assert.equal(tokenFromRequest('Basic abc', url), undefined);
  });

  it('GIVEN a signed token WHEN verified THEN sub is the user and exp is kept', async () => {
    const verify = createTokenVerifier({ jwtSecret: SECRET });
    const p = await verify(await signToken(SECRET, 'alice', 60));
    assert.equal(p.userId, 'alice');
    assert.ok(p.expiresAt > Date.now());
  });

  it('GIVEN expired, foreign, malformed or wildcard-sub tokens WHEN verified THEN each is an AuthError', async () => {
    const verify = createTokenVerifier({ jwtSecret: SECRET });
    for (const token of [await signToken(SECRET, 'alice', -10), await signToken('z'.repeat(40), 'alice', 60), 'abc.def.ghi', await signToken(SECRET, 'a*', 60)]) {
      await assert.rejects(verify(token), AuthError);
    }
  });
});

describe('frames and arguments', () => {
  it('GIVEN a post WHEN framed THEN the original three keys come first and it parses back', () => {
    const frame = toFrame({ id: '00000000-0000-4000-8000-000000000001', authorId: 'bob', text: 'hi', cursor: '42', createdAt: '2026-01-01T00:00:00.000Z' });
    assert.deepEqual(Object.keys(frame).slice(0, 3), ['postId', 'postText', 'author_user_id']);
    assert.deepEqual(parseFrame(Buffer.from(JSON.stringify(frame))), frame);
    assert.equal(parseFrame(Buffer.from('{"postId": 1}')), undefined);
  });

  it('GIVEN each queue mode WHEN consumer arguments are made THEN only mirrored mode asks for failover cancel and each carries its priority', () => {
    assert.deepEqual(consumerArguments(QueueMode.MIRRORED, 3), { 'x-cancel-on-ha-failover': true, 'x-priority': 3 });
    assert.deepEqual(consumerArguments(QueueMode.QUORUM, 4), { 'x-priority': 4 });
  });

  it('GIVEN the close codes WHEN read THEN restart is 1012 and the app codes are private-range', () => {
    assert.equal(CloseCodes.SERVICE_RESTART, 1012);
    for (const code of [CloseCodes.TOKEN_EXPIRED, CloseCodes.SLOW_CONSUMER, CloseCodes.REPLAY_TRUNCATED]) assert.ok(code >= 4000 && code <= 4999);
  });
});
