import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExposureKind, SpecError, objectNames, type SpecOverrides } from '../../shared/index.js';
import { synth } from '../support/charts.js';

const names = objectNames('feedkit');
const HOST = 'feed.example.com';
const ingress = (extra: Record<string, unknown> = {}): SpecOverrides => ({ exposure: { kind: ExposureKind.INGRESS, host: HOST, ingressClassName: 'nginx', ...extra } }) as SpecOverrides;

function specError(overrides: SpecOverrides): SpecError {
  try {
    synth(overrides);
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  assert.fail('expected a SpecError');
}

describe('exposure', () => {
  it('GIVEN the default spec WHEN synthesized THEN there is no exposure chart, no Ingress, no HTTPRoute and no LoadBalancer', () => {
    const s = synth();
    assert.ok(!s.charts.some((c) => c.name === 'exposure'));
    assert.equal(s.all('Ingress').length + s.all('HTTPRoute').length, 0);
    assert.ok(!s.all('Service').some((o: any) => o.spec.type === 'LoadBalancer'));
  });

  it('GIVEN kind ingress with a host WHEN synthesized THEN the Ingress routes every path of the host to the app Service port', () => {
    const s = synth(ingress());
    const ing = s.get('Ingress', names.app);
    const service = s.get('Service', names.app);
    assert.equal(ing.spec.ingressClassName, 'nginx');
    assert.equal(ing.spec.rules[0].host, HOST);
    const path = ing.spec.rules[0].http.paths[0];
    assert.deepEqual([path.path, path.pathType, path.backend.service.name], ['/', 'Prefix', service.metadata.name]);
    assert.ok(service.spec.ports.some((p: any) => p.port === path.backend.service.port.number), 'the backend port is a port of the Service');
    assert.ok(!('tls' in ing.spec), 'no TLS unless asked for');
  });

  it('GIVEN kind ingress WHEN synthesized THEN ingress-nginx keeps WebSockets open an hour and does not buffer them', () => {
    const a = synth(ingress()).get('Ingress', names.app).metadata.annotations;
    assert.ok(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 3600);
    assert.ok(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout']) >= 3600);
    assert.equal(a['nginx.ingress.kubernetes.io/proxy-buffering'], 'off');
  });

  it('GIVEN a cert-manager ClusterIssuer WHEN synthesized THEN the Ingress asks it for a certificate in the default TLS Secret', () => {
    const ing = synth(ingress({ tls: { clusterIssuer: 'letsencrypt' } })).get('Ingress', names.app);
    assert.equal(ing.metadata.annotations['cert-manager.io/cluster-issuer'], 'letsencrypt');
    assert.deepEqual(ing.spec.tls, [{ hosts: [HOST], secretName: names.appTlsSecret }]);
  });

  it('GIVEN a TLS Secret WHEN synthesized THEN the Ingress uses it and no issuer annotation is set', () => {
    const ing = synth(ingress({ tls: { secretName: 'my-cert' } })).get('Ingress', names.app);
    assert.deepEqual(ing.spec.tls, [{ hosts: [HOST], secretName: 'my-cert' }]);
    assert.ok(!('cert-manager.io/cluster-issuer' in ing.metadata.annotations));
  });

  it('GIVEN kind gateway WHEN synthesized THEN an HTTPRoute attaches to the named Gateway listener and sends the host to the app Service without a request timeout', () => {
    const s = synth({ exposure: { kind: ExposureKind.GATEWAY, host: HOST, gateway: { name: 'public', namespace: 'gateways', sectionName: 'https' } } });
    const route = s.get('HTTPRoute', names.app);
    assert.deepEqual(route.spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateways', sectionName: 'https' }]);
    assert.deepEqual(route.spec.hostnames, [HOST]);
    assert.equal(route.spec.rules[0].backendRefs[0].name, s.get('Service', names.app).metadata.name);
    assert.equal(route.spec.rules[0].timeouts.request, '0s');
  });

  it('GIVEN kind loadBalancer WHEN synthesized THEN a LoadBalancer Service selects the app pods on their HTTP port, next to the ClusterIP Service', () => {
    const s = synth({ exposure: { kind: ExposureKind.LOAD_BALANCER } });
    const lb = s.get('Service', names.appPublic);
    const pods = s.get('Deployment', names.app).spec.template;
    assert.equal(lb.spec.type, 'LoadBalancer');
    for (const [k, v] of Object.entries(lb.spec.selector)) assert.equal(pods.metadata.labels[k], v);
    assert.equal(lb.spec.ports[0].targetPort, pods.spec.containers[0].ports[0].containerPort);
    assert.ok(s.has('Service', names.app));
  });

  const BAD: Array<[string, SpecOverrides, string, RegExp]> = [
    ['an Ingress without host', { exposure: { kind: ExposureKind.INGRESS } }, 'exposure.host', /set exposure\.host/],
    ['a Gateway route without Gateway', { exposure: { kind: ExposureKind.GATEWAY } }, 'exposure.gateway.name', /exposure\.gateway\.name/],
    ['TLS on a Gateway route', { exposure: { kind: ExposureKind.GATEWAY, gateway: { name: 'g' }, tls: { secretName: 'x' } } }, 'exposure.tls', /Gateway listener/],
    ['TLS on a LoadBalancer', { exposure: { kind: ExposureKind.LOAD_BALANCER, tls: { clusterIssuer: 'x' } } }, 'exposure.tls', /"ingress"/],
    ['a stream timeout under an hour', { exposure: { streamTimeoutSeconds: 60 } }, 'exposure.streamTimeoutSeconds', /3600/],
    ['a host with upper case and a scheme', { exposure: { host: 'https://Feed.example.com' } }, 'exposure.host', /feed\.example\.com/],
    ['an unknown kind', { exposure: { kind: 'nodePort' as never } }, 'exposure.kind', /none, ingress, gateway, loadBalancer/],
  ];
  for (const [what, overrides, field, fix] of BAD) {
    it(`GIVEN ${what} WHEN resolved THEN synth stops naming ${field} and the fix`, () => {
      const e = specError(overrides);
      assert.equal(e.field, field);
      assert.match(e.message, fix);
    });
  }
});
