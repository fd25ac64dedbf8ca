/**
 * Epoch keys (docs/architecture.md, "Keys and digests"): a fresh 32-byte `K_e` per epoch, delivered in the roster's `epoch.new`
 * entry wrapped separately to each active member's X25519 key.
 *
 * Wrapping: a compact JWE, `alg: ECDH-ES+A256KW`, `enc: A256GCM`, whose plaintext is the 32 raw key
 * bytes. Its protected header is
 *
 *     { alg, enc, epk, typ: "alliance-epoch-key+jwe", kid: <recipient's X25519 kid>,
 *       alliance: <alliance id>, epoch: <epoch number> }
 *
 * The protected header is the additional authenticated data of A256GCM, so `alliance` and `epoch`
 * cannot be changed without the decryption failing: a wrapped key copied from one epoch (or alliance)
 * into another entry is refused (EPOCH_KEY_WRONG_EPOCH / _ALLIANCE) instead of silently installing
 * an old key as the new epoch's. The header is checked against what the caller expects before
 * decrypting, so each mistake gets its own typed reason; anything else is EPOCH_KEY_TAMPERED.
 *
 * Storage of unwrapped keys: one file per epoch, `<dataDir>/keys/epochs/<epoch>.json`
 * (`{v, alliance, epoch, key: base64url}`, mode 0600, directory 0700, created atomically and never
 * overwritten). Plain 0600 files rather than encryption at rest, because the data directory is the
 * node's trust boundary: it already holds the member's X25519 private key (keys/member.json), which
 * unwraps every epoch key in the roster. Encrypting with a key kept beside it would add nothing; the
 * same reasoning applies to the API signing key. Protect the data directory (and its backups) instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, compactDecrypt, CompactEncrypt, decodeProtectedHeader, importJWK, type CryptoKey, type JWK } from 'jose';
import { AllianceError } from '../errors.ts';
import { MEMBER_ID_PATTERN, keysDir, publicOkpJwk } from './keys.ts';
import { writeFileExclusive } from '../atomic-file.ts';
import type { EncryptionKey } from './types.ts';

export const EPOCH_KEY_BYTES = 32;
export const EPOCH_KEY_ALG = 'ECDH-ES+A256KW';
export const EPOCH_KEY_ENC = 'A256GCM';
export const EPOCH_KEY_TYP = 'alliance-epoch-key+jwe';

export type EpochKeyErrorCode =
  | 'EPOCH_KEY_MALFORMED'
  | 'EPOCH_KEY_WRONG_RECIPIENT'
  | 'EPOCH_KEY_WRONG_EPOCH'
  | 'EPOCH_KEY_WRONG_ALLIANCE'
  | 'EPOCH_KEY_TAMPERED'
  | 'EPOCH_KEY_LENGTH'
  | 'EPOCH_KEY_RECIPIENT_INVALID'
  | 'EPOCH_INVALID'
  | 'EPOCH_KEY_CONFLICT'
  | 'EPOCH_KEY_FILE_INVALID';

export class EpochKeyError extends AllianceError {
  declare readonly code: EpochKeyErrorCode;
  constructor(code: EpochKeyErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** Which epoch of which alliance a wrapped key belongs to. */
export interface EpochContext {
  alliance: string;
  /** A non-negative integer. */
  epoch: number;
}

function checkContext(ctx: EpochContext): void {
  if (typeof ctx.alliance !== 'string' || !MEMBER_ID_PATTERN.test(ctx.alliance)) {
    throw new EpochKeyError('EPOCH_INVALID', `alliance id ${JSON.stringify(ctx.alliance)} must be 1-128 letters, digits or . _ : -`);
  }
  if (!Number.isSafeInteger(ctx.epoch) || ctx.epoch < 0) {
    throw new EpochKeyError('EPOCH_INVALID', `epoch ${JSON.stringify(ctx.epoch)} must be a non-negative integer`);
  }
}

function checkKeyBytes(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== EPOCH_KEY_BYTES) {
    throw new EpochKeyError('EPOCH_KEY_LENGTH', `an epoch key is ${EPOCH_KEY_BYTES} bytes, not ${key?.length}`);
  }
}

/** A fresh epoch key: 32 bytes from the operating system's CSPRNG. */
export function newEpochKey(): Uint8Array {
  return new Uint8Array(randomBytes(EPOCH_KEY_BYTES));
}

/** Wraps `key` to a member's X25519 key (see the module comment for the JWE's header). */
export async function wrapEpochKey(key: Uint8Array, recipient: EncryptionKey, ctx: EpochContext): Promise<string> {
  checkKeyBytes(key);
  checkContext(ctx);
  const jwk = recipient?.jwk;
  if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'X25519' || typeof jwk.x !== 'string' || 'd' in jwk) {
    throw new EpochKeyError('EPOCH_KEY_RECIPIENT_INVALID', 'the recipient key is not a public X25519 JWK');
  }
  if ((await calculateJwkThumbprint(publicOkpJwk(jwk))) !== recipient.kid) {
    throw new EpochKeyError('EPOCH_KEY_RECIPIENT_INVALID', `the recipient kid ${recipient.kid} is not the thumbprint of its key`);
  }
  const publicKey = (await importJWK(publicOkpJwk(jwk), EPOCH_KEY_ALG)) as CryptoKey;
  return new CompactEncrypt(key)
    .setProtectedHeader({ alg: EPOCH_KEY_ALG, enc: EPOCH_KEY_ENC, typ: EPOCH_KEY_TYP, kid: recipient.kid, alliance: ctx.alliance, epoch: ctx.epoch })
    .encrypt(publicKey);
}

/** The unauthenticated header of a wrapped key (who it is for, which epoch), e.g. to pick the right entry. */
export function readWrappedEpochKeyHeader(jwe: string): { kid: string; alliance: string; epoch: number } {
  let header: Record<string, unknown>;
  try {
    if (typeof jwe !== 'string' || jwe.split('.').length !== 5) throw new Error('not five parts');
    header = decodeProtectedHeader(jwe) as Record<string, unknown>;
  } catch {
    throw new EpochKeyError('EPOCH_KEY_MALFORMED', 'the wrapped epoch key is not a compact JWE');
  }
  if (header.alg !== EPOCH_KEY_ALG || header.enc !== EPOCH_KEY_ENC || header.typ !== EPOCH_KEY_TYP) {
    throw new EpochKeyError('EPOCH_KEY_MALFORMED', `the wrapped epoch key must be a ${EPOCH_KEY_TYP} with alg ${EPOCH_KEY_ALG} and enc ${EPOCH_KEY_ENC}`);
  }
  if (typeof header.kid !== 'string' || typeof header.alliance !== 'string' || typeof header.epoch !== 'number' || header.crit !== undefined) {
    throw new EpochKeyError('EPOCH_KEY_MALFORMED', 'the wrapped epoch key header lacks kid, alliance or epoch');
  }
  return { kid: header.kid, alliance: header.alliance, epoch: header.epoch };
}

/**
 * Unwraps an epoch key with the member's private X25519 JWK, checking that it was wrapped for this
 * key, this alliance and this epoch. Throws an EpochKeyError: EPOCH_KEY_MALFORMED,
 * EPOCH_KEY_WRONG_RECIPIENT, EPOCH_KEY_WRONG_ALLIANCE, EPOCH_KEY_WRONG_EPOCH, EPOCH_KEY_TAMPERED
 * (authentication failed: altered, or not encrypted to this key) or EPOCH_KEY_LENGTH.
 */
export async function unwrapEpochKey(jwe: string, privateJwk: JWK, ctx: EpochContext): Promise<Uint8Array> {
  checkContext(ctx);
  if (!privateJwk || privateJwk.kty !== 'OKP' || privateJwk.crv !== 'X25519' || typeof privateJwk.d !== 'string') {
    throw new EpochKeyError('EPOCH_KEY_RECIPIENT_INVALID', 'the decryption key is not a private X25519 JWK');
  }
  const header = readWrappedEpochKeyHeader(jwe);
  const kid = await calculateJwkThumbprint(publicOkpJwk(privateJwk));
  if (header.kid !== kid) {
    throw new EpochKeyError('EPOCH_KEY_WRONG_RECIPIENT', `the epoch key is wrapped for key ${header.kid}, not this member's ${kid}`, { kid: header.kid });
  }
  if (header.alliance !== ctx.alliance) {
    throw new EpochKeyError('EPOCH_KEY_WRONG_ALLIANCE', `the epoch key is wrapped for alliance ${JSON.stringify(header.alliance)}, not ${JSON.stringify(ctx.alliance)}`);
  }
  if (header.epoch !== ctx.epoch) {
    throw new EpochKeyError('EPOCH_KEY_WRONG_EPOCH', `the epoch key is wrapped for epoch ${header.epoch}, not ${ctx.epoch}`);
  }
  const key = (await importJWK({ kty: 'OKP', crv: 'X25519', x: privateJwk.x, d: privateJwk.d }, EPOCH_KEY_ALG)) as CryptoKey;
  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(jwe, key, { keyManagementAlgorithms: [EPOCH_KEY_ALG], contentEncryptionAlgorithms: [EPOCH_KEY_ENC] }));
  } catch {
    throw new EpochKeyError('EPOCH_KEY_TAMPERED', 'the wrapped epoch key does not decrypt with this member\'s key (altered, or not encrypted to it)');
  }
  checkKeyBytes(plaintext);
  return plaintext;
}

// ---------------------------------------------------------------------------------------------
// Storage of unwrapped keys

export interface StoredEpochKey {
  alliance: string;
  epoch: number;
  key: Uint8Array;
}

interface EpochKeyFile {
  v: 1;
  alliance: string;
  epoch: number;
  /** base64url, 32 bytes. */
  key: string;
}

export function epochKeysDir(dataDir: string): string {
  return path.join(keysDir(dataDir), 'epochs');
}

export function epochKeyPath(dataDir: string, epoch: number): string {
  return path.join(epochKeysDir(dataDir), `${epoch}.json`);
}

/**
 * Stores an unwrapped epoch key (0600 file, never overwritten). Saving the same key again is a
 * no-op (`created: false`); a different key or alliance for a stored epoch is EPOCH_KEY_CONFLICT.
 */
export function saveEpochKey(dataDir: string, stored: StoredEpochKey): { created: boolean; file: string } {
  checkContext(stored);
  checkKeyBytes(stored.key);
  const file = epochKeyPath(dataDir, stored.epoch);
  const content: EpochKeyFile = { v: 1, alliance: stored.alliance, epoch: stored.epoch, key: Buffer.from(stored.key).toString('base64url') };
  if (writeFileExclusive(file, `${JSON.stringify(content)}\n`)) return { created: true, file };
  const existing = readEpochKeyFile(file);
  if (existing.alliance !== stored.alliance || !timingSafeEqual(existing.key, stored.key)) {
    throw new EpochKeyError('EPOCH_KEY_CONFLICT', `${file} already holds a different key for epoch ${stored.epoch}`, { epoch: stored.epoch });
  }
  return { created: false, file };
}

function readEpochKeyFile(file: string): StoredEpochKey {
  const bad = (why: string) => new EpochKeyError('EPOCH_KEY_FILE_INVALID', `${file} is not an epoch key file: ${why}`, { file });
  let content: EpochKeyFile;
  try {
    content = JSON.parse(fs.readFileSync(file, 'utf8')) as EpochKeyFile;
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (typeof content !== 'object' || content === null || content.v !== 1) throw bad('unknown version');
  const key = typeof content.key === 'string' ? new Uint8Array(Buffer.from(content.key, 'base64url')) : new Uint8Array();
  if (key.length !== EPOCH_KEY_BYTES) throw bad(`the key is not ${EPOCH_KEY_BYTES} bytes`);
  try {
    checkContext(content);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (path.basename(file) !== `${content.epoch}.json`) throw bad(`it holds epoch ${content.epoch}`);
  return { alliance: content.alliance, epoch: content.epoch, key };
}

/**
 * Every stored epoch key, oldest epoch first; with `alliance`, only that alliance's (a data
 * directory reused for another alliance keeps its old files).
 */
export function loadEpochKeys(dataDir: string, opts: { alliance?: string } = {}): StoredEpochKey[] {
  const dir = epochKeysDir(dataDir);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => /^\d+\.json$/.test(n))
    .map((n) => readEpochKeyFile(path.join(dir, n)))
    .filter((k) => opts.alliance === undefined || k.alliance === opts.alliance)
    .sort((a, b) => a.epoch - b.epoch);
}
