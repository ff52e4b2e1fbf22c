import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RabbitmqConfigKeys, RabbitmqPaths } from '../../charts/index.js';
import { DEFAULT_USER_DEFINITIONS_FILE, LIVENESS_SHELL, LIVENESS_STATE_FILE, renderDefaultUserConf, renderDefaultUserDefinitions, renderLivenessScript, rabbitmqNodeNames } from '../../rabbitmq-cluster/index.js';
import {
  DEFAULT_SPEC,
  MIRRORED_POLICY_DEFINITION,
  RABBITMQ_LIVENESS_PATH,
  POLICY_NAME,
  QueueMode,
  SecretKeys,
  SpecError,
  objectNames,
  replicaQueueArguments,
  replicaQueueName,
} from '../../shared/index.js';
import { envVar, synth } from '../support/charts.js';

const names = objectNames('feedkit');
const QUORUM = { rabbitmq: { queueMode: QueueMode.QUORUM } } as const;

function rabbit(s = synth()) {
  const sts = s.get('StatefulSet', names.rabbitmq);
  const pod = sts.spec.template.spec;
  const main = pod.containers.find((c: any) => c.name === 'rabbitmq');
  const setup = pod.initContainers.find((c: any) => c.name === 'setup');
  const config = s.get('ConfigMap', names.rabbitmqConfig);
  return { s, sts, pod, main, setup, config };
}

function volumeMountedAt(pod: any, container: any, path: string): any {
  const mount = container.volumeMounts.find((m: any) => m.mountPath === path);
  assert.ok(mount, `${container.name} mounts something at ${path}`);
  return pod.volumes.find((v: any) => v.name === mount.name);
}

describe('RabbitMQ chart', () => {
  it('GIVEN the default spec WHEN synthesized THEN all three pods mount the one erlang cookie Secret and copy it to the cookie file', () => {
    const { sts, pod, main, setup } = rabbit();
    assert.equal(sts.spec.replicas, 3, 'one pod template for all three nodes');
    const cookieVolume = volumeMountedAt(pod, setup, RabbitmqPaths.COOKIE_SECRET);
    assert.equal(cookieVolume.secret.secretName, names.erlangCookieSecret);
    const cookieVolumes = pod.volumes.filter((v: any) => v.secret?.secretName === names.erlangCookieSecret);
    assert.equal(cookieVolumes.length, 1);
    const script = setup.command.join(' ');
    assert.match(script, new RegExp(`cp ${RabbitmqPaths.COOKIE_SECRET}/${SecretKeys.ERLANG_COOKIE} ${RabbitmqPaths.HOME}/.erlang.cookie`));
    assert.match(script, /chmod 0400 \/var\/lib\/rabbitmq\/.erlang.cookie/);
    assert.equal(envVar(main, 'RABBITMQ_ERLANG_COOKIE'), undefined, 'the deprecated env route is not used');
    assert.ok(main.volumeMounts.some((m: any) => m.mountPath === RabbitmqPaths.HOME), 'the main container sees the copied cookie');
  });

  it('GIVEN the init script WHEN run by a real shell on Secret-like files THEN it writes the cookie (0400), the definitions and the default user in the renderers\' formats', () => {
    const { setup } = rabbit();
    const root = mkdtempSync(join(tmpdir(), 'feedkit-setup-'));
    try {
      const map = new Map(Object.values(RabbitmqPaths).map((p) => [p, join(root, p.replaceAll('/', '_'))]));
      for (const dir of map.values()) mkdirSync(dir, { recursive: true });
      const cookie = 'a'.repeat(40);
      const user = 'feedkit';
      const pass = 'p4ss$word-with-dollar&amp';
      writeFileSync(join(map.get(RabbitmqPaths.COOKIE_SECRET)!, SecretKeys.ERLANG_COOKIE), cookie);
      writeFileSync(join(map.get(RabbitmqPaths.USER_SECRET)!, SecretKeys.USERNAME), user);
      writeFileSync(join(map.get(RabbitmqPaths.USER_SECRET)!, SecretKeys.PASSWORD), pass);
      writeFileSync(join(map.get(RabbitmqPaths.CONFIG)!, RabbitmqConfigKeys.CONF), 'cluster_partition_handling = pause_minority\n');
      writeFileSync(join(map.get(RabbitmqPaths.CONFIG)!, RabbitmqConfigKeys.DEFINITIONS), '{"policies": []}\n');
      // Longest paths first, so /var/lib/rabbitmq/mnesia is not rewritten as /var/lib/rabbitmq + /mnesia.
      let script: string = setup.command[2];
      for (const [from, to] of [...map].sort((a, b) => b[0].length - a[0].length)) script = script.replaceAll(from, to);
      execFileSync('sh', ['-c', script]);
      const cookieFile = join(map.get(RabbitmqPaths.HOME)!, '.erlang.cookie');
      assert.equal(readFileSync(cookieFile, 'utf8'), cookie);
      assert.equal(statSync(cookieFile).mode & 0o777, 0o400);
      assert.equal(readFileSync(join(map.get(RabbitmqPaths.CONF_D)!, '20-default-user.conf'), 'utf8'), renderDefaultUserConf(user, pass));
      assert.equal(readFileSync(join(map.get(RabbitmqPaths.CONF_D)!, '10-feedkit.conf'), 'utf8'), 'cluster_partition_handling = pause_minority\n');
      const defsDir = map.get(RabbitmqPaths.DEFINITIONS)!;
      assert.equal(readFileSync(join(defsDir, RabbitmqConfigKeys.DEFINITIONS), 'utf8'), '{"policies": []}\n');
      const userDefs = join(defsDir, DEFAULT_USER_DEFINITIONS_FILE);
      assert.deepEqual(JSON.parse(readFileSync(userDefs, 'utf8')), JSON.parse(renderDefaultUserDefinitions(user, pass)));
      assert.equal(statSync(userDefs).mode & 0o777, 0o400);

      // A second run (container restart) replaces the read-only cookie file; a short cookie is refused.
      execFileSync('sh', ['-c', script]);
      writeFileSync(join(map.get(RabbitmqPaths.USER_SECRET)!, SecretKeys.PASSWORD), 'has a space in it');
      assert.throws(() => execFileSync('sh', ['-c', script], { stdio: 'pipe' }), /whitespace/);
      writeFileSync(join(map.get(RabbitmqPaths.USER_SECRET)!, SecretKeys.PASSWORD), 'short');
      assert.throws(() => execFileSync('sh', ['-c', script], { stdio: 'pipe' }), /at least 12/);
      writeFileSync(join(map.get(RabbitmqPaths.COOKIE_SECRET)!, SecretKeys.ERLANG_COOKIE), 'short');
      assert.throws(() => execFileSync('sh', ['-c', script], { stdio: 'pipe' }), /shorter than 32/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('GIVEN mirrored mode WHEN the ConfigMap definitions are read THEN the ha-feed policy pattern matches the app replica queue names', () => {
    const { config } = rabbit();
    const defs = JSON.parse(config.data[RabbitmqConfigKeys.DEFINITIONS]);
    const policy = defs.policies.find((p: any) => p.name === POLICY_NAME);
    assert.ok(policy);
    assert.ok(new RegExp(policy.pattern).test(replicaQueueName('feedkit-app-7d9f8-x2k4q')));
    assert.deepEqual(policy.definition, { ...MIRRORED_POLICY_DEFINITION });
    assert.equal(policy['apply-to'], 'queues');
    assert.match(config.data[RabbitmqConfigKeys.CONF], new RegExp(`^load_definitions = ${RabbitmqPaths.DEFINITIONS}$`, 'm'));
  });

  it('GIVEN quorum mode WHEN synthesized THEN no ha-mode appears, the app is told quorum, and preStop waits for quorum', () => {
    const s = synth(QUORUM);
    const { config, main } = rabbit(s);
    assert.doesNotMatch(JSON.stringify(config.data), /ha-mode/);
    assert.equal(s.get('ConfigMap', names.appConfig).data.QUEUE_MODE, QueueMode.QUORUM);
    assert.equal(replicaQueueArguments(QueueMode.QUORUM, 1000)['x-queue-type'], 'quorum');
    const preStop = main.lifecycle.preStop.exec.command.join(' ');
    assert.match(preStop, /await_online_quorum_plus_one/);
    assert.doesNotMatch(preStop, /synchronized_mirror/);
  });

  it('GIVEN a 4.x image in mirrored mode WHEN synthesized THEN it is refused naming rabbitmq.queueMode and the quorum mode', () => {
    assert.throws(
      () => synth({ rabbitmq: { version: '4.0.5', image: { repository: 'docker.io/library/rabbitmq', tag: '4.0.5-management' } } }),
      (e: unknown) => e instanceof SpecError && e.field === 'rabbitmq.queueMode' && /quorum/.test(e.message),
    );
  });

  it('GIVEN the default spec WHEN synthesized THEN the StatefulSet starts pods in parallel behind a headless Service that publishes not-ready addresses', () => {
    const { s, sts } = rabbit();
    assert.equal(sts.spec.podManagementPolicy, 'Parallel');
    assert.equal(sts.spec.serviceName, names.rabbitmqHeadless);
    const headless = s.get('Service', names.rabbitmqHeadless);
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    assert.deepEqual(headless.spec.ports.map((p: any) => [p.name, p.port]), [['amqp', 5672], ['epmd', 4369], ['dist', 25672]]);
    const client = s.get('Service', names.rabbitmq);
    assert.deepEqual(client.spec.ports.map((p: any) => [p.name, p.port]), [['amqp', 5672], ['management', 15672], ['prometheus', 15692]]);
    for (const svc of [headless, client]) {
      for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(sts.spec.template.metadata.labels[k], v, `${svc.metadata.name} selects the pods`);
    }
  });

  it('GIVEN the RabbitMQ container WHEN its probes are read THEN it has TCP readiness on AMQP, a startup probe, and a liveness script that kills a hung node before net_ticktime', () => {
    const { main, pod } = rabbit();
    assert.equal(main.readinessProbe.tcpSocket.port, 5672);
    assert.ok(main.startupProbe.failureThreshold * main.startupProbe.periodSeconds >= 600, 'a booting node gets at least 10 minutes');
    const l = main.livenessProbe;
    assert.deepEqual(l.exec.command, [LIVENESS_SHELL, '-c', renderLivenessScript({ port: 15692, path: RABBITMQ_LIVENESS_PATH, timeoutSeconds: l.timeoutSeconds, refusedSeconds: DEFAULT_SPEC.rabbitmq.liveness.refusedSeconds, stateFile: LIVENESS_STATE_FILE })]);
    // At worst: the hang starts just after a check passed.
    const killS = l.periodSeconds + (l.failureThreshold - 1) * Math.max(l.periodSeconds, l.timeoutSeconds) + l.timeoutSeconds + l.terminationGracePeriodSeconds;
    assert.ok(killS < DEFAULT_SPEC.rabbitmq.netTicktimeSeconds, `the kill (${killS} s) must come before net_ticktime declares the node down (${DEFAULT_SPEC.rabbitmq.netTicktimeSeconds} s)`);
    assert.ok(l.terminationGracePeriodSeconds < pod.terminationGracePeriodSeconds, 'a liveness kill does not wait out the drain grace period');
  });

  it('GIVEN liveness turned off WHEN synthesized THEN the node has no liveness probe', () => {
    const { main } = rabbit(synth({ rabbitmq: { liveness: { enabled: false } } }));
    assert.equal(main.livenessProbe, undefined);
  });

  it('GIVEN a liveness check slower than net_ticktime WHEN synthesized THEN it is refused naming rabbitmq.liveness.failureThreshold and the bound', () => {
    assert.throws(
      () => synth({ rabbitmq: { netTicktimeSeconds: 15, liveness: { periodSeconds: 3, failureThreshold: 5, terminationGracePeriodSeconds: 2 } } }),
      (e: unknown) => e instanceof SpecError && e.field === 'rabbitmq.liveness.failureThreshold' && /19 s at worst/.test(e.message) && /netTicktimeSeconds/.test(e.message),
    );
  });

  it('GIVEN the RabbitMQ container WHEN it is stopped THEN preStop waits for mirror sync and drains the node within the grace period', () => {
    const { pod, main } = rabbit();
    const preStop = main.lifecycle.preStop.exec.command.join(' ');
    assert.match(preStop, /rabbitmq-upgrade await_online_synchronized_mirror -t (\d+)/);
    assert.match(preStop, /rabbitmq-upgrade drain/);
    const wait = Number(/-t (\d+)/.exec(preStop)![1]);
    assert.ok(wait < pod.terminationGracePeriodSeconds);
  });

  it('GIVEN the default spec WHEN synthesized THEN a PodDisruptionBudget lets one node go at a time', () => {
    const { s, sts } = rabbit();
    const pdb = s.get('PodDisruptionBudget', names.rabbitmq);
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, sts.spec.selector.matchLabels);
  });

  it('GIVEN Kubernetes peer discovery WHEN synthesized THEN the pods run as a ServiceAccount allowed to get endpoints and create events', () => {
    const { s, pod, config } = rabbit();
    assert.equal(pod.serviceAccountName, names.rabbitmqServiceAccount);
    assert.equal(pod.automountServiceAccountToken, true);
    const role = s.get('Role', names.rabbitmqServiceAccount);
    assert.deepEqual(role.rules.map((r: any) => [r.resources.join(), r.verbs.join()]), [['endpoints', 'get'], ['events', 'create']]);
    const binding = s.get('RoleBinding', names.rabbitmqServiceAccount);
    assert.equal(binding.roleRef.name, role.metadata.name);
    assert.deepEqual(binding.subjects.map((x: any) => [x.kind, x.name]), [['ServiceAccount', names.rabbitmqServiceAccount]]);
    const conf = config.data[RabbitmqConfigKeys.CONF];
    assert.match(conf, /^cluster_formation\.peer_discovery_backend = rabbit_peer_discovery_k8s$/m);
    assert.match(conf, new RegExp(`^cluster_formation\\.k8s\\.service_name = ${names.rabbitmqHeadless}$`, 'm'));
    assert.match(conf, /^cluster_partition_handling = pause_minority$/m);
    assert.match(config.data[RabbitmqConfigKeys.ENABLED_PLUGINS], /rabbitmq_management/);
    assert.match(config.data[RabbitmqConfigKeys.ENABLED_PLUGINS], /rabbitmq_prometheus/);
  });

  it('GIVEN long names WHEN the node name env is expanded per pod THEN it equals the stable FQDN node names', () => {
    const { s, main } = rabbit();
    assert.equal(envVar(main, 'RABBITMQ_USE_LONGNAME').value, 'true');
    assert.equal(envVar(main, 'MY_POD_NAME').valueFrom.fieldRef.fieldPath, 'metadata.name');
    const template: string = envVar(main, 'RABBITMQ_NODENAME').value;
    const expanded = [0, 1, 2].map((i) => template.replace('$(MY_POD_NAME)', `${names.rabbitmq}-${i}`));
    assert.deepEqual(expanded, rabbitmqNodeNames(s.spec));
  });

  it('GIVEN storage settings WHEN synthesized THEN each node gets its own claim of that size and class', () => {
    const { sts, main } = rabbit(synth({ rabbitmq: { storageSize: '20Gi', storageClassName: 'fast-ssd' } }));
    const [claim, ...rest] = sts.spec.volumeClaimTemplates;
    assert.equal(rest.length, 0);
    assert.equal(claim.spec.resources.requests.storage, '20Gi');
    assert.equal(claim.spec.storageClassName, 'fast-ssd');
    assert.ok(main.volumeMounts.some((m: any) => m.name === claim.metadata.name && m.mountPath === RabbitmqPaths.DATA));
    assert.ok(!sts.spec.template.spec.volumes.some((v: any) => v.name === claim.metadata.name), 'no pod-level volume shadows the claim');
  });

  it('GIVEN the default spec WHEN synthesized THEN nodes prefer different hosts, run as uid 999 and use the spec resources', () => {
    const { s, pod, main } = rabbit();
    const term = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    assert.equal(term.topologyKey, 'kubernetes.io/hostname');
    assert.equal(pod.securityContext.runAsUser, 999);
    assert.equal(pod.securityContext.fsGroup, 999);
    assert.equal(main.resources.requests.cpu, s.spec.rabbitmq.resources.cpuRequest);
    assert.equal(main.resources.limits.memory, '2048Mi');
    assert.equal(main.resources.limits.cpu, undefined, 'no CPU limit by default (it throttles the Erlang scheduler)');
  });
});
