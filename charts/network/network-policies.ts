import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { objectNames, type FeedkitSpec } from '../../shared/index.js';
import { Component, selectorLabels } from '../common/labels.js';

/** Props of {@link NetworkPolicies}. */
export interface NetworkPoliciesProps {
  /** The resolved stack spec (ports, whether Postgres runs in the cluster). */
  readonly spec: FeedkitSpec;
}

/**
 * Ingress policies for the stack's pods. Each one denies all other ingress to its pods:
 * - RabbitMQ: AMQP from HAProxy and the app; AMQP, epmd and dist from the other RabbitMQ nodes;
 *   management and Prometheus ports from any pod in any namespace (monitoring, operators).
 * - HAProxy: AMQP from the app; the stats/metrics port from any pod in any namespace.
 * - PostgreSQL (in-cluster only): its port from the app.
 * - App: its HTTP port from any pod and any address (the public entry point behind the Service/Ingress).
 * Egress is not restricted, so DNS and the Kubernetes API (peer discovery) keep working.
 */
export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const { spec } = props;
    const names = objectNames(spec.name);
    const pods = (c: Component) => kplus.Pods.select(this, `${c}-pods`, { labels: selectorLabels(spec, c) });
    const rabbitmq = pods(Component.RABBITMQ);
    const haproxy = pods(Component.HAPROXY);
    const app = pods(Component.APP);
    const anywhereInCluster = kplus.Pods.all(this, 'AllPods', { namespaces: kplus.Namespaces.all(this, 'AllNamespaces') });
    const tcp = (...ports: number[]) => ports.map((p) => kplus.NetworkPolicyPort.tcp(p));
    const rp = spec.rabbitmq.ports;

    const policy = (id: string, name: string, selector: kplus.Pods, rules: kplus.NetworkPolicyRule[]) =>
      new kplus.NetworkPolicy(this, id, {
        metadata: { name },
        selector,
        ingress: { default: kplus.NetworkPolicyTrafficDefault.DENY, rules },
      });

    policy('Rabbitmq', names.rabbitmq, rabbitmq, [
      { peer: rabbitmq, ports: tcp(rp.amqp, rp.epmd, rp.dist) },
      { peer: haproxy, ports: tcp(rp.amqp) },
      { peer: app, ports: tcp(rp.amqp) },
      { peer: anywhereInCluster, ports: tcp(rp.management, rp.prometheus) },
    ]);
    policy('Haproxy', names.haproxy, haproxy, [
      { peer: app, ports: tcp(spec.haproxy.ports.amqp) },
      { peer: anywhereInCluster, ports: tcp(spec.haproxy.ports.stats) },
    ]);
    if (spec.postgres.externalUrl === '') {
      policy('Postgres', names.postgres, pods(Component.POSTGRES), [{ peer: app, ports: tcp(spec.postgres.port) }]);
    }
    // Pods are listed as well as IP blocks: some CNIs do not match pod IPs against ipBlock.
    policy('App', names.app, app, [
      { peer: anywhereInCluster, ports: tcp(spec.app.port) },
      { peer: kplus.NetworkPolicyIpBlock.anyIpv4(this, 'AnyIpv4'), ports: tcp(spec.app.port) },
      { peer: kplus.NetworkPolicyIpBlock.anyIpv6(this, 'AnyIpv6'), ports: tcp(spec.app.port) },
    ]);
  }
}
