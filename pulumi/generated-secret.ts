/**
 * A random secret generated once, in the provider's `create`, and then kept in the stack's state.
 *
 * Why a dynamic resource rather than `@pulumi/random`'s RandomPassword: random needs its provider
 * plugin binary, which its npm install downloads and this build machine cannot fetch. The
 * trade-off: dynamic providers run in Pulumi's nodejs dynamic provider host (shipped with the CLI),
 * their code is serialized into the state, and they are not supported on the Bun runtime; there is
 * no `keepers` input — rotate with `pulumi up --replace <urn>` (for the erlang cookie only with a
 * full cluster restart: nodes with different cookies cannot cluster).
 */
import nodeCrypto from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';

/** Props of {@link GeneratedSecret}. */
export interface GeneratedSecretProps {
  /**
   * Random bytes drawn; the value is their base64url text (`ceil(bytes * 4 / 3)` characters,
   * letters, digits, `-` and `_`, safe in URLs, `rabbitmq.conf` and an erlang cookie).
   */
  readonly bytes: number;
}

/** Outputs the provider keeps in state. */
export interface GeneratedSecretOutputs {
  readonly bytes: number;
  readonly value: string;
}

/** Smallest {@link GeneratedSecretProps.bytes} accepted: 128 bits. */
export const MIN_GENERATED_BYTES = 16;

/**
 * The CRUD of {@link GeneratedSecret}. `diff` never reports a change, so the value survives every
 * later `pulumi up`, even one that changes `bytes`. Built only from `nodeCrypto` (the module
 * object, which the closure serializer rewrites to `require("crypto")`), so it serializes.
 */
export const generatedSecretProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: GeneratedSecretProps): Promise<pulumi.dynamic.CreateResult> {
    const outs: GeneratedSecretOutputs = { bytes: inputs.bytes, value: nodeCrypto.randomBytes(inputs.bytes).toString('base64url') };
    return { id: nodeCrypto.randomUUID(), outs };
  },
  async diff(): Promise<pulumi.dynamic.DiffResult> {
    return { changes: false };
  },
};

/** A secret value generated on first `pulumi up` and stable afterwards; {@link value} is a secret output. */
export class GeneratedSecret extends pulumi.dynamic.Resource {
  /** The generated text; marked secret in state (additionalSecretOutputs) and in the program. */
  declare readonly value: pulumi.Output<string>;

  constructor(name: string, props: GeneratedSecretProps, opts?: pulumi.CustomResourceOptions) {
    if (!Number.isInteger(props.bytes) || props.bytes < MIN_GENERATED_BYTES) {
      throw new pulumi.RunError(`GeneratedSecret "${name}": bytes=${props.bytes} is too small. Fix: use a whole number of at least ${MIN_GENERATED_BYTES}`);
    }
    super(
      generatedSecretProvider,
      name,
      { bytes: props.bytes, value: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), 'value'] },
      'feedkit',
      'GeneratedSecret',
    );
  }
}
