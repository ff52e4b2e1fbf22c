/**
 * The Pulumi program under `pulumi.runtime.setMocks`: no CLI, no cluster, no provider plugin. Each
 * run installs fresh mocks and config, runs the program, and drains the runtime's RPCs before the
 * next one (mocks and config are process-global, so runs never overlap). Registrations are
 * captured at the wire (the request the engine would get), so secret markers and dependencies are
 * what a real `pulumi up` would send.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { parseAllDocuments } from 'yaml';
import { renderChartYaml, secretManifests, synthStack, type KubeObject } from '../../charts/stack.js';
import { generatedSecretProvider, type GeneratedSecretProps } from '../../pulumi/generated-secret.js';
import { feedkitProgram } from '../../pulumi/program.js';
import { StackConfigError } from '../../pulumi/stack-config.js';
import { AppEnv, DEFAULT_SPEC, ExposureKind, MIRRORED_POLICY_DEFINITION, QueueMode, SecretKeys, objectNames, resolveSpec, type SpecOverrides } from '../../shared/index.js';

/** The wire marker of a secret value (sdk/nodejs/runtime/rpc.ts specialSecretSig). */
const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

interface Registration {
  readonly type: string;
  readonly name: string;
  /** Properties as sent on the wire; secret values still wrapped. */
  readonly wire: Record<string, unknown>;
  readonly provider: string;
  readonly dependencies: readonly string[];
  readonly additionalSecretOutputs: readonly string[];
  readonly custom: boolean;
  urn?: string;
}

/** Saved outputs of GeneratedSecret resources by name: the "state" a second `pulumi up` starts from. */
type GeneratedState = Map<string, { id: string; state: Record<string, unknown> }>;

interface RunResult {
  readonly registrations: Registration[];
  readonly outputs: Record<string, { value: unknown; secret: boolean }>;
  readonly state: GeneratedState;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getObject(): { toJavaScript(): Record<string, unknown> };
  getProvider(): string;
  getDependenciesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getCustom(): boolean;
}

const GENERATED_SECRET_TYPE = 'pulumi-nodejs:dynamic/feedkit:GeneratedSecret';

/** Tail of the run queue: suites start concurrently, but the runtime holds one program at a time. */
let runQueue: Promise<unknown> = Promise.resolve();

/** Runs the program once with `config` (objects become JSON text, as the CLI passes them), after any earlier run. */
function runProgram(config: Record<string, unknown> = {}, opts: { secretKeys?: string[]; state?: GeneratedState } = {}): Promise<RunResult> {
  const run = runQueue.then(() => runProgramNow(config, opts));
  runQueue = run.catch(() => undefined);
  return run;
}

async function runProgramNow(config: Record<string, unknown>, opts: { secretKeys?: string[]; state?: GeneratedState }): Promise<RunResult> {
  const state: GeneratedState = opts.state ?? new Map();
  const registrations: Registration[] = [];
  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        if (args.type === GENERATED_SECRET_TYPE) {
          // The provider's own create() runs once; later runs get the saved state, as the engine does.
          const saved = state.get(args.name);
          if (saved) return saved;
          const created = await generatedSecretProvider.create(args.inputs as GeneratedSecretProps);
          const entry = { id: created.id, state: created.outs as Record<string, unknown> };
          state.set(args.name, entry);
          return entry;
        }
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    'feedkit',
    'dev',
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: (err: unknown, resp: { getUrn(): string }) => void): void };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const r: Registration = {
      type: req.getType(),
      name: req.getName(),
      wire: req.getObject().toJavaScript(),
      provider: req.getProvider(),
      dependencies: req.getDependenciesList(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      custom: req.getCustom(),
    };
    registrations.push(r);
    register(req, (err, resp) => {
      if (!err) r.urn = resp.getUrn();
      cb(err, resp);
    });
  };
  const values = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  pulumi.runtime.setAllConfig(values, opts.secretKeys ?? []);
  try {
    const program = feedkitProgram();
    const outputs: RunResult['outputs'] = {};
    for (const [name, output] of Object.entries(program)) {
      if (output === undefined) continue;
      outputs[name] = { value: await promiseOf(output), secret: await pulumi.isSecret(output) };
    }
    return { registrations, outputs, state };
  } finally {
    await pulumi.runtime.disconnect();
  }
}

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** The wire value with secret wrappers replaced by their contents. */
function unwrap(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrap);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG_KEY] === SECRET_SIG) return unwrap(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrap(x)]));
  }
  return v;
}

function isWireSecret(v: unknown): boolean {
  return v !== null && typeof v === 'object' && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

const isKubeObject = (r: Registration): boolean => r.custom && r.type.startsWith('kubernetes:');

/** The registered object `kind`/`name`; fails when it is missing. */
function registered(run: RunResult, kind: string, name: string): Registration {
  const found = run.registrations.filter((r) => isKubeObject(r) && r.wire.kind === kind && (r.wire.metadata as KubeObject['metadata']).name === name);
  assert.equal(found.length, 1, `expected one ${kind} ${name}, found ${found.length}`);
  return found[0]!;
}

/** What `npm run synth` writes for `overrides`, read back from the YAML text. */
function synthObjects(overrides: SpecOverrides = {}): KubeObject[] {
  return synthStack(resolveSpec(overrides)).flatMap((chart) => parseAllDocuments(renderChartYaml(chart)).map((d) => d.toJS() as KubeObject));
}

const objectKey = (o: { apiVersion?: unknown; kind?: unknown; metadata?: unknown }): string => {
  const m = o.metadata as KubeObject['metadata'];
  return `${String(o.apiVersion)}/${String(o.kind)}::${m.namespace ?? ''}/${m.name}`;
};

const names = objectNames(DEFAULT_SPEC.name);

describe('pulumi program with default config', async () => {
  const run = await runProgram();
  const kube = run.registrations.filter(isKubeObject);

  test('GIVEN default config WHEN run THEN every object synth writes is registered with identical fields', () => {
    const expected = synthObjects();
    assert.ok(expected.length > 10);
    for (const obj of expected) {
      const r = registered(run, obj.kind, obj.metadata.name);
      assert.deepEqual(unwrap(r.wire), obj, `${objectKey(obj)} differs from the synth output`);
    }
  });

  test('GIVEN default config WHEN run THEN the only other Kubernetes objects are the charts\' Secrets', () => {
    const synthKeys = new Set(synthObjects().map(objectKey));
    const extra = kube.filter((r) => !synthKeys.has(objectKey(r.wire)));
    const secretKeys = secretManifests(DEFAULT_SPEC, { erlangCookie: '', rabbitmqUsername: '', rabbitmqPassword: '', postgresPassword: '', jwtSecret: '' }).map(objectKey);
    assert.deepEqual(extra.map((r) => objectKey(r.wire)).sort(), [...secretKeys].sort());
    assert.equal(kube.length, synthKeys.size + secretKeys.length);
  });

  test('GIVEN default config WHEN run THEN every object is created by the stack\'s explicit Kubernetes provider', () => {
    const providers = run.registrations.filter((r) => r.type === 'pulumi:providers:kubernetes');
    assert.equal(providers.length, 1);
    assert.equal(unwrap(providers[0]!.wire.namespace), DEFAULT_SPEC.namespace);
    for (const r of kube) assert.ok(r.provider.startsWith(`${providers[0]!.urn}::`), `${r.type} ${r.name} uses ${r.provider}`);
  });

  test('GIVEN default config WHEN run THEN the namespace and Secrets come before the StatefulSets, RabbitMQ before HAProxy and the app', () => {
    const urn = (kind: string, name: string): string => registered(run, kind, name).urn!;
    const dependsOn = (kind: string, name: string, onKind: string, onName: string): void =>
      assert.ok(registered(run, kind, name).dependencies.includes(urn(onKind, onName)), `${kind} ${name} must wait for ${onKind} ${onName}`);
    dependsOn('StatefulSet', names.rabbitmq, 'Namespace', names.namespace);
    dependsOn('StatefulSet', names.rabbitmq, 'Secret', names.erlangCookieSecret);
    dependsOn('StatefulSet', names.rabbitmq, 'Secret', names.rabbitmqUserSecret);
    dependsOn('StatefulSet', names.rabbitmq, 'ConfigMap', names.rabbitmqConfig);
    dependsOn('StatefulSet', names.postgres, 'Secret', names.postgresSecret);
    dependsOn('Secret', names.erlangCookieSecret, 'Namespace', names.namespace);
    dependsOn('Deployment', names.haproxy, 'StatefulSet', names.rabbitmq);
    dependsOn('Deployment', names.app, 'Deployment', names.haproxy);
    dependsOn('Deployment', names.app, 'StatefulSet', names.postgres);
    dependsOn('Deployment', names.app, 'Secret', names.appSecret);
    // A workload never waits for its own Service: the provider awaits a Service's endpoints, i.e. the pods.
    assert.ok(!registered(run, 'StatefulSet', names.rabbitmq).dependencies.includes(urn('Service', names.rabbitmqHeadless)));
  });

  test('GIVEN generated credentials WHEN run THEN every value is a secret on the wire and in state', () => {
    const secrets = kube.filter((x) => x.wire.kind === 'Secret');
    assert.equal(secrets.length, 4);
    for (const r of secrets) {
      assert.ok(isWireSecret(r.wire.stringData), `${r.name} stringData must be sent as a secret`);
      assert.ok(r.additionalSecretOutputs.includes('data') && r.additionalSecretOutputs.includes('stringData'));
    }
    const generated = run.registrations.filter((r) => r.type === GENERATED_SECRET_TYPE);
    assert.equal(generated.length, 4);
    for (const r of generated) assert.ok(r.additionalSecretOutputs.includes('value'), `${r.name} must keep its value secret in state`);
    assert.equal(run.outputs.rabbitmqPassword!.secret, true);
    assert.equal(run.outputs.jwtSecret!.secret, true);
  });

  test('GIVEN generated credentials WHEN run THEN no value appears outside the Secrets or in a plain output', () => {
    const values = [...run.state.values()].map((s) => String(s.state.value));
    assert.equal(values.length, 4);
    const cookie = (unwrap(registered(run, 'Secret', names.erlangCookieSecret).wire.stringData) as Record<string, string>)[SecretKeys.ERLANG_COOKIE]!;
    assert.ok(values.includes(cookie), 'the cookie Secret holds the generated value');
    assert.ok(cookie.length >= 32);
    const elsewhere = JSON.stringify([
      ...run.registrations.filter((r) => r.wire.kind !== 'Secret' && r.type !== GENERATED_SECRET_TYPE).map((r) => unwrap(r.wire)),
      ...Object.values(run.outputs).filter((o) => !o.secret).map((o) => o.value),
    ]);
    for (const v of values) assert.ok(!elsewhere.includes(v), 'a generated secret leaked outside the Secrets');
  });

  test('GIVEN default config WHEN run THEN the outputs name the app, AMQP front and management Services and the namespace', () => {
    const ns = DEFAULT_SPEC.namespace;
    const appService = synthObjects().find((o) => o.kind === 'Service' && o.metadata.name === names.app) as { spec: { ports: Array<{ port: number }> } } | undefined;
    assert.ok(appService);
    assert.equal(run.outputs.namespace!.value, ns);
    assert.equal(run.outputs.appService!.value, names.app);
    assert.equal(run.outputs.appUrl!.value, `http://${names.app}.${ns}.svc.cluster.local:${appService.spec.ports[0]!.port}`);
    assert.equal(run.outputs.amqpService!.value, names.haproxy);
    assert.equal(run.outputs.amqpUrl!.value, `amqp://${names.haproxy}.${ns}.svc.cluster.local:${DEFAULT_SPEC.haproxy.ports.amqp}`);
    assert.match(String(run.outputs.managementUrl!.value), new RegExp(`^http://${run.outputs.managementService!.value}\\.${ns}\\.svc\\.cluster\\.local:${DEFAULT_SPEC.rabbitmq.ports.management}$`));
    assert.notEqual(run.outputs.managementService!.value, names.rabbitmqHeadless);
  });
});

describe('pulumi entry point', () => {
  test('GIVEN pulumi/index.ts WHEN loaded as the nodejs runtime loads an ES module THEN its only export is a default function returning the outputs', async () => {
    const entry = (await import('../../pulumi/index.js')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(entry), ['default']);
    assert.equal(typeof entry.default, 'function');
  });

  test('GIVEN the serialized secret generator WHEN loaded as the dynamic provider host does THEN it creates a value and never reports a diff', async () => {
    const run = await runProgram();
    const generated = run.registrations.find((r) => r.type === GENERATED_SECRET_TYPE);
    assert.ok(generated);
    const source = unwrap(generated.wire.__provider);
    assert.equal(typeof source, 'string');
    // The host (cmd/dynamic-provider) evaluates the text as CommonJS with require-from-string.
    const hostRequire = createRequire(createRequire(import.meta.url).resolve('@pulumi/pulumi/cmd/dynamic-provider/index.js'));
    const requireFromString = hostRequire('require-from-string') as (code: string) => { handler(): typeof generatedSecretProvider };
    const provider = requireFromString(source as string).handler();
    const created = await provider.create({ bytes: 36 });
    assert.match((created.outs as { value: string }).value, /^[A-Za-z0-9_-]{48}$/);
    assert.equal((await provider.diff!(created.id, created.outs, { bytes: 36 })).changes, false);
  });
});

describe('pulumi program across runs', async () => {
  const secretValues = (run: RunResult): string[] =>
    run.registrations
      .filter((r) => r.wire.kind === 'Secret')
      .flatMap((r) => Object.values(unwrap(r.wire.stringData) as Record<string, string>))
      .sort();
  const first = await runProgram();
  const second = await runProgram({}, { state: first.state });
  const fresh = await runProgram();

  test('GIVEN the state of a first run WHEN run again THEN every generated secret is unchanged', () => {
    assert.deepEqual(secretValues(second), secretValues(first));
  });

  test('GIVEN no state WHEN run THEN new values are generated (the state is what keeps them)', () => {
    assert.notDeepEqual(secretValues(fresh), secretValues(first));
  });
});

describe('pulumi program with stack config', async () => {
  const cookie = 'k'.repeat(40);
  const run = await runProgram(
    {
      'feedkit:rabbitmq': { replicas: 5, queueMode: 'quorum', image: { tag: '3.13.6-management' } },
      'feedkit:app.replicas': '4',
      'feedkit:app': { image: { repository: 'registry.example.com/feed-app', tag: '0.2.0' } },
      'feedkit:erlangCookie': cookie,
    },
    { secretKeys: ['feedkit:erlangCookie'] },
  );

  test('GIVEN replicas and images in config WHEN run THEN they reach the workloads', () => {
    const sts = unwrap(registered(run, 'StatefulSet', names.rabbitmq).wire) as { spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } } };
    assert.equal(sts.spec.replicas, 5);
    assert.ok(sts.spec.template.spec.containers.some((c) => c.image === 'docker.io/library/rabbitmq:3.13.6-management'));
    const app = unwrap(registered(run, 'Deployment', names.app).wire) as { spec: { template: { spec: { containers: Array<{ image: string }> } } } };
    assert.ok(app.spec.template.spec.containers.some((c) => c.image === 'registry.example.com/feed-app:0.2.0'));
  });

  test('GIVEN quorum queue mode WHEN run THEN no ha-mode policy is defined and the app runs in quorum mode', () => {
    const rmqConfig = unwrap(registered(run, 'ConfigMap', names.rabbitmqConfig).wire) as { data: Record<string, string> };
    const haMode = Object.keys(MIRRORED_POLICY_DEFINITION)[0]!;
    assert.ok(!Object.values(rmqConfig.data).some((v) => v.includes(haMode)), 'quorum mode must not define an ha-mode policy');
    const appConfig = unwrap(registered(run, 'ConfigMap', names.appConfig).wire) as { data: Record<string, string> };
    assert.equal(appConfig.data[AppEnv.QUEUE_MODE], 'quorum');
  });

  test('GIVEN the same overrides WHEN synthesized THEN the program registered exactly those objects', () => {
    const overrides: SpecOverrides = {
      rabbitmq: { replicas: 5, queueMode: QueueMode.QUORUM, image: { tag: '3.13.6-management' } },
      app: { replicas: 4, image: { repository: 'registry.example.com/feed-app', tag: '0.2.0' } },
    };
    for (const obj of synthObjects(overrides)) assert.deepEqual(unwrap(registered(run, obj.kind, obj.metadata.name).wire), obj);
  });

  test('GIVEN a cookie in secret config WHEN run THEN the Secret holds it and no cookie is generated', () => {
    const wire = registered(run, 'Secret', names.erlangCookieSecret).wire;
    assert.ok(isWireSecret(wire.stringData));
    assert.equal((unwrap(wire.stringData) as Record<string, string>)[SecretKeys.ERLANG_COOKIE], cookie);
    assert.equal(run.registrations.filter((r) => r.type === GENERATED_SECRET_TYPE).length, 3);
  });

  test('GIVEN mirrored mode (the default) WHEN run THEN the definitions do carry the ha-mode policy', async () => {
    const mirrored = await runProgram();
    const rmqConfig = unwrap(registered(mirrored, 'ConfigMap', names.rabbitmqConfig).wire) as { data: Record<string, string> };
    assert.ok(Object.values(rmqConfig.data).some((v) => v.includes(Object.keys(MIRRORED_POLICY_DEFINITION)[0]!)));
  });
});

describe('pulumi program with exposure and monitoring', async () => {
  const overrides: SpecOverrides = {
    exposure: { kind: ExposureKind.INGRESS, host: 'feed.example.com', ingressClassName: 'nginx', tls: { clusterIssuer: 'letsencrypt' } },
    monitoring: { enabled: true },
    rabbitmq: { version: '4.1.2', queueMode: QueueMode.QUORUM, image: { tag: '4.1.2-management' } },
  };
  const run = await runProgram({ 'feedkit:exposure': overrides.exposure, 'feedkit:monitoring': overrides.monitoring, 'feedkit:rabbitmq': overrides.rabbitmq });

  test('GIVEN exposure and monitoring in config WHEN run THEN every synthesized object, the custom resources included, is registered with identical fields', () => {
    const expected = synthObjects(overrides);
    for (const kind of ['Ingress', 'ServiceMonitor', 'PodMonitor', 'PrometheusRule']) assert.ok(expected.some((o) => o.kind === kind), kind);
    for (const obj of expected) assert.deepEqual(unwrap(registered(run, obj.kind, obj.metadata.name).wire), obj, objectKey(obj));
  });

  test('GIVEN the new kinds WHEN registered THEN the Ingress is the typed networking/v1 resource and the CRD objects are CustomResources of their own apiVersion and kind', () => {
    assert.equal(registered(run, 'Ingress', names.app).type, 'kubernetes:networking.k8s.io/v1:Ingress');
    assert.equal(registered(run, 'ServiceMonitor', names.app).type, 'kubernetes:monitoring.coreos.com/v1:ServiceMonitor');
    assert.equal(registered(run, 'PodMonitor', names.rabbitmq).type, 'kubernetes:monitoring.coreos.com/v1:PodMonitor');
    assert.equal(registered(run, 'PrometheusRule', names.alertRules).type, 'kubernetes:monitoring.coreos.com/v1:PrometheusRule');
  });

  test('GIVEN the exposure and monitoring charts WHEN registered THEN they wait for the app they point at', () => {
    const appService = registered(run, 'Service', names.app).urn!;
    assert.ok(registered(run, 'Ingress', names.app).dependencies.includes(appService));
    assert.ok(registered(run, 'ServiceMonitor', names.app).dependencies.includes(appService));
  });

  test('GIVEN RabbitMQ 4.1 in config WHEN run THEN no peer-discovery Role is registered', () => {
    assert.ok(!run.registrations.some((r) => r.wire.kind === 'Role' || r.wire.kind === 'RoleBinding'));
  });
});

describe('pulumi program with a Gateway API route', async () => {
  const exposure = { kind: ExposureKind.GATEWAY, host: 'feed.example.com', gateway: { name: 'public', namespace: 'gateways' } };
  const run = await runProgram({ 'feedkit:exposure': exposure });

  test('GIVEN kind gateway WHEN run THEN the HTTPRoute is a CustomResource of gateway.networking.k8s.io/v1, as synthesized', () => {
    const r = registered(run, 'HTTPRoute', names.app);
    assert.equal(r.type, 'kubernetes:gateway.networking.k8s.io/v1:HTTPRoute');
    const expected = synthObjects({ exposure }).find((o) => o.kind === 'HTTPRoute')!;
    assert.deepEqual(unwrap(r.wire), expected);
  });
});

describe('pulumi program with external Postgres and a JWKS', async () => {
  const run = await runProgram({
    'feedkit:postgres.externalUrl': 'postgres://feed@db.example.com:5432/feed',
    'feedkit:app.jwksUrl': 'https://auth.example.com/.well-known/jwks.json',
  });

  test('GIVEN an external database and a JWKS WHEN run THEN no Postgres workload, no JWT secret, and the rest as synthesized', () => {
    const overrides: SpecOverrides = { postgres: { externalUrl: 'postgres://feed@db.example.com:5432/feed' }, app: { jwksUrl: 'https://auth.example.com/.well-known/jwks.json' } };
    const expected = synthObjects(overrides);
    assert.ok(!expected.some((o) => o.kind === 'StatefulSet' && o.metadata.name === names.postgres));
    for (const obj of expected) assert.deepEqual(unwrap(registered(run, obj.kind, obj.metadata.name).wire), obj);
    assert.ok(!run.registrations.some((r) => r.wire.kind === 'StatefulSet' && (r.wire.metadata as KubeObject['metadata']).name === names.postgres));
    assert.ok(!run.registrations.some((r) => r.wire.kind === 'Secret' && (r.wire.metadata as KubeObject['metadata']).name === names.appSecret));
    assert.equal(run.registrations.filter((r) => r.type === GENERATED_SECRET_TYPE).length, 3);
    assert.equal(run.outputs.jwtSecret, undefined);
  });
});

describe('pulumi program provider settings', async () => {
  const kubeconfig = 'apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: not-a-real-token}}]\n';
  const run = await runProgram(
    { 'feedkit:kubeconfig': kubeconfig, 'feedkit:context': 'staging', 'feedkit:namespace': 'feed-staging' },
    { secretKeys: ['feedkit:kubeconfig'] },
  );

  test('GIVEN kubeconfig, context and namespace in config WHEN run THEN the provider gets them, the kubeconfig as a secret', () => {
    const provider = run.registrations.find((r) => r.type === 'pulumi:providers:kubernetes');
    assert.ok(provider);
    assert.ok(isWireSecret(provider.wire.kubeconfig));
    assert.equal(unwrap(provider.wire.kubeconfig), kubeconfig);
    assert.equal(provider.wire.context, 'staging');
    assert.equal(provider.wire.namespace, 'feed-staging');
    assert.equal(run.outputs.namespace!.value, 'feed-staging');
    for (const r of run.registrations.filter(isKubeObject)) {
      const ns = (r.wire.metadata as KubeObject['metadata']).namespace;
      assert.ok(r.wire.kind === 'Namespace' || ns === 'feed-staging', `${r.name} is in namespace ${String(ns)}`);
    }
  });
});

describe('pulumi program with bad stack config', () => {
  const rejects = async (config: Record<string, unknown>, key: string, secretKeys: string[] = []): Promise<void> => {
    await assert.rejects(runProgram(config, { secretKeys }), (e: unknown) => {
      assert.ok(e instanceof StackConfigError, String(e));
      assert.equal(e.key, key);
      return true;
    });
  };

  test('GIVEN an even RabbitMQ replica count WHEN run THEN it fails naming feedkit:rabbitmq.replicas', async () => {
    await rejects({ 'feedkit:rabbitmq': { replicas: 4 } }, 'feedkit:rabbitmq.replicas');
  });

  test('GIVEN a floating image tag WHEN run THEN it fails naming feedkit:app.image.tag', async () => {
    await rejects({ 'feedkit:app.image.tag': 'latest' }, 'feedkit:app.image.tag');
  });

  test('GIVEN a short cookie in secret config WHEN run THEN it fails naming feedkit:erlangCookie', async () => {
    await rejects({ 'feedkit:erlangCookie': 'too-short' }, 'feedkit:erlangCookie', ['feedkit:erlangCookie']);
  });

  test('GIVEN a password in plain config WHEN run THEN it fails naming the key', async () => {
    await rejects({ 'feedkit:rabbitmqPassword': 'p'.repeat(24) }, 'feedkit:rabbitmqPassword');
  });
});
