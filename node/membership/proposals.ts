/**
 * The online half of the admin workflow (docs/architecture.md, "Members and the roster"): roster proposals kept in `roster_proposals`,
 * signed by this node's admin key (when one is configured, `ALLIANCE_ADMIN_KEY`) and submitted to the
 * RosterStore once they carry the quorum. What the GraphQL fields `rosterProposals`,
 * `proposeRosterChange`, `approveRosterProposal` and `submitRosterEntry` do.
 *
 * A proposal is made for head + 1 and dry-run (proposal-build.ts, shared with `alliance admin
 * propose`: the roster core's content checks with a stand-in admin), so a proposal the roster would
 * refuse is refused at once.
 * Another entry applied at its seq first makes it STALE; the very same entry applied (an admin signed
 * it offline and submitted it) makes it SUBMITTED.
 *
 * Errors are RosterAdminError with the API's client-facing codes: BAD_USER_INPUT (with the roster's
 * `reason`), FORBIDDEN (`reason` NO_ADMIN_KEY or NOT_AN_ADMIN), CONFLICT, NOT_FOUND.
 */
import { AllianceError } from '../errors.ts';
import type { Database } from '../storage/database.ts';
import type { LoadedAdminKey } from './keys.ts';
import { dryRun, epochNewEntry, isProposalError } from './proposal-build.ts';
import {
  addSignature,
  createProposal,
  ENTRY_TYPES,
  isRosterError,
  parseSignedEntry,
  proposeEntry,
  serializeSignedEntry,
  type EntryProposal,
  type EntryType,
  type ParsedEntry,
  type RosterEntry,
  type RosterState,
} from './roster.ts';
import type { SubmitResult } from './roster-store.ts';

export type RosterAdminErrorCode = 'BAD_USER_INPUT' | 'FORBIDDEN' | 'CONFLICT' | 'NOT_FOUND';

export class RosterAdminError extends AllianceError {
  declare readonly code: RosterAdminErrorCode;
  constructor(code: RosterAdminErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export const PROPOSAL_STATUSES = ['OPEN', 'SUBMITTED', 'REJECTED', 'STALE'] as const;
export type ProposalStatus = (typeof PROPOSAL_STATUSES)[number];

/** What the workflow needs of the roster: a RosterStore. */
export interface RosterWriter {
  refresh(): Promise<RosterState | null>;
  submit(signedText: string): Promise<SubmitResult>;
}

export interface RosterProposal {
  id: string;
  seq: number;
  hash: string;
  type: EntryType;
  signed: string;
  /** Signer kids, in signing order. */
  signers: string[];
  /** Signatures still missing for the quorum of the current roster (0 once it has them). */
  signaturesNeeded: number;
  status: ProposalStatus;
  reason: string | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  entry: RosterEntry;
}

interface Row {
  id: string;
  seq: string;
  hash: string;
  type: string;
  signed: string;
  created_by: string;
  created_at: Date | string;
  updated_at: Date | string;
  status: ProposalStatus;
  reason: string | null;
}

const COLUMNS = 'id, seq, hash, type, signed, created_by, created_at, updated_at, status, reason';

function toDate(v: Date | string): Date {
  return v instanceof Date ? v : new Date(v);
}

function rosterReason(err: unknown): string {
  return isRosterError(err) ? ` (${err.reason}${err.field === undefined ? '' : `, ${err.field}`})` : '';
}

/** A roster refusal as BAD_USER_INPUT carrying the roster's reason. */
function refused(err: unknown, what: string, extra: Record<string, unknown> = {}): RosterAdminError {
  if (isRosterError(err)) return new RosterAdminError('BAD_USER_INPUT', `${what}: ${err.message}${rosterReason(err)}`, { reason: err.reason, ...(err.field === undefined ? {} : { field: err.field }), ...extra });
  if (isProposalError(err)) {
    return new RosterAdminError('BAD_USER_INPUT', err.message, { reason: err.reason ?? 'bad_state', ...(err.field === undefined ? {} : { field: err.field }), ...extra });
  }
  throw err;
}

export class RosterProposals {
  readonly #db: Database;
  readonly #roster: () => Promise<RosterWriter>;
  readonly #adminKey: LoadedAdminKey | undefined;

  constructor(db: Database, roster: () => Promise<RosterWriter>, adminKey?: LoadedAdminKey) {
    this.#db = db;
    this.#roster = roster;
    this.#adminKey = adminKey;
  }

  /** Proposals, newest first, optionally of some statuses; OPEN ones overtaken by the chain are settled first. */
  async list(status?: readonly ProposalStatus[] | null): Promise<RosterProposal[]> {
    const state = await (await this.#roster()).refresh();
    await this.#settle(state);
    const { rows } =
      status == null ? await this.#db.query<Row>(`SELECT ${COLUMNS} FROM roster_proposals ORDER BY id DESC`) : await this.#db.query<Row>(`SELECT ${COLUMNS} FROM roster_proposals WHERE status = ANY($1::text[]) ORDER BY id DESC`, [[...status]]);
    return Promise.all(rows.map((r) => this.#view(r, state)));
  }

  async get(id: string): Promise<RosterProposal> {
    const state = await (await this.#roster()).refresh();
    await this.#settle(state);
    return this.#view(await this.#row(id), state);
  }

  /**
   * A proposal for the entry after the head: checked and dry-run, signed with this node's admin key
   * when it has one that is an admin, stored, and submitted if that signature is already the quorum.
   */
  async propose(type: string, bodyJson: string, createdBy: string): Promise<RosterProposal> {
    if (!(ENTRY_TYPES as readonly string[]).includes(type) || type === 'genesis') {
      throw new RosterAdminError('BAD_USER_INPUT', `type ${JSON.stringify(type)} cannot be proposed: a genesis founds an alliance (alliance admin genesis)`, { field: 'type' });
    }
    let body: unknown;
    try {
      body = JSON.parse(bodyJson);
    } catch (err) {
      throw new RosterAdminError('BAD_USER_INPUT', `body is not JSON: ${(err as Error).message}`, { field: 'body' });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RosterAdminError('BAD_USER_INPUT', 'body must be a JSON object (the entry body, schema/roster.md §3)', { field: 'body' });
    const state = await (await this.#roster()).refresh();
    if (state === null) throw new RosterAdminError('CONFLICT', 'the roster is empty: a node needs its genesis (--genesis FILE) before changes can be proposed');
    await this.#settle(state);

    let entry: RosterEntry;
    if (type === 'epoch.new' && !Object.hasOwn(body, 'keys')) {
      // As `alliance admin propose --type epoch.new`: a fresh key wrapped to every ACTIVE member.
      const reason = (body as { reason?: unknown }).reason;
      if (reason !== undefined && typeof reason !== 'string') throw new RosterAdminError('BAD_USER_INPUT', 'body.reason must be a string', { field: 'body.reason' });
      try {
        entry = await epochNewEntry(state, { reason });
      } catch (err) {
        throw refused(err, 'the epoch.new proposal is not valid');
      }
    } else {
      try {
        entry = await proposeEntry(state, { type, body } as EntryProposal);
      } catch (err) {
        throw refused(err, `the ${type} proposal is not valid`);
      }
    }
    try {
      await dryRun(state, [entry]);
    } catch (err) {
      throw refused(err, `the ${type} proposal is not valid`);
    }
    let signed = await createProposal(entry);
    const key = this.#adminKey;
    if (key !== undefined && state.admins.some((a) => a.kid === key.kid)) signed = await addSignature(signed, { privateKey: key.privateKey, kid: key.kid });
    const parsed = await parseSignedEntry(signed);
    const { rows } = await this.#db.query<Row>(`INSERT INTO roster_proposals (seq, hash, type, signed, created_by) VALUES ($1::bigint, $2, $3, $4, $5) RETURNING ${COLUMNS}`, [
      entry.seq,
      parsed.hash,
      entry.type,
      serializeSignedEntry(signed),
      createdBy,
    ]);
    return this.#submitIfComplete(rows[0]!, parsed, state);
  }

  /** Adds this node's admin signature; submits the entry once the quorum signed it. */
  async approve(id: string): Promise<RosterProposal> {
    const key = this.#adminKey;
    if (key === undefined) {
      throw new RosterAdminError('FORBIDDEN', 'this node has no admin key to sign with: configure ALLIANCE_ADMIN_KEY (a key file from alliance admin keygen), or sign offline (alliance admin sign) and use submitRosterEntry', { reason: 'NO_ADMIN_KEY' });
    }
    const state = await (await this.#roster()).refresh();
    await this.#settle(state);
    const row = await this.#row(id);
    if (row.status !== 'OPEN') throw new RosterAdminError('CONFLICT', `proposal ${id} is ${row.status}, not OPEN: it can no longer be signed`, { id, reason: row.status });
    if (state === null || !state.admins.some((a) => a.kid === key.kid)) {
      throw new RosterAdminError('FORBIDDEN', `this node's admin key ${key.kid} is not an admin of the roster`, { reason: 'NOT_AN_ADMIN' });
    }
    let parsed = await parseSignedEntry(row.signed);
    if (parsed.kids.includes(key.kid)) throw new RosterAdminError('CONFLICT', `proposal ${id} is already signed by this node's admin key ${key.kid}`, { id, reason: 'duplicate_signature' });
    let signed;
    try {
      signed = await addSignature(parsed.signed, { privateKey: key.privateKey, kid: key.kid });
    } catch (err) {
      throw refused(err, `proposal ${id} cannot be signed`, { id });
    }
    const text = serializeSignedEntry(signed);
    const { rows } = await this.#db.query<Row>(`UPDATE roster_proposals SET signed = $2, updated_at = now() WHERE id = $1::bigint AND signed = $3 AND status = 'OPEN' RETURNING ${COLUMNS}`, [id, text, row.signed]);
    if (rows.length === 0) throw new RosterAdminError('CONFLICT', `proposal ${id} changed while it was being signed: read it again`, { id });
    parsed = await parseSignedEntry(signed);
    return this.#submitIfComplete(rows[0]!, parsed, state);
  }

  /** Submits an entry signed offline (a signed proposal file's text) to the roster. */
  async submitSigned(text: string): Promise<SubmitResult> {
    const roster = await this.#roster();
    let result: SubmitResult;
    try {
      result = await roster.submit(text.trim());
    } catch (err) {
      throw refused(err, 'the roster refused the entry');
    }
    await this.#settle(await roster.refresh());
    return result;
  }

  async #submitIfComplete(row: Row, parsed: ParsedEntry, state: RosterState): Promise<RosterProposal> {
    if (needed(parsed, state) > 0) return this.#view(row, state);
    const roster = await this.#roster();
    try {
      await roster.submit(row.signed);
    } catch (err) {
      if (!isRosterError(err)) throw err;
      await this.#setStatus(row.id, 'REJECTED', `${err.reason}: ${err.message}`);
      throw refused(err, `the roster refused proposal ${row.id}`, { id: row.id });
    }
    const after = await roster.refresh();
    await this.#setStatus(row.id, 'SUBMITTED', null);
    return this.#view(await this.#row(row.id), after ?? state);
  }

  async #setStatus(id: string, status: ProposalStatus, reason: string | null): Promise<void> {
    await this.#db.query('UPDATE roster_proposals SET status = $2, reason = $3, updated_at = now() WHERE id = $1::bigint', [id, status, reason]);
  }

  /** OPEN proposals whose seq the chain has reached: SUBMITTED if it is their entry, STALE otherwise. */
  async #settle(state: RosterState | null): Promise<void> {
    if (state === null) return;
    await this.#db.query(
      `UPDATE roster_proposals p SET status = CASE WHEN e.hash = p.hash THEN 'SUBMITTED' ELSE 'STALE' END, updated_at = now()
         FROM roster_entries e WHERE p.status = 'OPEN' AND e.seq = p.seq AND p.seq <= $1::bigint`,
      [state.seq],
    );
  }

  async #row(id: string): Promise<Row> {
    if (!/^\d{1,18}$/.test(id)) throw new RosterAdminError('NOT_FOUND', `no roster proposal ${JSON.stringify(id)}`, { id });
    const { rows } = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM roster_proposals WHERE id = $1::bigint`, [id]);
    if (rows[0] === undefined) throw new RosterAdminError('NOT_FOUND', `no roster proposal ${id}`, { id });
    return rows[0];
  }

  async #view(row: Row, state: RosterState | null): Promise<RosterProposal> {
    const parsed = await parseSignedEntry(row.signed);
    return {
      id: row.id,
      seq: Number(row.seq),
      hash: row.hash,
      type: row.type as EntryType,
      signed: row.signed,
      signers: parsed.kids,
      signaturesNeeded: row.status === 'OPEN' && state !== null ? needed(parsed, state) : 0,
      status: row.status,
      reason: row.reason,
      createdBy: row.created_by,
      createdAt: toDate(row.created_at),
      updatedAt: toDate(row.updated_at),
      entry: parsed.entry,
    };
  }
}

/** Signatures still missing: the quorum minus the distinct signers that are admins of the roster. */
function needed(parsed: ParsedEntry, state: RosterState): number {
  const admins = new Set(state.admins.map((a) => a.kid));
  const valid = new Set(parsed.kids.filter((k) => admins.has(k))).size;
  return Math.max(0, state.quorum - valid);
}
