import { Construct } from 'constructs';
import { HaproxyNames } from '../../haproxy/index.js';
import { RABBITMQ_DETAILED_FAMILIES, RABBITMQ_DETAILED_PATH } from '../../monitoring/index.js';
import { Routes, objectNames, type FeedkitSpec } from '../../shared/index.js';
import { Component, selectorLabels } from '../common/labels.js';
import { KubePodMonitor, KubeServiceMonitor } from '../imports/monitoring.coreos.com.js';
import { monitoringLabels } from './monitoring-labels.js';

/** Props of {@link ScrapeTargets}. */
export interface ScrapeTargetsProps {
  /** The resolved stack spec (names, ports, `spec.monitoring`). */
  readonly spec: FeedkitSpec;
}

/**
 * What Prometheus scrapes: the app and the HAProxy front through their Services (ServiceMonitors),
 * each RabbitMQ pod directly (a PodMonitor: a node that is not ready, paused or booting is still a
 * target, so "down" shows). Each sets `job` to the part's object name, the label the alerts and the
 * dashboard select on, whatever job name the operator would derive.
 */
export class ScrapeTargets extends Construct {
  readonly app: KubeServiceMonitor;
  readonly haproxy: KubeServiceMonitor;
  readonly rabbitmq: KubePodMonitor;

  constructor(scope: Construct, id: string, props: ScrapeTargetsProps) {
    super(scope, id);
    const { spec } = props;
    const names = objectNames(spec.name);
    const interval = `${spec.monitoring.scrapeIntervalSeconds}s`;
    const labels = monitoringLabels(spec);
    const job = (name: string) => [{ action: 'replace' as const, targetLabel: 'job', replacement: name }];

    this.app = new KubeServiceMonitor(this, 'App', {
      metadata: { name: names.app, labels },
      spec: {
        selector: { matchLabels: selectorLabels(spec, Component.APP) },
        endpoints: [{ port: 'http', path: Routes.METRICS, interval, relabelings: job(names.app) }],
      },
    });
    this.haproxy = new KubeServiceMonitor(this, 'Haproxy', {
      metadata: { name: names.haproxy, labels },
      spec: {
        selector: { matchLabels: selectorLabels(spec, Component.HAPROXY) },
        endpoints: [{ port: 'stats', path: HaproxyNames.METRICS_PATH, interval, relabelings: job(names.haproxy) }],
      },
    });
    this.rabbitmq = new KubePodMonitor(this, 'Rabbitmq', {
      metadata: { name: names.rabbitmq, labels },
      spec: {
        selector: { matchLabels: selectorLabels(spec, Component.RABBITMQ) },
        podMetricsEndpoints: [
          { port: 'prometheus', path: Routes.METRICS, interval, relabelings: job(names.rabbitmq) },
          // Per-queue consumer counts and depths (the replica queue alert), vhost-wide.
          { port: 'prometheus', path: RABBITMQ_DETAILED_PATH, params: { family: [...RABBITMQ_DETAILED_FAMILIES] }, interval, relabelings: job(names.rabbitmq) },
        ],
      },
    });
  }
}
