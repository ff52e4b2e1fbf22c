import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { SECRETS_FILE, main, synthToDirectory } from '../../scripts/synth.js';
import { resolveSpec, objectNames, SecretKeys } from '../../shared/index.js';
import { validateKubeObject } from '../support/charts.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'feedkit-synth-'));
  roots.push(d);
  return d;
}

/** Runs the CLI in-process; returns exit code and output. */
function run(cwd: string, args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(args, env, cwd, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function readDir(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

const SECRET_ENV = {
  FEEDKIT_ERLANG_COOKIE: 'c00kie0123456789abcdef0123456789abcdefXYZ',
  FEEDKIT_RABBITMQ_PASSWORD: 'rabbitPass-5f2a9c1e7b',
  FEEDKIT_POSTGRES_PASSWORD: 'pgPass-0a1b2c3d4e5f6789',
  FEEDKIT_JWT_SECRET: 'jwt-0123456789abcdef0123456789abcdef',
};

describe('npm run synth', () => {
  it('GIVEN the same inputs WHEN synth runs twice THEN the files are byte-identical and no temp file is left', () => {
    const cwd = tempDir();
    assert.equal(run(cwd, []).code, 0);
    const first = readDir(join(cwd, 'dist'));
    assert.equal(run(cwd, []).code, 0);
    assert.deepEqual(readDir(join(cwd, 'dist')), first);
    assert.deepEqual(Object.keys(first), [
      '00-feedkit-namespace.k8s.yaml',
      '01-feedkit-network-policies.k8s.yaml',
      '02-feedkit-postgres.k8s.yaml',
      '03-feedkit-rabbitmq.k8s.yaml',
      '04-feedkit-haproxy.k8s.yaml',
      '05-feedkit-app.k8s.yaml',
    ]);
  });

  it('GIVEN a bad spec value WHEN synth runs THEN it names the field, exits 1 and writes nothing (old files untouched)', () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'dist'));
    writeFileSync(join(cwd, 'dist', '00-old.k8s.yaml'), 'old');
    const r = run(cwd, [], { FEEDKIT_RABBITMQ__REPLICAS: '4' });
    assert.equal(r.code, 1);
    assert.match(r.err, /rabbitmq\.replicas/);
    assert.match(r.err, /Nothing was written/);
    assert.deepEqual(readDir(join(cwd, 'dist')), { '00-old.k8s.yaml': 'old' });
  });

  it('GIVEN a YAML spec file and FEEDKIT_* env WHEN synth runs THEN both apply and the environment wins', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'over.yaml'), 'rabbitmq:\n  replicas: 5\n  queueMode: quorum\nhaproxy:\n  replicas: 3\n');
    assert.equal(run(cwd, ['--spec', 'over.yaml'], { FEEDKIT_RABBITMQ__REPLICAS: '7' }).code, 0);
    const docs = (f: string) => parseAllDocuments(readFileSync(join(cwd, 'dist', f), 'utf8')).map((d) => d.toJS());
    const sts = docs('03-feedkit-rabbitmq.k8s.yaml').find((o) => o.kind === 'StatefulSet');
    assert.equal(sts.spec.replicas, 7);
    assert.equal(docs('04-feedkit-haproxy.k8s.yaml').find((o) => o.kind === 'Deployment').spec.replicas, 3);
    assert.equal(docs('05-feedkit-app.k8s.yaml').find((o) => o.kind === 'ConfigMap').data.QUEUE_MODE, 'quorum');
  });

  it('GIVEN a JSON spec file in FEEDKIT_SPEC_FILE with an external Postgres WHEN synth runs THEN the old postgres file is removed', () => {
    const cwd = tempDir();
    assert.equal(run(cwd, []).code, 0);
    writeFileSync(join(cwd, 'dist', 'notes.txt'), 'mine');
    writeFileSync(join(cwd, 'spec.json'), JSON.stringify({ postgres: { externalUrl: 'postgres://feed@db.example.com/feed' } }));
    const r = run(cwd, [], { FEEDKIT_SPEC_FILE: 'spec.json' });
    assert.equal(r.code, 0);
    const files = readdirSync(join(cwd, 'dist'));
    assert.ok(!files.some((f) => f.includes('postgres')), files.join());
    assert.ok(files.includes('notes.txt'), 'files synth does not own are kept');
    assert.match(r.out, /removed dist\/02-feedkit-postgres\.k8s\.yaml/);
  });

  it('GIVEN secret variables but no --write-secrets WHEN synth runs THEN no value lands anywhere and the instructions are printed', () => {
    const cwd = tempDir();
    const r = run(cwd, [], SECRET_ENV);
    assert.equal(r.code, 0);
    assert.ok(!existsSync(join(cwd, 'dist', SECRETS_FILE)));
    const all = Object.values(readDir(join(cwd, 'dist'))).join('') + r.out;
    for (const v of Object.values(SECRET_ENV)) assert.ok(!all.includes(v));
    assert.match(r.out, /kubectl -n feedkit create secret generic feedkit-rabbitmq-erlang-cookie --from-literal=cookie=/);
  });

  it('GIVEN --write-secrets and the variables WHEN synth runs THEN only dist/secrets.k8s.yaml (mode 600) holds them', () => {
    const cwd = tempDir();
    const r = run(cwd, ['--write-secrets'], SECRET_ENV);
    assert.equal(r.code, 0, r.err);
    const dist = readDir(join(cwd, 'dist'));
    const secretsFile = join(cwd, 'dist', SECRETS_FILE);
    assert.equal(statSync(secretsFile).mode & 0o777, 0o600);
    for (const [f, text] of Object.entries(dist)) {
      if (f === SECRETS_FILE) continue;
      for (const v of Object.values(SECRET_ENV)) assert.ok(!text.includes(v), `${f} holds no secret`);
    }
    const docs = parseAllDocuments(dist[SECRETS_FILE]!).map((d) => d.toJS());
    docs.forEach(validateKubeObject);
    const names = objectNames('feedkit');
    const cookie = docs.find((d) => d.metadata.name === names.erlangCookieSecret);
    assert.equal(cookie.stringData[SecretKeys.ERLANG_COOKIE], SECRET_ENV.FEEDKIT_ERLANG_COOKIE);
    assert.equal(docs.find((d) => d.metadata.name === names.rabbitmqUserSecret).stringData[SecretKeys.PASSWORD], SECRET_ENV.FEEDKIT_RABBITMQ_PASSWORD);
    assert.ok(!r.out.includes(SECRET_ENV.FEEDKIT_ERLANG_COOKIE));
  });

  it('GIVEN --write-secrets with a 31-character cookie WHEN synth runs THEN it is refused naming the field, and nothing is written', () => {
    const cwd = tempDir();
    const r = run(cwd, ['--write-secrets'], { ...SECRET_ENV, FEEDKIT_ERLANG_COOKIE: 'x'.repeat(31) });
    assert.equal(r.code, 1);
    assert.match(r.err, /erlangCookie \(FEEDKIT_ERLANG_COOKIE\)/);
    assert.match(r.err, /shorter than 32/);
    assert.ok(!existsSync(join(cwd, 'dist')));
  });

  it('GIVEN --write-secrets with a variable missing WHEN synth runs THEN the variable is named', () => {
    const cwd = tempDir();
    const { FEEDKIT_POSTGRES_PASSWORD: _, ...rest } = SECRET_ENV;
    const r = run(cwd, ['--write-secrets'], rest);
    assert.equal(r.code, 1);
    assert.match(r.err, /FEEDKIT_POSTGRES_PASSWORD/);
    assert.ok(!existsSync(join(cwd, 'dist')));
  });

  it('GIVEN synthToDirectory WHEN called directly THEN it reports the files it wrote in order', () => {
    const dir = join(tempDir(), 'out');
    const result = synthToDirectory(resolveSpec(), dir);
    assert.equal(result.written.length, 6);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('GIVEN the real CLI process WHEN the spec is bad THEN it exits 1 naming the field and writes nothing', () => {
    const out = join(tempDir(), 'dist');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/synth.ts', '--out', out], {
      cwd: REPO,
      env: { ...cleanEnv(), FEEDKIT_HAPROXY__IMAGE__TAG: 'latest' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /haproxy\.image\.tag/);
    assert.ok(!existsSync(out));
  });
});

/** The environment without FEEDKIT_* variables of the caller. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FEEDKIT_')));
}

describe('npm run synth -- --spec-table', () => {
  it('GIVEN the spec WHEN the table is printed THEN it has one row per spec field with its default, doc and variable', async () => {
    const { specLeaves } = await import('../../shared/index.js');
    const r = run(tempDir(), ['--spec-table']);
    assert.equal(r.code, 0);
    const rows = r.out.split('\n').slice(2);
    assert.equal(rows.length, specLeaves().length);
    assert.ok(rows.some((row) => /^\| `rabbitmq\.queueMode` \| `mirrored` \| How replica queues .+ \| `FEEDKIT_RABBITMQ__QUEUE_MODE` \|$/.test(row)), r.out);
    assert.ok(rows.some((row) => /^\| `postgres\.externalUrl` \| `''` \| URL of an external PostgreSQL .+ \| `FEEDKIT_POSTGRES__EXTERNAL_URL` \|$/.test(row)), r.out);
  });
});
