import { createHash } from 'node:crypto';

/** Pod annotation whose value changes with the config, so a config change rolls the pods. */
export const CONFIG_CHECKSUM_ANNOTATION = 'feedkit.io/config-checksum';

/** sha256 of the given config files, in key order (stable for equal content). */
export function configChecksum(data: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256');
  for (const key of Object.keys(data).sort()) hash.update(`${key}\0${data[key]}\0`);
  return hash.digest('hex');
}
