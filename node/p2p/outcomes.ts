/**
 * Received batches as the exchange accounts for them, whichever way they came (gossip or sync): the
 * metrics and log line of each ingest outcome, and which refusals cost the peer that sent the batch.
 * Owns no state.
 */
import type { Logger } from '../log.ts';
import type { IngestOutcome } from '../indicators/batch-store.ts';
import type { ExchangeMetrics } from './metrics.ts';

/** Refusals an honest sender can cause (`penalized` says why). */
const NOT_PROOF_OF_FORGERY = new Set(['unknown_origin', 'unsupported_version', 'origin_suspended', 'origin_revoked', 'kid_not_valid', 'from_future', 'stale_epoch', 'bad_prev', 'fork']);

/**
 * Whether a refused batch costs the peer that sent it (by gossip or sync): only what is invalid
 * whatever the receiver's roster, chain or clock (the format and signature checks, schema/wire.md
 * §6). The rest can come from an honest peer: one whose roster lags a suspension or key rotation,
 * whose clock or grace period differs, or that stored the other branch of an origin's fork (the
 * origin is the culprit, and its evidence is kept). Those are refused and counted, but the
 * sender's score is left alone.
 */
export function penalized(reason: string): boolean {
  return !NOT_PROOF_OF_FORGERY.has(reason);
}

/** Counts one received batch's outcome in the metrics, and logs a refusal. */
export function countReceived(metrics: ExchangeMetrics, log: Logger, outcome: IngestOutcome, via: 'gossip' | 'sync'): void {
  metrics.batchReceived(outcome.status, outcome.status === 'rejected' ? outcome.reason : undefined);
  if (outcome.status === 'rejected') {
    // Reason, origin and seq only: never the payload.
    log.warn({ via, reason: outcome.reason, origin: outcome.origin, seq: outcome.seq }, 'batch refused');
  } else if (outcome.status === 'stored') {
    metrics.indicatorsStored('add', outcome.adds);
    metrics.indicatorsStored('retract', outcome.retracts);
  }
}
