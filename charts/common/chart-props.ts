import type { ChartProps } from 'cdk8s';
import type { FeedkitSpec } from '../../shared/index.js';
import { stackLabels } from './labels.js';

/** Props every namespaced feedkit chart uses: the spec's namespace, stack labels, no name hashes. */
export function namespacedChartProps(spec: FeedkitSpec): ChartProps {
  return { namespace: spec.namespace, labels: stackLabels(spec), disableResourceNameHashes: true };
}
