/** Builds the app image with podman from app/Dockerfile and measures its layers against its base. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SPEC, imageRef } from '../../shared/index.js';
import { REPO_ROOT } from '../local/paths.js';
import { progress } from '../local/process.js';
import { onTerminal } from '../local/system.js';
import { run } from '../shell.js';
import { layerReport, parseHistory, type LayerReport } from './layers.js';
import { ensureStandinBase, standinBaseRef } from './standin-base.js';

/** The Dockerfile, relative to the repository root (the build context). */
export const DOCKERFILE = 'app/Dockerfile';

/** The build argument that chooses the base. */
export const BASE_BUILD_ARG = 'NODE_IMAGE';

/** Which base: the local stand-in (made when missing) or the Dockerfile's pinned official image. */
export const BaseChoice = { STANDIN: 'standin', PINNED: 'pinned' } as const;
export type BaseChoice = (typeof BaseChoice)[keyof typeof BaseChoice];

/** The default of `ARG NODE_IMAGE=` in the Dockerfile `text`: the pinned base, written once there. */
export function pinnedBase(text: string): string {
  const m = new RegExp(`^ARG ${BASE_BUILD_ARG}=(\\S+)\\s*$`, 'm').exec(text);
  if (!m) throw new Error(`${DOCKERFILE} has no "ARG ${BASE_BUILD_ARG}=<image>" line naming its pinned base`);
  return m[1]!;
}

/**
 * The tag for an image built on `base`: the spec's image (what the Deployment runs) on the pinned
 * base; on the stand-in a `localhost/` name, since that base carries this machine's CA bundle and must
 * not be pushed as the real image by mistake.
 */
export function defaultTag(base: BaseChoice): string {
  const ref = imageRef(DEFAULT_SPEC.app.image);
  if (base === BaseChoice.PINNED) return ref;
  return `localhost/feedkit/feed-app:${DEFAULT_SPEC.app.image.tag}-standin`;
}

/** A built image and its layers. */
export interface BuiltImage {
  readonly tag: string;
  readonly baseRef: string;
  readonly layers: LayerReport;
}

async function history(ref: string) {
  return parseHistory(await run('podman', ['history', '--format', 'json', ref], { timeoutMs: 60_000 }));
}

/** Builds the image (layer cache on: an unchanged tree takes seconds) and measures it. */
export async function buildAppImage(base: BaseChoice = BaseChoice.STANDIN, tag = defaultTag(base)): Promise<BuiltImage> {
  const baseRef = base === BaseChoice.STANDIN ? await ensureStandinBase(standinBaseRef()) : pinnedBase(readFileSync(join(REPO_ROOT, DOCKERFILE), 'utf8'));
  progress(`podman build -f ${DOCKERFILE} (base ${baseRef}) -t ${tag}`);
  const args = ['build', '-f', DOCKERFILE, '--ignorefile', `${DOCKERFILE}.dockerignore`, '--build-arg', `${BASE_BUILD_ARG}=${baseRef}`, '-t', tag, '.'];
  await onTerminal(`podman build ${tag}`, () => run('podman', args, { cwd: REPO_ROOT, timeoutMs: 30 * 60_000 }));
  return { tag, baseRef, layers: layerReport(await history(tag), await history(baseRef)) };
}
