/** Hand-built chaos histories for the checker's unit tests. */
import type { History } from '../../scripts/chaos/history.js';

/** Start of every hand-built history's load (epoch ms). */
export const T0 = 1_700_000_000_000;

/** A history of `users` and `follows` with nothing recorded yet: 10 s of load, 10 s of quiet; `parts` fill in the rest. */
export function historyOf(parts: Partial<History> & Pick<History, 'users' | 'follows'>): History {
  return {
    acked: [],
    indeterminate: [],
    deliveries: [],
    faults: [],
    startedAt: T0,
    loadEndedAt: T0 + 10_000,
    endedAt: T0 + 20_000,
    counters: {},
    ...parts,
  };
}
