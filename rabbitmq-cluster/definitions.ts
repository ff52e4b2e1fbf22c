/**
 * The definitions RabbitMQ imports at boot (`load_definitions`): the vhost, the `post_feed` topic
 * exchange and, in mirrored mode, the HA policy. Importing at every boot is what makes them
 * declarative: a fresh cluster and a re-created node both get them with nobody running rabbitmqctl.
 * No users here (that would put a secret in a ConfigMap); see {@link renderDefaultUserDefinitions}.
 */
import { EXCHANGE, EXCHANGE_TYPE, MIRRORED_POLICY_DEFINITION, QueueMode, type FeedkitSpec } from '../shared/index.js';

/** File name of {@link renderDefinitions}'s output inside the definitions directory. */
export const DEFINITIONS_FILE = 'definitions.json';

/** The vhost everything lives in. */
export const VHOST = '/';

export interface VhostDefinition {
  readonly name: string;
}

export interface ExchangeDefinition {
  readonly name: string;
  readonly vhost: string;
  readonly type: string;
  readonly durable: boolean;
  readonly auto_delete: boolean;
  readonly internal: boolean;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** What a policy applies to. */
export enum PolicyApplyTo {
  QUEUES = 'queues',
  EXCHANGES = 'exchanges',
  ALL = 'all',
}

export interface PolicyDefinition {
  readonly vhost: string;
  readonly name: string;
  readonly pattern: string;
  readonly 'apply-to': PolicyApplyTo;
  readonly definition: Readonly<Record<string, string | number | boolean>>;
  readonly priority: number;
}

/** The subset of the RabbitMQ definitions format feedkit writes. */
export interface RabbitmqDefinitions {
  readonly vhosts: readonly VhostDefinition[];
  readonly exchanges: readonly ExchangeDefinition[];
  readonly policies: readonly PolicyDefinition[];
}

/** Builds the definitions: vhost, exchange, and the `ha-mode=all` policy in mirrored mode only. */
export function buildDefinitions(spec: FeedkitSpec): RabbitmqDefinitions {
  const policy = spec.rabbitmq.policy;
  return {
    vhosts: [{ name: VHOST }],
    exchanges: [
      { name: EXCHANGE, vhost: VHOST, type: EXCHANGE_TYPE, durable: true, auto_delete: false, internal: false, arguments: {} },
    ],
    // Quorum queues are declared `x-queue-type: quorum` by the app; an ha-mode policy would be
    // rejected by RabbitMQ 4.x and does nothing to quorum queues.
    policies:
      spec.rabbitmq.queueMode === QueueMode.MIRRORED
        ? [
            {
              vhost: VHOST,
              name: policy.name,
              pattern: policy.pattern,
              'apply-to': PolicyApplyTo.QUEUES,
              definition: { ...MIRRORED_POLICY_DEFINITION, 'ha-sync-mode': policy.haSyncMode },
              priority: policy.priority,
            },
          ]
        : [],
  };
}

/** `definitions.json`: sorted keys, 2-space indent, trailing newline (byte-stable across runs). */
export function renderDefinitions(spec: FeedkitSpec): string {
  return stableJson(buildDefinitions(spec));
}

/** JSON with object keys sorted at every level; arrays keep their order. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
