/** How a node finds the other cluster members at first boot. */
export enum PeerDiscoveryKind {
  /** Ask the Kubernetes API for the endpoints of the headless Service (the charts). */
  KUBERNETES = 'kubernetes',
  /** A fixed list of node names (the local twin on loopback). */
  CLASSIC = 'classic',
}

/** Peer discovery settings for {@link renderRabbitmqConf}. */
export type PeerDiscovery =
  | { readonly kind: PeerDiscoveryKind.KUBERNETES }
  | {
      readonly kind: PeerDiscoveryKind.CLASSIC;
      /** Every cluster member's node name, e.g. `['rabbit-a@localhost', 'rabbit-b@localhost']`. */
      readonly nodes: readonly string[];
    };
