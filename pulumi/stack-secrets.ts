/**
 * The stack's credentials as secret outputs: each one taken from secret config when the user set
 * it, otherwise a {@link GeneratedSecret} created once and kept in state.
 */
import * as pulumi from '@pulumi/pulumi';
import type { StackSecrets } from '../charts/stack.js';
import type { FeedkitSpec } from '../shared/index.js';
import { GeneratedSecret } from './generated-secret.js';
import { StackConfigKey, type ConfiguredCredentials, type SecretConfigKey } from './stack-config.js';

/** Random bytes per generated secret (base64url text length in the comment). */
export const GENERATED_BYTES: Readonly<Record<SecretConfigKey, number>> = Object.freeze({
  [StackConfigKey.ERLANG_COOKIE]: 36, // 48 characters, above MIN_COOKIE_LENGTH
  [StackConfigKey.RABBITMQ_PASSWORD]: 24, // 32 characters
  [StackConfigKey.POSTGRES_PASSWORD]: 24, // 32 characters
  [StackConfigKey.JWT_SECRET]: 48, // 64 characters, 384 bits for HS256
});

/** Pulumi resource name of the {@link GeneratedSecret} behind each key; changing one regenerates the value. */
export function generatedSecretName(stackName: string, key: SecretConfigKey): string {
  return `${stackName}-${key}`;
}

/**
 * Every credential of the stack. Everything but the user name is a secret output. With
 * `spec.app.jwksUrl` set the app verifies tokens against the JWKS and no JWT secret is made (empty).
 */
export function stackSecrets(spec: FeedkitSpec, configured: ConfiguredCredentials, opts?: pulumi.CustomResourceOptions): StackSecrets<pulumi.Output<string>> {
  const secret = (key: SecretConfigKey): pulumi.Output<string> => {
    const fromConfig = configured.secrets[key];
    if (fromConfig !== undefined) return pulumi.secret(fromConfig);
    // The engine encrypts `value` in state (additionalSecretOutputs); pulumi.secret keeps it secret in this program too.
    return pulumi.secret(new GeneratedSecret(generatedSecretName(spec.name, key), { bytes: GENERATED_BYTES[key] }, opts).value);
  };
  return {
    erlangCookie: secret(StackConfigKey.ERLANG_COOKIE),
    rabbitmqUsername: pulumi.output(configured.rabbitmqUsername),
    rabbitmqPassword: secret(StackConfigKey.RABBITMQ_PASSWORD),
    postgresPassword: secret(StackConfigKey.POSTGRES_PASSWORD),
    jwtSecret: spec.app.jwksUrl === '' ? secret(StackConfigKey.JWT_SECRET) : pulumi.secret(''),
  };
}
