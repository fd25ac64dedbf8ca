/** What the exchange reports of itself (GraphQL `network` shows it): peers and per-origin heads, never payloads. */
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

