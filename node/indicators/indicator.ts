import type { Category, IdentifierType, RecordStatus } from '../identifiers/vocabulary.ts';

/**
 * What a member publishes about one identifier of one of its records (docs/architecture.md,
 * "Records, refs and indicators"). Holds no raw data: the identifier is only present as its keyed
 * digest, the record only as its random `ref`.
 */
export interface Indicator {
  type: IdentifierType;
  /** HMAC-SHA256 under the epoch key, base64url without padding (43 characters). */
  digest: string;
  op: 'add' | 'retract';
  /** Random 128-bit handle of the record, base64url without padding (22 characters). */
  ref: string;
  categories: Category[];
  status: RecordStatus;
  /** 0 to 100. */
  confidence: number;
  /** Day the member first held this identifier for this record, YYYY-MM-DD (UTC). */
  firstSeen: string;
  /** When peers should stop matching it, ISO 8601 UTC with seconds (e.g. 2027-11-25T00:00:00Z). */
  expiresAt: string;
}
