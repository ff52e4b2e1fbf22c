/** The feed app's configuration: read from the environment, every mistake named by its variable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppEnv, DEFAULT_CANARY_INTERVAL_MS, DEFAULT_CANARY_TIMEOUT_MS, DEFAULT_REPLICA_HEARTBEAT_MS, DEFAULT_SPEC, Ports, QueueMode, REPLICA_STALE_HEARTBEATS } from '../../shared/index.js';
import { ConfigError, configFromEnv } from '../../app/src/config.js';

const SECRET = 's'.repeat(32);
const minimal = (over: Record<string, string | undefined> = {}) => ({
  [AppEnv.AMQP_URLS]: 'amqp://haproxy-0:5672,amqp://haproxy-1:5672',
  [AppEnv.DATABASE_URL]: 'postgres://feed@db:5432/feed',
  [AppEnv.JWT_SECRET]: SECRET,
  [AppEnv.REPLICA_ID]: 'feed-app-0',
  ...over,
});

function rejects(env: Record<string, string | undefined>, variable: string): void {
  assert.throws(() => configFromEnv(env), (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.startsWith(`${variable}:`));
}

describe('configFromEnv', () => {
  it('GIVEN only the required variables WHEN read THEN the spec defaults fill the rest', () => {
    const c = configFromEnv(minimal());
    assert.equal(c.port, Ports.APP_HTTP);
    assert.equal(c.queueMode, DEFAULT_SPEC.rabbitmq.queueMode);
    assert.equal(c.queueExpiresMs, DEFAULT_SPEC.rabbitmq.queueExpiresMs);
    assert.equal(c.prefetch, DEFAULT_SPEC.app.prefetch);
    assert.equal(c.logLevel, DEFAULT_SPEC.app.logLevel);
    assert.equal(c.replicaId, 'feed-app-0');
  });

  it('GIVEN two AMQP URLs and separate credentials WHEN read THEN both URLs keep their order and carry the credentials and a heartbeat', () => {
    const c = configFromEnv(minimal({ [AppEnv.AMQP_USERNAME]: 'feed', [AppEnv.AMQP_PASSWORD]: 'p@ss' }));
    assert.equal(c.amqpUrls.length, 2);
    const [first, second] = c.amqpUrls.map((u) => new URL(u));
    assert.deepEqual([first!.hostname, second!.hostname], ['haproxy-0', 'haproxy-1']);
    assert.equal(first!.username, 'feed');
    assert.equal(decodeURIComponent(first!.password), 'p@ss');
    assert.equal(first!.searchParams.get('heartbeat'), String(DEFAULT_SPEC.haproxy.amqpHeartbeatSeconds));
  });

  it('GIVEN quorum mode and tuning variables WHEN read THEN they are used', () => {
    const c = configFromEnv(minimal({ [AppEnv.QUEUE_MODE]: QueueMode.QUORUM, [AppEnv.PREFETCH]: '50', [AppEnv.REPLAY_LIMIT]: '10', [AppEnv.PORT]: '0' }));
    assert.deepEqual([c.queueMode, c.prefetch, c.replayLimit, c.port], [QueueMode.QUORUM, 50, 10, 0]);
  });

  it('GIVEN no replica registry variables WHEN read THEN the heartbeat is 2 s and a replica is stale after 5 heartbeats', () => {
    const c = configFromEnv(minimal());
    assert.deepEqual([c.replicaHeartbeatMs, c.replicaStaleMs], [DEFAULT_REPLICA_HEARTBEAT_MS, REPLICA_STALE_HEARTBEATS * DEFAULT_REPLICA_HEARTBEAT_MS]);
  });

  it('GIVEN only a heartbeat period WHEN read THEN the stale threshold follows it', () => {
    const c = configFromEnv(minimal({ [AppEnv.REPLICA_HEARTBEAT_MS]: '500' }));
    assert.deepEqual([c.replicaHeartbeatMs, c.replicaStaleMs], [500, REPLICA_STALE_HEARTBEATS * 500]);
  });

  it('GIVEN no canary variables WHEN read THEN a canary goes every 2 s with a 5 s bound; 0 turns it off', () => {
    const c = configFromEnv(minimal());
    assert.deepEqual([c.canaryIntervalMs, c.canaryTimeoutMs], [DEFAULT_CANARY_INTERVAL_MS, DEFAULT_CANARY_TIMEOUT_MS]);
    assert.equal(configFromEnv(minimal({ [AppEnv.CANARY_INTERVAL_MS]: '0' })).canaryIntervalMs, 0);
  });

  it('GIVEN a JWKS URL instead of a secret WHEN read THEN it is accepted', () => {
    const c = configFromEnv(minimal({ [AppEnv.JWT_SECRET]: undefined, [AppEnv.JWKS_URL]: 'https://issuer.example/.well-known/jwks.json' }));
    assert.equal(c.jwtSecret, undefined);
    assert.equal(c.jwksUrl, 'https://issuer.example/.well-known/jwks.json');
  });

  const bad: Array<[string, Record<string, string | undefined>, string]> = [
    ['no AMQP URLs', { [AppEnv.AMQP_URLS]: undefined }, AppEnv.AMQP_URLS],
    ['an http URL as AMQP', { [AppEnv.AMQP_URLS]: 'http://x:5672' }, AppEnv.AMQP_URLS],
    ['no database', { [AppEnv.DATABASE_URL]: undefined }, AppEnv.DATABASE_URL],
    ['a non-postgres database URL', { [AppEnv.DATABASE_URL]: 'mysql://db' }, AppEnv.DATABASE_URL],
    ['neither secret nor JWKS', { [AppEnv.JWT_SECRET]: undefined }, AppEnv.JWT_SECRET],
    ['a short secret', { [AppEnv.JWT_SECRET]: 'short' }, AppEnv.JWT_SECRET],
    ['a JWKS URL that is not http', { [AppEnv.JWT_SECRET]: undefined, [AppEnv.JWKS_URL]: 'file:///keys' }, AppEnv.JWKS_URL],
    ['an unknown queue mode', { [AppEnv.QUEUE_MODE]: 'stream' }, AppEnv.QUEUE_MODE],
    ['a port out of range', { [AppEnv.PORT]: '70000' }, AppEnv.PORT],
    ['a prefetch that is not a number', { [AppEnv.PREFETCH]: 'lots' }, AppEnv.PREFETCH],
    ['a replica id with a wildcard', { [AppEnv.REPLICA_ID]: 'feed#1' }, AppEnv.REPLICA_ID],
    ['an unknown log level', { [AppEnv.LOG_LEVEL]: 'loud' }, AppEnv.LOG_LEVEL],
    ['a tiny queue expiry', { [AppEnv.QUEUE_EXPIRES_MS]: '5' }, AppEnv.QUEUE_EXPIRES_MS],
    ['a heartbeat that is not a number', { [AppEnv.REPLICA_HEARTBEAT_MS]: 'often' }, AppEnv.REPLICA_HEARTBEAT_MS],
    ['a canary timeout under 100 ms', { [AppEnv.CANARY_TIMEOUT_MS]: '50' }, AppEnv.CANARY_TIMEOUT_MS],
    ['a canary interval that is not a number', { [AppEnv.CANARY_INTERVAL_MS]: '2s' }, AppEnv.CANARY_INTERVAL_MS],
    ['a stale threshold under two heartbeats', { [AppEnv.REPLICA_HEARTBEAT_MS]: '2000', [AppEnv.REPLICA_STALE_MS]: '3000' }, AppEnv.REPLICA_STALE_MS],
  ];
  for (const [what, over, variable] of bad) {
    it(`GIVEN ${what} WHEN read THEN the error names ${variable}`, () => rejects(minimal(over), variable));
  }
});
