/**
 * Mints a dev JWT: `npm run token -- <userId> [--ttl <seconds>]`. The token is the LAST line of
 * stdout. Signed with JWT_SECRET when set, else with the running local twin's secret.
 */
import { existsSync, readFileSync } from 'node:fs';
import { AppEnv } from '../shared/index.js';
import { ID_PATTERN } from '../app/src/config.js';
import { signToken } from '../app/src/auth/jwt.js';
import { numberFlag, parseCli, parseFlags, STRING, UsageError } from './cli-args.js';
import { TWIN_STATE_FILE, type TwinStateBase } from './local/paths.js';

const DEFAULT_TTL_SECONDS = 3600;

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(1);
}

const USAGE = 'usage: npm run token -- <userId> [--ttl <seconds>]   (the token is the last line of stdout)';

/** Parses argv (without node and script). Throws a {@link UsageError}. */
function parseTokenArgs(argv: readonly string[]): { userId: string; ttl: number } {
  const { values, positionals } = parseFlags(argv, { ttl: STRING }, { positionals: true });
  const ttl = numberFlag('ttl', values.ttl, { min: 1, integer: true }, DEFAULT_TTL_SECONDS);
  const [userId, ...extra] = positionals;
  if (userId === undefined) throw new UsageError('missing user id');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"; give exactly one user id`);
  if (!ID_PATTERN.test(userId)) throw new UsageError(`user id "${userId}" is not valid: letters, digits and _ . @ : -, at most 128`);
  return { userId, ttl };
}

function secret(): string {
  const env = process.env[AppEnv.JWT_SECRET];
  if (env !== undefined && env !== '') return env;
  if (existsSync(TWIN_STATE_FILE)) {
    let state: Partial<TwinStateBase>;
    try {
      state = JSON.parse(readFileSync(TWIN_STATE_FILE, 'utf8')) as Partial<TwinStateBase>;
    } catch (e) {
      fail(`cannot read ${TWIN_STATE_FILE}: ${(e as Error).message}`);
    }
    if (typeof state.jwtSecret === 'string' && state.jwtSecret !== '') return state.jwtSecret;
    fail(`${TWIN_STATE_FILE} has no jwtSecret; restart the twin (npm run local -- up) or set ${AppEnv.JWT_SECRET}`);
  }
  fail(`no secret: set ${AppEnv.JWT_SECRET}, or start the local twin (npm run local -- up) so ${TWIN_STATE_FILE} exists`);
}

const { userId, ttl } = parseCli(USAGE, () => parseTokenArgs(process.argv.slice(2)));
const key = secret();
process.stderr.write(`token: user ${userId}, expires in ${ttl} s\n`);
process.stdout.write(`${await signToken(key, userId, ttl)}\n`);
