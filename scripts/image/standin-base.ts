/**
 * The local stand-in for `node:20-bookworm-slim`: no image registry is reachable here, so the base is
 * made from Debian's packages (`debootstrap --variant=minbase bookworm`) with this machine's Node 20
 * copied to /usr/local and the image's user `node` (uid 1000), as in the official image.
 *
 * The npm registry is reached through TLS interception here, so the stand-in also carries this
 * machine's CA bundle (npm's `cafile`) and `NODE_EXTRA_CA_CERTS`: the build stage's `npm ci` needs
 * them. They exist in this base only; the Dockerfile never adds them, so what users build from the
 * real base has neither.
 */
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from '../shell.js';
import { progress } from '../local/process.js';

/** Uid and gid of the image's `node` user (the official image's, and the Deployment's runAsUser). */
export const NODE_UID = 1000;

/** Where the stand-in keeps the CA bundle it is given. */
export const STANDIN_CA_FILE = '/usr/local/share/feedkit-local-ca.crt';

/** The Debian release the official `node:20-bookworm-slim` is built on. */
export const DEBIAN_SUITE = 'bookworm';

/** Local name of the stand-in for this machine's Node version; `localhost/` so it can never be pulled or pushed by mistake. */
export function standinBaseRef(nodeVersion = process.version): string {
  return `localhost/feedkit/node-standin:${nodeVersion.replace(/^v/, '')}-${DEBIAN_SUITE}`;
}

/** Where to take Node and npm from, and the CA bundle to trust (none: the machine needs none). */
export interface StandinSources {
  /** The node binary. @default this process's */
  readonly nodeBin?: string;
  /** npm's package folder. @default next to the node binary: ../lib/node_modules/npm */
  readonly npmDir?: string;
  /** CA bundle for the build stage's `npm ci` (npm's `cafile`). @default none */
  readonly caFile?: string;
}

/** The `--change` instructions of the stand-in's image config. */
export function standinChanges(caFile: string | undefined): string[] {
  return [
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...(caFile !== undefined ? [`ENV NODE_EXTRA_CA_CERTS=${STANDIN_CA_FILE}`] : []),
    'CMD ["node"]',
  ];
}

/** npm's `cafile` on this machine, or undefined when npm trusts the default roots. */
export async function npmCaFile(): Promise<string | undefined> {
  const out = (await run('npm', ['config', 'get', 'cafile'], { timeoutMs: 30_000 })).trim();
  return out === '' || out === 'null' || out === 'undefined' || !existsSync(out) ? undefined : out;
}

async function podmanImageExists(ref: string): Promise<boolean> {
  try {
    await run('podman', ['image', 'exists', ref], { timeoutMs: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** Node, npm, the `node` user and the CA bundle into the debootstrapped tree `root`. */
function furnish(root: string, sources: Required<Pick<StandinSources, 'nodeBin' | 'npmDir'>> & StandinSources): void {
  const bin = join(root, 'usr/local/bin');
  mkdirSync(bin, { recursive: true });
  copyFileSync(sources.nodeBin, join(bin, 'node'));
  cpSync(sources.npmDir, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true, dereference: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(bin, 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(bin, 'npx'));
  appendFileSync(join(root, 'etc/group'), `node:x:${NODE_UID}:\n`);
  appendFileSync(join(root, 'etc/passwd'), `node:x:${NODE_UID}:${NODE_UID}::/home/node:/bin/sh\n`);
  mkdirSync(join(root, 'home/node'), { recursive: true });
  if (sources.caFile !== undefined) copyFileSync(sources.caFile, join(root, STANDIN_CA_FILE));
  // Package lists and caches: nothing in the image installs with apt, the official slim image drops them too.
  for (const d of ['var/lib/apt/lists', 'var/cache/apt']) rmSync(join(root, d), { recursive: true, force: true });
}

/**
 * Makes the stand-in base `ref` unless podman has it already. Takes ~35 s for debootstrap plus the
 * import; the tree is built under `workDir` and removed afterwards.
 */
export async function ensureStandinBase(ref = standinBaseRef(), workDir = '/var/tmp', sources: StandinSources = {}): Promise<string> {
  if (await podmanImageExists(ref)) return ref;
  const nodeBin = sources.nodeBin ?? process.execPath;
  const npmDir = sources.npmDir ?? join(dirname(dirname(nodeBin)), 'lib/node_modules/npm');
  const caFile = 'caFile' in sources ? sources.caFile : await npmCaFile();
  const dir = mkdtempSync(join(workDir, 'feedkit-standin-'));
  const root = join(dir, 'rootfs');
  try {
    progress(`making the stand-in base ${ref}: debootstrap --variant=minbase ${DEBIAN_SUITE} (~35 s)`);
    await run('debootstrap', ['--variant=minbase', DEBIAN_SUITE, root], { timeoutMs: 15 * 60_000 });
    furnish(root, { nodeBin, npmDir, ...(caFile !== undefined ? { caFile } : {}) });
    const tarball = join(dir, 'rootfs.tar');
    await run('tar', ['--numeric-owner', '-C', root, '-cf', tarball, '.'], { timeoutMs: 10 * 60_000 });
    const changes = standinChanges(caFile).flatMap((c) => ['--change', c]);
    await run('podman', ['import', ...changes, tarball, ref], { timeoutMs: 10 * 60_000 });
    progress(`stand-in base ${ref} ready (Node ${process.version}${caFile !== undefined ? `, CA bundle ${caFile}` : ''})`);
    return ref;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
