/**
 * The Kubernetes chaos target against a stand-in `kubectl` put first on PATH: it records its argv
 * to a file and answers like kubectl from a small state file (pods, uids, list_queues output). The
 * state can make it drop calls like an API server that hiccups (`flaky`: how many calls fail next) or
 * hang (`get slow`).
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { objectNames, resolveSpec } from '../../shared/index.js';
import { HAPROXY_PAUSE_UNSUPPORTED, haproxySignalScript, KUBECTL_READ_ATTEMPTS, KubernetesTarget, PARTITION_POLICY_PREFIX } from '../../scripts/chaos/kubernetes.js';
import { UnsupportedFault } from '../../scripts/chaos/target.js';
import { SCENARIOS, type ScenarioContext } from '../../scripts/chaos/scenarios.js';
import { mulberry32 } from '../../scripts/chaos/graph.js';

const STAND_IN = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const argv = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_KUBECTL_LOG, JSON.stringify(argv) + '\n');
const statePath = process.env.FAKE_KUBECTL_STATE;
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const save = () => fs.writeFileSync(statePath, JSON.stringify(state));
if (state.flaky > 0) {
  state.flaky--;
  save();
  process.stderr.write('Unable to connect to the server: dial tcp 10.0.0.1:6443: connect: connection refused');
  process.exit(1);
}
const args = argv.slice(argv.indexOf('-n') + 2);
const podJson = (p) => ({ metadata: { name: p.name, uid: p.uid }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: p.ready ? 'True' : 'False' }] } });
const fresh = () => 'uid-' + (++state.counter);
const out = (s) => process.stdout.write(typeof s === 'string' ? s : JSON.stringify(s));
const [verb, a1, a2] = args;
if (verb === 'get' && a1 === 'pods') out({ items: state.pods.map(podJson) });
else if (verb === 'get' && a1 === 'pod') {
  const p = state.pods.find((x) => x.name === a2);
  if (!p) { process.stderr.write('Error from server (NotFound): pods "' + a2 + '" not found'); process.exit(1); }
  out(podJson(p));
} else if (verb === 'get' && a1 === 'deployment') out({ spec: { replicas: state.deployments[a2] } });
else if (verb === 'get' && a1 === 'secret') out(Buffer.from(state.jwtSecret).toString('base64'));
else if (verb === 'delete' && a1 === 'pod') {
  const p = state.pods.find((x) => x.name === a2);
  if (!p) { process.stderr.write('not found'); process.exit(1); }
  // A restarted node resyncs from the others, which ends any split the state holds.
  if (/-rabbitmq-\d+$/.test(a2)) { p.uid = fresh(); delete state.split; }
  else { state.pods = state.pods.filter((x) => x !== p); state.pods.push({ name: a2.replace(/-[^-]+$/, '-' + fresh()), uid: fresh(), ready: true }); }
  save();
} else if (verb === 'exec') {
  const cmd = args.slice(args.indexOf('--') + 1);
  if (cmd[1] === 'list_queues') out(state.listQueues);
  else if (cmd[1] === 'cluster_status') out({ running_nodes: (state.split && state.split[a1]) || state.rabbitNodes, partitions: {} });
  else if (cmd[0] === 'sh') out(state.haproxyWorkers || '');
  else out('');
} else if (verb === 'apply') { state.applied.push(fs.readFileSync(0, 'utf8')); save(); }
else if (verb === 'rollout' && a1 === 'restart') { for (const p of state.pods) if (/-rabbitmq-\d+$/.test(p.name)) p.uid = fresh(); save(); }
else if (verb === 'rollout' || verb === 'delete') out('');
else if (verb === 'get' && a1 === 'slow') setTimeout(() => out('too late'), 60000);
else { process.stderr.write('stand-in kubectl: unhandled ' + args.join(' ')); process.exit(2); }
`;

const spec = resolveSpec({});
const names = objectNames(spec.name);
let dir: string;
let logFile: string;
let stateFile: string;
let savedPath: string | undefined;

function calls(): string[][] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as string[]);
}

function hasCall(expected: string[]): boolean {
  return calls().some((c) => c.join(' ') === expected.join(' '));
}

function target(): KubernetesTarget {
  return new KubernetesTarget({ spec, url: 'http://127.0.0.1:18080', pollMs: 5, partitionMs: 0 });
}

function ctx(t: KubernetesTarget, faults: string[]): ScenarioContext {
  return {
    target: t,
    rand: mulberry32(1),
    fault: (n) => {
      faults.push(n);
      return { healed: () => faults.push(`healed ${n}`) };
    },
    log: () => undefined,
    operatorAction: (line) => faults.push(`operator ${line}`),
    downS: 0,
    selfHealS: 0,
  };
}

/** Makes the stand-in answer cluster_status as a cluster split into `views` (pod index → nodes it sees running). */
function splitCluster(views: Record<number, number[]>): void {
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
  state['split'] = Object.fromEntries(Object.entries(views).map(([i, seen]) => [`${names.rabbitmq}-${i}`, seen.map(rabbitNode)]));
  writeFileSync(stateFile, JSON.stringify(state));
}

/** Sets fields of the stand-in's state. */
function patchState(patch: Record<string, unknown>): void {
  writeFileSync(stateFile, JSON.stringify({ ...(JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>), ...patch }));
}

const rabbitNode = (i: number) => `rabbit@${names.rabbitmq}-${i}.${names.rabbitmqHeadless}.${spec.namespace}.svc.${spec.clusterDomain}`;

describe('kubernetes chaos target (stand-in kubectl)', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'feedkit-kubectl-'));
    writeFileSync(join(dir, 'kubectl'), STAND_IN);
    chmodSync(join(dir, 'kubectl'), 0o755);
    logFile = join(dir, 'calls.log');
    stateFile = join(dir, 'state.json');
    savedPath = process.env['PATH'];
    process.env['PATH'] = `${dir}:${savedPath ?? ''}`;
    process.env['FAKE_KUBECTL_LOG'] = logFile;
    process.env['FAKE_KUBECTL_STATE'] = stateFile;
  });
  after(() => {
    process.env['PATH'] = savedPath;
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    writeFileSync(logFile, '');
    const pods = [
      ...[0, 1, 2].map((i) => ({ name: `${names.rabbitmq}-${i}`, uid: `r${i}`, ready: true })),
      ...['aaa', 'bbb'].map((s) => ({ name: `${names.haproxy}-5d9-${s}`, uid: `h${s}`, ready: true })),
      ...['xxx', 'yyy', 'zzz'].map((s) => ({ name: `${names.app}-7c4-${s}`, uid: `a${s}`, ready: true })),
    ];
    const listQueues = [
      `post_feed.replica.a\t<${rabbitNode(0)}.1.2.3>\t`,
      `post_feed.replica.b\t<${rabbitNode(2)}.1.2.3>\t`,
      `post_feed.replica.c\t<${rabbitNode(2)}.1.9.3>\t${rabbitNode(2)}`,
      `unrelated\t<${rabbitNode(1)}.1.2.3>\t`,
      `unrelated2\t<${rabbitNode(1)}.1.2.4>\t`,
      `unrelated3\t<${rabbitNode(1)}.1.2.5>\t`,
    ].join('\n');
    writeFileSync(
      stateFile,
      JSON.stringify({ pods, counter: 0, rabbitNodes: [0, 1, 2].map(rabbitNode), deployments: { [names.haproxy]: 2, [names.app]: 3 }, listQueues, applied: [], jwtSecret: 'a-secret-from-the-cluster-0123456789' }),
    );
  });

  it('GIVEN a rabbitmq pod WHEN the node-kill fault runs THEN the pod is force-deleted with zero grace and the heal waits for its replacement', async () => {
    const faults: string[] = [];
    await SCENARIOS['node-kill'].run(ctx(target(), faults));
    const deleted = calls().find((c) => c.includes('delete') && c.includes('pod'));
    assert.ok(deleted, 'a pod was deleted');
    assert.deepEqual(deleted.slice(0, 2), ['-n', spec.namespace]);
    assert.match(deleted[4] ?? '', new RegExp(`^${names.rabbitmq}-\\d$`));
    assert.ok(deleted.includes('--grace-period=0') && deleted.includes('--force'));
    assert.ok(calls().some((c) => c.join(' ') === `-n ${spec.namespace} get pod ${deleted[4]} -o json`));
    assert.equal(faults.length, 2);
    assert.match(faults[1] ?? '', /^healed kill -9 /);
  });

  it('GIVEN node 2 holds the most replica-queue leaders WHEN the leader-kill fault runs THEN kubectl exec asks rabbitmqctl and pod 2 is killed', async () => {
    await SCENARIOS['leader-kill'].run(ctx(target(), []));
    assert.ok(calls().some((c) => c.includes('exec') && c.includes('--') && c.slice(c.indexOf('--') + 1).join(' ') === 'rabbitmqctl list_queues name pid leader --quiet --no-table-headers'));
    assert.ok(calls().some((c) => c.includes('exec') && c[c.indexOf('-c') + 1] === 'rabbitmq'));
    assert.ok(hasCall(['-n', spec.namespace, 'delete', 'pod', `${names.rabbitmq}-2`, '--grace-period=0', '--force', '--wait=false']));
  });

  it('GIVEN three app pods WHEN the app-kill fault runs THEN exactly one app pod is force-deleted and the heal waits for the Deployment', async () => {
    await SCENARIOS['app-kill'].run(ctx(target(), []));
    const deletes = calls().filter((c) => c[2] === 'delete' && c[3] === 'pod');
    assert.equal(deletes.length, 1);
    assert.ok(deletes[0]?.[4]?.startsWith(`${names.app}-`));
    assert.ok(hasCall(['-n', spec.namespace, 'get', 'deployment', names.app, '-o', 'json']));
  });

  it('GIVEN two haproxy pods WHEN the haproxy-kill fault runs THEN one haproxy pod is force-deleted', async () => {
    await SCENARIOS['haproxy-kill'].run(ctx(target(), []));
    const deletes = calls().filter((c) => c[2] === 'delete' && c[3] === 'pod');
    assert.equal(deletes.length, 1);
    assert.ok(deletes[0]?.[4]?.startsWith(`${names.haproxy}-`));
  });

  it('GIVEN a node WHEN partitioned and healed THEN a NetworkPolicy selecting that pod is applied and then deleted', async () => {
    const t = target();
    await t.partitionRabbitNode(1);
    await t.healPartition(1);
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { applied: string[] };
    const policy = JSON.parse(state.applied[0] ?? '{}') as { kind: string; spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[] } };
    assert.equal(policy.kind, 'NetworkPolicy');
    assert.equal(policy.spec.podSelector.matchLabels['statefulset.kubernetes.io/pod-name'], `${names.rabbitmq}-1`);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress', 'Egress']);
    assert.ok(hasCall(['-n', spec.namespace, 'delete', 'networkpolicy', `${PARTITION_POLICY_PREFIX}${names.rabbitmq}-1`, '--ignore-not-found']));
  });

  it('GIVEN a whole cluster after the partition heal WHEN the partition scenario runs THEN no node is restarted', async () => {
    const faults: string[] = [];
    await SCENARIOS.partition.run(ctx(target(), faults));
    assert.equal(faults.length, 2);
    assert.match(faults[1] ?? '', /^healed partition /);
    assert.ok(!calls().some((c) => c[2] === 'delete' && c[3] === 'pod'));
  });

  it('GIVEN pod 2 still sees only itself after the partition heal WHEN the partition scenario runs THEN pod 2 is restarted as a separate fault, recorded as an operator action, and the cluster ends whole', async () => {
    splitCluster({ 0: [0, 1], 1: [0, 1], 2: [2] });
    const faults: string[] = [];
    await SCENARIOS.partition.run(ctx(target(), faults));
    const restart = `restart ${names.rabbitmq}-2 (partition left after the heal; pause_minority did not pause it)`;
    assert.ok(faults.includes(restart), faults.join('\n'));
    assert.ok(faults.includes(`healed ${restart}`));
    assert.ok(faults.some((f) => f.startsWith(`operator operator action: restarted ${names.rabbitmq}-2 `)));
    assert.ok(faults.indexOf(faults.find((f) => f.startsWith('healed partition ')) ?? '') < faults.indexOf(restart), 'the partition is healed before the restart starts');
    const deletes = calls().filter((c) => c[2] === 'delete' && c[3] === 'pod');
    assert.deepEqual(deletes.map((c) => c[4]), [`${names.rabbitmq}-2`]);
    assert.ok(!deletes[0]?.includes('--force'), 'a graceful stop');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { split?: unknown };
    assert.equal(state.split, undefined);
  });

  it('GIVEN the StatefulSet WHEN the rolling restart runs THEN kubectl rollout restart is used and every node is seen down and up', async () => {
    const faults: string[] = [];
    await SCENARIOS['rolling-restart'].run(ctx(target(), faults));
    assert.ok(hasCall(['-n', spec.namespace, 'rollout', 'restart', `statefulset/${names.rabbitmq}`]));
    for (let i = 0; i < 3; i++) {
      assert.ok(faults.includes(`restart ${names.rabbitmq}-${i}`));
      assert.ok(faults.includes(`healed restart ${names.rabbitmq}-${i}`));
    }
  });

  it('GIVEN no --jwt-secret WHEN resolving the secret THEN it is read from the app Secret', async () => {
    const t = target();
    assert.equal(await t.resolveJwtSecret(), 'a-secret-from-the-cluster-0123456789');
    assert.ok(calls().some((c) => c[2] === 'get' && c[3] === 'secret' && c[4] === names.appSecret));
  });

  it('GIVEN a healthy cluster WHEN waiting for health THEN it checks pods, cluster_status and both Deployments', async () => {
    await target().waitHealthy(5000);
    assert.ok(calls().some((c) => c.includes('cluster_status')));
    assert.ok(hasCall(['-n', spec.namespace, 'get', 'deployment', names.haproxy, '-o', 'json']));
  });

  it('GIVEN the kubernetes target WHEN asked about node-pause or leader-pause THEN it names why the pause cannot be injected', () => {
    assert.match(target().unsupportedReason('node-pause') ?? '', /PID 1/);
    assert.match(target().unsupportedReason('leader-pause') ?? '', /PID 1/);
    assert.equal(target().unsupportedReason('node-kill'), undefined);
    assert.equal(target().unsupportedReason('haproxy-pause'), undefined);
  });

  it('GIVEN an HAProxy pod in master-worker mode WHEN the haproxy-pause scenario runs THEN its worker is SIGSTOPped by exec, SIGCONTed at the heal, and the fault is healed after', async () => {
    patchState({ haproxyWorkers: '7\n' });
    const faults: string[] = [];
    await SCENARIOS['haproxy-pause'].run(ctx(target(), faults));
    const execs = calls().filter((c) => c[2] === 'exec');
    const script = (c: string[]) => c.slice(c.indexOf('--') + 1);
    const stop = execs.find((c) => script(c).join(' ') === `sh -c ${haproxySignalScript('STOP')}`);
    const cont = execs.find((c) => script(c).join(' ') === `sh -c ${haproxySignalScript('CONT')}`);
    if (!stop) return assert.fail(`no SIGSTOP exec among ${JSON.stringify(execs)}`);
    assert.ok(stop[3]?.startsWith(`${names.haproxy}-`), 'STOP went to an haproxy pod');
    assert.equal(stop[stop.indexOf('-c') + 1], 'haproxy');
    assert.equal(cont?.[3], stop[3], 'CONT went to the same pod');
    assert.deepEqual(faults.map((f) => f.replace(/\d+$/, 'N')), ['SIGSTOP haproxy-N', 'healed SIGSTOP haproxy-N']);
  });

  it('GIVEN an HAProxy pod with no worker besides PID 1 WHEN pausing it THEN the fault is unsupported with the reason', async () => {
    await assert.rejects(target().pauseHaproxy(0), (e: Error) => e instanceof UnsupportedFault && e.message === HAPROXY_PAUSE_UNSUPPORTED);
  });

  it('GIVEN the signal script WHEN reading it THEN it spares PID 1 and signals only processes named haproxy, with shell builtins', () => {
    const s = haproxySignalScript('STOP');
    assert.match(s, /\[ "\$pid" = 1 \] && continue/);
    assert.match(s, /\[ "\$c" = haproxy \] \|\| continue/);
    assert.match(s, /kill -STOP "\$pid"/);
    assert.doesNotMatch(s, /pgrep|pkill|ps /);
  });

  it('GIVEN the API server drops one call WHEN listing pods THEN the read is tried again and succeeds', async () => {
    patchState({ flaky: 1 });
    assert.equal((await target().podsOf(names.app)).length, 3);
    assert.equal(calls().filter((c) => c[2] === 'get' && c[3] === 'pods').length, 2);
  });

  it('GIVEN the API server keeps failing WHEN reading the Secret THEN after every attempt the error names the kubectl command line and its stderr', async () => {
    patchState({ flaky: 99 });
    await assert.rejects(
      target().resolveJwtSecret(),
      new RegExp(`^CommandError: kubectl -n ${spec.namespace} get secret ${names.appSecret} -o jsonpath=\\{\\.data\\.jwt-secret\\} failed: Unable to connect to the server: .*connection refused$`),
    );
    assert.equal(calls().length, KUBECTL_READ_ATTEMPTS);
  });

  it('GIVEN a call that changes the cluster fails WHEN partitioning THEN it is not retried and the error names kubectl apply', async () => {
    patchState({ flaky: 1 });
    await assert.rejects(target().partitionRabbitNode(1), /^CommandError: kubectl -n \S+ apply -f - failed: Unable to connect/);
    assert.equal(calls().length, 1);
  });

  it('GIVEN kubectl hangs WHEN its timeout passes THEN the call is killed and the error says so', async () => {
    const started = Date.now();
    await assert.rejects(target().kubectl(['get', 'slow'], undefined, 500), new RegExp(`^CommandError: kubectl -n ${spec.namespace} get slow failed: timed out after 0.5 s$`));
    assert.ok(Date.now() - started < 10_000, 'killed long before the stand-in answers');
  });

  it('GIVEN kubectl rejects a call WHEN running it THEN the error carries kubectl\'s stderr', async () => {
    await assert.rejects(target().kubectl(['frobnicate', 'it']), /kubectl -n \S+ frobnicate it failed: stand-in kubectl: unhandled frobnicate it$/);
  });

  it('GIVEN a URL that is not http WHEN building the target THEN the error names --url', () => {
    assert.throws(() => new KubernetesTarget({ spec, url: 'feed.example' }), /--url/);
  });
});
