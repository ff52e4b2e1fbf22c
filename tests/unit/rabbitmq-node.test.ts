import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { objectNames, resolveSpec, RenderInputError } from '../../shared/index.js';
import {
  PeerDiscoveryKind,
  parseRabbitmqConf,
  rabbitmqNodeNames,
  rabbitmqPodHostnames,
  renderDefaultUserConf,
  renderDefaultUserDefinitions,
  renderEnabledPlugins,
} from '../../rabbitmq-cluster/index.js';

const PASSWORD = 'f3a9c1d2e4b5a6978812abcd';

function assertInputError(fn: () => unknown, field: string): void {
  assert.throws(fn, (e: unknown) => e instanceof RenderInputError && e.field === field && e.message.includes(`"${field}"`));
}

describe('topology', () => {
  test('GIVEN the default spec WHEN hostnames are listed THEN they are the three StatefulSet pods under the headless Service', () => {
    const spec = resolveSpec();
    const names = objectNames(spec.name);
    assert.deepEqual(rabbitmqPodHostnames(spec), [0, 1, 2].map((i) => `${names.rabbitmq}-${i}.${names.rabbitmqHeadless}.feedkit.svc.cluster.local`));
  });

  test('GIVEN five replicas, another namespace and domain WHEN node names are listed THEN there are five rabbit@<fqdn> names', () => {
    const spec = resolveSpec({ rabbitmq: { replicas: 5 }, namespace: 'feeds', clusterDomain: 'k8s.example' });
    const nodes = rabbitmqNodeNames(spec);
    assert.equal(nodes.length, 5);
    assert.equal(nodes[4], `rabbit@${objectNames(spec.name).rabbitmq}-4.${objectNames(spec.name).rabbitmqHeadless}.feeds.svc.k8s.example`);
  });
});

describe('enabled_plugins', () => {
  test('GIVEN Kubernetes discovery WHEN rendered THEN management, prometheus and the k8s discovery plugin are enabled', () => {
    assert.equal(renderEnabledPlugins(PeerDiscoveryKind.KUBERNETES), '[rabbitmq_management,rabbitmq_peer_discovery_k8s,rabbitmq_prometheus].\n');
  });

  test('GIVEN classic discovery WHEN rendered THEN no k8s plugin is enabled', () => {
    assert.equal(renderEnabledPlugins(PeerDiscoveryKind.CLASSIC), '[rabbitmq_management,rabbitmq_prometheus].\n');
  });
});

describe('default user', () => {
  test('GIVEN valid credentials WHEN the conf.d snippet is rendered THEN it sets an administrator default user', () => {
    const c = parseRabbitmqConf(renderDefaultUserConf('feedkit', PASSWORD));
    assert.equal(c.get('default_user'), 'feedkit');
    assert.equal(c.get('default_pass'), PASSWORD);
    assert.equal(c.get('default_user_tags.administrator'), 'true');
    assert.equal(c.get('default_permissions.configure'), '.*');
  });

  test('GIVEN valid credentials WHEN the user definitions are rendered THEN they create the user with all permissions on /', () => {
    const doc = JSON.parse(renderDefaultUserDefinitions('feedkit', PASSWORD)) as {
      users: Array<{ name: string; password: string; tags: string }>;
      permissions: Array<{ user: string; vhost: string; configure: string; read: string; write: string }>;
      vhosts: Array<{ name: string }>;
    };
    const user = doc.users.find((u) => u.name === 'feedkit');
    assert.ok(user);
    assert.equal(user.password, PASSWORD);
    assert.equal(user.tags, 'administrator');
    const perm = doc.permissions.find((p) => p.user === 'feedkit' && p.vhost === '/');
    assert.deepEqual(perm && [perm.configure, perm.read, perm.write], ['.*', '.*', '.*']);
    assert.ok(doc.vhosts.some((v) => v.name === '/'));
  });

  test('GIVEN a password with a "#", a space or a newline WHEN rendered THEN it is refused naming password, without echoing it', () => {
    for (const bad of ['abcdefghijkl#mn', 'abcdefg hijklmn', 'abcdefghijkl\nx = y']) {
      assertInputError(() => renderDefaultUserConf('feedkit', bad), 'password');
      assert.throws(() => renderDefaultUserDefinitions('feedkit', bad), (e: unknown) => e instanceof Error && !e.message.includes(bad));
    }
  });

  test('GIVEN a short password WHEN rendered THEN it is refused naming password', () => {
    assertInputError(() => renderDefaultUserConf('feedkit', 'short'), 'password');
  });

  test('GIVEN a username with a newline or the guest account WHEN rendered THEN it is refused naming username', () => {
    assertInputError(() => renderDefaultUserConf('feed\nkit', PASSWORD), 'username');
    assertInputError(() => renderDefaultUserConf('guest', PASSWORD), 'username');
    assertInputError(() => renderDefaultUserConf('', PASSWORD), 'username');
  });
});
