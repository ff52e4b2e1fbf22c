/**
 * The label selectors every query of the stack starts from: `namespace` (set by the Prometheus
 * Operator) and `job`, which the charts' monitors set to each part's object name. So they pick
 * exactly this stack's series even when several stacks share one Prometheus.
 */
import { objectNames, type FeedkitSpec } from '../shared/index.js';

/** `{namespace="…",job="…"}` inner selector text of each part. */
export interface ScrapeSelectors {
  readonly app: string;
  readonly rabbitmq: string;
  readonly haproxy: string;
}

/** Selectors of the app, RabbitMQ and HAProxy series of `spec`'s stack. */
export function scrapeSelectors(spec: FeedkitSpec): ScrapeSelectors {
  const names = objectNames(spec.name);
  const sel = (job: string) => `namespace="${spec.namespace}",job="${job}"`;
  return { app: sel(names.app), rabbitmq: sel(names.rabbitmq), haproxy: sel(names.haproxy) };
}
