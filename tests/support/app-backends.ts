/** Real PostgreSQL and RabbitMQ for the app's integration tests, and replicas of the app on them. */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { destination, pino } from 'pino';
import { AppEnv, DEFAULT_SPEC, type FeedkitSpec, MAX_POSTS_PER_MINUTE, MAX_SUBSCRIPTIONS_PER_USER, Routes, appEnvironment, waitFor } from '../../shared/index.js';
import { configFromEnv, signToken, startFeedApp, type FeedApp } from '../../app/src/index.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { freePort } from '../../scripts/local/ports.js';
import { spawnManaged, type ManagedProcess } from '../../scripts/local/process.js';
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
  /** Starts a replica as its own process from the entry point (`app/src/main.ts`), ready when this resolves; stopped by {@link stop}. */
  startReplicaProcess(replicaId: string, overrides?: Record<string, string>): Promise<ReplicaProcess>;
  /** `AMQP_URLS` value for the given node indexes, in that order. */
  amqpUrls(...nodes: number[]): string;
  /** A client of the test database, connected on first use and closed by {@link stop}. */
  db(): Promise<pg.Client>;
  /** A token for `userId` (default ttl 1 h). */
  token(userId: string, ttlSeconds?: number): Promise<string>;
  stop(): Promise<void>;
}

/** A replica running as a child process. */
export interface ReplicaProcess {
  readonly url: string;
  readonly process: ManagedProcess;
  /** Its log (stdout and stderr). */
  readonly logFile: string;
}

/** A fresh folder `.local/tests/<prefix>-XXXXXX` (git-ignored) for one test file's servers; remove it when done. */
export function testWorkDir(prefix: string): string {
  const root = join(REPO_ROOT, '.local', 'tests');
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, `${prefix}-`));
  chmodSync(dir, 0o755); // postgres runs as its own OS user and must enter it
  return dir;
}

/** Starts RabbitMQ (one node unless told, from `spec`) and a PostgreSQL in a fresh folder under .local/. */
export async function startAppBackends(name: string, rabbitNodes = 1, spec: FeedkitSpec = DEFAULT_SPEC): Promise<AppBackends> {
  const dir = testWorkDir(name);
  const [postgres, rabbit] = await Promise.all([
    startPostgres({ workDir: join(dir, 'pg') }),
    startRabbitCluster({ spec, workDir: join(dir, 'rabbit'), nodes: rabbitNodes, namePrefix: 'app' }),
  ]);
  const jwtSecret = randomBytes(32).toString('hex');
  const apps: FeedApp[] = [];
  const children: ManagedProcess[] = [];
  let db: Promise<pg.Client> | undefined;
  const node = rabbit.nodes[0]!;
  const env = (replicaId: string, overrides: Record<string, string> = {}) => ({
    ...appEnvironment(DEFAULT_SPEC),
    [AppEnv.PORT]: '0',
    [AppEnv.REPLICA_ID]: replicaId,
    [AppEnv.AMQP_URLS]: `amqp://127.0.0.1:${node.amqpPort}`,
    [AppEnv.AMQP_USERNAME]: rabbit.username,
    [AppEnv.AMQP_PASSWORD]: rabbit.password,
    [AppEnv.DATABASE_URL]: postgres.urlWithoutPassword,
    [AppEnv.PGPASSWORD]: postgres.password,
    [AppEnv.JWT_SECRET]: jwtSecret,
    [AppEnv.LOG_LEVEL]: process.env['FEED_TEST_LOG_LEVEL'] ?? 'error',
    [AppEnv.SHUTDOWN_TIMEOUT_MS]: '10000',
    // Tests drive one author far past a user's 100 posts a minute (a writer every 20 ms); the
    // limits have their own test (app-limits), which sets them.
    [AppEnv.POSTS_PER_USER_PER_MINUTE]: String(MAX_POSTS_PER_MINUTE),
    [AppEnv.SUBSCRIPTIONS_PER_USER]: String(MAX_SUBSCRIPTIONS_PER_USER),
    ...overrides,
  });
  return {
    pg: postgres,
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
    async startReplicaProcess(replicaId, overrides = {}) {
      const port = await freePort();
      const logFile = join(dir, `${replicaId}.log`);
      const proc = spawnManaged(replicaId, process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'app', 'src', 'main.ts')], {
        cwd: REPO_ROOT,
        logFile,
        env: env(replicaId, { [AppEnv.PORT]: String(port), ...overrides }),
      });
      children.push(proc);
      const url = `http://127.0.0.1:${port}`;
      await waitFor(`${replicaId} ready`, async () => {
        if (!proc.running) throw new Error(`${replicaId} exited; see ${logFile}`);
        return (await fetch(new URL(Routes.READY, url)).catch(() => undefined))?.status === 200 ? true : undefined;
      }, { timeoutMs: 60_000 });
      return { url, process: proc, logFile };
    },
    amqpUrls: (...nodes) => nodes.map((i) => `amqp://127.0.0.1:${rabbit.nodes[i]!.amqpPort}`).join(','),
    db: () =>
      (db ??= (async () => {
        const client = new pg.Client({ connectionString: postgres.url });
        await client.connect();
        return client;
      })()),
    token: (userId, ttl = 3600) => signToken(jwtSecret, userId, ttl),
    async stop() {
      await db?.then((c) => c.end()).catch(() => undefined);
      await Promise.allSettled([...apps.map((a) => a.close()), ...children.map((c) => c.stop(15_000))]);
      await Promise.allSettled([rabbit.stop(), postgres.stop()]);
      // FEED_TEST_KEEP=1 leaves the broker and database logs behind to diagnose a failure.
      if (!process.env['FEED_TEST_KEEP']) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A user id unique to this run, so tests sharing a database never see each other's posts. */
export function uniqueUser(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}
