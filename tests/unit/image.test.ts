/** The image's pure parts: the app package's dependencies, podman's settings, the layer report, pod flags. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_SPEC, objectNames } from '../../shared/index.js';
import { DOCKERFILE, pinnedBase } from '../../scripts/image/build.js';
import { ensureContainersConf, missingSettings, renderContainersConf } from '../../scripts/image/containers-conf.js';
import { ABOVE_BASE_BUDGET_BYTES, formatLayerReport, layerReport, type HistoryEntry } from '../../scripts/image/layers.js';
import { podmanSecurityFlags, podRunSettings, type DeploymentLike } from '../../scripts/image/pod-run.js';
import { STANDIN_CA_FILE, standinChanges } from '../../scripts/image/standin-base.js';
import { REPO_ROOT } from '../../scripts/local/paths.js';
import { synth } from '../support/charts.js';

const readJson = (p: string) => JSON.parse(readFileSync(join(REPO_ROOT, p), 'utf8')) as { dependencies: Record<string, string> };

/** Packages (not node: builtins) the modules reachable from app/src import at run time. */
function appRuntimeImports(): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^(?:import|export)\s+(?!type\s)(?:.*\sfrom\s+)?'([^']+)'/.exec(line);
      if (!m) continue;
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) visit(p);
    }
  };
  walk(join(REPO_ROOT, 'app', 'src'));
  return packages;
}

describe('the app package', () => {
  it('GIVEN app/src and the shared modules it imports WHEN listing their packages THEN app/package.json declares exactly those', () => {
    assert.deepEqual(Object.keys(readJson('app/package.json').dependencies).sort(), [...appRuntimeImports()].sort());
  });

  it('GIVEN the root and the app package WHEN both declare a dependency THEN with the same range (one lockfile entry)', () => {
    const root = readJson('package.json').dependencies;
    for (const [name, range] of Object.entries(readJson('app/package.json').dependencies)) assert.equal(root[name], range, name);
  });

  it('GIVEN app/Dockerfile WHEN reading its pinned base THEN it is an exact node 20 bookworm-slim tag', () => {
    assert.match(pinnedBase(readFileSync(join(REPO_ROOT, DOCKERFILE), 'utf8')), /^node:20\.\d+\.\d+-bookworm-slim$/);
    assert.throws(() => pinnedBase('FROM node:20\n'), /ARG NODE_IMAGE=/);
  });
});

describe('podman settings', () => {
  it('GIVEN the rendered file WHEN checked THEN it holds runc, cgroupfs and both ulimits', () => {
    const text = renderContainersConf();
    assert.deepEqual(missingSettings(text), []);
    assert.match(text, /\[engine\]\nruntime = "runc"\ncgroup_manager = "cgroupfs"/);
    assert.deepEqual(missingSettings('[engine]\nruntime = "crun"\n').length, 3);
  });

  it('GIVEN no file WHEN not root THEN setup stops with the command; as root it writes once and leaves it after', () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedkit-conf-'));
    const path = join(dir, 'containers.conf');
    try {
      assert.throws(() => ensureContainersConf(path, false), (e: Error) => e.message.includes(`sudo tee ${path}`) && e.message.includes('runtime = "runc"'));
      assert.equal(existsSync(path), false);
      ensureContainersConf(path, true);
      assert.equal(readFileSync(path, 'utf8'), renderContainersConf());
      ensureContainersConf(path, false); // already set up: nothing to do, even without root
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('GIVEN someone else\'s file without the settings WHEN setting up THEN it is not overwritten and the missing lines are named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedkit-conf-'));
    const path = join(dir, 'containers.conf');
    try {
      writeFileSync(path, '[engine]\nruntime = "crun"\n');
      assert.throws(() => ensureContainersConf(path, true), /cgroup_manager = "cgroupfs"/);
      assert.equal(readFileSync(path, 'utf8'), '[engine]\nruntime = "crun"\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stand-in base', () => {
  it('GIVEN a CA bundle WHEN configuring the stand-in THEN NODE_EXTRA_CA_CERTS points at it; without one, no CA setting', () => {
    assert.ok(standinChanges('/etc/ssl/certs/ca-certificates.crt').includes(`ENV NODE_EXTRA_CA_CERTS=${STANDIN_CA_FILE}`));
    assert.equal(standinChanges(undefined).some((c) => c.includes('NODE_EXTRA_CA_CERTS')), false);
  });
});

describe('layer report', () => {
  const layer = (createdBy: string, size: number): HistoryEntry => ({ id: createdBy, createdBy, size });
  const base = [layer('ADD file in /', 200e6)];

  it('GIVEN an image on a base WHEN reported THEN only the layers the Dockerfile added count above the base', () => {
    const image = [layer('CMD ["node"]', 0), layer('COPY dir:b in ./', 300e3), layer('COPY dir:a in ./node_modules', 14e6), ...base];
    const r = layerReport(image, base);
    assert.deepEqual({ above: r.above.length, aboveBytes: r.aboveBytes, nodeModulesBytes: r.nodeModulesBytes, totalBytes: r.totalBytes }, { above: 3, aboveBytes: 14.3e6, nodeModulesBytes: 14e6, totalBytes: 214.3e6 });
    assert.match(formatLayerReport(r).join('\n'), /14\.3 MB {2}above the base \(budget 25\.0 MB\), node_modules 14\.0 MB/);
  });

  it('GIVEN layers over the budget WHEN reported THEN the line says OVER', () => {
    const r = layerReport([layer('COPY dir:a in ./node_modules', ABOVE_BASE_BUDGET_BYTES + 1), ...base], base);
    assert.match(formatLayerReport(r).join('\n'), /OVER/);
    assert.throws(() => layerReport(base, [...base, ...base]), /not built on that base/);
  });
});

describe('pod security context as podman flags', () => {
  const deployment = () => synth().get<DeploymentLike>('Deployment', objectNames(DEFAULT_SPEC.name).app);

  it('GIVEN the synthesized app Deployment WHEN translated THEN podman runs it as uid 1000, read-only, without capabilities, /tmp as tmpfs', () => {
    const flags = podmanSecurityFlags(podRunSettings(deployment(), 'app')).join(' ');
    for (const f of ['--user 1000:1000', '--read-only --read-only-tmpfs=false', '--security-opt no-new-privileges', '--cap-drop ALL', '--tmpfs /tmp', '--stop-timeout 60']) assert.ok(flags.includes(f), `${f} in ${flags}`);
  });

  it('GIVEN a Deployment running as root with runAsNonRoot, or no such container WHEN translated THEN it is refused', () => {
    const d = structuredClone(deployment()) as unknown as { spec: { template: { spec: { containers: { securityContext: { runAsUser: number } }[] } } } };
    d.spec.template.spec.containers[0]!.securityContext.runAsUser = 0;
    assert.throws(() => podRunSettings(d as unknown as DeploymentLike, 'app'), /runAsNonRoot with runAsUser 0/);
    assert.throws(() => podRunSettings(deployment(), 'sidecar'), /no container "sidecar"/);
  });
});
