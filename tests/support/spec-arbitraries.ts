/**
 * fast-check arbitraries of spec overrides: valid ones (every value in range and the cross-field
 * rules kept), and single bad values at a known path, derived from the spec's JSON Schema so that
 * every leaf of the schema is covered without a second list of fields.
 */
import fc from 'fast-check';
import { QueueMode, specJsonSchema, specLeaves, type SpecOverrides } from '../../shared/index.js';

const quantity = (unit: string, max: number) => fc.integer({ min: 1, max }).map((n) => `${n}${unit}`);
const image = (repository: string) =>
  fc.record({ repository: fc.constant(repository), tag: fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}(-[a-z]{1,8})?$/) }, { requiredKeys: [] });
const resources = fc.record(
  { cpuRequest: quantity('m', 4000), cpuLimit: fc.oneof(fc.constant(''), quantity('m', 8000)), memoryRequest: quantity('Mi', 4096), memoryLimit: quantity('Gi', 16) },
  { requiredKeys: [] },
);
const dnsLabel = (max: number) => fc.stringMatching(new RegExp(`^[a-z]([a-z0-9-]{0,${max - 2}}[a-z0-9])?$`));

/** RabbitMQ: a 4.x version only with quorum queues (mirroring was removed in 4.0). */
const rabbitmq = fc
  .tuple(fc.constantFrom('3.13.7', '3.12.14', '4.0.5', '4.1.2'), fc.constantFrom(QueueMode.MIRRORED, QueueMode.QUORUM))
  .chain(([version, mode]) =>
    fc.record(
      {
        version: fc.constant(version),
        queueMode: fc.constant(version.startsWith('4.') ? QueueMode.QUORUM : mode),
        replicas: fc.constantFrom(3, 5, 7, 9),
        image: image('docker.io/library/rabbitmq'),
        storageSize: quantity('Gi', 500),
        resources,
        queueExpiresMs: fc.integer({ min: 10_000, max: 7 * 24 * 3600_000 }),
        policy: fc.record({ priority: fc.integer({ min: 0, max: 255 }), haSyncMode: fc.constantFrom('automatic' as const, 'manual' as const) }, { requiredKeys: [] }),
      },
      { requiredKeys: ['version', 'queueMode'] },
    ),
  );

/** HAProxy: the idle timeout always longer than two heartbeats. */
const haproxy = fc.integer({ min: 5, max: 600 }).chain((heartbeat) =>
  fc.record(
    {
      amqpHeartbeatSeconds: fc.constant(heartbeat),
      idleTimeoutSeconds: fc.integer({ min: 2 * heartbeat + 1, max: 86_400 }),
      replicas: fc.integer({ min: 2, max: 20 }),
      resources,
      image: image('docker.io/library/haproxy'),
    },
    { requiredKeys: ['amqpHeartbeatSeconds', 'idleTimeoutSeconds'] },
  ),
);

/** The app: maxReplicas never below minReplicas. */
const app = fc.integer({ min: 1, max: 1000 }).chain((min) =>
  fc.record(
    {
      replicas: fc.integer({ min: 1, max: 1000 }),
      autoscaling: fc.record({ enabled: fc.boolean(), minReplicas: fc.constant(min), maxReplicas: fc.integer({ min, max: 1000 }), targetCpuUtilizationPercent: fc.integer({ min: 1, max: 100 }) }),
      prefetch: fc.integer({ min: 1, max: 65_535 }),
      port: fc.integer({ min: 1024, max: 65_535 }),
      terminationGracePeriodSeconds: fc.integer({ min: 10, max: 3600 }),
      logLevel: fc.constantFrom('fatal' as const, 'error' as const, 'warn' as const, 'info' as const, 'debug' as const, 'trace' as const, 'silent' as const),
      jwksUrl: fc.constantFrom('', 'https://issuer.example/.well-known/jwks.json'),
      resources,
      image: image('registry.example.com/feed-app'),
    },
    { requiredKeys: [] },
  ),
);

const postgres = fc.record(
  {
    externalUrl: fc.constantFrom('', 'postgres://feed@db.example.com:5432/feed'),
    database: fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/),
    username: fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/),
    storageSize: quantity('Gi', 500),
    port: fc.integer({ min: 1024, max: 65_535 }),
  },
  { requiredKeys: [] },
);

/** Valid overrides: any subset of groups, each with random in-range values. */
export function validOverrides(): fc.Arbitrary<SpecOverrides> {
  return fc.record({ name: dnsLabel(30), namespace: dnsLabel(63), rabbitmq, haproxy, app, postgres }, { requiredKeys: [] }) as fc.Arbitrary<SpecOverrides>;
}

interface JsonSchemaNode {
  type?: string;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  pattern?: string;
  properties?: Record<string, JsonSchemaNode>;
}

function nodeAt(path: string): JsonSchemaNode {
  return path.split('.').reduce<JsonSchemaNode>((node, key) => node.properties![key]!, specJsonSchema() as JsonSchemaNode);
}

/** Values that break the leaf's schema: wrong type always; out of range, not whole, or off the pattern where it has one. */
function badValuesOf(node: JsonSchemaNode): unknown[] {
  switch (node.type) {
    case 'integer':
      return ['7', true, 1.5, node.minimum! - 1, node.maximum! + 1];
    case 'boolean':
      return ['yes', 1];
    case 'string':
      return node.enum ? [42, 'no-such-value'] : [42, ...(node.pattern ? ['Not Valid!'] : [])];
    default:
      return [null];
  }
}

/** Every leaf path with one bad value: `{ path, value, overrides }` where overrides sets only that value. */
export function badLeafValue(): fc.Arbitrary<{ path: string; value: unknown; overrides: SpecOverrides }> {
  const leaves = specLeaves().map((l) => l.path);
  return fc
    .constantFrom(...leaves)
    .chain((path) => fc.constantFrom(...badValuesOf(nodeAt(path))).map((value) => ({ path, value, overrides: overridesAt(path, value) })));
}

/** An unknown key next to a known field at any depth. */
export function unknownKey(): fc.Arbitrary<{ path: string; overrides: SpecOverrides }> {
  const parents = ['', ...new Set(specLeaves().map((l) => l.path.split('.').slice(0, -1).join('.')).filter((p) => p !== ''))];
  return fc.tuple(fc.constantFrom(...parents), fc.stringMatching(/^zz[a-z]{1,8}$/)).map(([parent, key]) => {
    const path = parent === '' ? key : `${parent}.${key}`;
    return { path, overrides: overridesAt(path, 1) };
  });
}

function overridesAt(path: string, value: unknown): SpecOverrides {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as SpecOverrides;
}
