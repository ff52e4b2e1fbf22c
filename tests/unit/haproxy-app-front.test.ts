import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RenderInputError, resolveSpec, Routes } from '../../shared/index.js';
import {
  APP_FRONT_MAX_CONNECTIONS,
  AppFrontCheck,
  AppFrontNames,
  READY_STATUS,
  renderAppFrontCfg,
  TUNNEL_TIMEOUT_SECONDS,
  type AppFrontCfgOptions,
} from '../../haproxy/index.js';

const spec = resolveSpec();
const options: AppFrontCfgOptions = {
  servers: [43003, 43001, 43002].map((port, i) => ({ name: `app-${i}`, host: '127.0.0.1', port })),
  bind: { host: '127.0.0.1', port: 44080 },
  statsBind: { host: '127.0.0.1', port: 44081 },
};
const cfg = renderAppFrontCfg(spec, options);

/** Lines of the section headed `header` (e.g. `backend app-replicas`), trimmed, comments and blanks dropped. */
function section(text: string, header: string): string[] {
  const out: string[] = [];
  let inside = false;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    if (!raw.startsWith(' ')) inside = raw.trim() === header;
    else if (inside) out.push(raw.trim());
  }
  assert.ok(out.length > 0, `section "${header}" missing or empty`);
  return out;
}

const directives = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const backend = section(cfg, `backend ${AppFrontNames.BACKEND}`);
const defaults = section(cfg, 'defaults');
const seconds = (lines: string[], name: string) => Number(new RegExp(`^${name} (\\d+)s$`).exec(lines.find((l) => l.startsWith(`${name} `)) ?? '')?.[1]);

describe('app front haproxy.cfg', () => {
  test('GIVEN three replicas WHEN rendered THEN HTTP mode balances at random over them, as kube-proxy, each listed once', () => {
    assert.ok(defaults.includes('mode http'));
    assert.ok(backend.includes('balance random(1)'), 'one draw: no preference for the least loaded');
    const servers = backend.filter((l) => l.startsWith('server '));
    assert.deepEqual(servers, ['server app-0 127.0.0.1:43003', 'server app-1 127.0.0.1:43001', 'server app-2 127.0.0.1:43002']);
    assert.ok(section(cfg, `frontend ${AppFrontNames.FRONTEND}`).includes(`default_backend ${AppFrontNames.BACKEND}`));
  });

  test('GIVEN any replicas WHEN rendered THEN each is checked on the readiness route, expecting 200, fast', () => {
    assert.equal(AppFrontNames.CHECK_PATH, Routes.READY);
    assert.ok(backend.includes(`option httpchk GET ${Routes.READY}`));
    assert.ok(backend.includes(`http-check expect status ${READY_STATUS}`));
    assert.equal(READY_STATUS, 200);
    const defaultServer = backend.find((l) => l.startsWith('default-server '));
    assert.equal(defaultServer, `default-server check inter ${AppFrontCheck.INTER} fall ${AppFrontCheck.FALL} rise ${AppFrontCheck.RISE}`);
    assert.ok(Number.parseInt(AppFrontCheck.INTER, 10) <= 2, 'a readiness check slower than 2 s keeps a draining replica in rotation too long');
  });

  test('GIVEN any replicas WHEN rendered THEN a request is never retried or redispatched to another replica (as a Kubernetes Service)', () => {
    assert.ok(backend.includes('retries 0'));
    const all = directives(cfg);
    assert.ok(!all.some((l) => /^retries [1-9]/.test(l)), 'no other retries setting anywhere');
    assert.ok(!all.some((l) => /^option\s+redispatch/.test(l) && !/^no\s/.test(l)), 'option redispatch moves a failed request to another replica');
    assert.ok(!all.some((l) => l.startsWith('retry-on')), 'retry-on resends requests after layer-7 failures');
    assert.ok(!all.some((l) => l.includes('shutdown-sessions')), 'a draining replica closes its own sockets with 1012');
  });

  test('GIVEN WebSocket clients WHEN rendered THEN upgraded sockets live at least an hour and slow request heads are cut', () => {
    assert.ok(seconds(defaults, 'timeout tunnel') >= 3600);
    assert.equal(seconds(defaults, 'timeout tunnel'), TUNNEL_TIMEOUT_SECONDS);
    for (const t of ['timeout connect', 'timeout client', 'timeout server', 'timeout http-request']) assert.ok(seconds(defaults, t) > 0, `${t} missing`);
    assert.ok(seconds(defaults, 'timeout http-request') <= 30);
  });

  test('GIVEN streaming clients (SSE, WebSocket) WHEN rendered THEN small writes are forwarded at once, not held for more data', () => {
    assert.ok(defaults.includes('option http-no-delay'));
  });

  test('GIVEN any options WHEN rendered THEN clients are forwarded with X-Forwarded-For and the front takes its connection budget', () => {
    const front = section(cfg, `frontend ${AppFrontNames.FRONTEND}`);
    assert.ok(front.includes('option forwardfor'));
    assert.ok(front.includes(`maxconn ${APP_FRONT_MAX_CONNECTIONS}`));
    const global = Number(/^maxconn (\d+)$/.exec(section(cfg, 'global').find((l) => l.startsWith('maxconn')) ?? '')?.[1]);
    assert.ok(global > APP_FRONT_MAX_CONNECTIONS, 'the global limit leaves room for the stats listener');
    assert.ok(2 * global + 100 <= 20_000, 'two descriptors per proxied socket must fit the 20,000 open files a process may have here');
  });

  test('GIVEN a stats listener WHEN rendered THEN it serves /stats, Prometheus /metrics and /healthz', () => {
    const stats = section(cfg, `frontend ${AppFrontNames.STATS_FRONTEND}`);
    assert.ok(stats.includes('bind 127.0.0.1:44081'));
    assert.ok(stats.includes(`stats uri ${AppFrontNames.STATS_PATH}`));
    assert.ok(stats.includes(`monitor-uri ${AppFrontNames.HEALTH_PATH}`));
    assert.ok(stats.some((l) => l.includes('prometheus-exporter') && l.includes(AppFrontNames.METRICS_PATH)));
  });

  test('GIVEN a bad listener or server WHEN rendered THEN the error names the field', () => {
    const field = (f: string) => (e: unknown) => e instanceof RenderInputError && e.field === f;
    assert.throws(() => renderAppFrontCfg(spec, { ...options, bind: { host: '127.0.0.1', port: 0 } }), field('bind.port'));
    assert.throws(() => renderAppFrontCfg(spec, { ...options, statsBind: { host: 'bad host', port: 80 } }), field('statsBind.host'));
    assert.throws(() => renderAppFrontCfg(spec, { ...options, servers: [] }), field('servers'));
    assert.throws(() => renderAppFrontCfg(spec, { ...options, servers: [{ name: 'a b', host: '127.0.0.1', port: 1 }] }), field('servers.0.name'));
    assert.throws(() => renderAppFrontCfg(spec, { ...options, servers: [{ name: 'a', host: '127.0.0.1', port: 70_000 }] }), field('servers.0.port'));
  });

  test('GIVEN no stats listener WHEN rendered THEN stats listen on every interface on the spec port', () => {
    const { statsBind: _unused, ...rest } = options;
    assert.ok(section(renderAppFrontCfg(spec, rest), `frontend ${AppFrontNames.STATS_FRONTEND}`).includes(`bind *:${spec.haproxy.ports.stats}`));
  });

  test('GIVEN the same inputs WHEN rendered twice THEN the output is byte-identical', () => {
    assert.equal(renderAppFrontCfg(spec, options), cfg);
  });
});
