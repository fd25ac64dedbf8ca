import { describe, expect, it } from 'vitest';
import { deriveDigest, derivationInput, indicatorsOf, type IndicatorSource } from '../../../node/indicators/derive.ts';
import { epochKey } from '../../../node/membership/epoch-keyring.ts';

// Key bytes 0x00..0x1f. Expected digests computed independently with
// `printf '%s' INPUT | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1f -binary | base64url`.
const KEY = epochKey(Uint8Array.from({ length: 32 }, (_, i) => i));

describe('digest derivation (docs/architecture.md, "Keys and digests")', () => {
  it('hashes exactly "alliance:v1:" + type + ":" + canonical under the epoch key', () => {
    expect(derivationInput('email', 'seller@example.com')).toBe('alliance:v1:email:seller@example.com');
    expect(deriveDigest(KEY, 'email', 'seller@example.com')).toBe('X552HDGHD5ilRs-pe4RtYkj89bC__Cn14Z3TN5gJ0oQ');
    expect(deriveDigest(KEY, 'phone', '+8613800138000')).toBe('NMXObMKV1f_LVZit8T19qu4wYC6eDMrQKfF1V8Is7mw');
  });

  it('separates types and keys: the same canonical text under another type or key differs', () => {
    const other = epochKey(Uint8Array.from({ length: 32 }, (_, i) => i ^ 0xff));
    expect(deriveDigest(KEY, 'name', 'acme')).not.toBe(deriveDigest(KEY, 'address', 'acme'));
    expect(deriveDigest(KEY, 'name', 'acme')).not.toBe(deriveDigest(other, 'name', 'acme'));
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => epochKey(new Uint8Array(16))).toThrow(/32 bytes/);
  });
});

describe('indicators of a record (docs/architecture.md, "Records, refs and indicators")', () => {
  const record: IndicatorSource = {
    ref: 'AAECAwQFBgcICQoLDA0ODw',
    identifiers: [
      { type: 'email', canonical: 'seller@example.com' },
      { type: 'email', canonical: 'seller@example.com' },
      { type: 'phone', canonical: '+8613800138000' },
    ],
    categories: ['TRADEMARK', 'COUNTERFEIT'],
    status: 'CONFIRMED',
    confidence: 80,
    createdAt: '2026-03-04T10:11:12.000Z',
  };
  const now = new Date('2026-11-25T08:00:00.500Z');

  it('gives one add per distinct identifier, carrying the ref and the record facts, and no raw value', () => {
    const out = indicatorsOf(record, { epochKey: KEY, lifetimeDays: 30, now });
    expect(out).toEqual([
      {
        type: 'email',
        digest: 'X552HDGHD5ilRs-pe4RtYkj89bC__Cn14Z3TN5gJ0oQ',
        op: 'add',
        ref: 'AAECAwQFBgcICQoLDA0ODw',
        categories: ['COUNTERFEIT', 'TRADEMARK'],
        status: 'CONFIRMED',
        confidence: 80,
        firstSeen: '2026-03-04',
        expiresAt: '2026-12-25T08:00:00Z',
      },
      expect.objectContaining({ type: 'phone', digest: 'NMXObMKV1f_LVZit8T19qu4wYC6eDMrQKfF1V8Is7mw', op: 'add' }),
    ]);
    const text = JSON.stringify(out);
    for (const raw of ['Seller@Example.com', 'seller@example.com', '8613800138000']) expect(text).not.toContain(raw);
  });

  it('retracts for a CLEARED record and when asked to (deletion)', () => {
    expect(indicatorsOf({ ...record, status: 'CLEARED' }, { epochKey: KEY, lifetimeDays: 30, now }).map((i) => i.op)).toEqual(['retract', 'retract']);
    expect(indicatorsOf(record, { epochKey: KEY, lifetimeDays: 30, now }, 'retract').map((i) => i.op)).toEqual(['retract', 'retract']);
  });
});

describe('indicators in a signed batch', () => {
  it('what indicatorsOf makes is canonical for the wire format: it signs and verifies unchanged', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { signBatch, verifyBatch } = await import('../../../node/indicators/batch.ts');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const items = indicatorsOf(
      {
        ref: 'AAECAwQFBgcICQoLDA0ODw',
        identifiers: [{ type: 'ip', canonical: '192.0.2.1' }],
        categories: ['TRADEMARK', 'GREY_MARKET', 'COUNTERFEIT'],
        status: 'SUSPECTED',
        confidence: 55,
        createdAt: '2026-11-25T08:00:00.123Z',
      },
      { epochKey: KEY, lifetimeDays: 365, now: new Date('2026-11-25T08:00:00.987Z') },
    );
    const batch = { v: 1 as const, alliance: 'a1', origin: 'm1', kid: 'k1', epoch: 1, seq: 1, prev: null, createdAt: '2026-11-25T08:00:00Z', items };
    const jws = await signBatch(batch, { privateKey, kid: 'k1' });
    const verified = await verifyBatch(jws, { alliance: 'a1', resolveKey: (kid) => (kid === 'k1' ? publicKey : undefined) });
    expect(verified.batch.items).toEqual(items);
  });
});
