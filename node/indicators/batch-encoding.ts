import { isCanonicalBase64url, isHash } from '../encoding/base64url.ts';
import { ID_PATTERN } from '../encoding/ids.ts';
import { isDay, isSecond } from '../encoding/time.ts';
/**
 * The batch (schema/wire.md §1) as data: its type, its limits, the canonical form of every field and the
 * canonical JSON payload. Signing and verification are in batch.ts; the format is specified in
 * schema/wire.md, which this file must match.
 */
import { CATEGORIES, IDENTIFIER_TYPES, STATUSES } from '../identifiers/vocabulary.ts';
import type { Indicator } from './indicator.ts';
import { BatchError } from './batch-error.ts';

/** Version of the batch format; the payload's `v`. */
export const BATCH_VERSION = 1;

/** What a member publishes (schema/wire.md §1). Every field is required; see schema/wire.md for each form. */
export interface Batch {
  v: typeof BATCH_VERSION;
  /** Alliance id, an {@link ID_PATTERN} string. */
  alliance: string;
  /** Member id of the publisher, an {@link ID_PATTERN} string. */
  origin: string;
  /** Id of the origin's signing key; equal to the JWS header's `kid`. */
  kid: string;
  /** Epoch whose key K_e derived the digests; an integer >= 0. */
  epoch: number;
  /** 1 for the origin's first batch, then +1 per batch, without gaps. */
  seq: number;
  /** `batchHash` of the origin's batch `seq - 1`; `null` exactly when `seq` is 1. */
  prev: string | null;
  /** When the batch was made, UTC to the second: `YYYY-MM-DDTHH:MM:SSZ`. */
  createdAt: string;
  items: Indicator[];
}

export interface BatchLimits {
  /** Items in one batch. */
  maxItems: number;
  /** Bytes of one compact JWS (header, payload and signature, base64url, with the two dots). */
  maxBytes: number;
}

/**
 * Default limits. A full batch (1,000 items, every field at its longest) encodes to 426,423 bytes of
 * compact JWS, so it fits the byte limit with room to spare; a publisher splits larger sets.
 */
export const BATCH_LIMITS: Readonly<BatchLimits> = Object.freeze({ maxItems: 1000, maxBytes: 512 * 1024 });

export function resolveLimits(limits: Partial<BatchLimits> | undefined): BatchLimits {
  const out = { ...BATCH_LIMITS, ...limits };
  for (const k of ['maxItems', 'maxBytes'] as const) {
    if (!Number.isSafeInteger(out[k]) || out[k] < 1) throw new RangeError(`batch limit ${k} must be a positive integer`);
  }
  return out;
}

const BATCH_KEYS = ['alliance', 'createdAt', 'epoch', 'items', 'kid', 'origin', 'prev', 'seq', 'v'] as const;
const ITEM_KEYS = ['categories', 'confidence', 'digest', 'expiresAt', 'firstSeen', 'op', 'ref', 'status', 'type'] as const;
const ITEM_KEY_SET = new Set<string>(ITEM_KEYS);


const TYPE_SET = new Set<string>(IDENTIFIER_TYPES);
const STATUS_SET = new Set<string>(STATUSES);
const CATEGORY_SET = new Set<string>(CATEGORIES);

/** Categories in their canonical form: unique, sorted by code point (ASCII order). */
export function canonicalCategories(categories: Iterable<string>): string[] {
  return [...new Set(categories)].sort(compareAscii);
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/**
 * Checks the envelope of a decoded payload: a JSON object, `v` equal to 1 (else
 * `unsupported_version`), exactly the batch's members, each of its JSON type (else `malformed`).
 * Does not look inside `items` or at the forms of values.
 */
export function checkBatchShape(value: unknown): Batch {
  if (!isPlainObject(value)) throw new BatchError('malformed', `the batch payload must be a JSON object, not ${describe(value)}`, { field: 'payload' });
  if (!Object.hasOwn(value, 'v')) throw new BatchError('malformed', 'the batch has no "v" (format version)', { field: 'v' });
  if (value.v !== BATCH_VERSION) {
    if (typeof value.v === 'number') throw new BatchError('unsupported_version', `batch format version ${Number.isSafeInteger(value.v) ? value.v : '(not an integer)'} is not supported; this node reads version ${BATCH_VERSION}`, { field: 'v' });
    throw new BatchError('malformed', `"v" must be the number ${BATCH_VERSION}, not ${describe(value.v)}`, { field: 'v' });
  }
  for (const key of Object.keys(value)) {
    if (!(BATCH_KEYS as readonly string[]).includes(key)) throw new BatchError('malformed', `"${key.slice(0, 40)}" is not a batch field`, { field: key.slice(0, 40) });
  }
  for (const key of BATCH_KEYS) {
    if (!Object.hasOwn(value, key)) throw new BatchError('malformed', `the batch has no "${key}"`, { field: key });
  }
  const want: Record<(typeof BATCH_KEYS)[number], (v: unknown) => boolean> = {
    alliance: (v) => typeof v === 'string',
    origin: (v) => typeof v === 'string',
    kid: (v) => typeof v === 'string',
    createdAt: (v) => typeof v === 'string',
    epoch: (v) => typeof v === 'number',
    seq: (v) => typeof v === 'number',
    prev: (v) => v === null || typeof v === 'string',
    items: (v) => Array.isArray(v),
    v: () => true,
  };
  for (const key of BATCH_KEYS) {
    if (!want[key](value[key])) throw new BatchError('malformed', `"${key}" has the wrong type (${describe(value[key])})`, { field: key });
  }
  return value as unknown as Batch;
}

export function checkItemCount(batch: Batch, limits: BatchLimits): void {
  if (batch.items.length > limits.maxItems) {
    throw new BatchError('too_large', `the batch has ${batch.items.length} items; the limit is ${limits.maxItems}`, { field: 'items' });
  }
}

/**
 * Checks that every value of a batch (shape already checked) is in its canonical form, and that no
 * indicator (same type, digest and ref) appears twice. Throws `non_canonical` naming the field, and
 * for an item its index.
 */
export function checkBatchForms(batch: Batch): void {
  const bad = (field: string, message: string) => new BatchError('non_canonical', `${field}: ${message}`, { field });
  for (const key of ['alliance', 'origin', 'kid'] as const) {
    if (!ID_PATTERN.test(batch[key])) throw bad(key, 'must be 1 to 128 characters from A-Z a-z 0-9 . _ : -');
  }
  if (!Number.isSafeInteger(batch.epoch) || batch.epoch < 0) throw bad('epoch', 'must be an integer from 0 to 2^53-1');
  if (!Number.isSafeInteger(batch.seq) || batch.seq < 1) throw bad('seq', 'must be an integer from 1 to 2^53-1');
  if (batch.seq === 1 ? batch.prev !== null : !isHash(batch.prev)) {
    throw bad('prev', batch.seq === 1 ? 'must be null in the first batch (seq 1)' : 'must be the hash of the previous batch: 43 base64url characters (32 bytes)');
  }
  if (!isSecond(batch.createdAt)) throw bad('createdAt', 'must be a UTC time YYYY-MM-DDTHH:MM:SSZ');
  // Items by digest (the index of the first, or of all once a digest repeats): a digest names one
  // identifier, so a repeat is rare and the full key is only compared then.
  const byDigest = new Map<string, number | number[]>();
  const { items } = batch;
  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    checkItem(item, index);
    const seen = byDigest.get(item.digest);
    if (seen === undefined) {
      byDigest.set(item.digest, index);
      continue;
    }
    const earlier = typeof seen === 'number' ? [seen] : seen;
    const first = earlier.find((j) => items[j]!.type === item.type && items[j]!.ref === item.ref);
    if (first !== undefined) {
      throw new BatchError('non_canonical', `items[${index}] repeats items[${first}] (same type, digest and ref); a batch holds at most one item per indicator`, { index, field: 'digest' });
    }
    earlier.push(index);
    if (earlier !== seen) byDigest.set(item.digest, earlier);
  }
}

/** Checks one item is a canonical indicator; throws `non_canonical` with its index and field. */
export function checkItem(item: unknown, index: number): asserts item is Indicator {
  const bad = (field: string | undefined, message: string) =>
    new BatchError('non_canonical', `items[${index}]${field ? `.${field}` : ''}: ${message}`, field === undefined ? { index } : { index, field });
  if (!isPlainObject(item)) throw bad(undefined, `must be an object, not ${describe(item)}`);
  const keys = Object.keys(item);
  for (const key of keys) if (!ITEM_KEY_SET.has(key)) throw bad(key.slice(0, 40), 'is not an indicator field');
  if (keys.length !== ITEM_KEYS.length) for (const key of ITEM_KEYS) if (!Object.hasOwn(item, key)) throw bad(key, 'is missing');
  const { type, digest, op, ref, categories, status, confidence, firstSeen, expiresAt } = item;
  if (typeof type !== 'string' || !TYPE_SET.has(type)) throw bad('type', `must be one of ${IDENTIFIER_TYPES.join(', ')}`);
  if (!isHash(digest)) throw bad('digest', 'must be 43 base64url characters without padding (32 bytes), in canonical form');
  if (op !== 'add' && op !== 'retract') throw bad('op', 'must be "add" or "retract"');
  if (typeof ref !== 'string' || !isCanonicalBase64url(ref, 16)) throw bad('ref', 'must be 22 base64url characters without padding (16 bytes), in canonical form');
  if (!Array.isArray(categories)) throw bad('categories', 'must be an array');
  for (let i = 0; i < categories.length; i++) {
    const c: unknown = categories[i];
    if (typeof c !== 'string' || !CATEGORY_SET.has(c)) throw bad('categories', `[${i}] must be one of ${CATEGORIES.join(', ')}`);
    if (i > 0 && !(categories[i - 1] < c)) throw bad('categories', 'must be sorted in ASCII order without repeats');
  }
  if (typeof status !== 'string' || !STATUS_SET.has(status)) throw bad('status', `must be one of ${STATUSES.join(', ')}`);
  if (typeof confidence !== 'number' || !Number.isInteger(confidence) || confidence < 0 || confidence > 100) {
    throw bad('confidence', 'must be an integer from 0 to 100');
  }
  if (!isDay(firstSeen)) throw bad('firstSeen', 'must be a calendar day YYYY-MM-DD');
  if (!isSecond(expiresAt)) throw bad('expiresAt', 'must be a UTC time YYYY-MM-DDTHH:MM:SSZ');
}

/** Full check of a batch about to be encoded or just decoded: shape, item count, forms. */
export function validateBatch(value: unknown, limits: Partial<BatchLimits> = {}): Batch {
  const batch = checkBatchShape(value);
  checkItemCount(batch, resolveLimits(limits));
  checkBatchForms(batch);
  return batch;
}

// Every string of a checked batch is ASCII without `"`, `\` or control characters (ids, base64url,
// dates, enum names), so its RFC 8785 form is the string in plain double quotes.
function encodeItem(i: Indicator): string {
  return (
    `{"categories":[${i.categories.length ? `"${i.categories.join('","')}"` : ''}],"confidence":${i.confidence},"digest":"${i.digest}",` +
    `"expiresAt":"${i.expiresAt}","firstSeen":"${i.firstSeen}","op":"${i.op}","ref":"${i.ref}","status":"${i.status}","type":"${i.type}"}`
  );
}

/**
 * The canonical payload of a batch whose forms are already checked: RFC 8785 (JCS) — members in
 * code-point order, no whitespace, integers as plain decimals — which for this fixed shape is the
 * field order written out here. Items keep the publisher's order.
 */
export function canonicalPayload(batch: Batch): string {
  return (
    `{"alliance":"${batch.alliance}","createdAt":"${batch.createdAt}","epoch":${batch.epoch},"items":[${batch.items.map(encodeItem).join(',')}],` +
    `"kid":"${batch.kid}","origin":"${batch.origin}","prev":${batch.prev === null ? 'null' : `"${batch.prev}"`},"seq":${batch.seq},"v":${batch.v}}`
  );
}

/**
 * Validates a batch and returns its canonical payload bytes (ASCII JSON; the bytes that are signed).
 * Throws `BatchError` for anything peers would refuse.
 */
export function encodeBatch(batch: Batch, limits?: Partial<BatchLimits>): Uint8Array {
  return Buffer.from(canonicalPayload(validateBatch(batch, limits)), 'latin1');
}

/**
 * Characters a canonical payload never holds: anything that would need a JSON escape (`"` is the
 * string delimiter and is found by position), a backslash, and everything outside printable ASCII.
 */
const NOT_PLAIN = /[\\\x00-\x1f\x7f-\uffff]/;
/** An integer as canonical JSON writes one below 10^15 (so exactly a safe integer): no sign, no leading zero. */
const PLAIN_INTEGER = /^(?:0|[1-9]\d{0,14})$/;
/**
 * Text the decoder keeps ahead of its position before each item and around the batch's own members:
 * a canonical item is under 400 characters, the members before and after the items under 600.
 * Anything longer is not what a correct publisher signs, and is left to the general path.
 */
const LOOKAHEAD = 2048;

/**
 * Reads a payload that is already exactly in canonical form (§3 of schema/wire.md) without a
 * general JSON parser: fixed member order, no whitespace, strings without escapes, integers in
 * plain decimal. Returns the batch that `JSON.parse` would give, or `undefined` as soon as anything
 * differs from that form, in which case the caller falls back to the general path (`JSON.parse`,
 * `checkBatchShape`, and comparing the bytes with `canonicalPayload`), which finds the precise
 * error. So for every text it accepts, `canonicalPayload(result)` is that text: the decoder only
 * skips work, it never decides what is valid. Value forms (ids, hashes, enums, days) are not
 * checked here; `checkBatchForms` does that for both paths.
 *
 * The text comes as one string or in consecutive pieces (each byte of the payload one character,
 * latin1), so that a payload of half a megabyte never has to exist as one string.
 */
export function decodeCanonicalPayload(payload: string | Iterable<string>): Batch | undefined {
  const pieces = typeof payload === 'string' ? [payload][Symbol.iterator]() : payload[Symbol.iterator]();
  let text = '';
  let at = 0;
  let more = true;
  /** Makes sure LOOKAHEAD characters (or all that is left) are ahead of `at`; false if the text is not plain. */
  const fill = (): boolean => {
    while (more && text.length - at < LOOKAHEAD) {
      const next = pieces.next();
      if (next.done === true) {
        more = false;
        break;
      }
      if (NOT_PLAIN.test(next.value)) return false;
      text = text.slice(at) + next.value;
      at = 0;
    }
    return true;
  };
  const literal = (s: string): boolean => {
    if (!text.startsWith(s, at)) return false;
    at += s.length;
    return true;
  };
  // A string value: at the opening quote; no escape can occur (NOT_PLAIN), so it ends at the next quote.
  const string = (): string | undefined => {
    if (text.charCodeAt(at) !== 34) return undefined;
    const end = text.indexOf('"', at + 1);
    if (end < 0) return undefined;
    const s = text.slice(at + 1, end);
    at = end + 1;
    return s;
  };
  const integer = (): number | undefined => {
    let end = at;
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    const digits = text.slice(at, end);
    if (!PLAIN_INTEGER.test(digits)) return undefined;
    at = end;
    return Number(digits);
  };

  if (!fill() || !literal('{"alliance":')) return undefined;
  const alliance = string();
  if (alliance === undefined || !literal(',"createdAt":')) return undefined;
  const createdAt = string();
  if (createdAt === undefined || !literal(',"epoch":')) return undefined;
  const epoch = integer();
  if (epoch === undefined || !literal(',"items":[')) return undefined;
  const items: Indicator[] = [];
  if (!literal(']')) {
    for (;;) {
      if (!fill() || !literal('{"categories":[')) return undefined;
      const categories: string[] = [];
      if (!literal(']')) {
        for (;;) {
          const c = string();
          if (c === undefined) return undefined;
          categories.push(c);
          if (literal(']')) break;
          if (!literal(',')) return undefined;
        }
      }
      if (!literal(',"confidence":')) return undefined;
      const confidence = integer();
      if (confidence === undefined || !literal(',"digest":')) return undefined;
      const digest = string();
      if (digest === undefined || !literal(',"expiresAt":')) return undefined;
      const expiresAt = string();
      if (expiresAt === undefined || !literal(',"firstSeen":')) return undefined;
      const firstSeen = string();
      if (firstSeen === undefined || !literal(',"op":')) return undefined;
      const op = string();
      if (op === undefined || !literal(',"ref":')) return undefined;
      const ref = string();
      if (ref === undefined || !literal(',"status":')) return undefined;
      const status = string();
      if (status === undefined || !literal(',"type":')) return undefined;
      const type = string();
      if (type === undefined || !literal('}')) return undefined;
      // Typed loosely here, like JSON.parse's result: checkBatchForms checks every value.
      items.push({ categories, confidence, digest, expiresAt, firstSeen, op, ref, status, type } as unknown as Indicator);
      if (literal(']')) break;
      if (!literal(',')) return undefined;
    }
  }
  if (!fill() || !literal(',"kid":')) return undefined;
  const kid = string();
  if (kid === undefined || !literal(',"origin":')) return undefined;
  const origin = string();
  if (origin === undefined || !literal(',"prev":')) return undefined;
  let prev: string | null;
  if (literal('null')) prev = null;
  else {
    const p = string();
    if (p === undefined) return undefined;
    prev = p;
  }
  if (!literal(',"seq":')) return undefined;
  const seq = integer();
  // Nothing may follow (fill() pulls whatever pieces are left).
  if (seq === undefined || !literal(',"v":1}') || !fill() || at !== text.length) return undefined;
  return { alliance, createdAt, epoch, items, kid, origin, prev, seq, v: BATCH_VERSION };
}
