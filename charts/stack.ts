/**
 * The whole stack as one cdk8s App with one Chart per part, and its synthesized manifests.
 * Pure: nothing here touches the file system (scripts/synth.ts writes the files).
 */
import { App, Chart } from 'cdk8s';
import { stringify } from 'yaml';
import { ExposureKind, type FeedkitSpec } from '../shared/index.js';
import { AppChart } from './app/app-chart.js';
import { ExposureChart } from './exposure/exposure-chart.js';
import { MonitoringChart } from './monitoring/monitoring-chart.js';
import { HaproxyChart } from './haproxy/haproxy-chart.js';
import { NamespaceChart } from './namespace/namespace-chart.js';
import { NetworkPoliciesChart } from './network/network-policies-chart.js';
import { PostgresChart } from './postgres/postgres-chart.js';
import { RabbitmqChart } from './rabbitmq/rabbitmq-chart.js';

export * from './secrets.js';

/** A synthesized Kubernetes object. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [k: string]: unknown;
}

/** Stable ids of the charts (also their construct ids in the App). */
export enum ChartName {
  NAMESPACE = 'namespace',
  NETWORK_POLICIES = 'network-policies',
  POSTGRES = 'postgres',
  RABBITMQ = 'rabbitmq',
  HAPROXY = 'haproxy',
  APP = 'app',
  EXPOSURE = 'exposure',
  MONITORING = 'monitoring',
}

/** One chart's output. */
export interface SynthesizedChart {
  /** Stable chart id, a {@link ChartName}. */
  readonly name: string;
  /**
   * File name synth writes, e.g. `03-feedkit-rabbitmq.k8s.yaml`; the number is the dependency
   * order, so `kubectl apply -f dist/` creates the namespace first.
   */
  readonly fileName: string;
  /** Names of the charts that must be applied before this one. */
  readonly dependsOn: readonly string[];
  /** The objects, in a stable order. */
  readonly manifests: readonly KubeObject[];
}

interface ChartEntry {
  readonly name: ChartName;
  readonly dependsOn: readonly ChartName[];
  readonly create: (app: App, spec: FeedkitSpec) => Chart;
}

/** Every chart in dependency order; Postgres only when it runs in the cluster, exposure and monitoring only when asked for. */
function chartEntries(spec: FeedkitSpec): ChartEntry[] {
  const inClusterPostgres = spec.postgres.externalUrl === '';
  const entries: Array<ChartEntry | false> = [
    { name: ChartName.NAMESPACE, dependsOn: [], create: (app) => new NamespaceChart(app, ChartName.NAMESPACE, { spec }) },
    { name: ChartName.NETWORK_POLICIES, dependsOn: [ChartName.NAMESPACE], create: (app) => new NetworkPoliciesChart(app, ChartName.NETWORK_POLICIES, { spec }) },
    inClusterPostgres && { name: ChartName.POSTGRES, dependsOn: [ChartName.NAMESPACE], create: (app) => new PostgresChart(app, ChartName.POSTGRES, { spec }) },
    { name: ChartName.RABBITMQ, dependsOn: [ChartName.NAMESPACE], create: (app) => new RabbitmqChart(app, ChartName.RABBITMQ, { spec }) },
    { name: ChartName.HAPROXY, dependsOn: [ChartName.RABBITMQ], create: (app) => new HaproxyChart(app, ChartName.HAPROXY, { spec }) },
    {
      name: ChartName.APP,
      dependsOn: inClusterPostgres ? [ChartName.HAPROXY, ChartName.POSTGRES] : [ChartName.HAPROXY],
      create: (app) => new AppChart(app, ChartName.APP, { spec }),
    },
    spec.exposure.kind !== ExposureKind.NONE && { name: ChartName.EXPOSURE, dependsOn: [ChartName.APP], create: (app) => new ExposureChart(app, ChartName.EXPOSURE, { spec }) },
    spec.monitoring.enabled && {
      name: ChartName.MONITORING,
      dependsOn: [ChartName.RABBITMQ, ChartName.HAPROXY, ChartName.APP],
      create: (app) => new MonitoringChart(app, ChartName.MONITORING, { spec }),
    },
  ];
  return entries.filter((e): e is ChartEntry => e !== false);
}

/** Builds the cdk8s App (a new one unless given) with one Chart per part and their dependencies. */
export function buildStack(spec: FeedkitSpec, app: App = new App()): App {
  buildCharts(spec, app);
  return app;
}

function buildCharts(spec: FeedkitSpec, app: App): Array<{ entry: ChartEntry; chart: Chart }> {
  const built = new Map<ChartName, Chart>();
  const out: Array<{ entry: ChartEntry; chart: Chart }> = [];
  for (const entry of chartEntries(spec)) {
    const chart = entry.create(app, spec);
    for (const dep of entry.dependsOn) chart.addDependency(built.get(dep)!);
    built.set(entry.name, chart);
    out.push({ entry, chart });
  }
  return out;
}

/** Synthesizes every chart, in dependency order. Holds no secret value: Secrets are referenced by name. */
export function synthStack(spec: FeedkitSpec): SynthesizedChart[] {
  return buildCharts(spec, new App()).map(({ entry, chart }, i) => ({
    name: entry.name,
    fileName: `${String(i).padStart(2, '0')}-${spec.name}-${entry.name}.k8s.yaml`,
    dependsOn: [...entry.dependsOn],
    manifests: chart.toJson() as KubeObject[],
  }));
}

/** First line of every file synth writes. */
export const GENERATED_HEADER = '# Generated by feedkit (npm run synth) from the spec; edit the spec, not this file.\n';

/** The YAML text of objects: one document each, no line folding (stable bytes). */
export function renderManifestsYaml(manifests: readonly object[]): string {
  return GENERATED_HEADER + manifests.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join('');
}

/** The exact bytes synth writes for a chart. */
export function renderChartYaml(chart: SynthesizedChart): string {
  return renderManifestsYaml(chart.manifests);
}
