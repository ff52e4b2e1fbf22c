import type { FeedkitSpec } from '../../shared/index.js';

/** The `key=value` of `spec.monitoring.selectorLabel` as labels (none when empty). */
export function monitoringLabels(spec: FeedkitSpec): Record<string, string> {
  const label = spec.monitoring.selectorLabel;
  if (label === '') return {};
  const eq = label.indexOf('=');
  return { [label.slice(0, eq)]: label.slice(eq + 1) };
}
