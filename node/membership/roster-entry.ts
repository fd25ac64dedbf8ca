/**
 * Roster entries (specified in schema/roster.md) as data: the entry and its bodies, their
 * one valid form, the canonical payload bytes and the entry hash that chains entries. Signatures are
 * in roster-sign.ts, chain validation in roster-state.ts.
 *
 *   const entry = proposeEntry(state, { type: 'member.suspend', body: { id: 'member-b' } });
 *   const bytes = await encodeEntry(entry);   // RFC 8785 JSON, UTF-8: the JWS payload
 *   entryHash(bytes)                           // the next entry's prev
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { ID_PATTERN } from '../encoding/ids.ts';
import { isCanonicalBase64url } from '../encoding/base64url.ts';
import { isSecond, toWireTime } from '../encoding/time.ts';
import { countryCode } from '../identifiers/countries.ts';
import { canonicalJson } from '../encoding/canonical-json.ts';
import { RosterError } from './roster-error.ts';
import { MEMBER_KINDS, type AdminKey, type EncryptionKey, type MembershipRequest } from './types.ts';

/** Version of the entry format; the payload's `v`. */
export const ROSTER_VERSION = 1;

/** Ids (alliance, member, kid): 1 to 128 of A-Z a-z 0-9 . _ : - (the wire format's rule). */
export const ROSTER_ID_PATTERN = ID_PATTERN;

export const ENTRY_TYPES = [
  'genesis',
  'member.add',
  'member.update',
  'member.suspend',
  'member.reinstate',
  'member.revoke',
  'admin.add',
  'admin.remove',
  'quorum.set',
  'epoch.new',
] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export interface RosterLimits {
  /** Bytes (UTF-8) of one signed entry as JSON text; checked before anything is parsed. */
  maxBytes: number;
  /** Signatures on one entry (also the most admins an alliance may have). */
  maxSignatures: number;
}

/**
 * Highest epoch number: epochs are stored as 32-bit integers beside every indicator and batch, and an
 * alliance that starts a new epoch every hour reaches it in 245,000 years.
 */
export const MAX_EPOCH = 2 ** 31 - 1;

/**
 * Default limits. 256 KiB holds an `epoch.new` for about 400 members (a wrapped key is about 470
 * characters of JWE, base64url-encoded again in the JWS payload); a larger alliance raises it, and
 * all its nodes must use the same value.
 */
export const ROSTER_LIMITS: Readonly<RosterLimits> = Object.freeze({ maxBytes: 256 * 1024, maxSignatures: 64 });

/** Bounds of the body fields (schema/roster.md §3). */
export const FIELD_LIMITS = Object.freeze({
  /** Characters (Unicode code points) of a name (alliance, member, admin). */
  name: 200,
  /** Characters (code points) of a `reason`. */
  reason: 1000,
  /** Multiaddrs per member, and characters of each. */
  addrs: 16,
  addr: 256,
  /** Signing keys in a `member.add`. */
  signingKeys: 4,
  /** Admins of an alliance. */
  admins: 64,
  /** Characters of one wrapped key (compact JWE). */
  jwe: 2048,
});

export function resolveRosterLimits(limits: Partial<RosterLimits> | undefined): RosterLimits {
  const out = { ...ROSTER_LIMITS, ...limits };
  for (const k of ['maxBytes', 'maxSignatures'] as const) {
    if (!Number.isSafeInteger(out[k]) || out[k] < 1) throw new RangeError(`roster limit ${k} must be a positive integer`);
  }
  return out;
}

/** A public key named by its RFC 7638 thumbprint, without validity (validity comes from the roster). */
export interface NewSigningKey {
  kid: string;
  jwk: JWK;
}

export interface GenesisBody {
  /** Display name of the alliance. */
  name?: string;
  /** The founding admins (1 to 64), each with a distinct Ed25519 key. */
  admins: AdminKey[];
  /** Signatures needed on every entry, the genesis included: 1 to admins.length. */
  quorum: number;
  /** Number of the first epoch (an integer >= 0); it has no key: the first `epoch.new` delivers one. */
  epoch: number;
}

/** `member.add`: the member's public membership request; the member becomes ACTIVE. */
export type MemberAddBody = MembershipRequest;

/** `member.update`: the member id and at least one change. */
export interface MemberUpdateBody {
  id: string;
  name?: string;
  /** A new signing key; every key of the member still valid gets `validUntil` = this entry's `createdAt`. */
  signingKey?: NewSigningKey;
  encryptionKey?: EncryptionKey;
  addrs?: string[];
  peerId?: string;
}

/** `member.suspend`, `member.reinstate`, `member.revoke`. */
export interface MemberStatusBody {
  id: string;
  reason?: string;
}

export interface AdminAddBody {
  admin: AdminKey;
}

export interface AdminRemoveBody {
  kid: string;
}

export interface QuorumSetBody {
  quorum: number;
}

/** `epoch.new`: a new epoch key K_e, wrapped (compact JWE) to each ACTIVE member's encryption key. */
export interface EpochNewBody {
  /** The current epoch + 1. */
  epoch: number;
  /** Member id → compact JWE (`ECDH-ES+A256KW` / `A256GCM`, `kid` = the member's encryption kid). */
  keys: Record<string, string>;
  reason?: string;
}

export interface EntryBodies {
  genesis: GenesisBody;
  'member.add': MemberAddBody;
  'member.update': MemberUpdateBody;
  'member.suspend': MemberStatusBody;
  'member.reinstate': MemberStatusBody;
  'member.revoke': MemberStatusBody;
  'admin.add': AdminAddBody;
  'admin.remove': AdminRemoveBody;
  'quorum.set': QuorumSetBody;
  'epoch.new': EpochNewBody;
}

interface EntryBase {
  v: typeof ROSTER_VERSION;
  /** Alliance id. */
  alliance: string;
  /** 0 for the genesis, then +1 per entry without gaps. */
  seq: number;
  /** `entryHash` of entry `seq - 1`; null exactly for the genesis (seq 0). */
  prev: string | null;
  /** `YYYY-MM-DDTHH:MM:SSZ`, not before the previous entry's. */
  createdAt: string;
}

export type EntryOf<T extends EntryType> = EntryBase & { type: T; body: EntryBodies[T] };
export type RosterEntry = { [T in EntryType]: EntryOf<T> }[EntryType];

/** An entry to build: type and body, with `createdAt` defaulting to now. */
export type EntryProposal = { [T in EntryType]: { type: T; body: EntryBodies[T]; createdAt?: string } }[Exclude<EntryType, 'genesis'>];

/** Where the chain stands: what `proposeEntry` needs of a roster state. */
export interface ChainHead {
  alliance: string;
  seq: number;
  head: string;
}

/** The genesis entry of a new alliance (seq 0, prev null), checked. */
export async function createGenesis(alliance: string, body: GenesisBody, createdAt: string = toWireTime(new Date())): Promise<EntryOf<'genesis'>> {
  const entry: EntryOf<'genesis'> = { v: ROSTER_VERSION, alliance, seq: 0, prev: null, type: 'genesis', body, createdAt };
  await checkEntry(entry);
  return entry;
}

/**
 * The next entry after `head`: seq + 1, prev = head hash. Checks the entry's form (not its effect on
 * the roster: `applyEntry` decides that once it is signed).
 */
export async function proposeEntry(head: ChainHead, proposal: EntryProposal): Promise<RosterEntry> {
  const entry = {
    v: ROSTER_VERSION,
    alliance: head.alliance,
    seq: head.seq + 1,
    prev: head.head,
    type: proposal.type,
    body: proposal.body,
    createdAt: proposal.createdAt ?? toWireTime(new Date()),
  } as RosterEntry;
  await checkEntry(entry);
  return entry;
}

/** `base64url(SHA-256(payload))` over the canonical payload bytes of an entry: 43 characters. */
export function entryHash(payload: Uint8Array | string): string {
  return createHash('sha256').update(payload).digest('base64url');
}

/** Checks an entry and returns its canonical payload: RFC 8785 JSON in UTF-8, the bytes admins sign. */
export async function encodeEntry(entry: RosterEntry): Promise<Uint8Array> {
  return Buffer.from(canonicalJson(await checkEntry(entry)), 'utf8');
}

// ---------------------------------------------------------------------------------------------
// Form checks. Each throws RosterError('malformed' | 'unsupported_version' | 'unknown_type').

const ENTRY_KEYS = ['alliance', 'body', 'createdAt', 'prev', 'seq', 'type', 'v'] as const;
const TYPE_SET = new Set<string>(ENTRY_TYPES);
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{1,128}$/;
const ISO_MILLIS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.\d{3}Z$/;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

class Checker {
  readonly seq: number | undefined;
  constructor(seq: number | undefined) {
    this.seq = seq;
  }

  fail(field: string, message: string): never {
    throw new RosterError('malformed', `${field}: ${message}`, this.seq === undefined ? { field } : { field, seq: this.seq });
  }

  object(v: unknown, field: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
    if (!isPlainObject(v)) this.fail(field, `must be an object, not ${describe(v)}`);
    for (const k of Object.keys(v)) {
      if (!required.includes(k) && !optional.includes(k)) this.fail(`${field}.${k.slice(0, 40)}`, 'is not a field here');
    }
    for (const k of required) if (!Object.hasOwn(v, k)) this.fail(`${field}.${k}`, 'is missing');
    return v;
  }

  id(v: unknown, field: string): string {
    if (typeof v !== 'string' || !ROSTER_ID_PATTERN.test(v)) this.fail(field, 'must be 1 to 128 characters from A-Z a-z 0-9 . _ : -');
    return v;
  }

  text(v: unknown, field: string, max: number): string {
    if (typeof v !== 'string' || v.length < 1 || !v.isWellFormed() || [...v].length > max) this.fail(field, `must be a string of 1 to ${max} characters (code points)`);
    // Control characters and line separators would let a name spoof other text in logs and terminals.
    if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(v)) this.fail(field, 'must not contain control characters');
    return v;
  }

  int(v: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) this.fail(field, `must be an integer from ${min} to ${max}`);
    return v;
  }

  time(v: unknown, field: string): string {
    if (!isSecond(v)) this.fail(field, 'must be a UTC time YYYY-MM-DDTHH:MM:SSZ');
    return v;
  }

  /** A public OKP JWK: exactly `{kty: 'OKP', crv, x}` with x 32 bytes of canonical base64url. */
  okp(v: unknown, field: string, crv: 'Ed25519' | 'X25519'): JWK {
    const o = this.object(v, field, ['crv', 'kty', 'x']);
    if (o.kty !== 'OKP') this.fail(`${field}.kty`, 'must be "OKP"');
    if (o.crv !== crv) this.fail(`${field}.crv`, `must be "${crv}"`);
    if (typeof o.x !== 'string' || !isCanonicalBase64url(o.x, 32)) this.fail(`${field}.x`, 'must be 32 bytes of canonical unpadded base64url');
    return o as JWK;
  }

  /** `{kid, jwk}` with kid the RFC 7638 thumbprint (SHA-256) of the JWK. */
  async key(v: unknown, field: string, crv: 'Ed25519' | 'X25519', optional: readonly string[] = []): Promise<Record<string, unknown>> {
    const o = this.object(v, field, ['jwk', 'kid'], optional);
    const jwk = this.okp(o.jwk, `${field}.jwk`, crv);
    this.id(o.kid, `${field}.kid`);
    if (o.kid !== (await calculateJwkThumbprint(jwk, 'sha256'))) this.fail(`${field}.kid`, 'must be the RFC 7638 SHA-256 thumbprint of the JWK');
    return o;
  }

  async admin(v: unknown, field: string): Promise<AdminKey> {
    const o = await this.key(v, field, 'Ed25519', ['name']);
    if (o.name !== undefined) this.text(o.name, `${field}.name`, FIELD_LIMITS.name);
    return o as unknown as AdminKey;
  }

  addrs(v: unknown, field: string): string[] {
    if (!Array.isArray(v) || v.length > FIELD_LIMITS.addrs) this.fail(field, `must be an array of at most ${FIELD_LIMITS.addrs} multiaddrs`);
    v.forEach((a: unknown, i) => {
      if (typeof a !== 'string' || a.length < 2 || a.length > FIELD_LIMITS.addr || a[0] !== '/' || !/^[\x21-\x7e]+$/.test(a)) {
        this.fail(`${field}[${i}]`, `must be a multiaddr: printable ASCII starting with "/", at most ${FIELD_LIMITS.addr} characters`);
      }
    });
    if (new Set(v).size !== v.length) this.fail(field, 'must not repeat an address');
    return v as string[];
  }

  peerId(v: unknown, field: string): string {
    if (typeof v !== 'string' || !PEER_ID.test(v)) this.fail(field, 'must be a libp2p peer id (base58btc, at most 128 characters)');
    return v;
  }

  reason(o: Record<string, unknown>, field: string): void {
    if (o.reason !== undefined) this.text(o.reason, `${field}.reason`, FIELD_LIMITS.reason);
  }
}

/**
 * Checks that `value` is a roster entry in its one valid form: the envelope (`v`, exactly the seven
 * members, ids, times, seq/prev, genesis exactly at seq 0), then the body of its type. Returns it
 * typed. Throws `RosterError` (`malformed`, `unsupported_version`, `unknown_type`).
 */
export async function checkEntry(value: unknown): Promise<RosterEntry> {
  const seq = isPlainObject(value) && typeof value.seq === 'number' && Number.isSafeInteger(value.seq) ? value.seq : undefined;
  const c: Checker = new Checker(seq);
  if (!isPlainObject(value)) c.fail('payload', `the entry must be a JSON object, not ${describe(value)}`);
  if (!Object.hasOwn(value, 'v')) c.fail('v', 'is missing');
  if (value.v !== ROSTER_VERSION) {
    if (typeof value.v === 'number') throw new RosterError('unsupported_version', `roster entry version ${Number.isSafeInteger(value.v) ? value.v : '(not an integer)'} is not supported; this node reads version ${ROSTER_VERSION}`, { field: 'v' });
    c.fail('v', `must be the number ${ROSTER_VERSION}`);
  }
  const e = c.object(value, 'entry', ENTRY_KEYS);
  c.id(e.alliance, 'alliance');
  c.int(e.seq, 'seq', 0);
  c.time(e.createdAt, 'createdAt');
  if (typeof e.type !== 'string') c.fail('type', 'must be a string');
  if (!TYPE_SET.has(e.type)) throw new RosterError('unknown_type', `unknown roster entry type "${e.type.slice(0, 40)}"`, { field: 'type', ...(seq === undefined ? {} : { seq }) });
  if (e.seq === 0 ? e.prev !== null : typeof e.prev !== 'string' || !isCanonicalBase64url(e.prev, 32)) {
    c.fail('prev', e.seq === 0 ? 'must be null at seq 0' : 'must be the 43-character base64url hash of the previous entry');
  }
  if ((e.type === 'genesis') !== (e.seq === 0)) c.fail('type', 'the genesis is the entry at seq 0, and only it');
  await checkBody(c, e.type as EntryType, e.body);
  return value as unknown as RosterEntry;
}

async function checkBody(c: Checker, type: EntryType, body: unknown): Promise<void> {
  const f = 'body';
  switch (type) {
    case 'genesis': {
      const o = c.object(body, f, ['admins', 'epoch', 'quorum'], ['name']);
      if (o.name !== undefined) c.text(o.name, `${f}.name`, FIELD_LIMITS.name);
      if (!Array.isArray(o.admins) || o.admins.length < 1 || o.admins.length > FIELD_LIMITS.admins) c.fail(`${f}.admins`, `must be an array of 1 to ${FIELD_LIMITS.admins} admins`);
      const kids = new Set<string>();
      for (const [i, a] of o.admins.entries()) {
        const admin = await c.admin(a, `${f}.admins[${i}]`);
        if (kids.has(admin.kid)) c.fail(`${f}.admins[${i}].kid`, 'lists the same admin key twice');
        kids.add(admin.kid);
      }
      c.int(o.quorum, `${f}.quorum`, 1, o.admins.length);
      c.int(o.epoch, `${f}.epoch`, 0, MAX_EPOCH);
      return;
    }
    case 'member.add': {
      const o = c.object(body, f, ['addrs', 'country', 'encryptionKey', 'id', 'kind', 'name', 'peerId', 'signingKeys']);
      c.id(o.id, `${f}.id`);
      c.text(o.name, `${f}.name`, FIELD_LIMITS.name);
      if (typeof o.kind !== 'string' || !(MEMBER_KINDS as readonly string[]).includes(o.kind)) c.fail(`${f}.kind`, `must be one of ${MEMBER_KINDS.join(', ')}`);
      if (typeof o.country !== 'string' || !/^[A-Z]{2}$/.test(o.country) || (o.country !== 'ZZ' && countryCode(o.country) !== o.country)) {
        c.fail(`${f}.country`, 'must be an ISO 3166-1 alpha-2 code in upper case, or ZZ (unknown)');
      }
      if (!Array.isArray(o.signingKeys) || o.signingKeys.length < 1 || o.signingKeys.length > FIELD_LIMITS.signingKeys) {
        c.fail(`${f}.signingKeys`, `must be an array of 1 to ${FIELD_LIMITS.signingKeys} keys`);
      }
      for (const [i, k] of o.signingKeys.entries()) {
        const key = await c.key(k, `${f}.signingKeys[${i}]`, 'Ed25519', ['validFrom', 'validUntil']);
        // validFrom is what the request says (informational: the roster's validity starts at this
        // entry's createdAt); whole seconds or milliseconds, as `alliance init` writes it.
        const from = key.validFrom;
        if (!(isSecond(from) || (typeof from === 'string' && ISO_MILLIS.test(from) && isSecond(`${from.slice(0, 19)}Z`)))) {
          c.fail(`${f}.signingKeys[${i}].validFrom`, 'must be a UTC time YYYY-MM-DDTHH:MM:SS[.sss]Z');
        }
        if (key.validUntil !== undefined && key.validUntil !== null) c.fail(`${f}.signingKeys[${i}].validUntil`, 'must be absent or null in a membership request');
      }
      await c.key(o.encryptionKey, `${f}.encryptionKey`, 'X25519');
      c.peerId(o.peerId, `${f}.peerId`);
      c.addrs(o.addrs, `${f}.addrs`);
      return;
    }
    case 'member.update': {
      const optional = ['addrs', 'encryptionKey', 'name', 'peerId', 'signingKey'];
      const o = c.object(body, f, ['id'], optional);
      c.id(o.id, `${f}.id`);
      if (!optional.some((k) => o[k] !== undefined)) c.fail(f, `must change at least one of ${optional.join(', ')}`);
      if (o.name !== undefined) c.text(o.name, `${f}.name`, FIELD_LIMITS.name);
      if (o.signingKey !== undefined) await c.key(o.signingKey, `${f}.signingKey`, 'Ed25519');
      if (o.encryptionKey !== undefined) await c.key(o.encryptionKey, `${f}.encryptionKey`, 'X25519');
      if (o.addrs !== undefined) c.addrs(o.addrs, `${f}.addrs`);
      if (o.peerId !== undefined) c.peerId(o.peerId, `${f}.peerId`);
      return;
    }
    case 'member.suspend':
    case 'member.reinstate':
    case 'member.revoke': {
      const o = c.object(body, f, ['id'], ['reason']);
      c.id(o.id, `${f}.id`);
      c.reason(o, f);
      return;
    }
    case 'admin.add': {
      const o = c.object(body, f, ['admin']);
      await c.admin(o.admin, `${f}.admin`);
      return;
    }
    case 'admin.remove': {
      const o = c.object(body, f, ['kid']);
      c.id(o.kid, `${f}.kid`);
      return;
    }
    case 'quorum.set': {
      const o = c.object(body, f, ['quorum']);
      c.int(o.quorum, `${f}.quorum`, 1, FIELD_LIMITS.admins);
      return;
    }
    case 'epoch.new': {
      const o = c.object(body, f, ['epoch', 'keys'], ['reason']);
      c.int(o.epoch, `${f}.epoch`, 1, MAX_EPOCH);
      c.reason(o, f);
      if (!isPlainObject(o.keys)) c.fail(`${f}.keys`, 'must be an object (member id → compact JWE)');
      for (const [id, jwe] of Object.entries(o.keys)) {
        c.id(id, `${f}.keys`);
        const problem = compactJweProblem(jwe);
        if (problem !== undefined) c.fail(`${f}.keys.${id}`, problem);
      }
      return;
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The protected header of a compact JWE, or undefined if it is not a JSON object. */
export function jweHeader(jwe: string): Record<string, unknown> | undefined {
  try {
    const h: unknown = JSON.parse(utf8.decode(Buffer.from(jwe.split('.')[0] ?? '', 'base64url')));
    return isPlainObject(h) ? h : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why `jwe` is not a wrapped epoch key of the roster's form, or undefined if it is: a compact JWE
 * (RFC 7516 §7.1, five canonical base64url parts) whose protected header has `alg`
 * `ECDH-ES+A256KW`, `enc` `A256GCM`, a `kid` and an X25519 `epk`, and no `zip`; a 40-byte
 * encrypted key (A256KW of a 256-bit CEK), a 12-byte IV, a non-empty ciphertext and a 16-byte tag.
 * Syntax only: whether it decrypts is for its recipient.
 */
export function compactJweProblem(jwe: unknown): string | undefined {
  if (typeof jwe !== 'string' || jwe.length > FIELD_LIMITS.jwe) return `must be a compact JWE string of at most ${FIELD_LIMITS.jwe} characters`;
  const parts = jwe.split('.');
  if (parts.length !== 5 || !parts.every((p) => isCanonicalBase64url(p))) return 'must be a compact JWE: five canonical base64url parts separated by dots';
  const [h, ek, iv, ct, tag] = parts as [string, string, string, string, string];
  const header = h === '' ? undefined : jweHeader(jwe);
  if (header === undefined) return 'the JWE header must be a JSON object';
  if (header.alg !== 'ECDH-ES+A256KW') return 'the JWE alg must be ECDH-ES+A256KW';
  if (header.enc !== 'A256GCM') return 'the JWE enc must be A256GCM';
  if (typeof header.kid !== 'string' || !ROSTER_ID_PATTERN.test(header.kid)) return 'the JWE header must have a kid';
  if (Object.hasOwn(header, 'zip')) return 'the JWE must not be compressed (zip)';
  const epk = header.epk;
  if (!isPlainObject(epk) || epk.kty !== 'OKP' || epk.crv !== 'X25519' || typeof epk.x !== 'string' || !isCanonicalBase64url(epk.x, 32)) {
    return 'the JWE header must have an X25519 epk';
  }
  if (!isCanonicalBase64url(ek, 40)) return 'the JWE encrypted key must be 40 bytes (A256KW)';
  if (!isCanonicalBase64url(iv, 12)) return 'the JWE iv must be 12 bytes (A256GCM)';
  if (ct === '') return 'the JWE ciphertext must not be empty';
  if (!isCanonicalBase64url(tag, 16)) return 'the JWE tag must be 16 bytes (A256GCM)';
  return undefined;
}
