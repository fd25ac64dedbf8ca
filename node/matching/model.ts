/**
 * Match alerts (docs/architecture.md, "Matching"): the shapes shared by the matcher, the store and the API.
 * A match is one of this member's records meeting another member's actor, (origin, ref), through
 * the keyed digests of one or more identifiers. Nothing here holds a raw identifier.
 */
import { AllianceError } from '../errors.ts';
import type { Category, IdentifierType, RecordStatus } from '../identifiers/vocabulary.ts';

export const MATCH_STATES = ['NEW', 'CONFIRMED', 'DISMISSED', 'RETRACTED'] as const;
export type MatchState = (typeof MATCH_STATES)[number];

/** What an analyst may decide; NEW and RETRACTED are the matcher's to set. */
export const MATCH_VERDICTS = ['CONFIRMED', 'DISMISSED'] as const;
export type MatchVerdict = (typeof MATCH_VERDICTS)[number];

/** PostgreSQL channel every raised match is announced on (payload: the match id), after commit. */
export const MATCH_CHANNEL = 'alliance_match';

/** One of the record's identifiers that matched, as this node's own indicator of it. */
export interface MatchedIdentifier {
  type: IdentifierType;
  digest: string;
  epoch: number;
}

export interface StoredMatch {
  id: string;
  state: MatchState;
  recordId: string;
  /** The record's ref (base64url), as its indicators carry it. */
  recordRef: string;
  origin: string;
  ref: string;
  types: IdentifierType[];
  identifiers: MatchedIdentifier[];
  /** What the other member's newest matching indicator says. */
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  createdAt: Date;
  updatedAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  note: string | null;
  retractedAt: Date | null;
}

export type MatchErrorCode = 'NOT_FOUND' | 'CONFLICT';

export class MatchError extends AllianceError {
  declare readonly code: MatchErrorCode;
  constructor(code: MatchErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** Longest note an acknowledgement may carry. */
export const MAX_MATCH_NOTE = 2000;
