import { AllianceError } from '../errors.ts';

/**
 * Why a batch was refused (schema/wire.md, "Verification"). Stable: the P2P layer scores peers and
 * counts metrics by these values, and other implementations report the same ones.
 *
 * - `malformed`: not a compact JWS, header or payload not (UTF-8) JSON, wrong shape or JSON types,
 *   a header other than `{alg: EdDSA, kid, typ: alliance-batch+jws}`.
 * - `too_large`: more bytes than `maxBytes` (checked before any parsing) or more items than `maxItems`.
 * - `unknown_kid`: the key resolver knows no key for the header's `kid`.
 * - `bad_signature`: the Ed25519 signature does not verify.
 * - `unsupported_version`: a signed payload whose `v` is not 1 (a newer format, not a forgery).
 * - `kid_mismatch`: the payload's `kid` is not the header's `kid`.
 * - `wrong_origin`: the key belongs to another member than the payload's `origin`.
 * - `wrong_alliance`: the payload's `alliance` is not this alliance.
 * - `non_canonical`: a value not in its one canonical form (an item field, `createdAt`, `prev` …),
 *   or payload bytes that differ from the canonical encoding of what they decode to.
 */
export const BATCH_ERROR_REASONS = [
  'malformed',
  'too_large',
  'unknown_kid',
  'bad_signature',
  'unsupported_version',
  'kid_mismatch',
  'wrong_origin',
  'wrong_alliance',
  'non_canonical',
] as const;

export type BatchErrorReason = (typeof BATCH_ERROR_REASONS)[number];

export interface BatchErrorDetails {
  reason: BatchErrorReason;
  /** Index in `items` of the offending item, when an item is at fault. */
  index?: number;
  /** The offending field: `header`, `payload`, `signature`, a batch field, or an item field. */
  field?: string;
}

/**
 * A batch refused by `verifyBatch`, or a batch `signBatch`/`encodeBatch` will not produce because
 * peers would refuse it. Messages hold no payload data beyond field names, indices and limits.
 */
export class BatchError extends AllianceError {
  declare readonly code: 'BATCH_INVALID';
  readonly reason: BatchErrorReason;
  readonly index: number | undefined;
  readonly field: string | undefined;

  constructor(reason: BatchErrorReason, message: string, where: { index?: number; field?: string } = {}, options?: ErrorOptions) {
    const details: BatchErrorDetails = { reason };
    if (where.index !== undefined) details.index = where.index;
    if (where.field !== undefined) details.field = where.field;
    super('BATCH_INVALID', message, { ...details }, options);
    this.reason = reason;
    this.index = where.index;
    this.field = where.field;
  }
}
