/**
 * A throw-away PostgreSQL server for the twin and the integration tests: initdb in a work folder,
 * run as the non-root `postgres` OS user (postgres refuses root), loopback TCP only.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { progress, spawnManaged, type ManagedProcess } from './process.js';
import { CommandError, run } from '../shell.js';
import { waitFor } from '../../shared/index.js';


/** Where Debian's PostgreSQL 15 binaries live. */
export const POSTGRES_BIN_DIR = '/usr/lib/postgresql/15/bin';
/** The non-root OS user postgres runs as. */
export const POSTGRES_OS_USER = 'postgres';

/** A running PostgreSQL server. */
export interface PostgresServer {
  readonly port: number;
  /** `postgres://user:password@127.0.0.1:port/db` (for tests and tools; never print it). */
  readonly url: string;
  /** `postgres://user@127.0.0.1:port/db`: what the app gets as DATABASE_URL, with PGPASSWORD beside it. */
  readonly urlWithoutPassword: string;
  readonly password: string;
  readonly database: string;
  readonly username: string;
  readonly process: ManagedProcess;
  /** Smart shutdown (SIGTERM), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /**
   * Folder for the data dir (`<workDir>/data`), socket dir and log; created and chowned to `postgres`.
   * When the postgres user cannot reach it, those live in a temporary folder named in `<workDir>/postgres-home.txt`.
   */
  readonly workDir: string;
  /** @default a free port */
  readonly port?: number;
  /** @default feed */
  readonly database?: string;
  /** @default feed */
  readonly username?: string;
  /** @default generated (24 random bytes, hex) */
  readonly password?: string;
  /**
   * Seconds to wait for the server to accept connections.
   * @default 60
   */
  readonly readyTimeoutSeconds?: number;
}

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

async function osUser(name: string): Promise<OsUser> {
  try {
    const uid = Number((await run('id', ['-u', name], { timeoutMs: 10_000 })).trim());
    const gid = Number((await run('id', ['-g', name], { timeoutMs: 10_000 })).trim());
    return { uid, gid };
  } catch (e) {
    // `id` says "no such user" and exits 1; anything else (a timeout, a spawn failure) is not that.
    if (e instanceof CommandError && e.exitCode === 1 && /no such user/i.test(e.stderr)) {
      throw new Error(`OS user "${name}" does not exist. Fix: install PostgreSQL 15 (apt-get install -y postgresql-15), which creates it`);
    }
    throw new Error(`could not look up OS user "${name}": ${(e as Error).message}`);
  }
}

/** The first ancestor of `dir` the `postgres` user cannot enter (a mktemp dir or /root is 0700), if any. */
function blockedAncestor(dir: string): string | undefined {
  let d = resolve(dir);
  for (;;) {
    const parent = dirname(d);
    if (parent === d) return undefined;
    d = parent;
    if ((statSync(d).mode & 0o001) === 0) return d;
  }
}

/**
 * Where postgres keeps its files: the work folder when the postgres user can reach it, otherwise a
 * private folder under the OS temp dir (world-traversable), removed when the server stops. A clone
 * under /root or a mktemp dir then still runs the tests, without loosening the user's permissions.
 */
function postgresHome(workDir: string): { readonly dir: string; readonly temporary: boolean } {
  const blocked = blockedAncestor(workDir);
  if (blocked === undefined) return { dir: workDir, temporary: false };
  const dir = mkdtempSync(join(tmpdir(), 'feedkit-pg-'));
  chmodSync(dir, 0o755);
  const hint = blockedAncestor(dir);
  if (hint !== undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the postgres OS user can enter neither "${blocked}" nor "${hint}". Fix: chmod o+x one of them, or set TMPDIR to a world-traversable folder`);
  }
  progress(`postgres: the postgres user cannot enter ${blocked}; keeping its files in ${dir} (removed on stop)`);
  writeFileSync(join(workDir, 'postgres-home.txt'), `${dir}\n`);
  return { dir, temporary: true };
}

function checkIdentifier(field: string, v: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(v)) {
    throw new Error(`startPostgres: ${field} "${v}" is not a plain SQL identifier. Fix: use lower-case letters, digits and "_"`);
  }
}

/** The folders and log of one server, owned by the postgres user. */
interface PostgresDirs {
  /** Where everything lives, and whether it is a temporary folder to remove on stop. */
  readonly home: { readonly dir: string; readonly temporary: boolean };
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
}

function preparePostgresDirs(workDir: string, user: OsUser): PostgresDirs {
  mkdirSync(workDir, { recursive: true });
  const home = postgresHome(workDir);
  const dataDir = join(home.dir, 'data');
  const socketDir = join(home.dir, 'socket');
  chmodSync(home.dir, 0o755);
  for (const d of [dataDir, socketDir]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, user.uid, user.gid);
    chmodSync(d, 0o700);
  }
  const logFile = join(home.dir, 'postgres.log');
  writeFileSync(logFile, '', { flag: 'a' });
  chownSync(logFile, user.uid, user.gid);
  return { home, dataDir, socketDir, logFile };
}

/** Removes the temporary home, if postgres needed one. */
function removeTemporaryHome(dirs: PostgresDirs): void {
  if (dirs.home.temporary) rmSync(dirs.home.dir, { recursive: true, force: true });
}

/** Runs initdb unless the data dir already holds a cluster. */
async function initdbIfFresh(dirs: PostgresDirs): Promise<void> {
  if (existsSync(join(dirs.dataDir, 'PG_VERSION'))) return;
  progress(`postgres: initdb in ${dirs.dataDir}`);
  // Local (socket) logins are trusted: the socket dir is 0700 and owned by postgres. TCP needs a password.
  await run(
    'runuser',
    ['-u', POSTGRES_OS_USER, '--', join(POSTGRES_BIN_DIR, 'initdb'), '-D', dirs.dataDir, '-U', POSTGRES_OS_USER,
      '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'],
    { timeoutMs: 120_000, cwd: dirs.home.dir, env: { ...process.env, LC_ALL: 'C.UTF-8' } },
  ).catch((e: Error) => {
    removeTemporaryHome(dirs);
    throw new Error(`postgres: initdb failed: ${e.message}`);
  });
}

function spawnPostgres(dirs: PostgresDirs, port: number, user: OsUser): ManagedProcess {
  return spawnManaged(
    `postgres:${port}`,
    join(POSTGRES_BIN_DIR, 'postgres'),
    ['-D', dirs.dataDir, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dirs.socketDir}`,
      '-c', 'fsync=off', '-c', 'max_connections=200', '-c', 'shared_buffers=64MB'],
    // Spawned straight as the postgres user (not through runuser) so the pid is the postmaster itself.
    { cwd: dirs.home.dir, logFile: dirs.logFile, uid: user.uid, gid: user.gid, env: { LC_ALL: 'C.UTF-8', HOME: dirs.home.dir, USER: POSTGRES_OS_USER } },
  );
}

/** Creates (or re-passwords) the login role and creates the database it owns, through the trusted socket. */
async function ensureRoleAndDatabase(c: pg.Client, username: string, password: string, database: string): Promise<void> {
  const lit = c.escapeLiteral(password);
  const role = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username]);
  await c.query(`${role.rowCount ? 'ALTER' : 'CREATE'} ROLE ${c.escapeIdentifier(username)} LOGIN PASSWORD ${lit}`);
  const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (!db.rowCount) await c.query(`CREATE DATABASE ${c.escapeIdentifier(database)} OWNER ${c.escapeIdentifier(username)}`);
}

/** Runs `work` with a superuser connection over the socket dir, closed afterwards. */
async function asSuperuser<T>(dirs: PostgresDirs, port: number, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host: dirs.socketDir, port, user: POSTGRES_OS_USER, database: 'postgres' });
  try {
    await c.connect();
    return await work(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Initializes (first time) and starts PostgreSQL, creates the role and database, waits until it answers queries. */
export async function startPostgres(opts: StartPostgresOptions): Promise<PostgresServer> {
  const database = opts.database ?? 'feed';
  const username = opts.username ?? 'feed';
  checkIdentifier('database', database);
  checkIdentifier('username', username);
  const password = opts.password ?? randomBytes(24).toString('hex');
  const port = opts.port ?? (await freePort());
  const user = await osUser(POSTGRES_OS_USER);
  const dirs = preparePostgresDirs(resolve(opts.workDir), user);
  await initdbIfFresh(dirs);
  const proc = spawnPostgres(dirs, port, user);
  try {
    await waitFor(`postgres on 127.0.0.1:${port} (log: ${dirs.logFile})`, async () => {
      if (!proc.running) throw new Error(`postgres exited; see ${dirs.logFile}`);
      return asSuperuser(dirs, port, async (c) => (await c.query('SELECT 1')) && true);
    }, { timeoutMs: (opts.readyTimeoutSeconds ?? 60) * 1000, intervalMs: 200 });
    await asSuperuser(dirs, port, (c) => ensureRoleAndDatabase(c, username, password, database));
  } catch (e) {
    await proc.stop(5000).catch(() => undefined);
    removeTemporaryHome(dirs);
    throw e;
  }
  const hostPort = `127.0.0.1:${port}`;
  const enc = encodeURIComponent;
  return {
    port,
    url: `postgres://${enc(username)}:${enc(password)}@${hostPort}/${database}`,
    urlWithoutPassword: `postgres://${enc(username)}@${hostPort}/${database}`,
    password,
    database,
    username,
    process: proc,
    stop: async () => {
      await proc.stop(15_000);
      removeTemporaryHome(dirs);
    },
  };
}
