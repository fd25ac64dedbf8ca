/**
 * Gossip validation: batches and roster entries arrive on the alliance's two topics, and the topic
 * validators store them (BatchStore.ingest, RosterStore.submit) before gossipsub forwards them, so
 * a node only relays what it verified and kept. Forgeries are Rejected (the host counts it in the
 * sender's penalties), duplicates and what an honest peer can cause are Ignored.
 *
 * What a lagging roster could explain (an unknown origin, a future epoch) is judged again once the
 * roster is caught up from the sender (roster-sync.ts); a gap (seq beyond head + 1) shows the sender
 * holds the chain that far (claims.ts) and triggers a sync of the origin from it (origin-sync.ts).
 *
 * Owns the validation queues: batches are validated in arrival order per signing key, so per
 * origin, and a burst of one origin's batches is not taken for gaps.
 */
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub';
import type { Logger } from '../log.ts';
import type { BatchStore } from '../indicators/batch-store.ts';
import type { RosterStore } from '../membership/roster-store.ts';
import { isRosterError } from '../membership/roster-error.ts';
import type { ExchangeMetrics } from './metrics.ts';
import type { PeerClaims } from './claims.ts';
import type { OriginSync } from './origin-sync.ts';
import type { PeerDirectory } from './peers.ts';
import type { RosterSync } from './roster-sync.ts';
import { countReceived, penalized } from './outcomes.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The signing key a batch names in its (small) JWS header, read without verifying anything
 * (verification follows, in order): a key belongs to one member, so it keys validation per origin
 * without parsing the payload twice. Unreadable input shares one queue.
 */
function claimedKid(data: Uint8Array): string {
  try {
    const dot = data.indexOf(0x2e);
    if (dot <= 0 || dot > 1024) return '';
    const header = JSON.parse(Buffer.from(Buffer.from(data.buffer, data.byteOffset, dot).toString('latin1'), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid.slice(0, 128) : '';
  } catch {
    return '';
  }
}

export interface GossipValidationOptions {
  store: Pick<BatchStore, 'ingest'>;
  roster: Pick<RosterStore, 'submit'>;
  peers: Pick<PeerDirectory, 'markSeen'>;
  claims: Pick<PeerClaims, 'note'>;
  rosterSync: Pick<RosterSync, 'sync'>;
  originSync: Pick<OriginSync, 'schedule'>;
  metrics: ExchangeMetrics;
  log: Logger;
  /** The exchange's: once aborted, every message is Ignored. */
  signal: AbortSignal;
}

export class GossipValidation {
  readonly #opts: GossipValidationOptions;
  /** Per signing key, the end of its validation queue. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(opts: GossipValidationOptions) {
    this.#opts = opts;
  }

  /** The batches topic's validator. */
  batch(from: string, msg: Message): Promise<TopicValidatorResult> {
    const key = claimedKid(msg.data);
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.#batchNow(from, msg));
    const settled = run.catch(() => undefined);
    this.#queues.set(key, settled);
    void settled.then(() => {
      if (this.#queues.get(key) === settled) this.#queues.delete(key);
    });
    return run;
  }

  async #batchNow(from: string, msg: Message): Promise<TopicValidatorResult> {
    const { store, peers, claims, rosterSync, originSync, metrics, log, signal } = this.#opts;
    if (signal.aborted) return TopicValidatorResult.Ignore;
    peers.markSeen(from);
    let outcome = await store.ingest(msg.data);
    // This node's roster may be behind the sender's (a new member, a rotated key, a new epoch):
    // catch up with the sender's roster, then judge the batch again.
    if (outcome.status === 'future_epoch' || (outcome.status === 'rejected' && outcome.reason === 'unknown_origin')) {
      await rosterSync.sync(from);
      outcome = await store.ingest(msg.data);
    }
    countReceived(metrics, log, outcome, 'gossip');
    switch (outcome.status) {
      case 'stored':
        return TopicValidatorResult.Accept;
      case 'duplicate':
      case 'future_epoch':
        return TopicValidatorResult.Ignore;
      case 'gap':
        // The sender relayed a batch it verified and stored, so it holds the chain up to it.
        claims.note(from, outcome.origin, outcome.seq);
        void originSync.schedule(outcome.origin, from);
        return TopicValidatorResult.Ignore;
      case 'rejected':
        // The host counts a Reject in the sender's penalties.
        return penalized(outcome.reason) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
    }
  }

  /** The roster topic's validator. */
  async rosterEntry(from: string, msg: Message): Promise<TopicValidatorResult> {
    const { roster, peers, rosterSync, log, signal } = this.#opts;
    if (signal.aborted) return TopicValidatorResult.Ignore;
    peers.markSeen(from);
    let text: string;
    try {
      text = decoder.decode(msg.data);
    } catch {
      log.warn({ reason: 'malformed' }, 'roster entry refused');
      return TopicValidatorResult.Reject;
    }
    try {
      const r = await roster.submit(text);
      return r.applied ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
    } catch (err) {
      if (isRosterError(err, 'gap')) {
        void rosterSync.sync(from);
        return TopicValidatorResult.Ignore;
      }
      if (isRosterError(err)) {
        log.warn({ reason: err.reason, seq: err.seq }, 'roster entry refused');
        return TopicValidatorResult.Reject;
      }
      log.error({ err }, 'roster entry could not be stored');
      return TopicValidatorResult.Ignore;
    }
  }
}
