/** Reads the running stack's config from the Pulumi runtime (the only impure part of config handling). */
import * as pulumi from '@pulumi/pulumi';
import type { StackConfigSource } from './stack-config.js';

/** Shape of the runtime's `isConfigSecret`, exported at runtime but marked internal in the typings. */
type IsConfigSecret = (fullKey: string) => boolean;

/** The config of the stack being deployed (`pulumi up`) or mocked (`pulumi.runtime.setAllConfig`). */
export function currentStackConfig(): StackConfigSource {
  const values = pulumi.runtime.allConfig();
  const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: IsConfigSecret }).isConfigSecret;
  if (typeof isConfigSecret !== 'function') {
    // Without it a plain-text secret could not be told apart; fail loudly rather than accept it.
    throw new pulumi.RunError('this @pulumi/pulumi version does not expose runtime.isConfigSecret; pin @pulumi/pulumi to the version in package.json');
  }
  return { values, secretKeys: new Set(Object.keys(values).filter((k) => isConfigSecret(k))) };
}
