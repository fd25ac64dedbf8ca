/**
 * A revoked member's indicators are dropped at once (docs/network.md, "Epochs"; its batches stay, they are the
 * chain). This is the indicator store's policy, driven by roster changes, and every node runs it:
 * with or without a member identity, and so with or without the network exchange.
 *
 * Owns the set of revoked origins already purged. On each roster change the origins the new state
 * revokes that are not in that set (those revoked since the state before) are purged, one after
 * another: each revocation is purged once, however many roster changes follow. On start, every
 * revoked origin of the current roster is purged, which deletes nothing unless its rows are still
 * there (a revocation applied while no purge ran: the node stopped first, or ran a version that
 * purged only with a member identity). A revocation is final and ingest refuses a revoked origin's
 * batches from then on (batch-store.ts, rule 2), so its rows do not come back by gossip or sync;
 * only a batch verified just before the revocation applied and committed just after its purge can
 * leave rows, and the next sweep (hourly, node.ts) or start purges those.
 *
 *   const purge = new RevocationPurge({ store: batches, roster, logger });
 *   await purge.start();   // purges what is due, then follows the roster
 *   await purge.stop();    // stops following it; waits for a purge under way
 */
import type { Logger } from '../log.ts';
import type { RosterStore } from '../membership/roster-store.ts';
import type { RosterState } from '../membership/roster-state.ts';
import type { BatchStore } from './batch-store.ts';

export interface RevocationPurgeOptions {
  store: Pick<BatchStore, 'purgeOrigin'>;
  roster: Pick<RosterStore, 'state' | 'watch'>;
  logger: Logger;
}

export class RevocationPurge {
  readonly #opts: RevocationPurgeOptions;
  /** Revoked origins purged, or being purged. */
  readonly #purged = new Set<string>();
  /** Purges run one at a time, in the order the roster changed. */
  #queue: Promise<void> = Promise.resolve();
  #unwatch: (() => void) | undefined;

  constructor(opts: RevocationPurgeOptions) {
    this.#opts = opts;
  }

  /** Follows the roster from now on, and purges the revoked origins of its current state. Never rejects. */
  start(): Promise<void> {
    this.#unwatch ??= this.#opts.roster.watch((state) => void this.#revoked(state));
    return this.#revoked(this.#opts.roster.state);
  }

  /** Stops following the roster; resolves once a purge under way is done (before storage closes). */
  async stop(): Promise<void> {
    this.#unwatch?.();
    this.#unwatch = undefined;
    await this.#queue;
  }

  /**
   * Purges every revoked origin of the current roster again: rows a batch committed just after its
   * origin's purge (verified just before the revocation applied) go at the next sweep. Never rejects.
   */
  sweep(): Promise<void> {
    const origins = (this.#opts.roster.state?.members ?? []).filter((m) => m.status === 'REVOKED').map((m) => m.id);
    if (origins.length === 0) return this.#queue;
    this.#queue = this.#queue.then(() => this.#purge(origins));
    return this.#queue;
  }

  /** Queues the purge of the origins `state` revokes that were not purged yet. */
  #revoked(state: RosterState | null): Promise<void> {
    const origins = (state?.members ?? []).filter((m) => m.status === 'REVOKED' && !this.#purged.has(m.id)).map((m) => m.id);
    if (origins.length === 0) return this.#queue;
    // Taken at once, so a change arriving before the purge has run does not queue it again.
    for (const origin of origins) this.#purged.add(origin);
    this.#queue = this.#queue.then(() => this.#purge(origins));
    return this.#queue;
  }

  async #purge(origins: string[]): Promise<void> {
    const { store, logger } = this.#opts;
    for (const origin of origins) {
      try {
        const purged = await store.purgeOrigin(origin);
        if (purged > 0) logger.info({ origin, indicators: purged }, 'indicators of a revoked member dropped');
      } catch (err) {
        // Not purged: the next roster change (or start) tries again.
        this.#purged.delete(origin);
        logger.error({ err, origin }, 'indicators of a revoked member could not be dropped');
      }
    }
  }
}
