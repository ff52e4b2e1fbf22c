/**
 * `npm run image [-- --base standin|pinned] [--tag <ref>]`: builds the feed app's image with podman
 * from app/Dockerfile and prints the size of each layer it adds, the base and the total.
 *
 * `standin` (the default here, where no registry is reachable) makes the local stand-in for the
 * pinned `node:20-bookworm-slim` when missing (scripts/image/standin-base.ts) and tags
 * `localhost/feedkit/feed-app:<tag>-standin`; `pinned` builds on the Dockerfile's pinned base,
 * pulled from its registry, and tags the spec's image (what the Deployment runs), ready to push.
 */
import { enumFlag, parseCli, parseFlags, STRING } from './cli-args.js';
import { BaseChoice, buildAppImage, defaultTag } from './image/build.js';
import { formatLayerReport } from './image/layers.js';

const USAGE = 'usage: npm run image [-- --base standin|pinned] [--tag <image ref>]';

const { base, tag } = parseCli(USAGE, () => {
  const { values } = parseFlags(process.argv.slice(2), { base: STRING, tag: STRING });
  const b = enumFlag('base', values.base, Object.values(BaseChoice)) ?? BaseChoice.STANDIN;
  return { base: b, tag: values.tag ?? defaultTag(b) };
});

try {
  const built = await buildAppImage(base, tag);
  process.stdout.write(`${built.tag} (base ${built.baseRef}), layers added by app/Dockerfile, newest first:\n`);
  process.stdout.write(`${formatLayerReport(built.layers).join('\n')}\n`);
} catch (e) {
  process.stderr.write(`image: ${(e as Error).message}\n`);
  process.exit(1);
}
