import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Component, selectorLabels } from '../../charts/index.js';
import { Ports, type FeedkitSpec } from '../../shared/index.js';
import { synth, type Synth } from '../support/charts.js';

interface Source {
  readonly labels: Record<string, string>;
  /** false: a pod in another namespace. */
  readonly sameNamespace: boolean;
}

const matches = (selector: any, labels: Record<string, string>) =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

/** Kubernetes NetworkPolicy ingress semantics for pod-to-pod traffic (ipBlocks do not match pods here). */
function allowed(s: Synth, target: Record<string, string>, from: Source, port: number): boolean {
  const policies = s.all('NetworkPolicy').filter((p: any) => matches(p.spec.podSelector, target) && p.spec.policyTypes.includes('Ingress'));
  if (policies.length === 0) return true;
  return policies.some((p: any) =>
    (p.spec.ingress ?? []).some((rule: any) => {
      const portOk = !rule.ports || rule.ports.some((rp: any) => rp.port === port && rp.protocol === 'TCP');
      const peerOk = !rule.from || rule.from.some((peer: any) => {
        if (peer.ipBlock) return false;
        const nsOk = peer.namespaceSelector ? matches(peer.namespaceSelector, {}) : from.sameNamespace;
        return nsOk && matches(peer.podSelector ?? {}, from.labels);
      });
      return portOk && peerOk;
    }),
  );
}

function pods(spec: FeedkitSpec) {
  const own = (c: Component): Source => ({ labels: selectorLabels(spec, c), sameNamespace: true });
  return {
    rabbitmq: own(Component.RABBITMQ),
    haproxy: own(Component.HAPROXY),
    app: own(Component.APP),
    postgres: own(Component.POSTGRES),
    stranger: { labels: { 'app.kubernetes.io/name': 'something-else' }, sameNamespace: true } as Source,
    monitoring: { labels: { 'app.kubernetes.io/name': 'prometheus' }, sameNamespace: false } as Source,
  };
}

describe('NetworkPolicies', () => {
  const s = synth();
  const p = pods(s.spec);
  const target = (c: Component) => selectorLabels(s.spec, c);

  it('GIVEN the policies WHEN AMQP to RabbitMQ is tried THEN only HAProxy, the app and other RabbitMQ nodes get through', () => {
    const who = Object.entries(p).filter(([, src]) => allowed(s, target(Component.RABBITMQ), src, Ports.AMQP)).map(([n]) => n);
    assert.deepEqual(who, ['rabbitmq', 'haproxy', 'app']);
  });

  it('GIVEN the policies WHEN epmd or dist on RabbitMQ is tried THEN only RabbitMQ nodes get through', () => {
    for (const port of [Ports.EPMD, Ports.RABBITMQ_DIST]) {
      const who = Object.entries(p).filter(([, src]) => allowed(s, target(Component.RABBITMQ), src, port)).map(([n]) => n);
      assert.deepEqual(who, ['rabbitmq'], `port ${port}`);
    }
  });

  it('GIVEN the policies WHEN management or Prometheus on RabbitMQ is tried THEN any pod of any namespace gets through', () => {
    for (const port of [Ports.RABBITMQ_MANAGEMENT, Ports.RABBITMQ_PROMETHEUS]) {
      assert.ok(Object.values(p).every((src) => allowed(s, target(Component.RABBITMQ), src, port)), `port ${port}`);
    }
  });

  it('GIVEN the policies WHEN Postgres is tried THEN only the app gets through', () => {
    const who = Object.entries(p).filter(([, src]) => allowed(s, target(Component.POSTGRES), src, Ports.POSTGRES)).map(([n]) => n);
    assert.deepEqual(who, ['app']);
  });

  it('GIVEN the policies WHEN HAProxy is tried THEN AMQP only from the app, stats from anywhere in the cluster', () => {
    const amqp = Object.entries(p).filter(([, src]) => allowed(s, target(Component.HAPROXY), src, Ports.HAPROXY_AMQP)).map(([n]) => n);
    assert.deepEqual(amqp, ['app']);
    assert.ok(Object.values(p).every((src) => allowed(s, target(Component.HAPROXY), src, Ports.HAPROXY_STATS)));
  });

  it('GIVEN the policies WHEN a port that is not listed is tried THEN nothing gets through', () => {
    for (const c of [Component.RABBITMQ, Component.HAPROXY, Component.POSTGRES, Component.APP]) {
      assert.ok(Object.values(p).every((src) => !allowed(s, target(c), src, 22)), c);
    }
  });

  it('GIVEN the policies WHEN their types are read THEN only ingress is restricted, so DNS and the API server stay reachable', () => {
    for (const policy of s.all('NetworkPolicy') as any[]) assert.deepEqual(policy.spec.policyTypes, ['Ingress'], policy.metadata.name);
  });

  it('GIVEN an external Postgres WHEN synthesized THEN there is no Postgres policy', () => {
    const ext = synth({ postgres: { externalUrl: 'postgres://feed@db.example.com/feed' } });
    assert.equal(ext.all('NetworkPolicy').some((x: any) => matches(x.spec.podSelector, selectorLabels(ext.spec, Component.POSTGRES))), false);
  });
});
