/** The local PostgreSQL helper against a real server: non-root, loopback, password over TCP. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { POSTGRES_OS_USER, startPostgres, type PostgresServer } from '../../scripts/local/postgres.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';

describe('local PostgreSQL', () => {
  const root = join(REPO_ROOT, '.local');
  mkdirSync(root, { recursive: true });
  const workDir = mkdtempSync(join(root, 'it-pg-'));
  chmodSync(workDir, 0o755);
  let server: PostgresServer;

  before(async () => {
    server = await startPostgres({ workDir: join(workDir, 'pg') });
  });

  after(async () => {
    await server?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  test('GIVEN a fresh work dir WHEN postgres starts THEN it runs as the postgres OS user, not root', () => {
    const uid = Number(execFileSync('id', ['-u', POSTGRES_OS_USER]).toString().trim());
    const status = readFileSync(`/proc/${server.process.pid}/status`, 'utf8');
    const realUid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    assert.equal(realUid, uid);
    assert.notEqual(realUid, 0);
  });

  test('GIVEN the generated password WHEN a client connects over TCP THEN a query runs as the app role in its database', async () => {
    // pg lets a URL's (empty) password win over the option, so pass the parts, as the app does with PGPASSWORD.
    const url = new URL(server.urlWithoutPassword);
    const c = new pg.Client({ host: url.hostname, port: Number(url.port), user: server.username, database: server.database, password: server.password });
    await c.connect();
    try {
      const { rows } = await c.query<{ user: string; db: string }>('SELECT current_user AS user, current_database() AS db');
      assert.deepEqual(rows[0], { user: server.username, db: server.database });
      await c.query('CREATE TABLE t (id int)'); // the role owns its database and may create tables
    } finally {
      await c.end();
    }
  });

  test('GIVEN a wrong password WHEN a client connects THEN it is refused', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: server.username, database: server.database, password: 'wrong-password' });
    await assert.rejects(c.connect(), /password authentication failed/);
  });
});
