/** System packages the twin needs: installed with apt-get when running as root, otherwise named with the command. */
import { existsSync } from 'node:fs';
import { spinner } from 'zx';
import { run } from '../shell.js';
import { HAPROXY_BIN } from './haproxy.js';
import { POSTGRES_BIN_DIR } from './postgres.js';
import { RABBITMQ_BIN_DIR } from './rabbitmq.js';
import { progress } from './process.js';

/** One program the twin runs, and the Debian package that provides it. */
export interface SystemRequirement {
  readonly what: string;
  /** Absolute path that must exist. */
  readonly path: string;
  readonly debianPackage: string;
}

export const SYSTEM_REQUIREMENTS: readonly SystemRequirement[] = Object.freeze([
  { what: 'RabbitMQ server 3.x', path: `${RABBITMQ_BIN_DIR}/rabbitmq-server`, debianPackage: 'rabbitmq-server' },
  { what: 'Erlang port mapper (epmd)', path: '/usr/bin/epmd', debianPackage: 'erlang-base' },
  { what: 'HAProxy', path: HAPROXY_BIN, debianPackage: 'haproxy' },
  { what: 'PostgreSQL 15 server', path: `${POSTGRES_BIN_DIR}/postgres`, debianPackage: 'postgresql-15' },
  { what: 'runuser', path: '/usr/sbin/runuser', debianPackage: 'util-linux' },
  // The app image test: build and run the image, and make its stand-in base (no registry here).
  { what: 'podman', path: '/usr/bin/podman', debianPackage: 'podman' },
  { what: 'runc (crun refuses cgroups in hybrid mode)', path: '/usr/sbin/runc', debianPackage: 'runc' },
  { what: 'debootstrap', path: '/usr/sbin/debootstrap', debianPackage: 'debootstrap' },
  // The container reaches the test's RabbitMQ and PostgreSQL (loopback only) through its host loopback.
  { what: 'slirp4netns', path: '/usr/bin/slirp4netns', debianPackage: 'slirp4netns' },
]);

/** Programs the tests run on rendered files besides the twin's: promtool checks the alerting rules. */
export const CHECK_REQUIREMENTS: readonly SystemRequirement[] = Object.freeze([
  { what: 'promtool (Prometheus rule checks)', path: '/usr/bin/promtool', debianPackage: 'prometheus' },
]);

/** What the chaos suite's `partition` scenario adds: iptables rules and `ss` to find a node's connections. */
export const PARTITION_REQUIREMENTS: readonly SystemRequirement[] = Object.freeze([
  { what: 'iptables', path: '/usr/sbin/iptables', debianPackage: 'iptables' },
  { what: 'ss (socket statistics)', path: '/usr/bin/ss', debianPackage: 'iproute2' },
]);

/** Requirements whose program is missing. */
export function missingRequirements(requirements: readonly SystemRequirement[] = SYSTEM_REQUIREMENTS): SystemRequirement[] {
  return requirements.filter((r) => !existsSync(r.path));
}

/** The command that installs `pkgs`. */
export function installCommand(pkgs: readonly string[]): string {
  return `sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`;
}

/**
 * Runs `work` under zx's `spinner` when stderr is a terminal; in a log (CI, a test, a file) the
 * spinner's carriage returns would be noise, so there it just runs.
 */
export async function onTerminal<T>(title: string, work: () => Promise<T>, stream: { readonly isTTY?: boolean } = process.stderr): Promise<T> {
  return stream.isTTY ? await spinner(title, work) : await work();
}

/** Installs what is missing when root; otherwise throws naming the packages and the install command. */
export async function ensureSystemPackages(requirements: readonly SystemRequirement[] = SYSTEM_REQUIREMENTS): Promise<void> {
  const missing = missingRequirements(requirements);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.debianPackage))];
  const list = missing.map((m) => `${m.what} (${m.path}, package ${m.debianPackage})`).join('; ');
  if (process.getuid?.() !== 0) {
    throw new Error(`missing: ${list}. Fix: ${installCommand(pkgs)}`);
  }
  progress(`installing missing system packages: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await onTerminal(`apt-get install ${pkgs.join(' ')}`, async () => {
    await run('apt-get', ['update'], { timeoutMs: 10 * 60_000, env });
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { timeoutMs: 20 * 60_000, env });
  });
  const still = missingRequirements(requirements);
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.map((m) => m.path).join(', ')}`);
}
