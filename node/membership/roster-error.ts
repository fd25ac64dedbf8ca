import { AllianceError } from '../errors.ts';

/**
 * Why a roster entry was refused (schema/roster.md, "Validation"). Stable: nodes count them in
 * metrics, show them to admins and score peers by them; other implementations report the same ones.
 *
 * Format (nothing about the chain needed):
 * - `too_large`: the signed entry is over `maxBytes` (checked before parsing), or carries more
 *   signatures than `maxSignatures`.
 * - `malformed`: not a General JSON JWS of the roster's shape, header or payload not canonical,
 *   entry or body of the wrong shape, a value not in its one form (id, time, JWK, kid that is not
 *   the key's thumbprint, JWE syntax …).
 * - `unsupported_version`: an entry whose `v` is a number other than 1 (a newer format).
 * - `unknown_type`: an entry `type` this node does not know.
 * - `duplicate_signature`: two signatures by the same admin kid.
 *
 * Chain:
 * - `wrong_alliance`: the entry is for another alliance (or the genesis is not the expected one).
 * - `replay`: `seq` is at or below the head and the entry is the one already applied (harmless).
 * - `fork`: `seq` is at or below the head, the entry differs from the one applied there and is
 *   signed by a quorum of the admins in force at that point: an alarm, never applied.
 * - `gap`: `seq` is above head + 1 (entries are missing: fetch them first).
 * - `wrong_prev`: `prev` is not the hash of the head entry.
 * - `bad_time`: `createdAt` is before the previous entry's.
 *
 * Signatures (against the admins and quorum in force after the previous entry):
 * - `not_admin`: a signature by a kid that is not an admin at that point of the chain.
 * - `bad_signature`: a signature that does not verify.
 * - `insufficient_signatures`: fewer valid admin signatures than the quorum.
 *
 * Content (against the state after the previous entry):
 * - `member_exists`: `member.add` of an id the roster already has (whatever its status).
 * - `key_exists`: a signing or encryption kid, or a peer id, already used by a member, or an admin
 *   kid already used by anyone (current or former admin, or a member key).
 * - `unknown_member`: an entry about a member id the roster does not have.
 * - `bad_state`: a transition the status does not allow (reinstate an ACTIVE member, suspend a
 *   REVOKED one, anything but nothing on a REVOKED member), removing an unknown admin, a quorum
 *   out of 1..admins, removing an admin below the quorum.
 * - `bad_epoch`: `epoch.new` whose number is not the current + 1, or whose wrapped keys are not
 *   exactly one per ACTIVE member, each to that member's encryption key.
 */
export const ROSTER_ERROR_REASONS = [
  'too_large',
  'malformed',
  'unsupported_version',
  'unknown_type',
  'duplicate_signature',
  'wrong_alliance',
  'replay',
  'fork',
  'gap',
  'wrong_prev',
  'bad_time',
  'not_admin',
  'bad_signature',
  'insufficient_signatures',
  'member_exists',
  'key_exists',
  'unknown_member',
  'bad_state',
  'bad_epoch',
] as const;

export type RosterErrorReason = (typeof ROSTER_ERROR_REASONS)[number];

export interface RosterErrorDetails {
  reason: RosterErrorReason;
  /** The offending field: `payload`, `signatures`, an entry field, or a body path like `body.keys`. */
  field?: string;
  /** `seq` of the refused entry, when it could be read. */
  seq?: number;
  /** For `fork` and `replay`: the hash of the entry already applied at that seq. */
  stored?: string;
  /** For `fork` and `replay`: the hash of the refused entry. */
  hash?: string;
}

/**
 * A roster entry refused by validation, or one the signing helpers will not produce because nodes
 * would refuse it. Messages hold field names, ids, kids and limits, never key material.
 */
export class RosterError extends AllianceError {
  declare readonly code: 'ROSTER_INVALID';
  readonly reason: RosterErrorReason;
  readonly field: string | undefined;
  readonly seq: number | undefined;

  constructor(reason: RosterErrorReason, message: string, where: Omit<RosterErrorDetails, 'reason'> = {}, options?: ErrorOptions) {
    const details: RosterErrorDetails = { reason };
    for (const k of ['field', 'seq', 'stored', 'hash'] as const) if (where[k] !== undefined) (details as unknown as Record<string, unknown>)[k] = where[k];
    super('ROSTER_INVALID', message, { ...details }, options);
    this.reason = reason;
    this.field = where.field;
    this.seq = where.seq;
  }
}

export function isRosterError(err: unknown, reason?: RosterErrorReason): err is RosterError {
  return err instanceof RosterError && (reason === undefined || err.reason === reason);
}
