/**
 * Mints a dev JWT: `npm run token -- <userId> [--ttl <seconds>]`. The token is the LAST line of
 * stdout. Signed with JWT_SECRET when set, else with the running local twin's secret.
 */
import { existsSync, readFileSync } from 'node:fs';
import { AppEnv } from '../shared/index.js';
import { ID_PATTERN } from '../app/src/config.js';
import { signToken } from '../app/src/auth/jwt.js';
import { TWIN_STATE_FILE, type TwinStateBase } from './local/paths.js';

const DEFAULT_TTL_SECONDS = 3600;

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv: readonly string[]): { userId: string; ttl: number } {
  let userId: string | undefined;
  let ttl = DEFAULT_TTL_SECONDS;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--ttl' || a.startsWith('--ttl=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) fail(`--ttl must be a whole number of seconds ≥ 1, got "${v ?? ''}"`);
      ttl = Number(v);
    } else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run token -- <userId> [--ttl <seconds>]\n');
      process.exit(0);
    } else if (a.startsWith('-')) {
      fail(`unknown option "${a}"; usage: npm run token -- <userId> [--ttl <seconds>]`);
    } else if (userId === undefined) {
      userId = a;
    } else {
      fail(`unexpected argument "${a}"; give exactly one user id`);
    }
  }
  if (userId === undefined) fail('missing user id; usage: npm run token -- <userId> [--ttl <seconds>]');
  if (!ID_PATTERN.test(userId)) fail(`user id "${userId}" is not valid: letters, digits and _ . @ : -, at most 128`);
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

const { userId, ttl } = parseArgs(process.argv.slice(2));
const key = secret();
process.stderr.write(`token: user ${userId}, expires in ${ttl} s\n`);
process.stdout.write(`${await signToken(key, userId, ttl)}\n`);
