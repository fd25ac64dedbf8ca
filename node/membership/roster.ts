/**
 * The membership roster (docs/architecture.md, "Members and the roster"; specified in schema/roster.md): entries, signatures and the
 * validating reducer. One import for the rest of the node:
 *
 *   import { applyEntry, replay, proposeEntry, addSignature, signingKeyValidAt } from './roster.ts';
 */
export { canonicalJson, canonicalJsonBytes } from '../encoding/canonical-json.ts';
export { isRosterError, RosterError, ROSTER_ERROR_REASONS, type RosterErrorDetails, type RosterErrorReason } from './roster-error.ts';
export {
  checkEntry,
  compactJweProblem,
  createGenesis,
  encodeEntry,
  entryHash,
  ENTRY_TYPES,
  FIELD_LIMITS,
  proposeEntry,
  resolveRosterLimits,
  ROSTER_ID_PATTERN,
  ROSTER_LIMITS,
  ROSTER_VERSION,
  type AdminAddBody,
  type AdminRemoveBody,
  type ChainHead,
  type EntryBodies,
  type EntryOf,
  type EntryProposal,
  type EntryType,
  type EpochNewBody,
  type GenesisBody,
  type MemberAddBody,
  type MemberStatusBody,
  type MemberUpdateBody,
  type NewSigningKey,
  type QuorumSetBody,
  type RosterEntry,
  type RosterLimits,
} from './roster-entry.ts';
export {
  addSignature,
  canonicalSignatureHeader,
  createProposal,
  parseSignedEntry,
  ROSTER_JWS_ALG,
  ROSTER_JWS_TYP,
  serializeSignedEntry,
  signEntry,
  verifySignatures,
  type EntrySignature,
  type ParsedEntry,
  type SignedEntry,
  type SignerOptions,
} from './roster-sign.ts';
export {
  acceptEntry,
  activeMembers,
  applyEntry,
  epochLiveUntil,
  findSigningKey,
  governanceAt,
  memberById,
  replay,
  signingKeyValidAt,
  type AcceptedEntry,
  type ApplyOptions,
  type EpochSpan,
  type Governance,
  type RosterState,
} from './roster-state.ts';
