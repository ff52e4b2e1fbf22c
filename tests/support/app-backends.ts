/** Real PostgreSQL and RabbitMQ for the app's integration tests, and replicas of the app on them. */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { destination, pino } from 'pino';
import { AppEnv, DEFAULT_SPEC, appEnvironment } from '../../shared/index.js';
import { configFromEnv, signToken, startFeedApp, type FeedApp } from '../../app/src/index.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { startPostgres, type PostgresServer } from '../../scripts/local/postgres.js';
import { startRabbitCluster, type RabbitCluster } from '../../scripts/local/rabbitmq.js';

export interface AppBackends {
  readonly pg: PostgresServer;
  readonly rabbit: RabbitCluster;
  readonly jwtSecret: string;
  readonly dir: string;
  /** Environment for a replica (overrides win). */
  env(replicaId: string, overrides?: Record<string, string>): Record<string, string>;
  /** Starts a replica in this process, with the config read from {@link env}. */
  startReplica(replicaId: string, overrides?: Record<string, string>): Promise<FeedApp>;
  /** `AMQP_URLS` value for the given node indexes, in that order. */
  amqpUrls(...nodes: number[]): string;
  /** A token for `userId` (default ttl 1 h). */
  token(userId: string, ttlSeconds?: number): Promise<string>;
  stop(): Promise<void>;
}

/** A fresh folder `.local/tests/<prefix>-XXXXXX` (git-ignored) for one test file's servers; remove it when done. */
export function testWorkDir(prefix: string): string {
  const root = join(REPO_ROOT, '.local', 'tests');
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, `${prefix}-`));
  chmodSync(dir, 0o755); // postgres runs as its own OS user and must enter it
  return dir;
}

/** Starts RabbitMQ (one node unless told) and a PostgreSQL in a fresh folder under .local/. */
export async function startAppBackends(name: string, rabbitNodes = 1): Promise<AppBackends> {
  const dir = testWorkDir(name);
  const [pg, rabbit] = await Promise.all([
    startPostgres({ workDir: join(dir, 'pg') }),
    startRabbitCluster({ spec: DEFAULT_SPEC, workDir: join(dir, 'rabbit'), nodes: rabbitNodes, namePrefix: 'app' }),
  ]);
  const jwtSecret = randomBytes(32).toString('hex');
  const apps: FeedApp[] = [];
  const node = rabbit.nodes[0]!;
  const env = (replicaId: string, overrides: Record<string, string> = {}) => ({
    ...appEnvironment(DEFAULT_SPEC),
    [AppEnv.PORT]: '0',
    [AppEnv.REPLICA_ID]: replicaId,
    [AppEnv.AMQP_URLS]: `amqp://127.0.0.1:${node.amqpPort}`,
    [AppEnv.AMQP_USERNAME]: rabbit.username,
    [AppEnv.AMQP_PASSWORD]: rabbit.password,
    [AppEnv.DATABASE_URL]: pg.urlWithoutPassword,
    [AppEnv.PGPASSWORD]: pg.password,
    [AppEnv.JWT_SECRET]: jwtSecret,
    [AppEnv.LOG_LEVEL]: process.env['FEED_TEST_LOG_LEVEL'] ?? 'error',
    [AppEnv.SHUTDOWN_TIMEOUT_MS]: '10000',
    ...overrides,
  });
  return {
    pg,
    rabbit,
    jwtSecret,
    dir,
    env,
    async startReplica(replicaId, overrides) {
      const config = configFromEnv(env(replicaId, overrides));
      const logger = pino({ level: config.logLevel, base: { replica: replicaId } }, destination(2));
      const app = await startFeedApp(config, { logger, processMetrics: false });
      apps.push(app);
      return app;
    },
    amqpUrls: (...nodes) => nodes.map((i) => `amqp://127.0.0.1:${rabbit.nodes[i]!.amqpPort}`).join(','),
    token: (userId, ttl = 3600) => signToken(jwtSecret, userId, ttl),
    async stop() {
      await Promise.allSettled(apps.map((a) => a.close()));
      await Promise.allSettled([rabbit.stop(), pg.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A user id unique to this run, so tests sharing a database never see each other's posts. */
export function uniqueUser(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}
