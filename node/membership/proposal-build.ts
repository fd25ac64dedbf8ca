/**
 * Building roster proposals: the roster logic that the offline admin tools (`alliance admin …`) and
 * the online workflow (GraphQL `proposeRosterChange`, proposals.ts) share. Pure: no files, no
 * storage, no process output; each caller turns a ProposalError into its own exit status or
 * client-facing code.
 *
 * Before a proposal goes round the admins it is **dry-run** (`dryRun`): applied to a copy of the
 * state on which a throwaway admin key (generated in memory, never written) stands in for the real
 * admins. That runs the roster core's own content checks (unknown member, a transition the status
 * does not allow, key or member id already used, epoch number, wrapped keys per ACTIVE member …), so
 * a proposal the nodes would refuse is caught before anyone signs it. The signatures themselves are
 * the one thing a dry run cannot check; governance limits that depend on the real admin set are
 * checked explicitly.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { AllianceError } from '../errors.ts';
import { newEpochKey, wrapEpochKey } from './epoch-keys.ts';
import {
  activeMembers,
  addSignature,
  applyEntry,
  checkEntry,
  isRosterError,
  proposeEntry,
  type ChainHead,
  type EntryProposal,
  type MemberUpdateBody,
  type RosterEntry,
  type RosterErrorReason,
  type RosterState,
} from './roster.ts';
import type { AdminKey, Member, MembershipRequest } from './types.ts';

/**
 * - `PROPOSAL_REFUSED`: the roster would refuse the entry (`reason` is the roster's, e.g.
 *   `member_exists`, `bad_state`; `field` the offending body field when known);
 * - `NOT_A_REQUEST`: a membership request that is not valid, or is another member's;
 * - `NOTHING_TO_CHANGE`: a request that changes nothing the roster holds about the member.
 */
export type ProposalErrorCode = 'PROPOSAL_REFUSED' | 'NOT_A_REQUEST' | 'NOTHING_TO_CHANGE';

export class ProposalError extends AllianceError {
  declare readonly code: ProposalErrorCode;
  /** The roster's reason for PROPOSAL_REFUSED. */
  readonly reason: RosterErrorReason | undefined;
  /** The body field the roster objected to, e.g. `body.reason`. */
  readonly field: string | undefined;

  constructor(code: ProposalErrorCode, message: string, details: { reason?: RosterErrorReason; field?: string; [k: string]: unknown } = {}, options?: ErrorOptions) {
    const clean = Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined));
    super(code, message, Object.keys(clean).length === 0 ? undefined : clean, options);
    this.reason = details.reason;
    this.field = details.field;
  }
}

export function isProposalError(err: unknown, code?: ProposalErrorCode): err is ProposalError {
  return err instanceof ProposalError && (code === undefined || err.code === code);
}

function rosterReason(err: unknown): string {
  return isRosterError(err) ? ` (${err.reason}${err.field === undefined ? '' : `, ${err.field}`})` : '';
}

/** A RosterError as PROPOSAL_REFUSED, prefixed with `what`; anything else is rethrown as it is. */
export function proposalRefused(err: unknown, what: string): never {
  if (!isRosterError(err)) throw err;
  throw new ProposalError('PROPOSAL_REFUSED', `${what}: ${err.message}${rosterReason(err)}`, { reason: err.reason, ...(err.field === undefined ? {} : { field: err.field }) }, { cause: err });
}

/** `proposeEntry` (the entry after `head`, its form checked), with a refusal as PROPOSAL_REFUSED. */
export async function buildEntry(head: ChainHead, proposal: EntryProposal, what: string): Promise<RosterEntry> {
  try {
    return await proposeEntry(head, proposal);
  } catch (err) {
    return proposalRefused(err, what);
  }
}

/**
 * The `epoch.new` after `state` (the roster as it will be once the entries before it are applied):
 * a fresh 32-byte key, wrapped to the encryption key of every ACTIVE member and no other. The key
 * itself exists only in memory here and is wiped once wrapped: only the members can unwrap it.
 */
export async function epochNewEntry(state: RosterState, opts: { reason?: string | undefined; createdAt?: string | undefined } = {}): Promise<RosterEntry> {
  const epoch = state.epoch + 1;
  const key = newEpochKey();
  try {
    const keys: Record<string, string> = {};
    for (const m of activeMembers(state)) keys[m.id] = await wrapEpochKey(key, m.encryptionKey, { alliance: state.alliance, epoch });
    const body = { epoch, keys, ...(opts.reason === undefined ? {} : { reason: opts.reason }) };
    return await buildEntry(state, { type: 'epoch.new', body, ...(opts.createdAt === undefined ? {} : { createdAt: opts.createdAt }) }, 'epoch.new');
  } finally {
    key.fill(0);
  }
}

/**
 * Checks a membership request's form, exactly as a `member.add` body (kid = thumbprint, peer id,
 * addrs …): NOT_A_REQUEST naming `label` (e.g. `membership request acme.json`) otherwise.
 */
export async function checkMembershipRequest(request: Record<string, unknown>, label: string): Promise<MembershipRequest> {
  try {
    await checkEntry({ v: 1, alliance: 'check', seq: 1, prev: 'A'.repeat(43), type: 'member.add', body: request, createdAt: '2026-01-01T00:00:00Z' });
  } catch (err) {
    if (!isRosterError(err)) throw err;
    throw new ProposalError('NOT_A_REQUEST', `${label} is not valid: ${err.message.replace(/^body\.?/, '')}`);
  }
  return request as unknown as MembershipRequest;
}

/**
 * A `member.update` body from a member's new membership request (what `alliance init --print` or
 * `alliance rotate-keys` printed): every field the request changes: its newest signing key if the
 * roster does not have it yet (a rotation), the encryption key, peer id, addresses and name where
 * they differ. `kind` and `country` cannot be changed by member.update: differences are returned
 * as `ignored`. NOT_A_REQUEST if the request is invalid or another member's.
 */
export async function memberUpdateFromRequest(member: Member, request: Record<string, unknown>, label: string): Promise<{ body: MemberUpdateBody; ignored: string[] }> {
  if (request.id !== member.id) throw new ProposalError('NOT_A_REQUEST', `${label} is for member ${JSON.stringify(request.id)}, not ${member.id}`);
  const req = await checkMembershipRequest(request, label);
  const body: MemberUpdateBody = { id: member.id };
  const newest = req.signingKeys.at(-1)!;
  if (!member.signingKeys.some((k) => k.kid === newest.kid)) body.signingKey = { kid: newest.kid, jwk: { kty: 'OKP', crv: 'Ed25519', x: newest.jwk.x! } };
  if (req.encryptionKey.kid !== member.encryptionKey.kid) body.encryptionKey = { kid: req.encryptionKey.kid, jwk: { kty: 'OKP', crv: 'X25519', x: req.encryptionKey.jwk.x! } };
  if (req.peerId !== member.peerId) body.peerId = req.peerId;
  if (JSON.stringify(req.addrs) !== JSON.stringify(member.addrs)) body.addrs = [...req.addrs];
  if (req.name !== member.name) body.name = req.name;
  const ignored = (['kind', 'country'] as const).filter((k) => req[k] !== member[k]);
  return { body, ignored };
}

/**
 * The `member.update` of a key rotation: as memberUpdateFromRequest, but the request must carry a
 * signing key the roster does not have yet (NOTHING_TO_CHANGE otherwise), and a REVOKED member's
 * keys never change again (PROPOSAL_REFUSED, `bad_state`): a lost identity is revoked and replaced.
 */
export async function memberRotationFromRequest(member: Member, request: Record<string, unknown>, label: string): Promise<{ body: MemberUpdateBody & { signingKey: NonNullable<MemberUpdateBody['signingKey']> }; ignored: string[] }> {
  if (member.status === 'REVOKED') {
    throw new ProposalError('PROPOSAL_REFUSED', `member ${member.id} is revoked: its keys can no longer change (bad_state); admit the new identity with member.add instead`, { reason: 'bad_state' });
  }
  const { body, ignored } = await memberUpdateFromRequest(member, request, label);
  const signingKey = body.signingKey;
  if (signingKey === undefined) {
    const current = member.signingKeys.filter((k) => k.validUntil === undefined || k.validUntil === null).map((k) => k.kid);
    throw new ProposalError(
      'NOTHING_TO_CHANGE',
      `${label} carries no new signing key (its newest key is already the member's: ${current.join(', ')}); a rotation needs a new key: the member runs "alliance rotate-keys" in its data directory`,
    );
  }
  return { body: { ...body, signingKey }, ignored };
}

/**
 * Applies `entries` (unsigned, each chained on the one before) to `state` as nodes would, with a
 * throwaway admin standing in for the admins, and returns the state after each. Throws
 * PROPOSAL_REFUSED with the roster's reason if a node would refuse one of them for anything but its
 * signatures. `admin.add`, `admin.remove` and `quorum.set` are also checked against the real admins
 * (the stand-in changes their number), and the admins and quorum of the returned states are the real ones.
 */
export async function dryRun(state: RosterState, entries: RosterEntry[]): Promise<RosterState[]> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x! });
  const stand: AdminKey = { kid, jwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x! } };
  const out: RosterState[] = [];
  let real = state;
  for (const entry of entries) {
    checkGovernance(real, entry);
    // admin.add is checked against the admin limit above, so the stand-in alone is enough there;
    // admin.remove and quorum.set need the real admins beside it.
    const sim: RosterState = { ...real, admins: entry.type === 'admin.add' ? [stand] : [...real.admins, stand], quorum: 1 };
    let next: RosterState;
    try {
      next = await applyEntry(sim, await addSignature(entry, { privateKey, kid }));
    } catch (err) {
      return proposalRefused(err, `the roster would refuse this ${entry.type} entry (seq ${entry.seq})`);
    }
    let { admins, quorum, governance } = real;
    if (entry.type === 'admin.add') admins = [...admins, entry.body.admin];
    if (entry.type === 'admin.remove') admins = admins.filter((a) => a.kid !== entry.body.kid);
    if (entry.type === 'quorum.set') quorum = entry.body.quorum;
    if (entry.type === 'admin.add' || entry.type === 'admin.remove' || entry.type === 'quorum.set') governance = [...governance, { since: entry.seq + 1, admins, quorum }];
    real = { ...next, admins, quorum, governance };
    out.push(real);
  }
  return out;
}

function checkGovernance(s: RosterState, entry: RosterEntry): void {
  const refuse = (message: string) => {
    throw new ProposalError('PROPOSAL_REFUSED', `the roster would refuse this ${entry.type} entry (seq ${entry.seq}): ${message} (bad_state)`, { reason: 'bad_state' });
  };
  if (entry.type === 'admin.remove') {
    if (!s.admins.some((a) => a.kid === entry.body.kid)) refuse(`${entry.body.kid} is not an admin; the admins are ${s.admins.map((a) => a.kid).join(', ')}`);
    if (s.admins.length - 1 < s.quorum) refuse(`removing an admin would leave ${s.admins.length - 1}, below the quorum of ${s.quorum}: lower the quorum first (quorum.set)`);
  }
  if (entry.type === 'quorum.set' && entry.body.quorum > s.admins.length) refuse(`the quorum ${entry.body.quorum} is above the number of admins (${s.admins.length})`);
  if (entry.type === 'admin.add' && s.admins.length >= 64) refuse('the alliance already has 64 admins');
}

/** One line about an entry, for admins to see what they sign: type, seq and what it is about. */
export function describeEntry(entry: RosterEntry): string {
  const about = (() => {
    switch (entry.type) {
      case 'genesis':
        return `${entry.body.name === undefined ? '' : `${entry.body.name}: `}${entry.body.admins.length} admin(s), quorum ${entry.body.quorum}, first epoch ${entry.body.epoch}`;
      case 'member.add':
        return `member ${entry.body.id} (${entry.body.name}, ${entry.body.kind}, ${entry.body.country})`;
      case 'member.update':
        return `member ${entry.body.id}: ${Object.keys(entry.body).filter((k) => k !== 'id').join(', ')}`;
      case 'member.suspend':
      case 'member.reinstate':
      case 'member.revoke':
        return `member ${entry.body.id}${entry.body.reason === undefined ? '' : `: ${entry.body.reason}`}`;
      case 'admin.add':
        return `admin ${entry.body.admin.kid}${entry.body.admin.name === undefined ? '' : ` (${entry.body.admin.name})`}`;
      case 'admin.remove':
        return `admin ${entry.body.kid}`;
      case 'quorum.set':
        return `quorum ${entry.body.quorum}`;
      case 'epoch.new':
        return `epoch ${entry.body.epoch}, key wrapped for ${Object.keys(entry.body.keys).join(', ') || 'no member'}`;
    }
  })();
  return `seq ${entry.seq} ${entry.type} (${about}) in alliance ${entry.alliance}, created ${entry.createdAt}`;
}
