/**
 * Catching up with one origin (schema/wire.md §10): its batches a peer holds further than this node
 * are fetched with the sync protocol, from that peer, in order, and stored. Batches are end-to-end
 * signed, so any peer may serve any origin's.
 *
 * Owns the syncs running: one per origin at a time; a request arriving meanwhile runs it once more
 * (from the peer that asked last) when it ends. Each sync prefetches its next page while the
 * current one is verified and stored. A sync that ends with the peer saying it has nothing further,
 * short of what it claimed when asked, is judged (claims.ts, `unserved`); the lag gauge is updated
 * after every sync. Startable: stopping waits for the syncs running, which end at their next step
 * once the exchange's signal is aborted.
 */
import type { Startable } from '@libp2p/interface';
import type { Logger } from '../log.ts';
import type { BatchStore } from '../indicators/batch-store.ts';
import type { Host, PeerPenalties } from './host.ts';
import type { ExchangeMetrics } from './metrics.ts';
import type { PeerClaims } from './claims.ts';
import type { SyncLag } from './lag.ts';
import type { PeerDirectory } from './peers.ts';
import type { RosterSync } from './roster-sync.ts';
import { requestSync, type ExchangeLimits, type SyncResponse } from './protocols.ts';
import { countReceived, penalized } from './outcomes.ts';
import { isWireError } from './wire.ts';

/** Failed sync requests in a row that a sync retries before it waits for the next heads exchange. */
const SYNC_RETRIES = 3;
/** Failures worth a retry: the peer was slow or busy, not wrong. */
const RETRYABLE = new Set(['TIMEOUT', 'UNAVAILABLE', 'RATE_LIMITED']);

export interface OriginSyncOptions {
  host: Host;
  alliance: string;
  store: Pick<BatchStore, 'head' | 'ingestMany'>;
  peers: Pick<PeerDirectory, 'markSeen'>;
  claims: Pick<PeerClaims, 'of' | 'unserved'>;
  lag: Pick<SyncLag, 'update'>;
  /** Fetches the roster first when a batch needs a newer epoch than this node's roster has. */
  rosterSync: Pick<RosterSync, 'sync'>;
  penalties: PeerPenalties;
  metrics: ExchangeMetrics;
  log: Logger;
  /** The exchange's: aborted when it stops. */
  signal: AbortSignal;
  /** Batches asked for per request. */
  syncLimit: number;
  limits?: Partial<ExchangeLimits> | undefined;
}

interface Slot {
  running: Promise<void>;
  /** The peer a request arriving meanwhile named: the sync runs once more, from it. */
  again: string | undefined;
}

/** A page asked for and not yet used. */
interface Prefetch {
  from: number;
  page: Promise<SyncResponse>;
  cancel: AbortController;
  /** What the peer claimed of the origin when asked: an honest peer answers with at least that much. */
  claim: number | undefined;
}

export class OriginSync implements Startable {
  readonly #opts: OriginSyncOptions;
  readonly #syncs = new Map<string, Slot>();

  constructor(opts: OriginSyncOptions) {
    this.#opts = opts;
  }

  start(): void {}

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#syncs.values()].map((s) => s.running));
  }

  /** Resolves once the syncs running now have ended (tests, admin: Exchange.syncNow). */
  async idle(): Promise<void> {
    await Promise.all([...this.#syncs.values()].map((s) => s.running));
  }

  /** Fetches `origin` from `peerId`, or has the sync already running for it run again from `peerId`. */
  schedule(origin: string, peerId: string): Promise<void> {
    const current = this.#syncs.get(origin);
    if (current !== undefined) {
      current.again = peerId;
      return current.running;
    }
    const slot: Slot = { running: Promise.resolve(), again: undefined };
    slot.running = (async () => {
      let peer: string | undefined = peerId;
      try {
        while (peer !== undefined && !this.#opts.signal.aborted) {
          slot.again = undefined;
          await this.#sync(origin, peer);
          peer = slot.again;
        }
      } finally {
        this.#syncs.delete(origin);
      }
    })();
    this.#syncs.set(origin, slot);
    return slot.running;
  }

  /**
   * Fetches `origin`'s batches from `peerId` and stores them, page after page. The next page is asked
   * for as soon as a page has arrived, so it travels while this one is verified and stored: a node
   * catching up waits on its database or on the network, not on both in turn. A request that fails
   * after progress (a timeout, a busy peer) is retried a few times before the sync gives up until the
   * next heads exchange.
   */
  async #sync(origin: string, peerId: string): Promise<void> {
    const { host, alliance, store, peers, claims, lag, rosterSync, penalties, metrics, log, signal, syncLimit, limits } = this.#opts;
    let prefetch: Prefetch | undefined;
    const fetchPage = (from: number): Prefetch => {
      const cancel = new AbortController();
      const page = requestSync(host, peerId, alliance, { kind: 'batches', origin, from, limit: syncLimit }, { metrics, signal: AbortSignal.any([signal, cancel.signal]), limits });
      // Awaited below unless dropped; a dropped page's failure is of no interest.
      page.catch(() => undefined);
      return { from, page, cancel, claim: claims.of(peerId, origin) };
    };
    /** Set when the peer said it has nothing further: what it had claimed when asked. */
    let exhausted: { claim: number | undefined } | undefined;
    const drop = () => {
      prefetch?.cancel.abort();
      prefetch = undefined;
    };
    let failures = 0;
    try {
      for (;;) {
        if (signal.aborted) return;
        const from = ((await store.head(origin))?.seq ?? 0) + 1;
        if (prefetch?.from !== from) {
          drop();
          prefetch = fetchPage(from);
        }
        let res: SyncResponse;
        try {
          res = await prefetch.page;
        } catch (err) {
          prefetch = undefined;
          if (signal.aborted || ++failures > SYNC_RETRIES || !isWireError(err) || !RETRYABLE.has(err.code)) throw err;
          await new Promise((r) => setTimeout(r, (isWireError(err) ? Number(err.details?.retryAfterMs ?? 0) : 0) || 250 * failures));
          continue;
        }
        const asked = prefetch;
        prefetch = undefined;
        failures = 0;
        peers.markSeen(peerId);
        if (res.items.length === 0) {
          exhausted = { claim: asked.claim };
          return;
        }
        if (res.more) prefetch = fetchPage(from + res.items.length);
        log.debug({ peer: peerId, origin, from, batches: res.items.length, more: res.more }, 'batches fetched');
        const outcomes = await store.ingestMany(res.items);
        let stored = 0;
        for (const o of outcomes) {
          countReceived(metrics, log, o, 'sync');
          if (o.status === 'stored') stored++;
        }
        log.debug({ origin, stored }, 'batches synced');
        const bad = outcomes.find((o) => o.status === 'rejected' || o.status === 'future_epoch');
        if (bad?.status === 'future_epoch') {
          drop();
          await rosterSync.sync(peerId);
          continue;
        }
        if (bad?.status === 'rejected' && penalized(bad.reason)) penalties.add(peerId, 'invalid_message');
        if (bad !== undefined || stored === 0) return;
        if (!res.more) {
          exhausted = { claim: asked.claim };
          return;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      log.debug({ peer: peerId, origin, code: isWireError(err) ? err.code : undefined, err: isWireError(err) ? undefined : err }, 'batch sync failed');
    } finally {
      drop();
      if (exhausted?.claim !== undefined && !signal.aborted) await this.#judgeServed(origin, peerId, exhausted.claim).catch(() => undefined);
      await lag.update().catch(() => undefined);
    }
  }

  /** The peer said it holds nothing past what this node now has of `origin`: had it claimed more? */
  async #judgeServed(origin: string, peerId: string, claimed: number): Promise<void> {
    const head = (await this.#opts.store.head(origin))?.seq ?? 0;
    this.#opts.claims.unserved(peerId, origin, claimed, head);
  }
}
