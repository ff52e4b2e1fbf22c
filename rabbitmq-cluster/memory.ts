/**
 * The memory a RabbitMQ node is told it has. Inside a container the runtime may see the host's
 * memory rather than the cgroup limit, so the watermark would be relative to the wrong number and
 * the kernel OOM-kills the node before it blocks publishers. The RabbitMQ Cluster Operator sets
 * `total_memory_available_override_value` from the container limit, keeping headroom for what
 * Erlang allocates outside RabbitMQ's accounting; this is the same rule.
 */
import { SpecError } from '../shared/index.js';

const GIB = 1024 ** 3;

/** Most headroom kept below the limit, whatever the limit. */
export const MAX_MEMORY_HEADROOM_BYTES = 2 * GIB;

/** Share of the limit kept as headroom when that is less than {@link MAX_MEMORY_HEADROOM_BYTES}. */
export const MEMORY_HEADROOM_FRACTION = 0.2;

const UNIT_BYTES: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 1024, Mi: 1024 ** 2, Gi: GIB, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
};

/** Bytes of a Kubernetes memory quantity such as `2Gi` or `512M`; `field` names it in errors. */
export function memoryQuantityBytes(field: string, quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(quantity);
  const bytes = m ? Math.floor(Number(m[1]) * UNIT_BYTES[m[2] ?? '']!) : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) throw new SpecError(field, `"${quantity}" is not a memory quantity`, 'use e.g. "2Gi" or "512Mi"');
  return bytes;
}

/** The operator's rule: the limit minus min(20 % of it, 2 GiB), in whole bytes. */
export function memoryAvailableOverrideBytes(limitBytes: number): number {
  if (!Number.isSafeInteger(limitBytes) || limitBytes <= 0) throw new RangeError(`memory limit must be a positive whole number of bytes, got ${limitBytes}`);
  return limitBytes - Math.min(Math.floor(limitBytes * MEMORY_HEADROOM_FRACTION), MAX_MEMORY_HEADROOM_BYTES);
}
