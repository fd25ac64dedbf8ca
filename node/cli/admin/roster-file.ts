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
 * chain. What a proposal may contain, and the dry run before it is written, is the membership's
 * (node/membership/proposal-build.ts), shared with the online workflow.
 */
import fs from 'node:fs';
import { readRosterFile, RosterFileError } from '../../membership/roster-file.ts';
import { AllianceError } from '../../errors.ts';
import { writeFileAtomicSync, writeFileExclusive } from '../../atomic-file.ts';
import { applyEntry, checkEntry, isRosterError, memberById, parseSignedEntry, serializeSignedEntry, type ParsedEntry, type RosterState, type SignedEntry } from '../../membership/roster.ts';
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
  | 'ALREADY_SIGNED';

/**
 * A problem with an admin tool's input files or with what they ask for: exit status 1. (What the
 * roster would refuse is a ProposalError of node/membership/proposal-build.ts, also exit status 1.)
 */
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
 * Writes a new file, whole or not at all (FILE_EXISTS if it exists: a proposal file may carry
 * signatures, it is never silently replaced). Creates missing parent directories. Proposal files are
 * passed between admins: mode and directories as the umask gives them, like any file of the user's.
 */
export function writeNewFile(file: string, text: string): void {
  if (!writeFileExclusive(file, text, { mode: 0o666, dirMode: 0o777 })) {
    throw new AdminToolError('FILE_EXISTS', `${file} already exists; choose another --out (a proposal file is never overwritten)`, { file });
  }
}

/** Replaces a file atomically (node/atomic-file.ts), keeping its mode. */
export function replaceFile(file: string, text: string): void {
  writeFileAtomicSync(file, text);
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
