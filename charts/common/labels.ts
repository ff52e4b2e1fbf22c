/** Labels shared by every chart; selectors use only the stable name/instance pair. */
import type { FeedkitSpec } from '../../shared/index.js';

/** The parts of the stack; each one's pods carry its value as `app.kubernetes.io/name`. */
export enum Component {
  RABBITMQ = 'rabbitmq',
  HAPROXY = 'haproxy',
  APP = 'feed-app',
  POSTGRES = 'postgres',
}

export const PART_OF = 'feedkit';

/** Labels that select the pods of `component` (never change them: selectors are immutable). */
export function selectorLabels(spec: FeedkitSpec, component: Component): Record<string, string> {
  return { 'app.kubernetes.io/name': component, 'app.kubernetes.io/instance': spec.name };
}

/** Labels every object of the stack carries (set on each Chart). */
export function stackLabels(spec: FeedkitSpec): Record<string, string> {
  return { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/instance': spec.name, 'app.kubernetes.io/managed-by': 'feedkit' };
}

/** In-cluster DNS name of Service `service`. */
export function serviceFqdn(spec: FeedkitSpec, service: string): string {
  return `${service}.${spec.namespace}.svc.${spec.clusterDomain}`;
}
