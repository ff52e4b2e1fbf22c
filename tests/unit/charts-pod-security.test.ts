import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { POD_SECURITY_LABEL_PREFIX } from '../../charts/index.js';
import { ExposureKind, PodSecurityLevel, QueueMode, SpecError } from '../../shared/index.js';
import { synth } from '../support/charts.js';
import { POD_TEMPLATE_KINDS, restrictedViolations } from '../support/pod-security.js';

const VARIANTS = {
  'the default spec': {},
  'quorum mode on RabbitMQ 4.1': { rabbitmq: { queueMode: QueueMode.QUORUM, version: '4.1.2', image: { repository: 'docker.io/library/rabbitmq', tag: '4.1.2-management' } } },
  'an external Postgres, exposure and monitoring': {
    postgres: { externalUrl: 'postgres://feed@db.example.com:5432/feed' },
    exposure: { kind: ExposureKind.INGRESS, host: 'feed.example.com' },
    monitoring: { enabled: true },
  },
} as const;

describe('Pod Security Standards "restricted"', () => {
  for (const [name, overrides] of Object.entries(VARIANTS)) {
    it(`GIVEN ${name} WHEN synthesized THEN every container and init container of every pod template passes the restricted profile`, () => {
      const s = synth(overrides);
      const workloads = s.objects.filter((o) => POD_TEMPLATE_KINDS.has(o.kind));
      assert.ok(workloads.length >= 3, 'the stack has workloads');
      const violations = workloads.flatMap((w: any) => restrictedViolations(w.spec.template.spec, `${w.kind}/${w.metadata.name}`));
      assert.deepEqual(violations, []);
    });
  }

  it('GIVEN the RabbitMQ pod with a capability added and its seccomp profile removed WHEN checked THEN both violations are reported (the check is not a no-op)', () => {
    const pod = structuredClone(synth().get('StatefulSet', 'feedkit-rabbitmq').spec.template.spec);
    delete pod.securityContext.seccompProfile;
    pod.initContainers[0].securityContext.capabilities = { drop: ['ALL'], add: ['SYS_ADMIN'] };
    pod.volumes.push({ name: 'host', hostPath: { path: '/' } });
    const violations = restrictedViolations(pod, 'rabbitmq');
    assert.ok(violations.some((v) => /initContainer setup: adds capability SYS_ADMIN/.test(v)), violations.join('\n'));
    assert.ok(violations.some((v) => /container rabbitmq: seccompProfile is unset/.test(v)), violations.join('\n'));
    assert.ok(violations.some((v) => /volume host has type hostPath/.test(v)), violations.join('\n'));
  });

  it('GIVEN the default spec WHEN the namespace is synthesized THEN it enforces, warns and audits restricted', () => {
    const labels = synth().get('Namespace', 'feedkit').metadata.labels;
    for (const mode of ['enforce', 'warn', 'audit']) assert.equal(labels[`${POD_SECURITY_LABEL_PREFIX}/${mode}`], PodSecurityLevel.RESTRICTED, mode);
  });

  it('GIVEN podSecurity.enforce baseline WHEN synthesized THEN only enforcement is relaxed; warn and audit stay restricted', () => {
    const labels = synth({ podSecurity: { enforce: PodSecurityLevel.BASELINE } }).get('Namespace', 'feedkit').metadata.labels;
    assert.equal(labels[`${POD_SECURITY_LABEL_PREFIX}/enforce`], PodSecurityLevel.BASELINE);
    assert.equal(labels[`${POD_SECURITY_LABEL_PREFIX}/warn`], PodSecurityLevel.RESTRICTED);
  });

  it('GIVEN an unknown level WHEN resolved THEN the error names podSecurity.enforce and the choices', () => {
    assert.throws(() => synth({ podSecurity: { enforce: 'strict' as never } }), (e: unknown) => e instanceof SpecError && e.field === 'podSecurity.enforce' && /restricted, baseline, privileged/.test(e.message));
  });
});
