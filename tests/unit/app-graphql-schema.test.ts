/** The committed GraphQL schema (app/schema.graphql) is the one the app serves. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { feedSchema, printedFeedSchema } from '../../app/src/graphql/schema.js';

const COMMITTED = join(REPO_ROOT, 'app', 'schema.graphql');

describe('GraphQL schema', () => {
  it('GIVEN the schema the app builds WHEN printed THEN it equals the committed app/schema.graphql (UPDATE_SNAPSHOTS=1 rewrites it)', () => {
    if (process.env['UPDATE_SNAPSHOTS'] === '1') writeFileSync(COMMITTED, printedFeedSchema());
    assert.equal(readFileSync(COMMITTED, 'utf8'), printedFeedSchema());
  });

  it('GIVEN the API WHEN mirrored THEN every operation of the issue exists with its arguments', () => {
    const s = feedSchema();
    assert.deepEqual(Object.keys(s.getQueryType()!.getFields()).sort(), ['feed', 'post']);
    assert.deepEqual(Object.keys(s.getMutationType()!.getFields()).sort(), ['createPost', 'follow', 'unfollow']);
    const postAdded = s.getSubscriptionType()!.getFields()['postAdded']!;
    assert.deepEqual(postAdded.args.map((a) => a.name), ['since']);
    assert.deepEqual(Object.keys((postAdded.type as unknown as { ofType: { getFields(): object } }).ofType.getFields()), ['postId', 'postText', 'authorUserId', 'cursor', 'createdAt']);
  });
});
