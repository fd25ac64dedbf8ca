/**
 * The heads exchange (schema/wire.md §10): this node asks each connected peer for its heads when it
 * connects and every `intervalMs`. A roster head further than this node's is fetched first
 * (roster-sync.ts); the origins' heads are then judged as claims (claims.ts), the believed ones
 * replace the peer's previous claims, an origin the peer holds further than this node is fetched
 * from it (origin-sync.ts), and the lag gauge is updated (lag.ts).
 *
 * Startable: owns the interval timer. A peer's claims live in claims.ts, not here.
 */
import type { Startable } from '@libp2p/interface';
import type { Logger } from '../log.ts';
import type { BatchStore } from '../indicators/batch-store.ts';
import type { RosterStore } from '../membership/roster-store.ts';
import type { Host } from './host.ts';
import type { ExchangeMetrics } from './metrics.ts';
import type { PeerClaims } from './claims.ts';
import { syncable, type SyncLag } from './lag.ts';
import type { OriginSync } from './origin-sync.ts';
import type { PeerDirectory } from './peers.ts';
import type { RosterSync } from './roster-sync.ts';
import { requestHeads, type ExchangeLimits } from './protocols.ts';
import { isWireError } from './wire.ts';

export interface HeadsExchangeOptions {
  host: Host;
  alliance: string;
  /** This node's member id. */
  self: string;
  store: Pick<BatchStore, 'heads'>;
  roster: Pick<RosterStore, 'state'>;
  peers: Pick<PeerDirectory, 'status' | 'markSeen'>;
  claims: Pick<PeerClaims, 'judge' | 'replace'>;
  lag: Pick<SyncLag, 'update'>;
  rosterSync: Pick<RosterSync, 'sync'>;
  originSync: Pick<OriginSync, 'schedule'>;
  metrics: ExchangeMetrics;
  log: Logger;
  /** The exchange's: aborted when it stops. */
  signal: AbortSignal;
  /** How often heads are exchanged with each connected peer, ms. */
  intervalMs: number;
  limits?: Partial<ExchangeLimits> | undefined;
}

export class HeadsExchange implements Startable {
  readonly #opts: HeadsExchangeOptions;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: HeadsExchangeOptions) {
    this.#opts = opts;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.withAll(), this.#opts.intervalMs);
    this.#timer.unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Exchanges heads with every connected peer. */
  async withAll(): Promise<void> {
    await Promise.all(
      this.#opts.peers
        .status()
        .filter((p) => p.connected)
        .map((p) => this.withPeer(p.peerId)),
    );
  }

  /** Asks `peerId` for its heads and acts on them; failures are logged (debug), never thrown. */
  async withPeer(peerId: string): Promise<void> {
    const { host, alliance, self, store, roster, peers, claims, lag, rosterSync, originSync, metrics, log, signal, limits } = this.#opts;
    if (signal.aborted) return;
    try {
      const h = await requestHeads(host, peerId, alliance, { metrics, signal, limits });
      peers.markSeen(peerId);
      // A roster head past this node's is fetched from the peer; if the peer then says it has no more
      // while this node is still short of it, the peer announced entries it does not hold.
      let rosterUnserved = false;
      if (h.roster !== null && h.roster.seq > (roster.state?.seq ?? -1)) {
        const r = await rosterSync.sync(peerId);
        rosterUnserved = r.peerId === peerId && r.exhausted && (roster.state?.seq ?? -1) < h.roster.seq;
      }
      const state = roster.state;
      const local = await store.heads();
      if (signal.aborted) return;
      // Whether an origin is unknown can be told only from a roster at least as far as the peer's
      // (or once the peer's roster head is shown to be a claim it cannot back); if this node's is
      // still behind because its roster sync failed, such origins are passed over unjudged.
      const rosterCaughtUp = h.roster === null || rosterUnserved || (state !== null && state.seq >= h.roster.seq);
      const members = new Set(state?.members.map((m) => m.id) ?? []);
      const next = claims.judge(peerId, h, { members, local, rosterCaughtUp, rosterUnserved });
      // The peer may have gone meanwhile; its claims go with it.
      if (!claims.replace(peerId, next)) return;
      for (const [origin, seq] of next) {
        if (seq > (local.get(origin)?.seq ?? 0) && syncable(roster.state, self, origin)) void originSync.schedule(origin, peerId);
      }
      await lag.update(local);
    } catch (err) {
      if (signal.aborted) return;
      log.debug({ peer: peerId, code: isWireError(err) ? err.code : undefined, err: isWireError(err) ? undefined : err }, 'heads exchange failed');
    }
  }
}
