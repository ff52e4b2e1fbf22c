import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { PodSecurityLevel, type FeedkitSpec } from '../../shared/index.js';
import { stackLabels } from '../common/labels.js';

/** Props of {@link NamespaceChart}. */
export interface NamespaceChartProps {
  /** The resolved stack spec (`spec.namespace`). */
  readonly spec: FeedkitSpec;
}

/** Prefix of the Pod Security admission labels. */
export const POD_SECURITY_LABEL_PREFIX = 'pod-security.kubernetes.io';

/**
 * The Pod Security admission labels: `enforce` from the spec; `warn` and `audit` always
 * `restricted`, so a pod added later that would not pass is reported even where enforcement is relaxed.
 * Versions pinned to `latest`: the stack's pods pass the newest profile.
 */
export function podSecurityLabels(spec: FeedkitSpec): Record<string, string> {
  const labels: Record<string, string> = {};
  const levels = { enforce: spec.podSecurity.enforce, warn: PodSecurityLevel.RESTRICTED, audit: PodSecurityLevel.RESTRICTED };
  for (const [mode, level] of Object.entries(levels)) {
    labels[`${POD_SECURITY_LABEL_PREFIX}/${mode}`] = level;
    labels[`${POD_SECURITY_LABEL_PREFIX}/${mode}-version`] = 'latest';
  }
  return labels;
}

/** The namespace everything else lives in (cluster-scoped, so the chart has no namespace). */
export class NamespaceChart extends Chart {
  readonly namespaceObject: kplus.Namespace;

  constructor(scope: Construct, id: string, props: NamespaceChartProps) {
    super(scope, id, { labels: stackLabels(props.spec), disableResourceNameHashes: true });
    this.namespaceObject = new kplus.Namespace(this, 'Resource', { metadata: { name: props.spec.namespace, labels: podSecurityLabels(props.spec) } });
  }
}
