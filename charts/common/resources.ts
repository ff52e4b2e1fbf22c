/** Converts the spec's Kubernetes quantity strings to cdk8s-plus container resources. */
import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { SpecError, type ResourceSpec } from '../../shared/index.js';

/** `field` is the dotted spec path of `r`, used in errors. */
export function containerResources(field: string, r: ResourceSpec): kplus.ContainerResources {
  return {
    cpu: { request: cpu(`${field}.cpuRequest`, r.cpuRequest), ...(r.cpuLimit === '' ? {} : { limit: cpu(`${field}.cpuLimit`, r.cpuLimit) }) },
    memory: { request: memory(`${field}.memoryRequest`, r.memoryRequest), limit: memory(`${field}.memoryLimit`, r.memoryLimit) },
  };
}

function cpu(field: string, q: string): kplus.Cpu {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(q);
  if (!m) throw new SpecError(field, `"${q}" is not a CPU quantity`, 'use millicores such as "500m" or cores such as "1"');
  const millis = m[2] === 'm' ? Number(m[1]) : Number(m[1]) * 1000;
  if (!Number.isInteger(millis) || millis <= 0) throw new SpecError(field, `"${q}" is not a whole number of millicores`, 'use e.g. "250m"');
  return millis % 1000 === 0 ? kplus.Cpu.units(millis / 1000) : kplus.Cpu.millis(millis);
}

const MEBIBYTES_PER_UNIT: Record<string, number> = { Mi: 1, Gi: 1024, Ti: 1024 * 1024 };

function memory(field: string, q: string): Size {
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi|Ti)$/.exec(q);
  const mib = m ? Number(m[1]) * MEBIBYTES_PER_UNIT[m[2]!]! : NaN;
  // cdk8s-plus renders memory in whole Mi, so only quantities that are whole mebibytes round-trip.
  if (!Number.isInteger(mib) || mib <= 0) {
    throw new SpecError(field, `"${q}" is not a whole number of mebibytes`, 'use binary units such as "512Mi" or "2Gi"');
  }
  return Size.mebibytes(mib);
}
