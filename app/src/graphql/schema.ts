/**
 * The GraphQL schema of the feed: queries and mutations mirror the HTTP API, the subscription is the
 * feed of the WebSocket and SSE transports. The SDL here is the definition; `app/schema.graphql` is
 * its printed form for clients (tests/unit/app-graphql-schema.test.ts keeps it current; UPDATE_SNAPSHOTS=1 rewrites it).
 */
import { buildSchema, printSchema, type GraphQLSchema } from 'graphql';

const SDL = /* GraphQL */ `
  "A stored post (GET /post/get/{id})."
  type Post {
    id: ID!
    text: String!
    authorUserId: String!
    "Opaque, increasing in commit order."
    cursor: String!
    "ISO-8601."
    createdAt: String!
  }

  "What POST /post/create answers."
  type CreatedPost {
    id: ID!
    cursor: String!
    createdAt: String!
  }

  "One post of the live feed, the WebSocket frame's fields."
  type FeedPost {
    postId: ID!
    postText: String!
    authorUserId: String!
    "Pass the highest one received as since when resubscribing."
    cursor: String!
    createdAt: String!
  }

  type Query {
    "A post by id (a UUID); null when unknown."
    post(id: ID!): Post
    "Posts of the users the caller follows, newest first; limit 1-100."
    feed(offset: Int = 0, limit: Int = 10): [Post!]!
  }

  type Mutation {
    "Creates a post (1-4000 characters); refused over the per-user posts-per-minute limit."
    createPost(text: String!): CreatedPost!
    "The caller follows userId: its posts reach the caller's feed."
    follow(userId: String!): Boolean!
    "The caller stops following userId."
    unfollow(userId: String!): Boolean!
  }

  type Subscription {
    "Every post for the caller from the moment the subscription starts; with since, the ones after that cursor first. Dedupe by postId."
    postAdded(since: String): FeedPost!
  }
`;

/** The executable schema's type definitions (resolvers are attached by the server as root values). */
export function feedSchema(): GraphQLSchema {
  return buildSchema(SDL);
}

/** The schema as committed in `app/schema.graphql`. */
export function printedFeedSchema(): string {
  return `${printSchema(feedSchema())}\n`;
}
