/** The feed API (wire contract): posts, the feed, and friendships. Every handler gets the caller's user id. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Routes } from '../../../shared/constants.js';
import { ID_PATTERN } from '../config.js';
import type { FeedStore, Post } from '../db/store.js';
import type { FeedMetrics } from '../metrics.js';
import type { OutboxRelay } from '../outbox/relay.js';
import { HttpError, readJsonObject, sendJson } from './respond.js';

/** Longest post text, in characters. */
export const MAX_POST_TEXT = 4000;
/** Largest `limit` of `GET /post/feed`. */
export const MAX_FEED_LIMIT = 100;
export const DEFAULT_FEED_LIMIT = 10;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ApiDeps {
  readonly store: FeedStore;
  readonly relay: OutboxRelay;
  readonly metrics: FeedMetrics;
}

type Handler = (req: IncomingMessage, res: ServerResponse, userId: string, param: string, url: URL) => Promise<void>;

/** A route: exact path, or a prefix followed by one path parameter. */
export interface ApiRoute {
  readonly path: string;
  readonly prefix: boolean;
  readonly method: string;
  readonly handle: Handler;
}

function postJson(p: Post) {
  return { id: p.id, text: p.text, author_user_id: p.authorId, cursor: p.cursor, createdAt: p.createdAt };
}

function userParam(param: string): string {
  const id = decodeURIComponent(param);
  if (!ID_PATTERN.test(id)) throw new HttpError(400, `user_id "${id.slice(0, 64)}" is not a valid user id (letters, digits, _ . @ : -, at most 128)`);
  return id;
}

function intParam(url: URL, name: string, dflt: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new HttpError(400, `${name} must be an integer in [${min}, ${max}], got "${raw.slice(0, 32)}"`);
  return Number(raw);
}

export function apiRoutes({ store, relay, metrics }: ApiDeps): ApiRoute[] {
  return [
    {
      path: Routes.POST_CREATE,
      prefix: false,
      method: 'POST',
      async handle(req, res, userId) {
        const body = await readJsonObject(req);
        const text = body['text'];
        if (typeof text !== 'string') throw new HttpError(400, 'text is required and must be a string');
        if (text.trim() === '') throw new HttpError(400, 'text must not be empty');
        if ([...text].length > MAX_POST_TEXT) throw new HttpError(413, `text is longer than ${MAX_POST_TEXT} characters`);
        const post = await store.createPost(userId, text);
        metrics.postsCreated.inc();
        relay.wake();
        sendJson(res, 200, { id: post.id, cursor: post.cursor, createdAt: post.createdAt });
      },
    },
    {
      path: Routes.POST_GET,
      prefix: true,
      method: 'GET',
      async handle(_req, res, _userId, param) {
        if (!UUID.test(param)) throw new HttpError(400, `post id "${param.slice(0, 64)}" is not a UUID`);
        const post = await store.getPost(param);
        if (!post) throw new HttpError(404, `post ${param} not found`);
        sendJson(res, 200, postJson(post));
      },
    },
    {
      path: Routes.FEED,
      prefix: false,
      method: 'GET',
      async handle(_req, res, userId, _param, url) {
        const offset = intParam(url, 'offset', 0, 0, 1_000_000);
        const limit = intParam(url, 'limit', DEFAULT_FEED_LIMIT, 1, MAX_FEED_LIMIT);
        sendJson(res, 200, (await store.feed(userId, offset, limit)).map(postJson));
      },
    },
    {
      path: Routes.FRIEND_SET,
      prefix: true,
      method: 'PUT',
      async handle(_req, res, userId, param) {
        await store.follow(userId, userParam(param));
        sendJson(res, 200, {});
      },
    },
    {
      path: Routes.FRIEND_DELETE,
      prefix: true,
      method: 'PUT',
      async handle(_req, res, userId, param) {
        await store.unfollow(userId, userParam(param));
        sendJson(res, 200, {});
      },
    },
  ];
}

/** Finds the route of `path`: the route and its parameter, 405 with Allow when only the method differs, else undefined. */
export function matchRoute(routes: readonly ApiRoute[], method: string, path: string): { route: ApiRoute; param: string } | undefined {
  const hits = routes.flatMap((r) => {
    if (!r.prefix) return r.path === path ? [{ route: r, param: '' }] : [];
    const rest = path.startsWith(r.path) ? path.slice(r.path.length) : undefined;
    return rest !== undefined && rest !== '' && !rest.includes('/') ? [{ route: r, param: rest }] : [];
  });
  if (hits.length === 0) return undefined;
  const hit = hits.find((h) => h.route.method === method);
  if (!hit) throw new HttpError(405, `${method} is not allowed on ${path}`, { allow: hits.map((h) => h.route.method).join(', ') });
  return hit;
}
