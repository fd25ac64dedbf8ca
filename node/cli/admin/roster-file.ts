/**
 * Files of the offline admin workflow (`alliance admin genesis | propose | sign | revoke | rotate`):
 *
 * - a **proposal file** is one signed roster entry (schema/roster.md §4) as its RFC 8785 JSON text
 *   (`serializeSignedEntry`) plus a newline: `"signatures":[]` when fresh, one signature more after
 *   each `alliance admin sign`;
 * - the **roster log file** is JSON Lines: one such signed entry per line, in seq order from the
 *   genesis (what `alliance admin export` writes). Appending a fully signed proposal file to it gives
 *   the next roster, which is exactly what a node does with a submitted entry.
 *
 * Commands that need the roster state read the log and `replay` it, so they work on a validated
 * chain. Before a proposal is written it is **dry-run**: applied to a copy of the state on which a
 * throwaway admin key (generated in memory, never written) stands in for the real admins. That runs
 * the roster core's own content checks (unknown member, a transition the status does not allow,
 * key or member id already used, epoch number, wrapped keys per ACTIVE member …), so a proposal the
 * nodes would refuse is caught before it goes round the admins. The signatures themselves are the
 * one thing a dry run cannot check; governance limits that depend on the real admin set are checked
 * explicitly here.
 */
import fs from 'node:fs';
import { readRosterFile, RosterFileError } from '../../membership/roster-file.ts';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { AllianceError } from '../../errors.ts';
import {
  addSignature,
  applyEntry,
  checkEntry,
  isRosterError,
  memberById,
  parseSignedEntry,
  serializeSignedEntry,
  type ParsedEntry,
  type RosterEntry,
  type RosterState,
  type SignedEntry,
} from '../../membership/roster.ts';
import type { AdminKey, Member } from '../../membership/types.ts';

export type AdminToolErrorCode =
  | 'FILE_NOT_FOUND'
  | 'FILE_UNREADABLE'
  | 'FILE_EXISTS'
  | 'NOT_JSON'
  | 'NOT_A_PROPOSAL'
  | 'NOT_AN_ADMIN_KEY'
  | 'NOT_A_REQUEST'
  | 'ROSTER_FILE_INVALID'
  | 'UNKNOWN_MEMBER'
  | 'WRONG_ALLIANCE'
  | 'STALE_PROPOSAL'
  | 'NOT_ADMIN'
  | 'ALREADY_SIGNED'
  | 'NOTHING_TO_CHANGE'
  | 'PROPOSAL_REFUSED';

/** A problem with an admin tool's input files or with what they ask for: exit status 1. */
export class AdminToolError extends AllianceError {
  declare readonly code: AdminToolErrorCode;
  constructor(code: AdminToolErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** Reads a text file; a missing file is FILE_NOT_FOUND, naming what it was supposed to be. */
export function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AdminToolError('FILE_NOT_FOUND', `${what} ${file} does not exist`, { file });
    if (code === 'EISDIR') throw new AdminToolError('FILE_UNREADABLE', `${what} ${file} is a directory, not a file`, { file });
    throw new AdminToolError('FILE_UNREADABLE', `cannot read ${what} ${file}: ${(err as Error).message}`, { file });
  }
}

/** Reads a JSON file (FILE_NOT_FOUND, NOT_JSON). */
export function readJson(file: string, what: string): unknown {
  const text = readText(file, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AdminToolError('NOT_JSON', `${what} ${file} is not JSON: ${(err as Error).message}`, { file });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rosterReason(err: unknown): string {
  return isRosterError(err) ? ` (${err.reason}${err.field === undefined ? '' : `, ${err.field}`})` : '';
}

/** A roster log file replayed from its genesis. */
export interface RosterLog {
  file: string;
  state: RosterState;
  /** Number of entries (= state.seq + 1). */
  entries: number;
}

/**
 * Reads a roster log (JSON Lines, one signed entry per line, blank lines ignored) and validates it
 * from its genesis, entry by entry: ROSTER_FILE_INVALID names the line and the roster's reason.
 */
export async function readRosterLog(file: string): Promise<RosterLog> {
  if (!fs.existsSync(file)) throw new AdminToolError('FILE_NOT_FOUND', `roster log file ${file} does not exist`, { file });
  let lines: string[];
  try {
    lines = readRosterFile(file);
  } catch (err) {
    if (err instanceof RosterFileError) throw new AdminToolError('ROSTER_FILE_INVALID', `${err.message} (alliance admin export writes a roster log file)`, { file });
    throw err;
  }
  let state: RosterState | null = null;
  for (const [i, line] of lines.entries()) {
    try {
      state = await applyEntry(state, line);
    } catch (err) {
      if (!isRosterError(err)) throw err;
      throw new AdminToolError('ROSTER_FILE_INVALID', `roster log file ${file}, entry ${i + 1}: ${err.message}${rosterReason(err)}`, { file, entry: i + 1 });
    }
  }
  return { file, state: state!, entries: lines.length };
}

/** Reads a proposal (or partly / fully signed entry) file and checks its syntax: NOT_A_PROPOSAL otherwise. */
export async function readProposal(file: string): Promise<ParsedEntry> {
  const text = readText(file, 'proposal file');
  try {
    JSON.parse(text);
  } catch (err) {
    throw new AdminToolError('NOT_JSON', `proposal file ${file} is not JSON: ${(err as Error).message}`, { file });
  }
  try {
    return await parseSignedEntry(text.trim());
  } catch (err) {
    if (!isRosterError(err)) throw err;
    throw new AdminToolError('NOT_A_PROPOSAL', `${file} is not a roster proposal (a signed roster entry as alliance admin propose writes it): ${err.message}${rosterReason(err)}`, { file });
  }
}

/** The text of a proposal file. */
export function proposalText(signed: SignedEntry): string {
  return `${serializeSignedEntry(signed)}\n`;
}

/**
 * Writes a new file (FILE_EXISTS if it exists: a proposal file may carry signatures, it is never
 * silently replaced). Creates missing parent directories.
 */
export function writeNewFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  try {
    fs.writeFileSync(file, text, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AdminToolError('FILE_EXISTS', `${file} already exists; choose another --out (a proposal file is never overwritten)`, { file });
    throw err;
  }
}

/** Replaces a file atomically (temporary file in the same directory, then rename), keeping its mode. */
export function replaceFile(file: string, text: string): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let mode: number | undefined;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    mode = undefined;
  }
  try {
    fs.writeFileSync(tmp, text, { flag: 'wx', ...(mode === undefined ? {} : { mode }) });
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * A public admin key file, as `alliance admin keygen` prints it: `{kid, jwk, name?}`. A private key
 * file is refused (admins exchange public keys only); the key's form (kid = thumbprint) is checked.
 */
export async function readPublicAdminKey(file: string): Promise<AdminKey> {
  const v = readJson(file, 'admin public key file');
  const bad = (why: string) =>
    new AdminToolError('NOT_AN_ADMIN_KEY', `${file} is not a public admin key ({"kid","jwk","name"} as alliance admin keygen prints it): ${why}`, { file });
  if (!isObject(v)) throw bad('not a JSON object');
  if (Object.hasOwn(v, 'd') || (isObject(v.jwk) && Object.hasOwn(v.jwk, 'd'))) {
    throw new AdminToolError('NOT_AN_ADMIN_KEY', `${file} holds a private key: pass the public admin key that alliance admin keygen printed, and never share the key file`, { file });
  }
  if (!isObject(v.jwk) || typeof v.kid !== 'string') throw bad('kid or jwk is missing');
  const admin: AdminKey = { kid: v.kid, jwk: { kty: v.jwk.kty as string, crv: v.jwk.crv as string, x: v.jwk.x as string } };
  if (v.name !== undefined) admin.name = v.name as string;
  for (const k of Object.keys(v)) if (!['kid', 'jwk', 'name'].includes(k)) throw bad(`"${k.slice(0, 40)}" is not a member`);
  for (const k of Object.keys(v.jwk)) if (!['kty', 'crv', 'x'].includes(k)) throw bad(`jwk."${k.slice(0, 40)}" is not a member`);
  try {
    // The roster's own form check of one admin key (Ed25519, kid = RFC 7638 thumbprint, name).
    await checkEntry({ v: 1, alliance: 'check', seq: 0, prev: null, type: 'genesis', body: { admins: [admin], quorum: 1, epoch: 0 }, createdAt: '2026-01-01T00:00:00Z' });
  } catch (err) {
    if (!isRosterError(err)) throw err;
    throw bad(err.message.replace(/^body\.admins\[0\]\.?/, ''));
  }
  return admin;
}

/** A membership request file (what `alliance init` prints); its form is checked when the entry is made. */
export function readRequest(file: string): Record<string, unknown> {
  const v = readJson(file, 'membership request file');
  if (!isObject(v) || typeof v.id !== 'string') {
    throw new AdminToolError('NOT_A_REQUEST', `${file} is not a membership request (the JSON alliance init prints)`, { file });
  }
  return v;
}

/** The member `id` of the roster (UNKNOWN_MEMBER, listing the ids there are, otherwise). */
export function requireMember(state: RosterState, id: string, rosterFile: string): Member {
  const m = memberById(state, id);
  if (m === undefined) {
    const ids = state.members.map((x) => `${x.id} (${x.status})`);
    throw new AdminToolError('UNKNOWN_MEMBER', `no member ${id} in the roster ${rosterFile}; its members are: ${ids.length ? ids.join(', ') : 'none'}`, { member: id });
  }
  return m;
}

/** A RosterError from making an entry (`proposeEntry`): the proposal's form is wrong. */
export function proposalRefused(err: unknown, what: string): never {
  if (!isRosterError(err)) throw err;
  throw new AdminToolError('PROPOSAL_REFUSED', `${what}: ${err.message}${rosterReason(err)}`, { reason: err.reason });
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
    throw new AdminToolError('PROPOSAL_REFUSED', `the roster would refuse this ${entry.type} entry (seq ${entry.seq}): ${message} (bad_state)`, { reason: 'bad_state' });
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
