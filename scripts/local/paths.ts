/** Where the local twin keeps its files (git-ignored). */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Work folder of the local twin: rendered configs, data dirs, logs, pids. Override with FEEDKIT_WORKDIR. */
export const TWIN_DIR = process.env['FEEDKIT_WORKDIR'] ?? join(REPO_ROOT, '.local', 'twin');

/** JSON state of a running twin (pids, ports, URLs, the generated JWT secret). */
export const TWIN_STATE_FILE = join(TWIN_DIR, 'state.json');

/** The fields of the twin state other scripts (token, chaos, bench) read. The twin may add more. */
export interface TwinStateBase {
  /** HS256 secret the twin's app replicas verify tokens with. */
  readonly jwtSecret: string;
}
