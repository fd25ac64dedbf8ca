/**
 * How far this node is behind what its connected peers claim (claims.ts), per origin: the
 * `alliance_sync_lag_batches` gauge and the heads of GraphQL `network`. Owns the set of origins the
 * gauge has a series for, so that an origin no longer claimed goes back to 0, and one no longer
 * followed (not an ACTIVE member) loses its series instead of lingering at its last value.
 */
import type { BatchStore } from '../indicators/batch-store.ts';
import type { RosterState } from '../membership/roster-state.ts';
import type { ExchangeMetrics } from './metrics.ts';
import type { PeerClaims } from './claims.ts';
import type { OriginHeadStatus } from './status.ts';

/** Whether this node follows `origin` on the network (fetches it, measures its lag): an ACTIVE member other than itself. */
export function syncable(state: RosterState | null, self: string, origin: string): boolean {
  if (origin === self) return false;
  const m = state?.members.find((x) => x.id === origin);
  return m !== undefined && m.status === 'ACTIVE';
}

export interface SyncLagOptions {
  self: string;
  /** The current roster (RosterStore.state). */
  roster: () => RosterState | null;
  store: Pick<BatchStore, 'heads'>;
  claims: Pick<PeerClaims, 'best'>;
  metrics: ExchangeMetrics;
}

export class SyncLag {
  readonly #opts: SyncLagOptions;
  /** Origins the lag gauge has a series for. */
  readonly #lagged = new Set<string>();

  constructor(opts: SyncLagOptions) {
    this.#opts = opts;
  }

  /** Sets the lag gauge from the claims of connected peers; origins no longer claimed or syncable go back to 0 or away. */
  async update(local?: ReadonlyMap<string, { seq: number }>): Promise<void> {
    const { store, claims, metrics, roster, self } = this.#opts;
    const heads = local ?? (await store.heads());
    const best = claims.best();
    for (const origin of new Set([...best.keys(), ...this.#lagged])) {
      if (!syncable(roster(), self, origin)) {
        metrics.clearLag(origin);
        this.#lagged.delete(origin);
        continue;
      }
      metrics.setLag(origin, Math.max(0, (best.get(origin) ?? 0) - (heads.get(origin)?.seq ?? 0)));
      this.#lagged.add(origin);
    }
  }

  /** Per origin (held here or claimed by a peer), the highest seq known, the seq held and the lag between them. */
  async heads(): Promise<OriginHeadStatus[]> {
    const local = await this.#opts.store.heads();
    const best = this.#opts.claims.best();
    const origins = new Set([...local.keys(), ...best.keys()]);
    return [...origins].sort().map((origin) => {
      const localSeq = local.get(origin)?.seq ?? 0;
      const seq = Math.max(localSeq, best.get(origin) ?? 0);
      return { origin, seq, localSeq, lag: seq - localSeq };
    });
  }
}
