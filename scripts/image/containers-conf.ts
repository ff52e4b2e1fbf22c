/**
 * Podman's engine settings on these machines: `crun` refuses (cgroups in hybrid mode) and podman's
 * default ulimits are refused, so containers run with `runc`, the `cgroupfs` manager and explicit
 * `nofile`/`nproc` limits. Written once by `npm test`'s setup; never overwrites a file it did not write.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { progress } from '../local/process.js';

/** Where podman reads the machine's settings. */
export const CONTAINERS_CONF = '/etc/containers/containers.conf';

/** Open files a container may hold: the twin's budget (a process may open 20,000 files here). */
export const CONTAINER_NOFILE = 20_000;

/** Processes (threads) per container user. */
export const CONTAINER_NPROC = 4096;

/** The settings, keyed by their section, each as the TOML line podman needs. */
export const CONTAINERS_SETTINGS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  containers: [`default_ulimits = ["nofile=${CONTAINER_NOFILE}:${CONTAINER_NOFILE}", "nproc=${CONTAINER_NPROC}:${CONTAINER_NPROC}"]`],
  engine: ['runtime = "runc"', 'cgroup_manager = "cgroupfs"'],
});

/** The file feedkit writes. */
export function renderContainersConf(): string {
  const sections = Object.entries(CONTAINERS_SETTINGS).map(([name, lines]) => `[${name}]\n${lines.join('\n')}\n`);
  return `# Written by feedkit's setup (scripts/image/containers-conf.ts): runc, cgroupfs, explicit ulimits.\n${sections.join('\n')}`;
}

/** Settings lines `text` lacks (compared line by line, ignoring spaces around them). */
export function missingSettings(text: string): string[] {
  const lines = new Set(text.split('\n').map((l) => l.trim()));
  return Object.values(CONTAINERS_SETTINGS).flat().filter((l) => !lines.has(l));
}

/** The command that writes the file, for a user who is not root. */
export function containersConfCommand(path = CONTAINERS_CONF): string {
  return `sudo mkdir -p ${dirname(path)} && sudo tee ${path} >/dev/null <<'EOF'\n${renderContainersConf()}EOF`;
}

/**
 * Writes {@link renderContainersConf} to `path` when it is missing. A file that already holds every
 * setting is left alone; one that lacks some is someone else's and stops setup naming the lines.
 */
export function ensureContainersConf(path = CONTAINERS_CONF, isRoot = process.getuid?.() === 0): void {
  if (existsSync(path)) {
    const missing = missingSettings(readFileSync(path, 'utf8'));
    if (missing.length === 0) return;
    throw new Error(`${path} lacks podman settings these machines need: ${missing.join('; ')}. Fix: add them to their sections ([containers], [engine]), or move the file away and rerun`);
  }
  if (!isRoot) throw new Error(`missing: ${path} (podman on these machines needs runc, cgroupfs and explicit ulimits). Fix:\n${containersConfCommand(path)}`);
  progress(`writing ${path} (runc, cgroupfs, nofile=${CONTAINER_NOFILE}, nproc=${CONTAINER_NPROC})`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderContainersConf());
}
