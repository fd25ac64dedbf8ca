/**
 * Signed batches (docs/architecture.md, "Records, refs and indicators"; specified in schema/wire.md): what a member publishes, one Ed25519
 * signature (compact JWS) per batch, verified by every node before it stores or relays the batch.
 *
 *   const jws = await signBatch(batch, { privateKey, kid });   // then batchHash(jws) is the next prev
 *   const { batch, hash } = await verifyBatch(jws, { alliance, resolveKey });
 *
 * `hash` (`batchHash(jws)`) names a batch: the next batch of the same origin carries it as `prev`.
 */
import { createHash, KeyObject, verify as verifySignature } from 'node:crypto';
import { CompactSign, type CryptoKey } from 'jose';
import { BatchError } from './batch-error.ts';
import { canonicalPayload, checkBatchForms, checkBatchShape, checkItemCount, decodeCanonicalPayload, encodeBatch, resolveLimits, type Batch, type BatchLimits } from './batch-encoding.ts';
import { ID_PATTERN } from '../encoding/ids.ts';
import { assertEd25519, type Ed25519Key } from '../encoding/ed25519.ts';
import { isCanonicalBase64url } from '../encoding/base64url.ts';

export { BatchError, BATCH_ERROR_REASONS, type BatchErrorReason, type BatchErrorDetails } from './batch-error.ts';
export {
  BATCH_LIMITS,
  BATCH_VERSION,
  canonicalCategories,
  encodeBatch,
  validateBatch,
  type Batch,
  type BatchLimits,
} from './batch-encoding.ts';

/** The JWS `alg`: pinned, nothing else is accepted. */
export const BATCH_JWS_ALG = 'EdDSA';
/** The JWS `typ` of a batch, so a batch can never be taken for another signed object (or vice versa). */
export const BATCH_JWS_TYP = 'alliance-batch+jws';

/** A key the roster holds for a `kid`: the public key alone, or with the member it belongs to. */
export type BatchKey = Ed25519Key | { key: Ed25519Key; origin: string };

export interface VerifyBatchOptions {
  /** This node's alliance id; a batch of another alliance is refused (`wrong_alliance`). */
  alliance: string;
  /**
   * The public Ed25519 key for a `kid`, or undefined if there is none (`unknown_kid`). Return
   * `{key, origin}` so that a batch whose `origin` is not the key's owner is refused
   * (`wrong_origin`); a caller returning a bare key MUST itself check that `batch.origin` owns `kid`,
   * or one member could publish in another's name.
   */
  resolveKey(kid: string): BatchKey | undefined | Promise<BatchKey | undefined>;
  limits?: Partial<BatchLimits>;
}

export interface VerifiedBatch {
  batch: Batch;
  /** `batchHash` of the JWS: the `prev` of this origin's next batch. */
  hash: string;
  /** The compact JWS exactly as received (as a string): the bytes to store and relay. */
  jws: string;
}

export interface SignBatchOptions {
  /** The origin's Ed25519 private key. */
  privateKey: Ed25519Key;
  /** Its key id as listed in the roster; written into the payload and the JWS header. */
  kid: string;
  limits?: Partial<BatchLimits>;
}

/** A batch to sign: `kid` may be left out, `signBatch` sets it from its options. */
export type UnsignedBatch = Omit<Batch, 'kid'> & { kid?: string };

/**
 * `base64url(SHA-256(jws))` over the ASCII bytes of the compact JWS, unpadded (43 characters): the
 * name of a batch and the `prev` of the next one.
 */
export function batchHash(jws: string | Uint8Array): string {
  return createHash('sha256').update(jws).digest('base64url');
}

/** The one protected header a batch may have, in its canonical (JCS) spelling. */
function canonicalHeader(kid: string): string {
  return `{"alg":"${BATCH_JWS_ALG}","kid":${JSON.stringify(kid)},"typ":"${BATCH_JWS_TYP}"}`;
}

function isKey(k: unknown): k is Ed25519Key {
  return k instanceof globalThis.CryptoKey || k instanceof KeyObject;
}


/**
 * Signs a batch: validates it (any problem is a `BatchError`, since peers would refuse it), encodes
 * the canonical payload and signs it with one Ed25519 signature. Returns the compact JWS (ASCII), the
 * exact text to store and publish; `batchHash(jws)` is the `prev` of the origin's next batch.
 * Deterministic: the same batch and key always give the same JWS.
 */
export async function signBatch(batch: UnsignedBatch, opts: SignBatchOptions): Promise<string> {
  assertEd25519(opts.privateKey, 'private', 'privateKey');
  if (batch.kid !== undefined && batch.kid !== opts.kid) {
    throw new BatchError('kid_mismatch', 'the batch names another kid than the signing key', { field: 'kid' });
  }
  const limits = resolveLimits(opts.limits);
  const full = { ...batch, kid: opts.kid } as Batch;
  const payload = encodeBatch(full, limits);
  const jws = await new CompactSign(payload)
    .setProtectedHeader({ alg: BATCH_JWS_ALG, kid: opts.kid, typ: BATCH_JWS_TYP })
    .sign(opts.privateKey);
  if (jws.length > limits.maxBytes) {
    throw new BatchError('too_large', `the signed batch is ${jws.length} bytes; the limit is ${limits.maxBytes}: publish fewer items per batch`);
  }
  return jws;
}

/** node:crypto KeyObjects of WebCrypto keys, made once per key. */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/** The key as node:crypto verifies with it (OpenSSL's Ed25519, as WebCrypto and jose use it). */
function keyObjectOf(key: Ed25519Key): KeyObject {
  if (key instanceof KeyObject) return key;
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = KeyObject.from(key);
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

/**
 * Scratch space for one JWS at a time, kept between batches. Only used synchronously (nothing is
 * awaited while it holds a batch), so concurrent verifications cannot share it.
 */
let scratch = Buffer.allocUnsafe(0);

/** The ASCII bytes of a JWS already checked to be ASCII, in the scratch buffer. */
function jwsBytes(jws: string): Buffer {
  if (scratch.length < jws.length) scratch = Buffer.allocUnsafe(Math.max(jws.length, 2 * scratch.length));
  const n = scratch.write(jws, 0, 'latin1');
  return scratch.subarray(0, n);
}

/** Base64url characters decoded per piece: whole 4-character groups, pieces of 48 KiB. */
const PIECE_CHARS = 65_536;
const pieceBytes = Buffer.allocUnsafe((PIECE_CHARS / 4) * 3);

/** The payload decoded from canonical base64url, as latin1 text in pieces (each consumed before the next). */
function* payloadPieces(p: string): Generator<string> {
  for (let i = 0; i < p.length; i += PIECE_CHARS) {
    const n = pieceBytes.write(p.slice(i, i + PIECE_CHARS), 'base64url');
    yield pieceBytes.toString('latin1', 0, n);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseJson(bytes: Uint8Array, field: 'header' | 'payload'): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (cause) {
    throw new BatchError('malformed', `the JWS ${field} is not UTF-8 JSON`, { field }, { cause });
  }
}

/**
 * Verifies a batch as received from a peer (string or raw bytes), in the order of schema/wire.md:
 * size, JWS syntax, header, key, signature, payload shape, kid, alliance, origin, item count,
 * canonical forms, canonical bytes. Throws `BatchError` with the first failing `reason`.
 */
export async function verifyBatch(input: string | Uint8Array, opts: VerifyBatchOptions): Promise<VerifiedBatch> {
  const limits = resolveLimits(opts.limits);

  // 1. Size, before anything is parsed.
  let jws: string;
  if (typeof input === 'string') {
    if (input.length > limits.maxBytes) throw new BatchError('too_large', `the batch is over ${limits.maxBytes} bytes`);
    jws = input;
  } else if (input instanceof Uint8Array) {
    if (input.byteLength > limits.maxBytes) throw new BatchError('too_large', `the batch is over ${limits.maxBytes} bytes`);
    // latin1 maps each byte to one character; anything not ASCII then fails the syntax check below.
    jws = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  } else {
    throw new BatchError('malformed', 'a batch is a compact JWS string or its bytes');
  }

  // 2. Compact JWS syntax: three parts; header and payload non-empty canonical base64url.
  const parts = jws.split('.');
  if (parts.length !== 3) throw new BatchError('malformed', 'not a compact JWS (three base64url parts separated by dots)');
  const [h, p, s] = parts as [string, string, string];
  for (const [seg, field] of [[h, 'header'], [p, 'payload']] as const) {
    if (seg === '' || !isCanonicalBase64url(seg)) throw new BatchError('malformed', `the JWS ${field} is not canonical unpadded base64url`, { field });
  }

  // 3. Protected header: exactly {alg: EdDSA, kid, typ: alliance-batch+jws}, canonically spelled;
  //    then a signature of Ed25519's 64 bytes.
  const header = parseJson(Buffer.from(h, 'base64url'), 'header');
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new BatchError('malformed', 'the JWS header is not a JSON object', { field: 'header' });
  const hdr = header as Record<string, unknown>;
  if (hdr.alg !== BATCH_JWS_ALG) {
    throw new BatchError('malformed', `the JWS alg must be ${BATCH_JWS_ALG}, not ${typeof hdr.alg === 'string' ? JSON.stringify(hdr.alg.slice(0, 20)) : 'missing'}`, { field: 'alg' });
  }
  if (hdr.typ !== BATCH_JWS_TYP) throw new BatchError('malformed', `the JWS typ must be ${BATCH_JWS_TYP}`, { field: 'typ' });
  if (typeof hdr.kid !== 'string' || !ID_PATTERN.test(hdr.kid)) throw new BatchError('malformed', 'the JWS kid is missing or not a key id', { field: 'kid' });
  const extra = Object.keys(hdr).find((k) => k !== 'alg' && k !== 'kid' && k !== 'typ');
  if (extra !== undefined) throw new BatchError('malformed', `the JWS header may only hold alg, kid and typ (found "${extra.slice(0, 20)}")`, { field: 'header' });
  const kid = hdr.kid;
  if (h !== Buffer.from(canonicalHeader(kid), 'latin1').toString('base64url')) {
    throw new BatchError('non_canonical', 'the JWS header is not in its canonical form', { field: 'header' });
  }

  if (!isCanonicalBase64url(s, 64)) throw new BatchError('malformed', 'the JWS signature is not 64 bytes (Ed25519) in canonical unpadded base64url', { field: 'signature' });

  // 4. Key.
  const resolved = await opts.resolveKey(kid);
  if (resolved === undefined) throw new BatchError('unknown_kid', 'no key of the roster has the kid of this batch', { field: 'kid' });
  const key = isKey(resolved) ? resolved : resolved.key;
  const owner = isKey(resolved) ? undefined : resolved.origin;
  assertEd25519(key, 'public', 'resolveKey() result');

  // 5. Signature over the ASCII bytes of `header.payload`, with the alg pinned to Ed25519 above.
  //    The JWS is copied into a buffer this module reuses and checked synchronously, with nothing
  //    awaited until the payload is read: a batch is up to half a megabyte, and a fresh buffer of
  //    that size per batch costs more than the check.
  const bytes = typeof input === 'string' ? jwsBytes(jws) : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const signingInput = bytes.subarray(0, h.length + 1 + p.length);
  let valid: boolean;
  try {
    valid = verifySignature(null, signingInput, keyObjectOf(key), Buffer.from(s, 'base64url'));
  } catch (cause) {
    throw new BatchError('malformed', 'the JWS is not valid', {}, { cause });
  }
  if (!valid) throw new BatchError('bad_signature', 'the batch signature does not verify', { field: 'signature' });
  const hash = createHash('sha256').update(bytes).digest('base64url');

  // 6. Payload: JSON of the batch's shape and version. A payload already in its canonical form
  //    (every batch a correct publisher signs) is read directly, piece by piece; anything else takes
  //    the general JSON path, which finds the precise error.
  let batch = decodeCanonicalPayload(payloadPieces(p));
  let payloadBytes: Buffer | undefined;
  if (batch === undefined) {
    payloadBytes = Buffer.from(p, 'base64url');
    batch = checkBatchShape(parseJson(payloadBytes, 'payload'));
  }
  // 7. Who and where.
  if (batch.kid !== kid) throw new BatchError('kid_mismatch', 'the payload kid is not the header kid', { field: 'kid' });
  if (batch.alliance !== opts.alliance) throw new BatchError('wrong_alliance', 'the batch is for another alliance', { field: 'alliance' });
  if (owner !== undefined && batch.origin !== owner) throw new BatchError('wrong_origin', 'the signing key does not belong to the batch origin', { field: 'origin' });
  // 8. Item count, forms, and the exact canonical bytes (already known for a payload read directly).
  checkItemCount(batch, limits);
  checkBatchForms(batch);
  if (payloadBytes !== undefined && payloadBytes.toString('latin1') !== canonicalPayload(batch)) {
    throw new BatchError('non_canonical', 'the payload bytes are not the canonical encoding of the batch', { field: 'payload' });
  }
  return { batch, hash, jws };
}
