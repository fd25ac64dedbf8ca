/**
 * Heads are claims (schema/wire.md §10, "Judging heads"): what each connected peer holds by its own
 * account, judged before it is believed. This part owns the two per-peer tables:
 *
 * - the claims: per peer and origin, the seq of its last heads answer that this node could not
 *   refute (raised by batches it relays past a gap). The source of `network.heads`, the lag gauge
 *   and sync (lag.ts, heads.ts, origin-sync.ts);
 * - the refutations: per peer and origin, the lowest claim the peer failed to serve when asked.
 *   Announcing it (or more) again is the same lie: refused and counted again, not chased again.
 *   Forgotten with the peer, or once this node holds that much of the origin itself (the claim may
 *   then be true).
 *
 * It judges a heads answer (`judge`) and a sync that ended short of its claim (`unserved`); each
 * claim refused costs the peer one penalty in its gossip score (host.ts, PeerPenalties: the same
 * account as invalid gossip). A peer's claims are replaced by its next answer and forgotten when it
 * disconnects or leaves the roster, so a wrong one never outlives its peer.
 */
import type { Logger } from '../log.ts';
import type { PeerPenalties } from './host.ts';
import type { PeerDirectory } from './peers.ts';
import type { HeadsResponse } from './protocols.ts';

export interface PeerClaimsOptions {
  /** This node's member id: nobody holds more of its own chain than it does. */
  self: string;
  peers: Pick<PeerDirectory, 'isAllowed' | 'isConnected' | 'memberOf'>;
  penalties: PeerPenalties;
  log: Logger;
}

/** What this node knows when it judges a heads answer. */
export interface HeadsContext {
  /** Member ids of this node's roster. */
  members: ReadonlySet<string>;
  /** This node's heads, per origin. */
  local: ReadonlyMap<string, { seq: number }>;
  /**
   * Whether this node's roster is as far as the peer's (or the peer's roster head was shown to be a
   * claim it cannot back): only then can an origin be told to be unknown.
   */
  rosterCaughtUp: boolean;
  /** The peer announced a roster head and then failed to serve it. */
  rosterUnserved: boolean;
}

export class PeerClaims {
  readonly #opts: PeerClaimsOptions;
  readonly #claims = new Map<string, Map<string, number>>();
  readonly #refuted = new Map<string, Map<string, number>>();

  constructor(opts: PeerClaimsOptions) {
    this.#opts = opts;
  }

  /** What `peerId` claimed of `origin` in its last heads answer (or by relaying). */
  of(peerId: string, origin: string): number | undefined {
    return this.#claims.get(peerId)?.get(origin);
  }

  /** Peers with claims. */
  peers(): string[] {
    return [...this.#claims.keys()];
  }

  /** Per origin, the highest seq a connected peer claims. */
  best(): Map<string, number> {
    const best = new Map<string, number>();
    for (const c of this.#claims.values()) for (const [origin, seq] of c) if ((best.get(origin) ?? 0) < seq) best.set(origin, seq);
    return best;
  }

  /** Raises `peerId`'s claim on `origin` to `seq` (a batch it relayed shows it holds that far). */
  note(peerId: string, origin: string, seq: number): void {
    if (!this.#opts.peers.isAllowed(peerId) || origin === this.#opts.self) return;
    let c = this.#claims.get(peerId);
    if (c === undefined) this.#claims.set(peerId, (c = new Map()));
    if ((c.get(origin) ?? 0) < seq) c.set(origin, seq);
  }

  /**
   * Drops everything `peerId` claimed, and what it was caught at (it disconnected, or left the
   * roster). Returns whether it had claims (the lag gauge then needs updating).
   */
  forget(peerId: string): boolean {
    this.#refuted.delete(peerId);
    return this.#claims.delete(peerId);
  }

  /**
   * Judges a heads answer of `peerId` and returns the claims worth believing (origin → seq). An
   * origin the roster does not have (once `rosterCaughtUp`), this node's own origin beyond its own
   * head, and a claim the peer already failed to serve are refused, logged (counts only) and
   * penalised.
   */
  judge(peerId: string, answer: HeadsResponse, ctx: HeadsContext): Map<string, number> {
    const { self, peers, log } = this.#opts;
    const ownHead = ctx.local.get(self)?.seq ?? 0;
    const caught = this.#refuted.get(peerId);
    const next = new Map<string, number>();
    let unknown = 0;
    let ownBeyond = 0;
    let repeated = 0;
    for (const o of answer.origins) {
      const localSeq = ctx.local.get(o.origin)?.seq ?? 0;
      const failedAt = caught?.get(o.origin);
      if (failedAt !== undefined && failedAt <= localSeq) caught!.delete(o.origin);
      if (o.origin === self) {
        // This node signs its own chain: nobody holds more of it than it does.
        if (o.seq > ownHead) ownBeyond++;
      } else if (!ctx.members.has(o.origin)) {
        // A batch is stored only if a roster member signed it: nobody holds an origin no roster has.
        if (ctx.rosterCaughtUp) unknown++;
      } else if (failedAt !== undefined && failedAt > localSeq && o.seq >= failedAt) {
        repeated++;
      } else {
        next.set(o.origin, o.seq);
      }
    }
    if (ctx.rosterUnserved) repeated++;
    if (unknown > 0 || ownBeyond > 0 || repeated > 0) {
      // Counts only: an unknown origin's id is whatever the peer wrote.
      log.warn({ peer: peerId, peerMember: peers.memberOf(peerId), unknownOrigins: unknown, ownHeadBeyond: ownBeyond > 0, unserved: repeated, rosterUnserved: ctx.rosterUnserved }, 'peer announced heads it cannot hold');
      this.#penalize(peerId, 'unknown_origin', unknown);
      this.#penalize(peerId, 'own_head', ownBeyond);
      this.#penalize(peerId, 'unserved_head', repeated);
    }
    return next;
  }

  /**
   * Makes `next` (from `judge`) the claims of `peerId`, unless the peer has gone meanwhile: its
   * claims go with it. Returns whether they were taken.
   */
  replace(peerId: string, next: Map<string, number>): boolean {
    if (!this.#opts.peers.isConnected(peerId)) return false;
    this.#claims.set(peerId, next);
    return true;
  }

  /**
   * The peer said it holds nothing past `head` of `origin` although it had claimed `claimed` when
   * asked: it announced what it cannot serve. The claim is dropped, remembered as refuted while the
   * peer stays connected, and the peer penalised.
   */
  unserved(peerId: string, origin: string, claimed: number, head: number): void {
    if (claimed <= head) return;
    const c = this.#claims.get(peerId);
    if (c !== undefined && (c.get(origin) ?? 0) > head) c.delete(origin);
    if (this.#opts.peers.isConnected(peerId)) {
      let r = this.#refuted.get(peerId);
      if (r === undefined) this.#refuted.set(peerId, (r = new Map()));
      r.set(origin, Math.min(r.get(origin) ?? claimed, claimed));
    }
    this.#opts.log.warn({ peer: peerId, peerMember: this.#opts.peers.memberOf(peerId), origin, claimed, served: head }, 'peer announced batches it could not serve');
    this.#penalize(peerId, 'unserved_head');
  }

  #penalize(peerId: string, reason: string, n = 1): void {
    this.#opts.penalties.add(peerId, reason, n);
  }
}
