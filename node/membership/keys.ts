/**
 * The member's own identity and admin key files.
 *
 * Member identity: one file, `<dataDir>/keys/member.json` (directory 0700, file 0600), holding
 * - the Ed25519 signing key(s) (private JWKs; `kid` = RFC 7638 thumbprint) that sign batches,
 * - the X25519 encryption key (private JWK; `kid` = thumbprint) that epoch keys are wrapped to,
 * - the libp2p peer key (Ed25519, libp2p protobuf encoding, base64), whose peer id the roster lists,
 * - the public profile (id, name, kind, country, addrs) that `alliance init` was given.
 *
 * One file rather than three so that creation is atomic: it is written to a temporary file, flushed,
 * then hard-linked to its final name, which fails if the name exists. An identity is therefore never
 * overwritten by another (not even by two `init`s racing) and never half-written by a crash. The peer
 * key is a separate key from the signing key so that rotating the signing key (`member.update`) does
 * not change the node's peer id, and vice versa.
 *
 * Rotation in place (`alliance rotate-keys`, `rotateMemberKeys`) only ever adds keys: a new signing
 * key is appended, a replaced encryption or peer key moves to `previousEncryptionKeys` /
 * `previousPeerKeys`. The roster, not this file, says which key is in force: until the admins'
 * `member.update` is applied the roster still lists the old keys, so the node keeps signing with the
 * old signing key (`signingKeyFor`), keeps its old peer id (`peerFor`), and still unwraps epoch keys
 * wrapped to the old encryption key (`encryptionKeyFor`); batches signed before the rotation stay
 * verifiable by anyone holding the roster. The rewritten file replaces the old one atomically
 * (temporary file, flush, rename) under a lock file, so two rotations never lose each other's key.
 *
 * Like the API key, these files rely on the data directory being the node's trust boundary: anyone
 * who can read it can act as the member.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { generateKeyPair as generatePeerKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { AllianceError } from '../errors.ts';
import { writeFileAtomicSync, writeFileExclusive } from '../atomic-file.ts';
import { countryCode } from '../identifiers/countries.ts';
import { MEMBER_KINDS, type AdminKey, type EncryptionKey, type MemberKind, type MembershipRequest, type SigningKey } from './types.ts';

export type KeyErrorCode =
  | 'IDENTITY_EXISTS'
  | 'IDENTITY_MISSING'
  | 'IDENTITY_INVALID'
  | 'IDENTITY_BUSY'
  | 'MEMBER_ID_INVALID'
  | 'MEMBER_NAME_INVALID'
  | 'MEMBER_KIND_INVALID'
  | 'COUNTRY_INVALID'
  | 'ADDR_INVALID'
  | 'ADMIN_KEY_EXISTS'
  | 'ADMIN_KEY_MISSING'
  | 'ADMIN_KEY_INVALID'
  | 'ADMIN_NAME_INVALID';

/** libp2p's PrivateKey (the type lives in @libp2p/interface, a dependency of @libp2p/crypto). */
export type PeerPrivateKey = ReturnType<typeof privateKeyFromProtobuf>;

export class KeyError extends AllianceError {
  declare readonly code: KeyErrorCode;
  constructor(code: KeyErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** Codes of `validateMemberProfile`: bad input, as opposed to a problem with the files. */
export const PROFILE_ERROR_CODES: readonly KeyErrorCode[] = ['MEMBER_ID_INVALID', 'MEMBER_NAME_INVALID', 'MEMBER_KIND_INVALID', 'COUNTRY_INVALID', 'ADDR_INVALID'];

/** The wire format's id rule (members, alliances). */
export const MEMBER_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** `country` of a member that names none: CLDR's "unknown region" (e.g. an international body). */
export const UNKNOWN_COUNTRY = 'ZZ';
export const MAX_ADDRS = 16;

/** What `alliance init` is told about the member: the non-key part of its membership request. */
export interface MemberProfile {
  id: string;
  name: string;
  kind: MemberKind;
  country: string;
  addrs: string[];
}

export interface MemberProfileInput {
  id: string;
  name: string;
  kind?: string | undefined;
  country?: string | undefined;
  addrs?: string[] | undefined;
}

// Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Checks and normalises a member's profile: id 1-128 of A-Z a-z 0-9 . _ : -, name 1-200 characters
 * (trimmed, no control characters), kind one of MEMBER_KINDS (default OTHER, any case), country an
 * ISO 3166-1 alpha-2 code (any case, UK → GB; default ZZ, unknown), addrs libp2p multiaddrs without
 * a trailing /p2p/<peer id> (the roster lists the peer id separately). Throws a KeyError naming the field.
 */
export function validateMemberProfile(input: MemberProfileInput): MemberProfile {
  const id = input.id;
  if (typeof id !== 'string' || !MEMBER_ID_PATTERN.test(id)) {
    throw new KeyError('MEMBER_ID_INVALID', `member id ${JSON.stringify(id)} must be 1-128 letters, digits or . _ : -`);
  }
  const name = typeof input.name === 'string' ? input.name.trim().normalize('NFC') : '';
  if (name.length === 0 || [...name].length > 200 || CONTROL.test(name)) {
    throw new KeyError('MEMBER_NAME_INVALID', 'member name must be 1-200 characters without control characters');
  }
  const kindIn = (input.kind ?? 'OTHER').toUpperCase().replace(/-/g, '_');
  if (!(MEMBER_KINDS as readonly string[]).includes(kindIn)) {
    throw new KeyError('MEMBER_KIND_INVALID', `member kind ${JSON.stringify(input.kind)} must be one of ${MEMBER_KINDS.join(', ')}`);
  }
  let country = UNKNOWN_COUNTRY;
  if (input.country !== undefined) {
    const upper = input.country.toUpperCase();
    const code = /^[A-Z]{2}$/.test(upper) ? (upper === UNKNOWN_COUNTRY ? upper : countryCode(upper)) : undefined;
    if (code === undefined) {
      throw new KeyError('COUNTRY_INVALID', `country ${JSON.stringify(input.country)} is not an ISO 3166-1 alpha-2 code such as CN, DE or US (ZZ: none)`);
    }
    country = code;
  }
  const addrs = [...new Set(input.addrs ?? [])];
  if (addrs.length > MAX_ADDRS) throw new KeyError('ADDR_INVALID', `at most ${MAX_ADDRS} addresses`);
  for (const a of addrs) validateAddr(a);
  return { id, name, kind: kindIn as MemberKind, country, addrs };
}

function validateAddr(addr: string): void {
  let components;
  try {
    components = multiaddr(addr).getComponents();
  } catch (err) {
    throw new KeyError('ADDR_INVALID', `address ${JSON.stringify(addr)} is not a multiaddr such as /dns4/node.example.org/tcp/4001: ${(err as Error).message}`);
  }
  if (components.length === 0) throw new KeyError('ADDR_INVALID', `address ${JSON.stringify(addr)} is empty`);
  if (components.at(-1)!.name === 'p2p') {
    throw new KeyError('ADDR_INVALID', `address ${JSON.stringify(addr)} ends in /p2p/<peer id>: give it without, the roster lists the peer id separately`);
  }
}

// ---------------------------------------------------------------------------------------------
// Files

export function keysDir(dataDir: string): string {
  return path.join(dataDir, 'keys');
}

export function memberIdentityPath(dataDir: string): string {
  return path.join(keysDir(dataDir), 'member.json');
}

export function hasMemberIdentity(dataDir: string): boolean {
  return fs.existsSync(memberIdentityPath(dataDir));
}

/** `keys/member.json`, version 1. */
interface MemberIdentityFile {
  v: 1;
  createdAt: string;
  profile: MemberProfile;
  /** Oldest first; the last is the one in use. Private JWKs with `kid` and `alg: EdDSA`. */
  signingKeys: Array<{ validFrom: string; validUntil?: string | null; jwk: JWK }>;
  /** Private X25519 JWK with `kid`: the one in use (the newest). */
  encryptionKey: JWK;
  /** Encryption keys replaced by `alliance rotate-keys --encryption`, oldest first; absent if none. */
  previousEncryptionKeys?: JWK[];
  /** libp2p protobuf encoding of the Ed25519 peer private key, base64: the newest. */
  peerKey: string;
  /** Peer keys replaced by `alliance rotate-keys --peer`, oldest first; absent if none. */
  previousPeerKeys?: string[];
}

export interface LoadedSigningKey {
  kid: string;
  /** Private JWK (with `d`): never print or send it. */
  privateJwk: JWK;
  /** `{kty, crv, x}`. */
  publicJwk: JWK;
  privateKey: CryptoKey;
  validFrom: string;
  validUntil: string | null;
}

export interface MemberIdentity {
  file: string;
  createdAt: string;
  profile: MemberProfile;
  /** The signing key in use (the newest). */
  signingKey: LoadedSigningKey;
  /** Every signing key, oldest first (more than one after a rotation). */
  signingKeys: LoadedSigningKey[];
  /** The newest encryption key (what a membership request offers). */
  encryptionKey: LoadedEncryptionKey;
  /** Every encryption key, oldest first: epoch keys wrapped to a replaced one still unwrap. */
  encryptionKeys: LoadedEncryptionKey[];
  /** The newest peer key. */
  peer: LoadedPeerKey;
  /** Every peer key, oldest first. */
  peers: LoadedPeerKey[];
}

export interface LoadedEncryptionKey {
  kid: string;
  /** Private X25519 JWK (with `d`): what unwrapEpochKey needs. */
  privateJwk: JWK;
  publicJwk: JWK;
}

export interface LoadedPeerKey {
  /** libp2p private key, as `createLibp2p({ privateKey })` takes it. */
  privateKey: PeerPrivateKey;
  peerId: string;
}

/** `{kty, crv, x}` of an OKP JWK: what the roster carries. */
export function publicOkpJwk(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

async function newOkpKey(alg: 'EdDSA' | 'ECDH-ES+A256KW', crv: 'Ed25519' | 'X25519'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { crv, extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d, kid, alg, use: crv === 'Ed25519' ? 'sig' : 'enc' };
}

/**
 * Creates the member identity in `dataDir` and returns its public membership request. Refuses
 * (IDENTITY_EXISTS) if the data directory has one: an identity is never replaced.
 */
export async function initMemberIdentity(dataDir: string, input: MemberProfileInput): Promise<MembershipRequest> {
  const profile = validateMemberProfile(input);
  const file = memberIdentityPath(dataDir);
  if (fs.existsSync(file)) throw identityExists(file);
  const createdAt = new Date().toISOString();
  const peer = await generatePeerKeyPair('Ed25519');
  const content: MemberIdentityFile = {
    v: 1,
    createdAt,
    profile,
    signingKeys: [{ validFrom: createdAt, jwk: await newOkpKey('EdDSA', 'Ed25519') }],
    encryptionKey: await newOkpKey('ECDH-ES+A256KW', 'X25519'),
    peerKey: Buffer.from(privateKeyToProtobuf(peer)).toString('base64'),
  };
  if (!writeFileExclusive(file, `${JSON.stringify(content, null, 2)}\n`)) throw identityExists(file);
  return membershipRequest(await loadMemberIdentity(dataDir));
}

function identityExists(file: string): KeyError {
  return new KeyError('IDENTITY_EXISTS', `a member identity already exists in ${file}; it is never overwritten ("alliance init --print" shows its request; use another --data-dir for a new member)`, { file });
}

/** Reads and checks the member identity of `dataDir` (IDENTITY_MISSING if there is none). */
export async function loadMemberIdentity(dataDir: string): Promise<MemberIdentity> {
  const file = memberIdentityPath(dataDir);
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KeyError('IDENTITY_MISSING', `no member identity in ${dataDir}: run "alliance init" there first, or check --data-dir`, { file });
    }
    throw new KeyError('IDENTITY_INVALID', `cannot read ${file}: ${(err as Error).message}`, { file });
  }
  const bad = (why: string) => new KeyError('IDENTITY_INVALID', `${file} is not a valid member identity: ${why}`, { file });
  let content: MemberIdentityFile;
  try {
    content = JSON.parse(raw) as MemberIdentityFile;
  } catch {
    throw bad('not JSON');
  }
  if (typeof content !== 'object' || content === null || content.v !== 1) throw bad('unknown version');
  if (typeof content.createdAt !== 'string') throw bad('no createdAt');
  let profile: MemberProfile;
  try {
    profile = validateMemberProfile(content.profile ?? ({} as MemberProfileInput));
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (!Array.isArray(content.signingKeys) || content.signingKeys.length === 0) throw bad('no signing key');
  const signingKeys: LoadedSigningKey[] = [];
  for (const s of content.signingKeys) {
    const jwk = await checkPrivateOkp(s?.jwk, 'Ed25519', bad);
    signingKeys.push({
      kid: jwk.kid!,
      privateJwk: jwk,
      publicJwk: publicOkpJwk(jwk),
      privateKey: (await importJWK(jwk, 'EdDSA')) as CryptoKey,
      validFrom: String(s.validFrom),
      validUntil: s.validUntil ?? null,
    });
  }
  if (content.previousEncryptionKeys !== undefined && !Array.isArray(content.previousEncryptionKeys)) throw bad('previousEncryptionKeys is not a list');
  if (content.previousPeerKeys !== undefined && !Array.isArray(content.previousPeerKeys)) throw bad('previousPeerKeys is not a list');
  const encryptionKeys: LoadedEncryptionKey[] = [];
  for (const e of [...(content.previousEncryptionKeys ?? []), content.encryptionKey]) {
    const enc = await checkPrivateOkp(e, 'X25519', bad);
    encryptionKeys.push({ kid: enc.kid!, privateJwk: enc, publicJwk: publicOkpJwk(enc) });
  }
  const peers: LoadedPeerKey[] = [];
  for (const p of [...(content.previousPeerKeys ?? []), content.peerKey]) {
    let peerKey: PeerPrivateKey;
    try {
      peerKey = privateKeyFromProtobuf(Buffer.from(String(p), 'base64'));
    } catch (err) {
      throw bad(`peer key: ${(err as Error).message}`);
    }
    if (peerKey.type !== 'Ed25519') throw bad('peer key is not Ed25519');
    peers.push({ privateKey: peerKey, peerId: peerIdFromPrivateKey(peerKey).toString() });
  }
  return {
    file,
    createdAt: content.createdAt,
    profile,
    signingKey: signingKeys.at(-1)!,
    signingKeys,
    encryptionKey: encryptionKeys.at(-1)!,
    encryptionKeys,
    peer: peers.at(-1)!,
    peers,
  };
}

/**
 * Checks a private OKP JWK: the curve, that `x` is the public key of `d` (a corrupted or hand-edited
 * file would otherwise sign or decrypt with a key nobody can verify) and that `kid` is the thumbprint.
 */
async function checkPrivateOkp(jwk: JWK | undefined, crv: 'Ed25519' | 'X25519', bad: (why: string) => Error): Promise<JWK> {
  if (typeof jwk !== 'object' || jwk === null || jwk.kty !== 'OKP' || jwk.crv !== crv || typeof jwk.d !== 'string' || typeof jwk.x !== 'string') {
    throw bad(`not a private ${crv} JWK`);
  }
  let x: string | undefined;
  try {
    x = createPublicKey(createPrivateKey({ key: { kty: 'OKP', crv, d: jwk.d, x: jwk.x }, format: 'jwk' })).export({ format: 'jwk' }).x;
  } catch (err) {
    throw bad(`${crv} key: ${(err as Error).message}`);
  }
  if (x !== jwk.x) throw bad(`${crv} key: x is not the public key of d`);
  const kid = await calculateJwkThumbprint(publicOkpJwk(jwk));
  if (jwk.kid !== kid) throw bad(`${crv} key: kid is not its RFC 7638 thumbprint`);
  return jwk;
}

/**
 * The public membership request of an identity (docs/architecture.md, "Members and the roster"): what an admin turns into `member.add`,
 * or after a rotation into `member.update` (`alliance admin rotate`). It offers the newest keys only:
 * older signing keys are the roster's business (it already lists them, with their validity).
 */
export function membershipRequest(identity: MemberIdentity): MembershipRequest {
  const k = identity.signingKey;
  const signingKeys: SigningKey[] = [{ kid: k.kid, jwk: { ...k.publicJwk }, validFrom: k.validFrom }];
  const encryptionKey: EncryptionKey = { kid: identity.encryptionKey.kid, jwk: { ...identity.encryptionKey.publicJwk } };
  const { id, name, kind, country, addrs } = identity.profile;
  return { id, name, kind, country, signingKeys, encryptionKey, peerId: identity.peer.peerId, addrs: [...addrs] };
}

// ---------------------------------------------------------------------------------------------
// Rotation in place, and which of the identity's keys the roster has in force

/** What the roster lists about a member's keys (a roster `Member`, structurally). */
export interface RosterMemberKeys {
  signingKeys: ReadonlyArray<{ kid: string; validUntil?: string | null }>;
  encryptionKey: { kid: string };
  peerId: string;
}

/**
 * The signing key to sign batches with: the identity's key that the roster lists as current for
 * the member (no `validUntil`). Right after `alliance rotate-keys` that is still the old key, until
 * the admins' `member.update` is applied; a batch signed with the new key before then would be
 * refused. Without a roster entry for the member (not admitted yet) the newest key; undefined if the
 * roster's current key is none of this identity's (the member moved to keys held elsewhere).
 */
export function signingKeyFor(identity: MemberIdentity, member: RosterMemberKeys | undefined): LoadedSigningKey | undefined {
  if (member === undefined) return identity.signingKey;
  const current = new Set(member.signingKeys.filter((k) => k.validUntil === undefined || k.validUntil === null).map((k) => k.kid));
  return [...identity.signingKeys].reverse().find((k) => current.has(k.kid));
}

/** The peer key whose peer id the roster lists for the member (the newest without a roster entry; undefined if none matches). */
export function peerFor(identity: MemberIdentity, member: RosterMemberKeys | undefined): LoadedPeerKey | undefined {
  if (member === undefined) return identity.peer;
  return identity.peers.find((p) => p.peerId === member.peerId);
}

/** The encryption key named `kid` (a wrapped epoch key's header names its recipient's): current or replaced. */
export function encryptionKeyFor(identity: MemberIdentity, kid: string): LoadedEncryptionKey | undefined {
  return identity.encryptionKeys.find((k) => k.kid === kid);
}

export interface RotateOptions {
  /** Also replace the X25519 encryption key (the old one is kept to unwrap keys wrapped to it). */
  encryption?: boolean | undefined;
  /** Also replace the libp2p peer key (the old one is kept while the roster lists its peer id). */
  peer?: boolean | undefined;
}

export interface RotateResult {
  /** The new membership request: what `alliance admin rotate --request` takes. */
  request: MembershipRequest;
  /** Signing kid that was newest before (the one the roster lists, if the last rotation was applied). */
  previousSigningKid: string;
  signingKid: string;
  encryptionKid: string | undefined;
  peerId: string | undefined;
}

/**
 * Rotates the member's keys in its data directory: appends a fresh Ed25519 signing key and, on
 * request, replaces the encryption and peer keys, keeping every old key (see the top of this file).
 * IDENTITY_MISSING without an identity, IDENTITY_BUSY while another rotation holds the lock.
 */
export async function rotateMemberKeys(dataDir: string, opts: RotateOptions = {}): Promise<RotateResult> {
  const before = await loadMemberIdentity(dataDir);
  const file = before.file;
  return withIdentityLock(file, async () => {
    // Re-read under the lock: what a rotation that finished meanwhile added must be kept.
    const raw = fs.readFileSync(file, 'utf8');
    await loadMemberIdentity(dataDir);
    const content = JSON.parse(raw) as MemberIdentityFile;
    const previousSigningKid = String(content.signingKeys.at(-1)?.jwk?.kid);
    const now = new Date().toISOString();
    const signing = await newOkpKey('EdDSA', 'Ed25519');
    const next: MemberIdentityFile = { ...content, signingKeys: [...content.signingKeys, { validFrom: now, jwk: signing }] };
    let encryptionKid: string | undefined;
    if (opts.encryption) {
      const enc = await newOkpKey('ECDH-ES+A256KW', 'X25519');
      next.previousEncryptionKeys = [...(content.previousEncryptionKeys ?? []), content.encryptionKey];
      next.encryptionKey = enc;
      encryptionKid = enc.kid;
    }
    let peerId: string | undefined;
    if (opts.peer) {
      const peer = await generatePeerKeyPair('Ed25519');
      next.previousPeerKeys = [...(content.previousPeerKeys ?? []), content.peerKey];
      next.peerKey = Buffer.from(privateKeyToProtobuf(peer)).toString('base64');
      peerId = peerIdFromPrivateKey(peer).toString();
    }
    writeFileAtomicSync(file, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    const after = await loadMemberIdentity(dataDir);
    return { request: membershipRequest(after), previousSigningKid, signingKid: signing.kid!, encryptionKid, peerId };
  });
}

/**
 * Runs `fn` holding `<file>.lock` (created exclusively, holding this process's pid). A lock whose
 * process is gone (a crash) is taken over; a live one is IDENTITY_BUSY.
 */
async function withIdentityLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(path.dirname(file), `.${path.basename(file)}.lock`);
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    try {
      fd = fs.openSync(lock, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new KeyError('IDENTITY_BUSY', `${file} is being changed by another process (lock ${lock}); try again when it has finished`, { file });
      }
      const pid = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) {
        throw new KeyError('IDENTITY_BUSY', `${file} is being changed by process ${pid} (lock ${lock}); try again when it has finished`, { file });
      }
      fs.rmSync(lock, { force: true });
    }
  }
  try {
    fs.writeFileSync(fd, String(process.pid));
    fs.closeSync(fd);
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// Admin keys

export interface LoadedAdminKey {
  file: string;
  kid: string;
  privateKey: CryptoKey;
  /** Private JWK (with `d`). */
  privateJwk: JWK;
  /** The public AdminKey, as the genesis / `admin.add` entries carry it. */
  public: AdminKey;
}

function validateAdminName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const n = name.trim().normalize('NFC');
  if (n.length === 0 || [...n].length > 200 || CONTROL.test(n)) {
    throw new KeyError('ADMIN_NAME_INVALID', 'admin name must be 1-200 characters without control characters');
  }
  return n;
}

/**
 * Creates an admin key file: an Ed25519 private JWK (`kid` = thumbprint, `alg: EdDSA`, plus `name`
 * if given), mode 0600, never overwriting (ADMIN_KEY_EXISTS). Returns the public AdminKey.
 */
export async function generateAdminKey(file: string, opts: { name?: string | undefined } = {}): Promise<AdminKey> {
  const name = validateAdminName(opts.name);
  if (fs.existsSync(file)) throw adminKeyExists(file);
  const jwk = await newOkpKey('EdDSA', 'Ed25519');
  const content: JWK & { name?: string } = name === undefined ? jwk : { ...jwk, name };
  if (!writeFileExclusive(file, `${JSON.stringify(content, null, 2)}\n`)) throw adminKeyExists(file);
  return adminKeyOf(jwk.kid!, jwk, name);
}

function adminKeyExists(file: string): KeyError {
  return new KeyError('ADMIN_KEY_EXISTS', `${file} already exists; an admin key file is never overwritten`, { file });
}

function adminKeyOf(kid: string, jwk: JWK, name: string | undefined): AdminKey {
  return name === undefined ? { kid, jwk: publicOkpJwk(jwk) } : { kid, jwk: publicOkpJwk(jwk), name };
}

/** Reads and checks an admin key file written by generateAdminKey. */
export async function loadAdminKey(file: string): Promise<LoadedAdminKey> {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new KeyError('ADMIN_KEY_MISSING', `no admin key file ${file}`, { file });
    throw new KeyError('ADMIN_KEY_INVALID', `cannot read ${file}: ${(err as Error).message}`, { file });
  }
  const bad = (why: string) => new KeyError('ADMIN_KEY_INVALID', `${file} is not an admin key file: ${why}`, { file });
  let content: JWK & { name?: unknown };
  try {
    content = JSON.parse(raw) as JWK & { name?: unknown };
  } catch {
    throw bad('not JSON');
  }
  const jwk = await checkPrivateOkp(content, 'Ed25519', bad);
  let name: string | undefined;
  try {
    name = validateAdminName(typeof content.name === 'string' ? content.name : undefined);
  } catch (err) {
    throw bad((err as Error).message);
  }
  return {
    file,
    kid: jwk.kid!,
    privateKey: (await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, 'EdDSA')) as CryptoKey,
    privateJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d, kid: jwk.kid, alg: 'EdDSA' },
    public: adminKeyOf(jwk.kid!, jwk, name),
  };
}
