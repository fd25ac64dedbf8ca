/**
 * Gossip repair. gossipsub keeps one stream each way per peer, whichever connection it was opened
 * on. When two members dial each other at once they hold two connections; if the one carrying a
 * gossip stream fails, gossipsub drops the peer (or the stream) for good although the other
 * connection stays open, and nothing is gossiped between the two until they reconnect. Every member
 * subscribes to the batches topic, so a connected member that is not a subscriber here is in that
 * state: after `repairMs` its connections are closed, and the peer directory dials it afresh.
 *
 * Startable: owns the check's timer and, per connected member missing from gossip, since when.
 */
import type { Startable } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Logger } from '../log.ts';
import type { Host } from './host.ts';
import type { ExchangeMetrics } from './metrics.ts';
import type { PeerDirectory } from './peers.ts';

export interface GossipRepairOptions {
  host: Host;
  /** The batches topic: every member subscribes to it. */
  topic: string;
  peers: Pick<PeerDirectory, 'status'>;
  metrics: ExchangeMetrics;
  log: Logger;
  /** The exchange's: aborted when it stops. */
  signal: AbortSignal;
  /** How long a connected member may stay missing from gossip before it is redialed, ms. */
  repairMs: number;
}

export class GossipRepair implements Startable {
  readonly #opts: GossipRepairOptions;
  /** Connected members missing from gossip, and since when (performance.now()). */
  readonly #missing = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: GossipRepairOptions) {
    this.#opts = opts;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), Math.max(50, Math.floor(this.#opts.repairMs / 4)));
    this.#timer.unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round of the check (the timer runs it every quarter of `repairMs`). */
  check(): void {
    const { host, topic, peers, metrics, log, signal, repairMs } = this.#opts;
    if (signal.aborted) return;
    const subscribed = new Set(host.services.pubsub.getSubscribers(topic).map(String));
    const now = performance.now();
    const still = new Set<string>();
    for (const p of peers.status()) {
      if (!p.connected || subscribed.has(p.peerId)) continue;
      still.add(p.peerId);
      const since = this.#missing.get(p.peerId);
      if (since === undefined) this.#missing.set(p.peerId, now);
      else if (now - since >= repairMs) {
        this.#missing.delete(p.peerId);
        log.warn({ peerMember: p.memberId, peer: p.peerId }, 'connected peer missing from gossip; reconnecting');
        metrics.gossipReconnect();
        void host.hangUp(peerIdFromString(p.peerId)).catch((err: unknown) => log.debug({ peer: p.peerId, err }, 'hang-up failed'));
      }
    }
    for (const id of this.#missing.keys()) if (!still.has(id)) this.#missing.delete(id);
  }
}
