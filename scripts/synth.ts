/**
 * `npm run synth`: spec (defaults ← --spec file / FEEDKIT_SPEC_FILE ← FEEDKIT_* env) → one
 * `dist/<file>.k8s.yaml` per chart. Secrets are referenced by name and the commands to create
 * them are printed; `--write-secrets` writes them from the environment to `dist/secrets.k8s.yaml`
 * (mode 600), never into the chart files. A bad spec prints the error and writes nothing.
 *
 *   npm run synth [-- --spec overrides.yaml] [-- --out DIR] [-- --write-secrets]
 */
import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chalk } from 'zx';
import { BOOLEAN, parseFlags, parseOrExitCode, STRING } from './cli-args.js';
import { ENV_PREFIX, SPEC_JSON_SCHEMA_FILE, SpecError, appEnvTable, mergeOverrides, overridesFromEnv, parseOverrides, resolveSpec, specJsonSchemaText, specTable, type FeedkitSpec } from '../shared/index.js';
import { RenderInputError } from '../shared/index.js';
import {
  SecretError,
  renderChartYaml,
  renderManifestsYaml,
  secretInstructions,
  secretManifests,
  secretsFromEnv,
  synthStack,
  validateSecrets,
  type StackSecrets,
} from '../charts/stack.js';

/** File the secrets go to with --write-secrets (inside the output directory). */
export const SECRETS_FILE = 'secrets.k8s.yaml';

/** Suffix of every file synth owns in the output directory. */
export const MANIFEST_SUFFIX = '.k8s.yaml';

/** What {@link synthToDirectory} did. */
export interface SynthResult {
  /** Chart files written, in dependency order (absolute paths). */
  readonly written: readonly string[];
  /** Old chart files removed because no chart produces them any more. */
  readonly removed: readonly string[];
  /** The secrets file, when secrets were given. */
  readonly secretsFile?: string;
}

/**
 * Writes one file per chart to `outDir` (and the secrets file when `secrets` is given). Everything
 * is rendered and validated before the first byte is written; each file is written to a temp file
 * and renamed, so a failure leaves no half-written file. Old chart files are removed.
 */
export function synthToDirectory(spec: FeedkitSpec, outDir: string, secrets?: StackSecrets<string>): SynthResult {
  const files = synthStack(spec).map((chart) => ({ name: chart.fileName, text: renderChartYaml(chart), mode: 0o644 }));
  if (secrets) {
    validateSecrets(spec, secrets);
    files.push({ name: SECRETS_FILE, text: renderManifestsYaml(secretManifests(spec, secrets)), mode: 0o600 });
  }
  mkdirSync(outDir, { recursive: true });
  const temps: string[] = [];
  try {
    for (const f of files) {
      const tmp = join(outDir, `.${f.name}.${process.pid}.tmp`);
      temps.push(tmp);
      writeFileSync(tmp, f.text, { mode: f.mode });
      chmodSync(tmp, f.mode);
    }
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    throw e;
  }
  const keep = new Set([...files.map((f) => f.name), SECRETS_FILE]);
  const removed: string[] = [];
  for (const name of readdirSync(outDir)) {
    if (name.endsWith(MANIFEST_SUFFIX) && !keep.has(name)) {
      rmSync(join(outDir, name), { force: true });
      removed.push(join(outDir, name));
    }
  }
  files.forEach((f, i) => renameSync(temps[i]!, join(outDir, f.name)));
  const written = files.filter((f) => f.name !== SECRETS_FILE).map((f) => join(outDir, f.name));
  return { written, removed, ...(secrets ? { secretsFile: join(outDir, SECRETS_FILE) } : {}) };
}

/** Loads the spec: defaults ← overrides file (`specFile`, else FEEDKIT_SPEC_FILE) ← FEEDKIT_* env (env wins). */
export function loadSpec(env: Readonly<Record<string, string | undefined>>, cwd: string, specFile?: string): FeedkitSpec {
  const file = specFile ?? env[`${ENV_PREFIX}SPEC_FILE`];
  let fromFile = {};
  if (file !== undefined && file !== '') {
    const path = isAbsolute(file) ? file : resolve(cwd, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new SpecError('(file)', `cannot read the overrides file ${file}: ${(e as Error).message}`, 'pass an existing YAML or JSON file with --spec or FEEDKIT_SPEC_FILE');
    }
    fromFile = parseOverrides(text, file);
  }
  return resolveSpec(mergeOverrides(fromFile, overridesFromEnv(env)));
}

export const SYNTH_USAGE = `usage: npm run synth -- [--spec FILE] [--out DIR] [--write-secrets] [--spec-table] [--env-table] [--json-schema]
  --spec FILE       YAML or JSON spec overrides (or FEEDKIT_SPEC_FILE); FEEDKIT_* variables override it
  --out DIR         output directory (default dist)
  --write-secrets   also write dist/secrets.k8s.yaml (mode 600) from FEEDKIT_ERLANG_COOKIE, FEEDKIT_RABBITMQ_PASSWORD,
                    FEEDKIT_POSTGRES_PASSWORD, FEEDKIT_JWT_SECRET (or FEEDKIT_WRITE_SECRETS=true)
  --spec-table      print the Markdown table of spec fields, defaults and variables, and exit
  --env-table       print the Markdown table of the feed app's environment variables, and exit
  --json-schema     print the JSON Schema of spec files (committed as ${SPEC_JSON_SCHEMA_FILE}), and exit`;

/** The CLI; returns the exit code (2 on a bad flag). `log`/`err` receive whole lines. */
export function main(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  err: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): number {
  const parsed = parseOrExitCode(
    SYNTH_USAGE,
    () => parseFlags(args, { spec: STRING, out: STRING, 'write-secrets': BOOLEAN, 'spec-table': BOOLEAN, 'env-table': BOOLEAN, 'json-schema': BOOLEAN }).values,
    { log, err },
  );
  if (!parsed.ok) return parsed.exitCode;
  const opts = parsed.value;
  if (opts['spec-table']) {
    log(specTable().trimEnd());
    return 0;
  }
  if (opts['env-table']) {
    log(appEnvTable().trimEnd());
    return 0;
  }
  if (opts['json-schema']) {
    log(specJsonSchemaText().trimEnd());
    return 0;
  }
  try {
    const spec = loadSpec(env, cwd, opts.spec);
    const writeSecrets = opts['write-secrets'] === true || env[`${ENV_PREFIX}WRITE_SECRETS`] === 'true';
    const secrets = writeSecrets ? secretsFromEnv(spec, env) : undefined;
    const outDir = resolve(cwd, opts.out ?? 'dist');
    const result = synthToDirectory(spec, outDir, secrets);
    const show = (p: string) => relative(cwd, p) || p;
    for (const p of result.removed) log(`removed ${show(p)} (no chart produces it any more)`);
    for (const p of result.written) log(`wrote ${show(p)}`);
    if (result.secretsFile) {
      log(chalk.yellow(`wrote ${show(result.secretsFile)} (mode 600; holds secret values: never commit or share it)`));
    } else {
      log('');
      log(secretInstructions(spec).trimEnd());
    }
    return 0;
  } catch (e) {
    if (e instanceof SpecError || e instanceof SecretError || e instanceof RenderInputError) {
      err(chalk.red(`synth: ${e.message}`));
      err('Nothing was written.');
      return 1;
    }
    throw e;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2), process.env, process.cwd());
}
