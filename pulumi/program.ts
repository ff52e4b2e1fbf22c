/**
 * The feedkit Pulumi program: stack config → spec → the very charts `npm run synth` writes → typed
 * Kubernetes resources, chart by chart in dependency order, plus the Secrets holding the stack's
 * generated (or configured) credentials.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { secretManifests, synthStack, type KubeObject, type SynthesizedChart } from '../charts/stack.js';
import { objectNames, type FeedkitSpec } from '../shared/index.js';
import { ChartDeployment, WORKLOAD_KINDS } from './chart-deployment.js';
import { currentStackConfig } from './config-source.js';
import { StackConfigKey, configKey, credentialsFromStackConfig, specFromStackConfig, type StackConfigSource } from './stack-config.js';
import { stackSecrets } from './stack-secrets.js';

/** Name of the pseudo-chart holding the Secret objects (between the namespace and the workloads). */
export const SECRETS_CHART = 'secrets';

/** A chart as the program deploys it: synthesized charts plus {@link SECRETS_CHART}. */
export interface DeployedChart {
  readonly name: string;
  readonly dependsOn: readonly string[];
  readonly manifests: readonly KubeObject[];
}

/**
 * Orders the deployment: the Secrets chart right after the chart holding the Namespace, and every
 * chart with a workload made to depend on it. Throws when a chart depends on an unknown or later chart.
 */
export function deploymentPlan(charts: readonly SynthesizedChart[], secrets: readonly KubeObject[]): DeployedChart[] {
  if (charts.some((c) => c.name === SECRETS_CHART)) {
    throw new pulumi.RunError(`a synthesized chart is named "${SECRETS_CHART}", which the program reserves for the Secrets. Fix: rename the chart`);
  }
  const namespaceChart = charts.find((c) => c.manifests.some((m) => m.kind === 'Namespace'));
  const secretsChart: DeployedChart = { name: SECRETS_CHART, dependsOn: namespaceChart ? [namespaceChart.name] : [], manifests: secrets };
  const plan: DeployedChart[] = namespaceChart ? [] : [secretsChart];
  for (const chart of charts) {
    const hasWorkload = chart.manifests.some((m) => WORKLOAD_KINDS.has(m.kind) && m.kind !== 'Service');
    plan.push({ name: chart.name, dependsOn: hasWorkload ? [...chart.dependsOn, SECRETS_CHART] : [...chart.dependsOn], manifests: chart.manifests });
    if (chart === namespaceChart) plan.push(secretsChart);
  }
  const seen = new Set<string>();
  for (const chart of plan) {
    for (const dep of chart.dependsOn) {
      if (!seen.has(dep)) {
        throw new pulumi.RunError(`chart "${chart.name}" depends on "${dep}", which is not deployed before it. Fix: synthStack must return charts in dependency order`);
      }
    }
    seen.add(chart.name);
  }
  return plan;
}

/** The Kubernetes provider: kubeconfig/context from stack config, default namespace from the spec. */
export function kubernetesProvider(spec: FeedkitSpec, source: StackConfigSource): k8s.Provider {
  const kubeconfig = source.values[configKey(StackConfigKey.KUBECONFIG)];
  const context = source.values[configKey(StackConfigKey.CONTEXT)];
  return new k8s.Provider(spec.name, {
    // Contents or a path; secret either way, since contents carry credentials.
    ...(kubeconfig !== undefined && { kubeconfig: pulumi.secret(kubeconfig) }),
    ...(context !== undefined && { context }),
    namespace: spec.namespace,
  });
}

/** Stack outputs of {@link feedkitProgram}. */
export interface FeedkitOutputs {
  readonly [name: string]: pulumi.Output<unknown> | undefined;
  readonly namespace: pulumi.Output<string>;
  readonly appService: pulumi.Output<string>;
  readonly appUrl: pulumi.Output<string>;
  readonly amqpService: pulumi.Output<string>;
  readonly amqpUrl: pulumi.Output<string>;
  readonly managementService: pulumi.Output<string>;
  readonly managementUrl: pulumi.Output<string>;
  readonly rabbitmqUsername: pulumi.Output<string>;
  /** Secret: for the management UI (`pulumi stack output --show-secrets rabbitmqPassword`). */
  readonly rabbitmqPassword: pulumi.Output<string>;
  /** Secret: the HS256 key clients' tokens are signed with (`npm run token`); absent with `app.jwksUrl`. */
  readonly jwtSecret?: pulumi.Output<string>;
}

/** Runs the program against the current stack (or mocks); returns the stack outputs. */
export function feedkitProgram(source: StackConfigSource = currentStackConfig()): FeedkitOutputs {
  const spec = specFromStackConfig(source);
  const credentials = credentialsFromStackConfig(source, spec);
  const provider = kubernetesProvider(spec, source);
  const secrets = stackSecrets(spec, credentials);
  const plan = deploymentPlan(synthStack(spec), secretManifests(spec, secrets));

  const deployed = new Map<string, ChartDeployment>();
  for (const chart of plan) {
    const dependsOn = chart.dependsOn.flatMap((dep) => [...deployed.get(dep)!.resources.values()]);
    deployed.set(chart.name, new ChartDeployment(chart.name, { manifests: chart.manifests, provider, dependsOn }));
  }

  const names = objectNames(spec.name);
  const services = plan.flatMap((c) => c.manifests.filter((m) => m.kind === 'Service').map((m) => ({ chart: c.name, obj: m })));
  const service = (what: string, match: (obj: KubeObject) => boolean, preferredPort: number): { name: pulumi.Output<string>; port: number } => {
    const found = services.find((s) => match(s.obj));
    if (!found) throw new pulumi.RunError(`the charts hold no ${what} Service. Fix: check synthStack's output`);
    const resource = deployed.get(found.chart)!.find('Service', found.obj.metadata.name) as k8s.core.v1.Service;
    const ports = servicePorts(found.obj);
    if (ports.length === 0) throw new pulumi.RunError(`the ${what} Service ${found.obj.metadata.name} has no port. Fix: check synthStack's output`);
    return { name: resource.metadata.name, port: ports.includes(preferredPort) ? preferredPort : ports[0]! };
  };
  const url = (scheme: string, s: { name: pulumi.Output<string>; port: number }): pulumi.Output<string> =>
    pulumi.interpolate`${scheme}://${s.name}.${spec.namespace}.svc.${spec.clusterDomain}:${s.port}`;

  const app = service('app', (o) => o.metadata.name === names.app, spec.app.port);
  const amqp = service('AMQP front', (o) => o.metadata.name === names.haproxy, spec.haproxy.ports.amqp);
  const management = service(
    'RabbitMQ management',
    (o) => o.metadata.name !== names.rabbitmqHeadless && servicePorts(o).includes(spec.rabbitmq.ports.management),
    spec.rabbitmq.ports.management,
  );
  const namespaceResource = deployed.get(plan.find((c) => c.manifests.some((m) => m.kind === 'Namespace'))?.name ?? '')?.find('Namespace', spec.namespace) as
    | k8s.core.v1.Namespace
    | undefined;

  return {
    namespace: namespaceResource ? namespaceResource.metadata.name : pulumi.output(spec.namespace),
    appService: app.name,
    appUrl: url('http', app),
    amqpService: amqp.name,
    amqpUrl: url('amqp', amqp),
    managementService: management.name,
    managementUrl: url('http', management),
    rabbitmqUsername: secrets.rabbitmqUsername,
    rabbitmqPassword: pulumi.secret(secrets.rabbitmqPassword),
    ...(spec.app.jwksUrl === '' && { jwtSecret: pulumi.secret(secrets.jwtSecret) }),
  };
}

function servicePorts(obj: KubeObject): number[] {
  const ports = (obj.spec as { ports?: Array<{ port?: unknown }> } | undefined)?.ports ?? [];
  return ports.map((p) => p.port).filter((p): p is number => typeof p === 'number');
}
