import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalPayload, decodeCanonicalPayload, type Batch } from '../../../node/indicators/batch-encoding.ts';
import { CATEGORIES, IDENTIFIER_TYPES, STATUSES, type Category } from '../../../node/identifiers/vocabulary.ts';

const b64 = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((u) => Buffer.from(u).toString('base64url'));
const day = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true });

const item = fc.record({
  categories: fc.subarray([...CATEGORIES].sort()),
  confidence: fc.integer({ min: 0, max: 100 }),
  digest: b64(32),
  expiresAt: day.map((d) => `${d.toISOString().slice(0, 19)}Z`),
  firstSeen: day.map((d) => d.toISOString().slice(0, 10)),
  op: fc.constantFrom('add' as const, 'retract' as const),
  ref: b64(16),
  status: fc.constantFrom(...STATUSES),
  type: fc.constantFrom(...IDENTIFIER_TYPES),
});

const batch: fc.Arbitrary<Batch> = fc
  .record({
    alliance: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
    createdAt: day.map((d) => `${d.toISOString().slice(0, 19)}Z`),
    epoch: fc.nat({ max: 1_000_000 }),
    items: fc.array(item, { maxLength: 12 }),
    kid: fc.stringMatching(/^[A-Za-z0-9._:-]{1,43}$/),
    origin: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    prevHash: b64(32),
  })
  .map(({ prevHash, ...b }) => ({ ...b, prev: b.seq === 1 ? null : prevHash, v: 1 as const }));

/** `text` cut into pieces at the given offsets, as the verifier hands it over. */
function pieces(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const c of at) {
    out.push(text.slice(from, c));
    from = c;
  }
  out.push(text.slice(from));
  return out;
}

describe('decodeCanonicalPayload', () => {
  it('reads every canonical payload as JSON.parse does, whole or in pieces cut anywhere', () => {
    fc.assert(
      fc.property(batch, fc.array(fc.nat(), { maxLength: 6 }), (b, cuts) => {
        const text = canonicalPayload(b);
        const parsed = JSON.parse(text) as unknown;
        for (const input of [text, pieces(text, cuts)]) {
          const decoded = decodeCanonicalPayload(input);
          // Numbers of 16 digits and more are left to the general path, which reads them the same.
          if (b.seq >= 1e15) expect(decoded).toBeUndefined();
          else expect(decoded).toEqual(parsed);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads a full batch of 1,000 items handed over in 48 KiB pieces', () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({
      categories: ['COUNTERFEIT', 'TRADEMARK'] as Category[],
      confidence: i % 101,
      digest: randomBytes(32).toString('base64url'),
      expiresAt: '2027-11-25T14:00:00Z',
      firstSeen: '2026-11-01',
      op: 'add' as const,
      ref: randomBytes(16).toString('base64url'),
      status: 'CONFIRMED' as const,
      type: 'email' as const,
    }));
    const b: Batch = { v: 1, alliance: 'a', origin: 'o', kid: 'k', epoch: 3, seq: 7, prev: randomBytes(32).toString('base64url'), createdAt: '2026-11-25T00:00:00Z', items };
    const text = canonicalPayload(b);
    const cuts = Array.from({ length: Math.ceil(text.length / 49_152) }, (_, i) => (i + 1) * 49_152);
    expect(decodeCanonicalPayload(pieces(text, cuts))).toEqual(b);
  });

  // Anything else is left to the general path (JSON.parse, shape and form checks, byte comparison),
  // which names the precise error: the decoder must never accept it.
  const base = canonicalPayload({
    v: 1,
    alliance: 'a',
    origin: 'o',
    kid: 'k',
    epoch: 1,
    seq: 2,
    prev: Buffer.alloc(32, 7).toString('base64url'),
    createdAt: '2026-11-25T00:00:00Z',
    items: [{ categories: ['COUNTERFEIT'], confidence: 80, digest: Buffer.alloc(32, 1).toString('base64url'), expiresAt: '2027-01-01T00:00:00Z', firstSeen: '2026-11-01', op: 'add', ref: Buffer.alloc(16, 2).toString('base64url'), status: 'CONFIRMED', type: 'phone' }],
  });
  it.each([
    ['a space after a colon', base.replace('"epoch":1', '"epoch": 1')],
    ['a newline at the end', `${base}\n`],
    ['an escape in a string', base.replace('"phone"', '"ph\\u006fne"')],
    ['a non-ASCII character', base.replace('"o"', '"ö"')],
    ['a control character', base.replace('"o"', '"o\u0001"')],
    ['a leading zero', base.replace('"confidence":80', '"confidence":080')],
    ['a negative number', base.replace('"epoch":1', '"epoch":-1')],
    ['an exponent', base.replace('"confidence":80', '"confidence":8e1')],
    ['a fraction', base.replace('"confidence":80', '"confidence":80.0')],
    ['a number as a string', base.replace('"seq":2', '"seq":"2"')],
    ['members in another order', base.replace('{"alliance":"a","createdAt":"2026-11-25T00:00:00Z"', '{"createdAt":"2026-11-25T00:00:00Z","alliance":"a"')],
    ['a missing member', base.replace(',"kid":"k"', '')],
    ['an extra member', base.replace('"v":1}', '"v":1,"x":1}')],
    ['another version', base.replace('"v":1}', '"v":2}')],
    ['trailing data', `${base}{}`],
    ['a truncated payload', base.slice(0, -1)],
    ['an item member missing', base.replace(',"op":"add"', '')],
    ['null for a string', base.replace('"kid":"k"', '"kid":null')],
    ['an empty payload', ''],
  ])('returns undefined for %s', (_name, text) => {
    expect(text).not.toBe(base);
    expect(decodeCanonicalPayload(text)).toBeUndefined();
  });

  it('still accepts the unmodified payload those variants start from', () => {
    expect(decodeCanonicalPayload(base)).toEqual(JSON.parse(base));
  });
});
