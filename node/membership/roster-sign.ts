/**
 * Signed roster entries (schema/roster.md §4): a JWS in General JSON serialisation (RFC 7515
 * §7.2.1) whose payload is the canonical entry and which carries one Ed25519 signature per admin.
 * Admins sign one after another, offline, passing the file along:
 *
 *   let signed = await createProposal(entry);              // no signature yet
 *   signed = await addSignature(signed, { privateKey, kid }); // admin 1
 *   signed = await addSignature(signed, { privateKey, kid }); // admin 2, on another machine
 *   fs.writeFileSync(file, serializeSignedEntry(signed));
 *
 * Whether the signatures are enough is decided by `applyEntry` (roster-state.ts) against the admins
 * and quorum in force at the entry's place in the chain.
 */
import { calculateJwkThumbprint, errors, exportJWK, FlattenedSign, flattenedVerify, importJWK, type JWK } from 'jose';
import { isCanonicalBase64url } from '../encoding/base64url.ts';
import { assertEd25519, type Ed25519Key } from '../encoding/ed25519.ts';
import { canonicalJson } from '../encoding/canonical-json.ts';
import { checkEntry, encodeEntry, entryHash, isPlainObject, resolveRosterLimits, ROSTER_ID_PATTERN, type RosterEntry, type RosterLimits } from './roster-entry.ts';
import { RosterError } from './roster-error.ts';
import type { AdminKey } from './types.ts';

/** The JWS `alg`: pinned, nothing else is accepted. */
export const ROSTER_JWS_ALG = 'EdDSA';
/** The JWS `typ` of a roster entry, so it can never be taken for a batch, a JWT or anything else. */
export const ROSTER_JWS_TYP = 'alliance-roster+jws';

/** One admin's signature: the protected header `{alg, kid, typ}` and the Ed25519 signature, base64url. */
export interface EntrySignature {
  protected: string;
  signature: string;
}

/** A roster entry as stored, exchanged and passed between admins: General JSON JWS. */
export interface SignedEntry {
  /** base64url of the canonical entry bytes. */
  payload: string;
  /** One per admin, in the order they signed; empty in a fresh proposal. */
  signatures: EntrySignature[];
}

export interface SignerOptions {
  /** The admin's Ed25519 private key. */
  privateKey: Ed25519Key;
  /** Its kid as listed in the roster (RFC 7638 thumbprint of the public key). */
  kid: string;
}

/** A signed entry whose syntax is checked; its signatures are not verified yet. */
export interface ParsedEntry {
  signed: SignedEntry;
  entry: RosterEntry;
  /** Exact payload bytes (the canonical entry). */
  payload: Uint8Array;
  /** `entryHash(payload)`: names the entry, and is the next entry's `prev`. */
  hash: string;
  /** Signer kid of each signature, in order. */
  kids: string[];
}

/** The one protected header an admin signature may have, in its canonical (RFC 8785) spelling. */
export function canonicalSignatureHeader(kid: string): string {
  return `{"alg":"${ROSTER_JWS_ALG}","kid":${JSON.stringify(kid)},"typ":"${ROSTER_JWS_TYP}"}`;
}

/** The signed entry as JSON text: RFC 8785, so equal entries with equal signatures are equal bytes. */
export function serializeSignedEntry(signed: SignedEntry): string {
  return canonicalJson({ payload: signed.payload, signatures: signed.signatures.map((s) => ({ protected: s.protected, signature: s.signature })) });
}

/** An unsigned proposal for `entry` (checked): the payload and no signature yet. */
export async function createProposal(entry: RosterEntry): Promise<SignedEntry> {
  const payload = await encodeEntry(entry);
  return { payload: Buffer.from(payload).toString('base64url'), signatures: [] };
}

/**
 * Adds one admin's signature to a proposal or a partly signed entry (or signs a bare entry) and
 * returns the new signed entry; the input is not changed. Refuses a second signature by the same kid
 * (`duplicate_signature`), a key that is not the one `kid` names, and anything `parseSignedEntry`
 * refuses. Ed25519 is deterministic: the same entry and key always give the same signature.
 */
export async function addSignature(input: RosterEntry | SignedEntry | string, signer: SignerOptions, limits?: Partial<RosterLimits>): Promise<SignedEntry> {
  const proposal = typeof input === 'object' && input !== null && 'v' in input ? await createProposal(input) : (input as SignedEntry | string);
  const parsed = await parseSignedEntry(proposal, limits);
  if (!ROSTER_ID_PATTERN.test(signer.kid)) throw new TypeError('kid must be a key id');
  assertEd25519(signer.privateKey, 'private', 'privateKey');
  if (parsed.kids.includes(signer.kid)) throw new RosterError('duplicate_signature', `admin ${signer.kid} has already signed this entry`, { field: 'signatures', seq: parsed.entry.seq });
  await assertKeyIsKid(signer.privateKey, signer.kid);
  const flat = await new FlattenedSign(parsed.payload)
    .setProtectedHeader({ alg: ROSTER_JWS_ALG, kid: signer.kid, typ: ROSTER_JWS_TYP })
    .sign(signer.privateKey);
  const sig: EntrySignature = { protected: flat.protected!, signature: flat.signature };
  const out: SignedEntry = { payload: parsed.signed.payload, signatures: [...parsed.signed.signatures, sig] };
  const size = Buffer.byteLength(serializeSignedEntry(out), 'utf8');
  const max = resolveRosterLimits(limits).maxBytes;
  if (size > max) throw new RosterError('too_large', `the signed entry would be ${size} bytes; the limit is ${max}`, { seq: parsed.entry.seq });
  return out;
}

/** Signs a bare entry with several admin keys at once (tests, a single operator holding several keys). */
export async function signEntry(entry: RosterEntry, signers: SignerOptions[], limits?: Partial<RosterLimits>): Promise<SignedEntry> {
  let signed = await createProposal(entry);
  for (const s of signers) signed = await addSignature(signed, s, limits);
  return signed;
}


/** A signature under the wrong kid would only be refused later, by every node: refuse it here. */
async function assertKeyIsKid(privateKey: Ed25519Key, kid: string): Promise<void> {
  let jwk: JWK;
  try {
    jwk = await exportJWK(privateKey);
  } catch {
    return; // a non-extractable key: nodes will tell
  }
  const thumbprint = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x! }, 'sha256');
  if (thumbprint !== kid) throw new TypeError(`the private key is not the key ${kid} (its thumbprint is ${thumbprint})`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseJson(bytes: Uint8Array, field: string, seq?: number): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (cause) {
    throw new RosterError('malformed', `${field} is not UTF-8 JSON`, seq === undefined ? { field } : { field, seq }, { cause });
  }
}

/**
 * Checks the syntax of a signed entry, in the order of schema/roster.md §6 steps 1-8: size (before
 * parsing), General JSON JWS shape, each protected header exactly the canonical one, signature
 * lengths, number of signatures, no kid twice, then the payload: the entry's form (`checkEntry`) and
 * bytes equal to its canonical encoding. Does not verify signatures.
 */
export async function parseSignedEntry(input: SignedEntry | string | Uint8Array, limits?: Partial<RosterLimits>): Promise<ParsedEntry> {
  const lim = resolveRosterLimits(limits);
  // 1. Size, before parsing.
  let bytes: Uint8Array;
  if (typeof input === 'string') bytes = Buffer.from(input, 'utf8');
  else if (input instanceof Uint8Array) bytes = input;
  else if (isPlainObject(input)) {
    let text: string;
    try {
      text = JSON.stringify(input);
    } catch (cause) {
      throw new RosterError('malformed', 'the signed entry is not JSON data', {}, { cause });
    }
    bytes = Buffer.from(text, 'utf8');
  } else throw new RosterError('malformed', 'a signed entry is a General JSON JWS: an object, its JSON text or bytes');
  if (bytes.byteLength > lim.maxBytes) throw new RosterError('too_large', `the signed entry is over ${lim.maxBytes} bytes`);

  // 2. Shape: {payload, signatures: [{protected, signature}]}, nothing else (no unprotected header).
  const value = parseJson(bytes, 'the signed entry');
  if (!isPlainObject(value)) throw new RosterError('malformed', 'the signed entry must be a JSON object (General JSON JWS)');
  for (const k of Object.keys(value)) {
    if (k !== 'payload' && k !== 'signatures') throw new RosterError('malformed', `"${k.slice(0, 40)}" is not a member of a signed entry`, { field: k.slice(0, 40) });
  }
  const { payload, signatures } = value;
  if (typeof payload !== 'string' || payload === '' || !isCanonicalBase64url(payload)) throw new RosterError('malformed', 'the JWS payload must be non-empty canonical base64url', { field: 'payload' });
  if (!Array.isArray(signatures)) throw new RosterError('malformed', 'the JWS must have a "signatures" array', { field: 'signatures' });
  if (signatures.length > lim.maxSignatures) throw new RosterError('too_large', `the entry has ${signatures.length} signatures; the limit is ${lim.maxSignatures}`, { field: 'signatures' });

  // 3. Each signature: exactly the canonical header, a 64-byte signature; no kid twice.
  const kids: string[] = [];
  const sigs: EntrySignature[] = [];
  for (const [i, s] of signatures.entries()) {
    const field = `signatures[${i}]`;
    if (!isPlainObject(s) || Object.keys(s).some((k) => k !== 'protected' && k !== 'signature') || typeof s.protected !== 'string' || typeof s.signature !== 'string') {
      throw new RosterError('malformed', `${field} must be exactly {protected, signature}, two strings`, { field });
    }
    if (s.protected === '' || !isCanonicalBase64url(s.protected)) throw new RosterError('malformed', `${field}.protected must be canonical base64url`, { field });
    const header = parseJson(Buffer.from(s.protected, 'base64url'), `${field}.protected`);
    const kid = isPlainObject(header) ? header.kid : undefined;
    if (typeof kid !== 'string' || !ROSTER_ID_PATTERN.test(kid) || s.protected !== Buffer.from(canonicalSignatureHeader(kid), 'utf8').toString('base64url')) {
      throw new RosterError('malformed', `${field}.protected must be exactly {"alg":"${ROSTER_JWS_ALG}","kid":<admin kid>,"typ":"${ROSTER_JWS_TYP}"} in canonical form`, { field });
    }
    if (!isCanonicalBase64url(s.signature, 64)) throw new RosterError('malformed', `${field}.signature must be 64 bytes (Ed25519) of canonical base64url`, { field });
    if (kids.includes(kid)) throw new RosterError('duplicate_signature', `admin ${kid} signed the entry twice`, { field });
    kids.push(kid);
    sigs.push({ protected: s.protected, signature: s.signature });
  }

  // 4. Payload: the entry in its one form, in exactly its canonical bytes.
  const payloadBytes = Buffer.from(payload, 'base64url');
  const entry = await checkEntry(parseJson(payloadBytes, 'the JWS payload'));
  if (canonicalJson(entry) !== utf8.decode(payloadBytes)) throw new RosterError('malformed', 'the payload bytes are not the canonical encoding of the entry', { field: 'payload', seq: entry.seq });
  return { signed: { payload, signatures: sigs }, entry, payload: payloadBytes, hash: entryHash(payloadBytes), kids };
}

/**
 * Verifies every signature of a parsed entry against `admins` and returns the signer kids: each
 * signer must be one of `admins` (`not_admin`), each signature must verify (`bad_signature`,
 * jose `flattenedVerify` with algorithms pinned to EdDSA), and there must be at least `quorum`
 * (`insufficient_signatures`). Any bad signature refuses the entry, even with a quorum of good ones.
 */
export async function verifySignatures(parsed: ParsedEntry, admins: readonly AdminKey[], quorum: number): Promise<string[]> {
  const seq = parsed.entry.seq;
  for (const [i, s] of parsed.signed.signatures.entries()) {
    const kid = parsed.kids[i]!;
    const admin = admins.find((a) => a.kid === kid);
    if (admin === undefined) throw new RosterError('not_admin', `signatures[${i}] is by ${kid}, which is not an admin at seq ${seq}`, { field: `signatures[${i}]`, seq });
    const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: admin.jwk.x! }, ROSTER_JWS_ALG);
    try {
      await flattenedVerify({ payload: parsed.signed.payload, protected: s.protected, signature: s.signature }, key, { algorithms: [ROSTER_JWS_ALG] });
    } catch (cause) {
      if (cause instanceof errors.JWSSignatureVerificationFailed) {
        throw new RosterError('bad_signature', `signatures[${i}] (admin ${kid}) does not verify`, { field: `signatures[${i}]`, seq }, { cause });
      }
      throw new RosterError('malformed', `signatures[${i}] is not a valid JWS signature`, { field: `signatures[${i}]`, seq }, { cause });
    }
  }
  if (parsed.kids.length < quorum) {
    throw new RosterError('insufficient_signatures', `the entry has ${parsed.kids.length} admin signature(s); the quorum is ${quorum}`, { field: 'signatures', seq });
  }
  return [...parsed.kids];
}
