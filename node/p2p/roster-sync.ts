/**
 * The roster on the network, both ways:
 *
 * - RosterSync fetches roster entries from a peer whose roster is further than this node's (its
 *   heads say so, its gossip has a gap, or a batch it sent needs a newer roster). It owns the one
 *   roster sync that may run at a time: a second request joins it, whichever peer that one asks.
 * - RosterWatch (Startable) follows the roster's changes, whatever applied them (gossip, sync,
 *   GraphQL, another process): the peer directory re-reads the roster (hanging up members that are
 *   no longer ACTIVE), claims of peers that left it are forgotten, and the new entries are relayed
 *   on the roster topic. What a change means for stored indicators (a revoked member's) is not the
 *   transport's business: indicators/revocation-purge.ts.
 */
import type { Startable } from '@libp2p/interface';
import type { Logger } from '../log.ts';
import type { RosterStore } from '../membership/roster-store.ts';
import type { RosterState } from '../membership/roster-state.ts';
import { isRosterError } from '../membership/roster-error.ts';
import type { Host } from './host.ts';
import type { ExchangeMetrics } from './metrics.ts';
import type { PeerClaims } from './claims.ts';
import type { PeerDirectory } from './peers.ts';
import { requestSync, type ExchangeLimits } from './protocols.ts';
import { publish } from './publish.ts';
import { isWireError } from './wire.ts';

export interface RosterSyncOptions {
  host: Host;
  alliance: string;
  roster: Pick<RosterStore, 'state' | 'submit'>;
  metrics: ExchangeMetrics;
  log: Logger;
  /** The exchange's: aborted when it stops. */
  signal: AbortSignal;
  /** Entries asked for per request. */
  syncLimit: number;
  limits?: Partial<ExchangeLimits> | undefined;
}

/** How a roster sync ended: the peer that was asked, and whether it said it had nothing further. */
export interface RosterSyncResult {
  peerId: string;
  exhausted: boolean;
}

export class RosterSync {
  readonly #opts: RosterSyncOptions;
  /** The roster sync running, if any. */
  #running: Promise<RosterSyncResult> | undefined;

  constructor(opts: RosterSyncOptions) {
    this.#opts = opts;
  }

  /**
   * Fetches roster entries from `peerId` (or joins the roster sync already running, whichever peer it
   * asks). Resolves with the peer that was asked and whether it said it had nothing further.
   */
  sync(peerId: string): Promise<RosterSyncResult> {
    this.#running ??= this.#run(peerId).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #run(peerId: string): Promise<RosterSyncResult> {
    const { host, alliance, roster, metrics, log, signal, syncLimit, limits } = this.#opts;
    try {
      for (;;) {
        if (signal.aborted) return { peerId, exhausted: false };
        const from = (roster.state?.seq ?? -1) + 1;
        const res = await requestSync(host, peerId, alliance, { kind: 'roster', from, limit: syncLimit }, { metrics, signal, limits });
        let applied = 0;
        for (const text of res.items) {
          const r = await roster.submit(text);
          if (r.applied) applied++;
        }
        if (!res.more) return { peerId, exhausted: true };
        if (applied === 0) return { peerId, exhausted: false };
      }
    } catch (err) {
      if (signal.aborted) return { peerId, exhausted: false };
      const reason = isRosterError(err) ? err.reason : isWireError(err) ? err.code : undefined;
      log.warn({ peer: peerId, reason, err: reason === undefined ? err : undefined }, 'roster sync failed');
      return { peerId, exhausted: false };
    }
  }
}

export interface RosterWatchOptions {
  host: Host;
  /** The roster topic (protocols.ts, rosterTopic). */
  topic: string;
  roster: Pick<RosterStore, 'watch' | 'entries'>;
  peers: Pick<PeerDirectory, 'update' | 'isAllowed'>;
  claims: Pick<PeerClaims, 'peers'>;
  /** Forgets a peer's claims (it left the roster), and updates the lag gauge. */
  forget: (peerId: string) => void;
  log: Logger;
  signal: AbortSignal;
}

export class RosterWatch implements Startable {
  readonly #opts: RosterWatchOptions;
  #unwatch: (() => void) | undefined;

  constructor(opts: RosterWatchOptions) {
    this.#opts = opts;
  }

  start(): void {
    this.#unwatch ??= this.#opts.roster.watch((state, previousSeq) => void this.#changed(state, previousSeq));
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  async #changed(state: RosterState, previousSeq: number): Promise<void> {
    const { host, topic, roster, peers, claims, log, signal } = this.#opts;
    if (signal.aborted) return;
    peers.update();
    for (const peerId of claims.peers()) if (!peers.isAllowed(peerId)) this.#opts.forget(peerId);
    // Relay entries this node stored by other ways than gossip (GraphQL, sync, another process);
    // gossipsub drops the ones its peers have already seen.
    try {
      const { items } = await roster.entries(previousSeq + 1, Math.max(1, state.seq - previousSeq));
      for (const text of items) await publish(host, topic, text, signal);
    } catch (err) {
      log.debug({ err }, 'roster entries could not be relayed');
    }
  }
}
