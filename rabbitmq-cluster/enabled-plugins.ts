/** The `enabled_plugins` file: an Erlang term listing the plugins a node starts. */
import { PeerDiscoveryKind } from './peer-discovery.js';

/** Plugins every node runs: the HTTP API/UI (definitions, probes, ops) and the Prometheus endpoint. */
export const BASE_PLUGINS = Object.freeze(['rabbitmq_management', 'rabbitmq_prometheus'] as const);

/** Plugin that implements {@link PeerDiscoveryKind.KUBERNETES}; classic config is built in. */
export const K8S_PEER_DISCOVERY_PLUGIN = 'rabbitmq_peer_discovery_k8s';

/** Plugin names for a peer discovery kind, sorted. */
export function enabledPlugins(kind: PeerDiscoveryKind): string[] {
  const plugins: string[] = [...BASE_PLUGINS];
  if (kind === PeerDiscoveryKind.KUBERNETES) plugins.push(K8S_PEER_DISCOVERY_PLUGIN);
  return plugins.sort();
}

/** Renders `enabled_plugins`, e.g. `[rabbitmq_management,rabbitmq_prometheus].` plus a newline. */
export function renderEnabledPlugins(kind: PeerDiscoveryKind): string {
  return `[${enabledPlugins(kind).join(',')}].\n`;
}
