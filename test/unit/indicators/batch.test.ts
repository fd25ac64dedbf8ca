import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { CompactSign, generateKeyPair } from 'jose';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BATCH_LIMITS, BatchError, batchHash, canonicalCategories, encodeBatch, signBatch, validateBatch, verifyBatch, type Batch, type BatchErrorReason, type VerifyBatchOptions } from '../../../node/indicators/batch.ts';
import { toWireTime } from '../../../node/encoding/time.ts';
import type { Indicator } from '../../../node/indicators/indicator.ts';
import { CATEGORIES, IDENTIFIER_TYPES, STATUSES } from '../../../node/identifiers/vocabulary.ts';

const ALLIANCE = 'test-alliance';
const ORIGIN = 'member-a';
const KID = 'key-1';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');

const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url').toString('latin1');
const digestOf = (s: string) => createHmac('sha256', 'k').update(s).digest('base64url');
const HEADER = `{"alg":"EdDSA","kid":"${KID}","typ":"alliance-batch+jws"}`;

function item(n: number, over: Partial<Indicator> = {}): Indicator {
  return {
    type: 'email',
    digest: digestOf(`seller${n}@example.com`),
    op: 'add',
    ref: Buffer.alloc(16, n % 256).toString('base64url'),
    categories: ['COUNTERFEIT', 'TRADEMARK'],
    status: 'SUSPECTED',
    confidence: 60,
    firstSeen: '2026-03-01',
    expiresAt: '2027-03-01T00:00:00Z',
    ...over,
  };
}

function batchOf(items: Indicator[], over: Partial<Batch> = {}): Batch {
  return { v: 1, alliance: ALLIANCE, origin: ORIGIN, kid: KID, epoch: 3, seq: 1, prev: null, createdAt: '2026-03-01T12:00:00Z', items, ...over };
}

const sample = () => batchOf([item(1), item(2, { op: 'retract', status: 'CLEARED' }), item(3, { type: 'phone', categories: [] })]);

function opts(over: Partial<VerifyBatchOptions> = {}): VerifyBatchOptions {
  return { alliance: ALLIANCE, resolveKey: (kid) => (kid === KID ? { key: publicKey, origin: ORIGIN } : undefined), ...over };
}

/** A compact JWS over any header and payload text, signed with Ed25519 outside the code under test. */
function craft(payload: string, { header = HEADER, key = privateKey }: { header?: string; key?: KeyObject } = {}): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input, 'latin1'), key).toString('base64url')}`;
}

/** RFC 8785 for the values a batch may hold (ASCII strings, integers, null, arrays, objects). */
function jcs(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(jcs).join(',')}]`;
  if (x && typeof x === 'object') {
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${jcs((x as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(x);
}

async function reason(p: Promise<unknown> | (() => unknown)): Promise<BatchError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(BatchError);
    expect((err as BatchError).code).toBe('BATCH_INVALID');
    return err as BatchError;
  }
  throw new Error('expected a BatchError, but the batch was accepted');
}

async function expectReason(p: Promise<unknown> | (() => unknown), r: BatchErrorReason, where: { index?: number; field?: string } = {}) {
  const err = await reason(p);
  expect({ reason: err.reason, ...('index' in where ? { index: err.index } : {}), ...('field' in where ? { field: err.field } : {}) }).toEqual({ reason: r, ...where });
  expect(err.details).toMatchObject({ reason: r });
  return err;
}

/** Replace one character of a JWS segment with another base64url character. */
function flip(jws: string, segment: 0 | 1 | 2, at: number): string {
  const parts = jws.split('.');
  const s = parts[segment]!;
  const c = s[at]!;
  parts[segment] = s.slice(0, at) + (c === 'A' ? 'B' : 'A') + s.slice(at + 1);
  return parts.join('.');
}

describe('signBatch / verifyBatch round trip', () => {
  it('verifies what it signs and returns the batch, its hash and the JWS', async () => {
    const batch = sample();
    const jws = await signBatch(batch, { privateKey, kid: KID });
    expect(jws).toMatch(/^[\w-]+\.[\w-]+\.[\w-]{86}$/);
    const out = await verifyBatch(jws, opts());
    expect(out).toEqual({ batch, hash: batchHash(jws), jws });
    expect(out.hash).toMatch(/^[\w-]{43}$/);
  });

  it('accepts the JWS as bytes, a WebCrypto key, an async resolver and a bare key', async () => {
    const keys = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jws = await signBatch(sample(), { privateKey: keys.privateKey, kid: KID });
    const bytes = new Uint8Array(Buffer.from(`xx${jws}`, 'latin1')).subarray(2);
    const out = await verifyBatch(bytes, opts({ resolveKey: async () => keys.publicKey }));
    expect(out.jws).toBe(jws);
    expect(out.hash).toBe(batchHash(jws));
  });

  it('fills in kid from the options and is deterministic', async () => {
    const { kid: _kid, ...rest } = sample();
    const a = await signBatch(rest, { privateKey, kid: KID });
    const b = await signBatch(sample(), { privateKey, kid: KID });
    expect(a).toBe(b);
    expect(JSON.parse(unb64(a.split('.')[1]!)).kid).toBe(KID);
    await expectReason(signBatch(sample(), { privateKey, kid: 'key-2' }), 'kid_mismatch', { field: 'kid' });
  });

  it('chains: prev is the hash of the previous JWS, null only at seq 1', async () => {
    const first = await signBatch(sample(), { privateKey, kid: KID });
    const second = await signBatch(batchOf([item(9)], { seq: 2, prev: batchHash(first) }), { privateKey, kid: KID });
    expect((await verifyBatch(second, opts())).batch.prev).toBe((await verifyBatch(first, opts())).hash);
    await expectReason(() => encodeBatch(batchOf([item(1)], { seq: 2, prev: null })), 'non_canonical', { field: 'prev' });
    await expectReason(() => encodeBatch(batchOf([item(1)], { seq: 1, prev: batchHash(first) })), 'non_canonical', { field: 'prev' });
    await expectReason(() => encodeBatch(batchOf([item(1)], { seq: 2, prev: 'abc' })), 'non_canonical', { field: 'prev' });
  });

  it('takes an empty batch', async () => {
    const jws = await signBatch(batchOf([]), { privateKey, kid: KID });
    expect((await verifyBatch(jws, opts())).batch.items).toEqual([]);
  });

  it('fits a full batch (1,000 items, every field at its longest) in the default byte limit', async () => {
    const long = 'x'.repeat(128);
    const items = Array.from({ length: BATCH_LIMITS.maxItems }, (_, n) =>
      item(n, { type: 'payment_account', ref: randomBytes(16).toString('base64url'), categories: canonicalCategories(CATEGORIES) as Indicator['categories'], status: 'SUSPECTED', confidence: 100, op: 'retract' }),
    );
    const jws = await signBatch(batchOf(items, { alliance: long, origin: long, kid: long, epoch: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER, prev: digestOf('p') }), {
      privateKey,
      kid: long,
    });
    expect(jws.length).toBeLessThan(BATCH_LIMITS.maxBytes);
    const out = await verifyBatch(jws, opts({ alliance: long, resolveKey: () => publicKey }));
    expect(out.batch.items).toHaveLength(1000);
  });

  it('refuses a key of the wrong kind', async () => {
    const jws = await signBatch(sample(), { privateKey, kid: KID });
    await expect(verifyBatch(jws, opts({ resolveKey: () => privateKey }))).rejects.toThrow(TypeError);
    await expect(signBatch(sample(), { privateKey: publicKey, kid: KID })).rejects.toThrow(TypeError);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(signBatch(sample(), { privateKey: ec.privateKey, kid: KID })).rejects.toThrow(TypeError);
  });
});

describe('canonical encoding', () => {
  it('is RFC 8785: sorted members, no whitespace, items in the publisher order', () => {
    const batch = sample();
    const text = Buffer.from(encodeBatch(batch)).toString('latin1');
    expect(text).toBe(jcs(batch));
    expect(text.startsWith('{"alliance":"test-alliance","createdAt":"2026-03-01T12:00:00Z","epoch":3,"items":[{"categories":["COUNTERFEIT","TRADEMARK"],"confidence":60,')).toBe(true);
    expect(text.endsWith(`"kid":"${KID}","origin":"${ORIGIN}","prev":null,"seq":1,"v":1}`)).toBe(true);
    const reversed = batchOf([...batch.items].reverse());
    expect(JSON.parse(Buffer.from(encodeBatch(reversed)).toString()).items).toEqual(reversed.items);
  });

  it('helpers give the canonical forms', () => {
    expect(canonicalCategories(['TRADEMARK', 'COUNTERFEIT', 'TRADEMARK', 'GREY_MARKET'])).toEqual(['COUNTERFEIT', 'GREY_MARKET', 'TRADEMARK']);
    expect(toWireTime(new Date('2026-03-01T12:00:00.987Z'))).toBe('2026-03-01T12:00:00Z');
    expect(validateBatch(sample())).toEqual(sample());
  });
});

describe('verifyBatch rejects tampering with a typed reason', () => {
  it('bad_signature: a flipped character in the payload or the signature, another key', async () => {
    const jws = await signBatch(sample(), { privateKey, kid: KID });
    const payloadLen = jws.split('.')[1]!.length;
    for (const at of [0, 10, Math.floor(payloadLen / 2), payloadLen - 5]) await expectReason(verifyBatch(flip(jws, 1, at), opts()), 'bad_signature', { field: 'signature' });
    for (const at of [0, 40, 84]) await expectReason(verifyBatch(flip(jws, 2, at), opts()), 'bad_signature', { field: 'signature' });
    const forged = await signBatch(sample(), { privateKey: other.privateKey, kid: KID });
    await expectReason(verifyBatch(forged, opts()), 'bad_signature');
    // A payload swapped in from another valid batch.
    const [h, , s] = jws.split('.');
    const p2 = (await signBatch(batchOf([item(7)]), { privateKey, kid: KID })).split('.')[1];
    await expectReason(verifyBatch(`${h}.${p2}.${s}`, opts()), 'bad_signature');
  });

  it('non_canonical: the same batch re-serialised (key order, whitespace, number forms, escapes, duplicates) and re-signed', async () => {
    const batch = sample();
    const canonical = Buffer.from(encodeBatch(batch)).toString('latin1');
    const variants = [
      JSON.stringify(batch), // the field order of schema/wire.md §1, not sorted
      JSON.stringify(JSON.parse(canonical), null, 2),
      `${canonical}\n`,
      ` ${canonical}`,
      canonical.replace('"epoch":3', '"epoch":3.0'),
      canonical.replace('"epoch":3', '"epoch":3e0'),
      canonical.replace('"confidence":60', '"confidence":6e1'),
      canonical.replace('"type":"email"', '"type":"\\u0065mail"'),
      canonical.replace('"alliance":', '"alliance":"x","alliance":'),
    ];
    for (const text of variants) {
      expect(JSON.parse(text)).toEqual(batch);
      await expectReason(verifyBatch(craft(text), opts()), 'non_canonical', { field: 'payload' });
    }
    // A UTF-8 byte order mark is not JSON text at all.
    await expectReason(verifyBatch(craft(`\xEF\xBB\xBF${canonical}`), opts()), 'malformed', { field: 'payload' });
    // The canonical text itself, signed the same way, passes: the crafting is sound.
    expect((await verifyBatch(craft(canonical), opts())).batch).toEqual(batch);
  });

  it('unknown_kid, kid_mismatch, wrong_origin, wrong_alliance', async () => {
    const jws = await signBatch(sample(), { privateKey, kid: KID });
    await expectReason(verifyBatch(jws, opts({ resolveKey: () => undefined })), 'unknown_kid', { field: 'kid' });
    await expectReason(verifyBatch(jws, opts({ alliance: 'other-alliance' })), 'wrong_alliance', { field: 'alliance' });
    await expectReason(verifyBatch(jws, opts({ resolveKey: () => ({ key: publicKey, origin: 'member-b' }) })), 'wrong_origin', { field: 'origin' });
    // Header names key-2 (which resolves to the signing key), the payload says key-1.
    const mixed = craft(Buffer.from(encodeBatch(sample())).toString('latin1'), { header: HEADER.replace(KID, 'key-2') });
    await expectReason(verifyBatch(mixed, opts({ resolveKey: () => publicKey })), 'kid_mismatch', { field: 'kid' });
  });

  it('malformed: alg none, HS256, other algs, wrong or missing typ, extra header members', async () => {
    const payload = Buffer.from(encodeBatch(sample())).toString('latin1');
    const fakeSig = Buffer.alloc(64, 7).toString('base64url');
    const none = `${b64(`{"alg":"none","kid":"${KID}","typ":"alliance-batch+jws"}`)}.${b64(payload)}.`;
    await expectReason(verifyBatch(none, opts()), 'malformed', { field: 'alg' });
    await expectReason(verifyBatch(none + fakeSig, opts()), 'malformed', { field: 'alg' });
    const hs = await new CompactSign(Buffer.from(payload))
      .setProtectedHeader({ alg: 'HS256', kid: KID, typ: 'alliance-batch+jws' })
      .sign(new Uint8Array(32).fill(1));
    await expectReason(verifyBatch(hs, opts()), 'malformed', { field: 'alg' });
    for (const alg of ['ES256', 'RS256', 'Ed25519', 'eddsa']) {
      await expectReason(verifyBatch(craft(payload, { header: HEADER.replace('EdDSA', alg) }), opts()), 'malformed', { field: 'alg' });
    }
    await expectReason(verifyBatch(craft(payload, { header: `{"kid":"${KID}","typ":"alliance-batch+jws"}` }), opts()), 'malformed', { field: 'alg' });
    await expectReason(verifyBatch(craft(payload, { header: HEADER.replace('alliance-batch+jws', 'JWT') }), opts()), 'malformed', { field: 'typ' });
    await expectReason(verifyBatch(craft(payload, { header: `{"alg":"EdDSA","kid":"${KID}"}` }), opts()), 'malformed', { field: 'typ' });
    await expectReason(verifyBatch(craft(payload, { header: `{"alg":"EdDSA","typ":"alliance-batch+jws"}` }), opts()), 'malformed', { field: 'kid' });
    await expectReason(verifyBatch(craft(payload, { header: HEADER.replace(`"${KID}"`, '42') }), opts()), 'malformed', { field: 'kid' });
    for (const extra of ['"crit":["b64"],"b64":false', '"jwk":{}', '"x5u":"https://example.com"', '"cty":"json"']) {
      await expectReason(verifyBatch(craft(payload, { header: HEADER.replace('{', `{${extra},`) }), opts()), 'malformed', { field: 'header' });
    }
    await expectReason(verifyBatch(craft(payload, { header: '[1]' }), opts()), 'malformed', { field: 'header' });
    await expectReason(verifyBatch(craft(payload, { header: 'not json' }), opts()), 'malformed', { field: 'header' });
  });

  it('non_canonical header: right members, other spelling', async () => {
    const payload = Buffer.from(encodeBatch(sample())).toString('latin1');
    for (const header of [`{"kid":"${KID}","alg":"EdDSA","typ":"alliance-batch+jws"}`, `{"alg": "EdDSA","kid":"${KID}","typ":"alliance-batch+jws"}`, `${HEADER} `]) {
      await expectReason(verifyBatch(craft(payload, { header }), opts()), 'non_canonical', { field: 'header' });
    }
  });

  it('too_large: too many bytes before any parsing, too many items', async () => {
    const jws = await signBatch(sample(), { privateKey, kid: KID });
    await expectReason(verifyBatch(jws, opts({ limits: { maxBytes: jws.length - 1 } })), 'too_large');
    expect((await verifyBatch(jws, opts({ limits: { maxBytes: jws.length } }))).jws).toBe(jws);
    await expectReason(verifyBatch('x'.repeat(BATCH_LIMITS.maxBytes + 1), opts()), 'too_large');
    await expectReason(verifyBatch(new Uint8Array(BATCH_LIMITS.maxBytes + 1), opts()), 'too_large');
    await expectReason(verifyBatch(jws, opts({ limits: { maxItems: 2 } })), 'too_large', { field: 'items' });
    const many = Array.from({ length: 1001 }, (_, n) => item(n, { ref: randomBytes(16).toString('base64url') }));
    await expectReason(signBatch(batchOf(many), { privateKey, kid: KID }), 'too_large', { field: 'items' });
    await expectReason(verifyBatch(craft(jcs(batchOf(many))), opts()), 'too_large', { field: 'items' });
    await expectReason(signBatch(sample(), { privateKey, kid: KID, limits: { maxBytes: 500 } }), 'too_large');
    await expect(verifyBatch(jws, opts({ limits: { maxItems: 0 } }))).rejects.toThrow(RangeError);
  });

  it('unsupported_version and malformed payloads (signed, so they pass the signature)', async () => {
    const base = JSON.parse(jcs(sample())) as Record<string, unknown>;
    await expectReason(verifyBatch(craft(jcs({ ...base, v: 2 })), opts()), 'unsupported_version', { field: 'v' });
    await expectReason(verifyBatch(craft(jcs({ ...base, v: '1' })), opts()), 'malformed', { field: 'v' });
    const { v: _v, ...noV } = base;
    await expectReason(verifyBatch(craft(jcs(noV)), opts()), 'malformed', { field: 'v' });
    const { seq: _s, ...noSeq } = base;
    await expectReason(verifyBatch(craft(jcs(noSeq)), opts()), 'malformed', { field: 'seq' });
    await expectReason(verifyBatch(craft(jcs({ ...base, extra: 1 })), opts()), 'malformed', { field: 'extra' });
    await expectReason(verifyBatch(craft(jcs({ ...base, items: {} })), opts()), 'malformed', { field: 'items' });
    await expectReason(verifyBatch(craft(jcs({ ...base, epoch: '3' })), opts()), 'malformed', { field: 'epoch' });
    await expectReason(verifyBatch(craft(jcs({ ...base, prev: 0 })), opts()), 'malformed', { field: 'prev' });
    await expectReason(verifyBatch(craft(jcs({ ...base, origin: null })), opts()), 'malformed', { field: 'origin' });
    for (const text of ['[]', 'null', '"batch"', '{"v":1', '']) {
      await expectReason(verifyBatch(text === '' ? `${b64(HEADER)}..${Buffer.alloc(64).toString('base64url')}` : craft(text), opts()), 'malformed');
    }
    await expectReason(verifyBatch(craft('{"v":1,"\xff":1}'), opts()), 'malformed', { field: 'payload' }); // not UTF-8
    await expectReason(verifyBatch(craft('{"__proto__":{"x":1},"v":1}'), opts()), 'malformed', { field: '__proto__' });
  });

  it('non_canonical envelope values', async () => {
    const base = JSON.parse(jcs(sample())) as Record<string, unknown>;
    const cases: [Record<string, unknown>, string][] = [
      [{ createdAt: '2026-03-01T12:00:00.000Z' }, 'createdAt'],
      [{ createdAt: '2026-03-01T12:00:00+00:00' }, 'createdAt'],
      [{ createdAt: '2026-02-30T12:00:00Z' }, 'createdAt'],
      [{ epoch: -1 }, 'epoch'],
      [{ epoch: 1.5 }, 'epoch'],
      [{ seq: 0 }, 'seq'],
      [{ seq: 2, prev: null }, 'prev'],
      [{ prev: digestOf('x') }, 'prev'],
      [{ origin: 'member a' }, 'origin'],
      [{ origin: '' }, 'origin'],
    ];
    const bare = opts({ resolveKey: () => publicKey });
    for (const [over, field] of cases) await expectReason(verifyBatch(craft(jcs({ ...base, ...over })), bare), 'non_canonical', { field });
  });

  it('non_canonical items, with the index and the field', async () => {
    const good = item(1);
    const hexDigest = createHmac('sha256', 'k').update('x').digest('hex');
    const cases: [Record<string, unknown>, string | undefined][] = [
      [{ digest: hexDigest }, 'digest'],
      [{ digest: hexDigest.toUpperCase() }, 'digest'], // (base64url is case-sensitive: an upper-cased base64url digest is just another digest)
      [{ digest: good.digest.slice(0, 42) }, 'digest'],
      [{ digest: `${good.digest}A` }, 'digest'],
      [{ digest: `${good.digest}=` }, 'digest'],
      [{ digest: createHmac('sha256', 'k').update('x').digest('base64').slice(0, 43).replace(/[A-Za-z0-9]/, '+') }, 'digest'],
      [{ digest: `${good.digest.slice(0, 42)}B` }, 'digest'], // non-zero unused bits: same bytes as ...A
      [{ ref: good.ref.slice(0, 21) }, 'ref'],
      [{ ref: `${good.ref.slice(0, 21)}B` }, 'ref'],
      [{ ref: randomBytes(32).toString('base64url') }, 'ref'],
      [{ type: 'EMAIL' }, 'type'],
      [{ type: 'telegram' }, 'type'],
      [{ op: 'delete' }, 'op'],
      [{ op: 'ADD' }, 'op'],
      [{ status: 'suspected' }, 'status'],
      [{ categories: ['TRADEMARK', 'COUNTERFEIT'] }, 'categories'],
      [{ categories: ['COUNTERFEIT', 'COUNTERFEIT'] }, 'categories'],
      [{ categories: ['counterfeit'] }, 'categories'],
      [{ categories: ['SCAM'] }, 'categories'],
      [{ categories: 'COUNTERFEIT' }, 'categories'],
      [{ confidence: 101 }, 'confidence'],
      [{ confidence: -1 }, 'confidence'],
      [{ confidence: 50.5 }, 'confidence'],
      [{ confidence: '50' }, 'confidence'],
      [{ firstSeen: '2026-02-30' }, 'firstSeen'],
      [{ firstSeen: '2026-3-1' }, 'firstSeen'],
      [{ firstSeen: '2026-03-01T00:00:00Z' }, 'firstSeen'],
      [{ firstSeen: 20260301 }, 'firstSeen'],
      [{ expiresAt: '2027-03-01T00:00:00.000Z' }, 'expiresAt'],
      [{ expiresAt: '2027-03-01T00:00:00+00:00' }, 'expiresAt'],
      [{ expiresAt: '2027-03-01T24:00:00Z' }, 'expiresAt'],
      [{ expiresAt: '2027-13-01T00:00:00Z' }, 'expiresAt'],
      [{ expiresAt: '2027-03-01' }, 'expiresAt'],
      [{ raw: 'seller1@example.com' }, 'raw'],
    ];
    for (const [over, field] of cases) {
      const items = [item(0), { ...good, ...over } as Indicator, item(2)];
      await expectReason(() => encodeBatch(batchOf(items)), 'non_canonical', { index: 1, field });
      await expectReason(verifyBatch(craft(jcs(batchOf(items))), opts()), 'non_canonical', { index: 1, field });
    }
    const { ref: _r, ...noRef } = good;
    await expectReason(verifyBatch(craft(jcs(batchOf([item(0), item(2), noRef as Indicator]))), opts()), 'non_canonical', { index: 2, field: 'ref' });
    await expectReason(verifyBatch(craft(jcs(batchOf([item(0), 'x' as unknown as Indicator]))), opts()), 'non_canonical', { index: 1 });
    // The same indicator twice in one batch.
    await expectReason(() => encodeBatch(batchOf([item(1), item(2), item(1, { op: 'retract' })])), 'non_canonical', { index: 2, field: 'digest' });
    // Same digest under two refs, or two types, is fine.
    expect(() => encodeBatch(batchOf([item(1), item(1, { ref: Buffer.alloc(16, 99).toString('base64url') }), item(1, { type: 'phone' })]))).not.toThrow();
    // Every enum value is accepted.
    expect(() => encodeBatch(batchOf(IDENTIFIER_TYPES.map((type, n) => item(n, { type, status: STATUSES[n % STATUSES.length]!, confidence: n * 8 }))))).not.toThrow();
  });

  it('malformed: garbage of every kind', async () => {
    const garbage: unknown[] = ['', 'a', 'a.b', 'a.b.c', '..', '...', 'a.b.c.d', '....', '=.=.=', `${b64(HEADER)}.e30.`, 'é.é.é', 42, null, undefined, {}, [HEADER]];
    for (const g of garbage) await expectReason(verifyBatch(g as string, opts()), 'malformed');
    for (let i = 0; i < 50; i++) await expectReason(verifyBatch(randomBytes(1 + (i * 37) % 600), opts()), 'malformed');
    // Padding, standard base64 characters, non-canonical base64url in the signature.
    const jws = await signBatch(sample(), { privateKey, kid: KID });
    await expectReason(verifyBatch(`${jws}==`, opts()), 'malformed', { field: 'signature' });
    await expectReason(verifyBatch(jws.replace(/\.([^.]*)$/, (_m, s: string) => `.${s.slice(0, 85)}B`), opts()), 'malformed', { field: 'signature' });
    await expectReason(verifyBatch(jws.replace(/^[^.]*/, (h) => `${h}=`), opts()), 'malformed', { field: 'header' });
    await expectReason(verifyBatch(jws.replace('.', '.+'), opts()), 'malformed', { field: 'payload' });
    await expectReason(verifyBatch(jws.slice(0, -1), opts()), 'malformed', { field: 'signature' });
  });
});

describe('properties', () => {
  const b64bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((u) => Buffer.from(u).toString('base64url'));
  const day = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true });
  const itemArb: fc.Arbitrary<Indicator> = fc.record({
    type: fc.constantFrom(...IDENTIFIER_TYPES),
    digest: b64bytes(32),
    op: fc.constantFrom('add' as const, 'retract' as const),
    ref: b64bytes(16),
    categories: fc.subarray([...CATEGORIES]).map((c) => canonicalCategories(c) as Indicator['categories']),
    status: fc.constantFrom(...STATUSES),
    confidence: fc.integer({ min: 0, max: 100 }),
    firstSeen: day.map((d) => d.toISOString().slice(0, 10)),
    expiresAt: day.map(toWireTime),
  });
  const id = fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/);
  const batchArb: fc.Arbitrary<Batch> = fc
    .record({
      alliance: id,
      origin: id,
      epoch: fc.nat(),
      seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      prevHash: b64bytes(32),
      createdAt: day.map(toWireTime),
      items: fc.uniqueArray(itemArb, { maxLength: 20, selector: (i) => `${i.type} ${i.digest} ${i.ref}` }),
    })
    .map(({ prevHash, ...b }) => ({ v: 1 as const, kid: KID, ...b, prev: b.seq === 1 ? null : prevHash }));

  it('any valid batch encodes as RFC 8785 and round-trips through sign and verify', async () => {
    await fc.assert(
      fc.asyncProperty(batchArb, async (batch) => {
        expect(Buffer.from(encodeBatch(batch)).toString('latin1')).toBe(jcs(batch));
        const jws = await signBatch(batch, { privateKey, kid: KID });
        const out = await verifyBatch(jws, { alliance: batch.alliance, resolveKey: () => ({ key: publicKey, origin: batch.origin }) });
        expect(out.batch).toEqual(batch);
        expect(out.hash).toBe(batchHash(jws));
      }),
      { numRuns: 150 },
    );
  });

  it('any single-byte change to a signed batch is rejected', async () => {
    await fc.assert(
      fc.asyncProperty(batchArb, fc.nat(), fc.integer({ min: 1, max: 255 }), async (batch, pos, delta) => {
        const bytes = Buffer.from(await signBatch(batch, { privateKey, kid: KID }), 'latin1');
        const at = pos % bytes.length;
        bytes[at] = (bytes[at]! + delta) % 256;
        const err = await reason(verifyBatch(bytes, { alliance: batch.alliance, resolveKey: (kid) => (kid === KID ? publicKey : undefined) }));
        expect(['malformed', 'bad_signature', 'non_canonical', 'unknown_kid']).toContain(err.reason);
      }),
      { numRuns: 300 },
    );
  });
});
