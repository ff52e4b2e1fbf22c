/**
 * The app's image, the real artifact: built with `npm run image`'s code (on the local stand-in base),
 * run under podman with the Deployment's own security context read from the synthesized YAML, and
 * wired to a real RabbitMQ and PostgreSQL started here. The container reaches them through slirp4netns'
 * host loopback (they listen on 127.0.0.1 only) and its port is published on 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { renderChartYaml, synthStack } from '../../charts/stack.js';
import { AppEnv, CloseCodes, DEFAULT_SPEC, objectNames, Routes, waitFor } from '../../shared/index.js';
import { BaseChoice, buildAppImage, type BuiltImage } from '../../scripts/image/build.js';
import { podmanSecurityFlags, podRunSettings, type DeploymentLike, type PodRunSettings } from '../../scripts/image/pod-run.js';
import { freePort } from '../../scripts/local/ports.js';
import { spawnManaged, type ManagedProcess } from '../../scripts/local/process.js';
import { run, runSync } from '../../scripts/shell.js';
import { startAppBackends, uniqueUser, type AppBackends } from '../support/app-backends.js';
import { callApi, FeedClient } from '../support/feed-client.js';

/** The host's 127.0.0.1 as a container on slirp4netns with `allow_host_loopback` sees it. */
const SLIRP_HOST_LOOPBACK = '10.0.2.2';
const CONTAINER = `feedkit-app-image-test-${randomBytes(4).toString('hex')}`;

let image: BuiltImage;
let backends: AppBackends;
let pod: PodRunSettings;
let container: ManagedProcess | undefined;
let url: string;
const clients: FeedClient[] = [];

/** The app Deployment as `npm run synth` writes it: the YAML text, parsed back. */
function synthesizedAppDeployment(): DeploymentLike {
  const chart = synthStack(DEFAULT_SPEC).find((c) => c.manifests.some((m) => m.kind === 'Deployment' && m.metadata.name === objectNames(DEFAULT_SPEC.name).app));
  assert.ok(chart, 'no chart holds the app Deployment');
  const docs = parseAllDocuments(renderChartYaml(chart)).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
  const found = docs.filter((d) => d.kind === 'Deployment' && d.metadata.name === objectNames(DEFAULT_SPEC.name).app);
  assert.equal(found.length, 1);
  return found[0] as unknown as DeploymentLike;
}

/** The replica's environment with the backends' loopback addresses as the container reaches them. */
function containerEnv(): Record<string, string> {
  const env = backends.env(CONTAINER, { [AppEnv.PORT]: String(pod.containerPort), [AppEnv.LOG_LEVEL]: 'info' });
  for (const name of [AppEnv.AMQP_URLS, AppEnv.DATABASE_URL]) env[name] = env[name]!.replaceAll('127.0.0.1', SLIRP_HOST_LOOPBACK);
  return env;
}

function podman(args: string[], timeoutMs = 60_000): Promise<string> {
  return run('podman', args, { timeoutMs });
}

before(async () => {
  pod = podRunSettings(synthesizedAppDeployment(), 'app');
  const [built, started] = await Promise.allSettled([buildAppImage(BaseChoice.STANDIN), startAppBackends('app-image')]);
  if (started.status === 'fulfilled') backends = started.value; // stopped in after() even when the build failed
  if (built.status === 'rejected') throw built.reason;
  if (started.status === 'rejected') throw started.reason;
  image = built.value;
  const hostPort = await freePort();
  const env = containerEnv();
  // Values stay in podman's environment (`--env NAME`): no password on a command line.
  container = spawnManaged(CONTAINER, 'podman', [
    'run', '--rm', '--name', CONTAINER, '--pull', 'never',
    '--network', 'slirp4netns:allow_host_loopback=true', '--publish', `127.0.0.1:${hostPort}:${pod.containerPort}`,
    ...podmanSecurityFlags(pod),
    ...Object.keys(env).flatMap((k) => ['--env', k]),
    image.tag,
  ], { env, logFile: join(backends.dir, 'container.log') });
  url = `http://127.0.0.1:${hostPort}`;
  // Killing the podman client (an interrupted run) would leave the container running: remove it by name.
  process.once('exit', () => {
    try {
      runSync('podman', ['rm', '--force', '--time', '0', CONTAINER], { timeoutMs: 30_000 });
    } catch {
      // already gone (--rm after a clean stop)
    }
  });
});

after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  if (container?.running) await podman(['rm', '--force', '--time', '0', CONTAINER]).catch(() => undefined);
  await container?.stop(10_000);
  await backends?.stop();
});

describe('the app image under the Deployment security context', () => {
  it('GIVEN the synthesized Deployment WHEN read THEN it asks for uid 1000, a read-only root, no capabilities and a /tmp volume', () => {
    assert.deepEqual(
      { uid: pod.uid, readOnlyRoot: pod.readOnlyRoot, capDrop: pod.capDrop, tmpfs: pod.tmpfs },
      { uid: 1000, readOnlyRoot: true, capDrop: ['ALL'], tmpfs: ['/tmp'] },
    );
  });

  it('GIVEN the container started WHEN its backends are up THEN /readyz turns 200', async () => {
    await waitFor('the container ready', async () => ((await callApi(url, 'GET', Routes.READY).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), { timeoutMs: 120_000, intervalMs: 250 });
  });

  it('GIVEN the running container WHEN looking inside THEN node runs as that uid with no capabilities, / is read-only and /tmp writable', async () => {
    const status = await podman(['exec', CONTAINER, 'cat', '/proc/1/status']);
    assert.match(status, new RegExp(`^Uid:\\s+${pod.uid}\\s`, 'm'));
    assert.match(status, /^CapEff:\s+0+$/m);
    await assert.rejects(podman(['exec', CONTAINER, 'touch', '/app/written']), /Read-only file system/);
    await podman(['exec', CONTAINER, 'touch', '/tmp/written']);
  });

  it('GIVEN a follower on the container WHEN the author posts through it THEN the post reaches the follower', async () => {
    const [author, follower] = [uniqueUser('img-author'), uniqueUser('img-follower')];
    assert.equal((await callApi(url, 'PUT', `${Routes.FRIEND_SET}${author}`, { token: await backends.token(follower) })).status, 200);
    const socket = await FeedClient.connect(url, await backends.token(follower));
    clients.push(socket);
    const posted = await callApi<{ id: string }>(url, 'POST', Routes.POST_CREATE, { token: await backends.token(author), body: { text: 'from the image' } });
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    await socket.waitForPosts([posted.body.id]);
  });

  it('GIVEN an open socket WHEN the container is stopped (SIGTERM, kill after the grace period) THEN the socket closes with 1012 and it exits 0 in time', async () => {
    const socket = await FeedClient.connect(url, await backends.token(uniqueUser('img-leaving')));
    clients.push(socket);
    const started = Date.now();
    const stopped = podman(['stop', '--time', String(pod.gracePeriodSeconds), CONTAINER], (pod.gracePeriodSeconds + 30) * 1000);
    assert.equal(await socket.closed, CloseCodes.SERVICE_RESTART);
    await stopped;
    // A container killed at the end of the grace period exits 137: 0 means the app drained and left.
    assert.equal(await container!.exited, 0);
    assert.ok(Date.now() - started < pod.gracePeriodSeconds * 1000, `took ${Date.now() - started} ms`);
  });
});
