/** Public API of the feed app for tests and scripts. */
export { startFeedApp, type FeedApp, type StartOptions } from './app.js';
export { configFromEnv, ConfigError, type FeedAppConfig } from './config.js';
export type { FeedFrame } from './ws/frame.js';
export { signToken, createTokenVerifier, AuthError, type Principal } from './auth/jwt.js';
export type { FeedPublisher } from './amqp/publisher.js';
