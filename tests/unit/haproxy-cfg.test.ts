import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AMQP_PROTOCOL_HEADER, resolveSpec } from '../../shared/index.js';
import { rabbitmqPodHostnames } from '../../rabbitmq-cluster/index.js';
import { RenderInputError } from '../../shared/index.js';
import {
  CONNECTION_START_HEX_REGEX,
  CONNECTION_START_MIN_BYTES,
  HaproxyNames,
  haproxyServersForCluster,
  renderHaproxyCfg,
  type HaproxyCfgOptions,
} from '../../haproxy/index.js';

const spec = resolveSpec();
const k8s: HaproxyCfgOptions = { servers: haproxyServersForCluster(spec), resolvers: {} };
const loopback: HaproxyCfgOptions = {
  servers: [41001, 41002, 41003].map((port, i) => ({ name: `rabbit-${i + 1}`, host: '127.0.0.1', port })),
  amqpBind: { host: '127.0.0.1', port: 42001 },
  statsBind: { host: '127.0.0.1', port: 42002 },
};

/** Lines of each section, keyed by its header (`backend rabbitmq`), trimmed, comments dropped. */
function sections(cfg: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of cfg.split('\n')) {
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    if (!raw.startsWith(' ')) {
      current = [];
      out.set(raw.trim(), current);
    } else current?.push(raw.trim());
  }
  return out;
}

function section(cfg: string, header: string): string[] {
  const lines = sections(cfg).get(header);
  assert.ok(lines, `section "${header}" missing`);
  return lines;
}

const backend = (cfg: string) => section(cfg, `backend ${HaproxyNames.BACKEND}`);
const seconds = (value: string) => Number(/^(\d+)s$/.exec(value)?.[1]);

/** A connection.start method frame as RabbitMQ sends it: type 1, channel 0, size, class 10, method 10, … */
function connectionStartFrame(): Buffer {
  const payload = Buffer.from([0x00, 0x0a, 0x00, 0x0a, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
  const header = Buffer.alloc(7);
  header.writeUInt8(1, 0);
  header.writeUInt16BE(0, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([0xce])]);
}

describe('haproxy.cfg: backend servers', () => {
  test('GIVEN the Kubernetes servers WHEN rendered THEN the backend lists exactly the three pods\' stable DNS names', () => {
    const servers = backend(renderHaproxyCfg(spec, k8s)).filter((l) => l.startsWith('server '));
    const hosts = servers.map((l) => l.split(/\s+/)[2]!.replace(/:\d+$/, ''));
    assert.deepEqual(hosts.sort(), rabbitmqPodHostnames(spec).sort());
    assert.ok(servers.every((l) => l.endsWith(`:${spec.rabbitmq.ports.amqp}`)));
  });

  test('GIVEN any servers WHEN rendered THEN TCP mode balances round-robin', () => {
    const cfg = renderHaproxyCfg(spec, loopback);
    assert.ok(section(cfg, 'defaults').includes('mode tcp'));
    assert.ok(backend(cfg).includes('balance roundrobin'));
    assert.ok(section(cfg, `frontend ${HaproxyNames.FRONTEND}`).includes('bind 127.0.0.1:42001'));
  });

  test('GIVEN no servers or a duplicate name WHEN rendered THEN the error names the field', () => {
    assert.throws(() => renderHaproxyCfg(spec, { servers: [] }), (e: unknown) => e instanceof RenderInputError && e.field === 'servers');
    const dup = { servers: [loopback.servers[0]!, loopback.servers[0]!] };
    assert.throws(() => renderHaproxyCfg(spec, dup), (e: unknown) => e instanceof RenderInputError && e.field === 'servers.1.name');
  });
});

describe('haproxy.cfg: AMQP-aware health check', () => {
  test('GIVEN any servers WHEN rendered THEN the check sends the full 8-byte protocol header, not AMQP\\r\\n', () => {
    const send = backend(renderHaproxyCfg(spec, loopback)).find((l) => l.startsWith('tcp-check send-binary '));
    assert.ok(send);
    const bytes = Buffer.from(send.split(' ')[2]!, 'hex');
    assert.equal(bytes.length, 8);
    assert.deepEqual(bytes, AMQP_PROTOCOL_HEADER);
    assert.notDeepEqual(bytes.subarray(0, 6), Buffer.from('AMQP\r\n'));
  });

  test('GIVEN the rendered expect rule WHEN applied to a connection.start frame in either hex case THEN it matches', () => {
    const expect = backend(renderHaproxyCfg(spec, loopback)).find((l) => l.startsWith('tcp-check expect '));
    assert.equal(expect, `tcp-check expect min-recv ${CONNECTION_START_MIN_BYTES} rbinary ${CONNECTION_START_HEX_REGEX}`);
    const hex = connectionStartFrame().toString('hex');
    assert.match(hex, new RegExp(CONNECTION_START_HEX_REGEX));
    assert.match(hex.toUpperCase(), new RegExp(CONNECTION_START_HEX_REGEX));
  });

  test('GIVEN a non-AMQP or wrong reply WHEN the expect regex is applied THEN it does not match', () => {
    const re = new RegExp(CONNECTION_START_HEX_REGEX);
    assert.doesNotMatch(Buffer.from('HTTP/1.1 400 Bad Request\r\n').toString('hex'), re);
    assert.doesNotMatch(Buffer.from('AMQP\x00\x00\x09\x01').toString('hex'), re, 'protocol-mismatch reply');
    const closeFrame = connectionStartFrame();
    closeFrame.writeUInt16BE(50, 9); // connection.close (10, 50)
    assert.doesNotMatch(closeFrame.toString('hex'), re);
  });

  test('GIVEN any servers WHEN rendered THEN a dead node is marked down by checks and its sessions are shut down', () => {
    const defaults = backend(renderHaproxyCfg(spec, loopback)).find((l) => l.startsWith('default-server '));
    assert.ok(defaults);
    for (const word of ['check', 'inter', 'fall', 'rise', 'on-marked-down shutdown-sessions']) assert.ok(defaults.includes(word), word);
    assert.ok(backend(renderHaproxyCfg(spec, loopback)).includes('option tcp-check'));
  });
});

describe('haproxy.cfg: DNS re-resolution', () => {
  test('GIVEN resolvers WHEN rendered THEN names are re-resolved from resolv.conf and a missing name does not block start', () => {
    const cfg = renderHaproxyCfg(spec, k8s);
    const resolvers = section(cfg, `resolvers ${HaproxyNames.DEFAULT_RESOLVERS}`);
    assert.ok(resolvers.includes('parse-resolv-conf'));
    assert.ok(resolvers.some((l) => /^hold valid \d+s$/.test(l)));
    const defaults = backend(cfg).find((l) => l.startsWith('default-server '));
    assert.ok(defaults?.includes(`resolvers ${HaproxyNames.DEFAULT_RESOLVERS}`));
    assert.ok(defaults?.includes('init-addr last,libc,none'));
  });

  test('GIVEN loopback IPs and no resolvers WHEN rendered THEN there is no resolvers section', () => {
    const cfg = renderHaproxyCfg(spec, loopback);
    assert.ok(![...sections(cfg).keys()].some((h) => h.startsWith('resolvers ')));
    assert.doesNotMatch(cfg, /init-addr/);
  });
});

describe('haproxy.cfg: timeouts', () => {
  test('GIVEN the spec heartbeat WHEN rendered THEN client and server timeouts exceed two heartbeats, with TCP keepalives', () => {
    for (const s of [spec, resolveSpec({ haproxy: { amqpHeartbeatSeconds: 60, idleTimeoutSeconds: 600 } })]) {
      const defaults = section(renderHaproxyCfg(s, loopback), 'defaults');
      for (const side of ['client', 'server']) {
        const line = defaults.find((l) => l.startsWith(`timeout ${side} `));
        assert.ok(line, side);
        assert.ok(seconds(line.split(' ')[2]!) > 2 * s.haproxy.amqpHeartbeatSeconds, line);
        assert.equal(seconds(line.split(' ')[2]!), s.haproxy.idleTimeoutSeconds);
      }
      assert.ok(defaults.includes('option clitcpka'));
      assert.ok(defaults.includes('option srvtcpka'));
      assert.ok(defaults.some((l) => /^timeout connect \d+s$/.test(l)));
    }
  });
});

describe('haproxy.cfg: stats, metrics and probe endpoint', () => {
  test('GIVEN any options WHEN rendered THEN the stats port serves /stats, Prometheus /metrics and /healthz', () => {
    const stats = section(renderHaproxyCfg(spec, loopback), `frontend ${HaproxyNames.STATS_FRONTEND}`);
    assert.ok(stats.includes('mode http'));
    assert.ok(stats.includes('bind 127.0.0.1:42002'));
    assert.ok(stats.includes(`stats uri ${HaproxyNames.STATS_PATH}`));
    assert.ok(stats.includes(`http-request use-service prometheus-exporter if { path ${HaproxyNames.METRICS_PATH} }`));
    assert.ok(stats.includes(`monitor-uri ${HaproxyNames.HEALTH_PATH}`));
  });

  test('GIVEN no bind options WHEN rendered THEN both fronts listen on every interface on the spec ports', () => {
    const cfg = renderHaproxyCfg(spec, k8s);
    assert.ok(section(cfg, `frontend ${HaproxyNames.FRONTEND}`).includes(`bind *:${spec.haproxy.ports.amqp}`));
    assert.ok(section(cfg, `frontend ${HaproxyNames.STATS_FRONTEND}`).includes(`bind *:${spec.haproxy.ports.stats}`));
  });

  test('GIVEN the same inputs WHEN rendered twice THEN the output is byte-identical', () => {
    assert.equal(renderHaproxyCfg(spec, k8s), renderHaproxyCfg(resolveSpec(), { servers: haproxyServersForCluster(resolveSpec()), resolvers: {} }));
  });
});
