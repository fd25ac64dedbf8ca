/** What `network` shows (schema/network.graphql): peers and per-origin heads, never payloads. */
export interface NetworkPeerStatus {
  memberId: string;
  peerId: string;
  connected: boolean;
  lastSeen: Date | null;
  addrs: string[];
}

export interface OriginHeadStatus {
  origin: string;
  seq: number;
  localSeq: number;
  lag: number;
}

export interface NetworkStatus {
  peerId: string | null;
  listenAddrs: string[];
  peers: NetworkPeerStatus[];
  heads: OriginHeadStatus[];
}

/** The node's network, as the API reads it; a node without one answers an empty status. */
export interface NetworkSource {
  status(): Promise<NetworkStatus>;
}

export const NO_NETWORK: NetworkSource = {
  status: async () => ({ peerId: null, listenAddrs: [], peers: [], heads: [] }),
};

export function networkResolvers(network: () => NetworkSource) {
  return {
    Query: {
      network: () => network().status(),
    },
  };
}
