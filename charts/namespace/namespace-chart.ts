import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { FeedkitSpec } from '../../shared/index.js';
import { stackLabels } from '../common/labels.js';

/** Props of {@link NamespaceChart}. */
export interface NamespaceChartProps {
  /** The resolved stack spec (`spec.namespace`). */
  readonly spec: FeedkitSpec;
}

/** The namespace everything else lives in (cluster-scoped, so the chart has no namespace). */
export class NamespaceChart extends Chart {
  readonly namespaceObject: kplus.Namespace;

  constructor(scope: Construct, id: string, props: NamespaceChartProps) {
    super(scope, id, { labels: stackLabels(props.spec), disableResourceNameHashes: true });
    this.namespaceObject = new kplus.Namespace(this, 'Resource', { metadata: { name: props.spec.namespace } });
  }
}
