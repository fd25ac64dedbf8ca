import fs from 'node:fs';
import path from 'node:path';
import { createHmac, createPublicKey, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { batchHash, encodeBatch, signBatch, verifyBatch, type Batch } from '../../../node/indicators/batch.ts';

/**
 * The fixed test vector of schema/wire.md (test/vectors/batch.json). Everything is recomputed and
 * compared byte for byte: a change to the payload encoding, the header, the signing input or the hash
 * fails here, and must then be a new format version, not a silent change.
 */
interface Vector {
  key: JWK & { kid: string };
  alliance: string;
  batches: { batch: Batch; payload: string; header: string; jws: string; hash: string }[];
}

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../vectors/batch.json');
const vector = JSON.parse(fs.readFileSync(file, 'utf8')) as Vector;

describe('batch test vector (schema/wire.md)', async () => {
  const privateKey = (await importJWK(vector.key, 'EdDSA')) as CryptoKey;
  const { d: _d, ...pub } = vector.key;
  const publicKey = (await importJWK(pub, 'EdDSA')) as CryptoKey;

  it('has a first batch with prev null and a second chained to it, with an add and a retract', () => {
    const [b1, b2] = vector.batches;
    expect(b1!.batch.seq).toBe(1);
    expect(b1!.batch.prev).toBeNull();
    expect(b2!.batch.seq).toBe(2);
    expect(b2!.batch.prev).toBe(b1!.hash);
    expect(new Set(b2!.batch.items.map((i) => i.op))).toEqual(new Set(['add', 'retract']));
  });

  for (const [n, v] of vector.batches.entries()) {
    describe(`batch ${n + 1}`, () => {
      it('encodes to exactly the expected payload bytes', () => {
        expect(Buffer.from(encodeBatch(v.batch)).toString('latin1')).toBe(v.payload);
      });

      it('signs to exactly the expected compact JWS, whose hash is the expected one', async () => {
        const jws = await signBatch(v.batch, { privateKey, kid: vector.key.kid });
        expect(jws).toBe(v.jws);
        const [h, p] = jws.split('.');
        expect(Buffer.from(h!, 'base64url').toString('latin1')).toBe(v.header);
        expect(Buffer.from(p!, 'base64url').toString('latin1')).toBe(v.payload);
        expect(batchHash(jws)).toBe(v.hash);
        expect(batchHash(Buffer.from(jws, 'latin1'))).toBe(v.hash);
      });

      it('verifies, returning the batch and its hash', async () => {
        const out = await verifyBatch(v.jws, { alliance: vector.alliance, resolveKey: (kid) => (kid === vector.key.kid ? { key: publicKey, origin: 'member-a' } : undefined) });
        expect(out).toEqual({ batch: v.batch, hash: v.hash, jws: v.jws });
      });

      it('is reproducible without this code: plain Ed25519 over header.payload, SHA-256 of the JWS', () => {
        const [h, p, s] = v.jws.split('.');
        const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: vector.key.x! }, format: 'jwk' });
        expect(verify(null, Buffer.from(`${h}.${p}`, 'latin1'), key, Buffer.from(s!, 'base64url'))).toBe(true);
        // The payload is RFC 8785: members sorted, no whitespace.
        expect(JSON.stringify(sortKeys(JSON.parse(v.payload)))).toBe(v.payload);
      });
    });
  }

  it('is the vector printed in schema/wire.md', () => {
    const spec = fs.readFileSync(path.join(path.dirname(file), '../../schema/wire.md'), 'utf8');
    const { d, x, kid } = vector.key;
    for (const s of [d!, x!, kid]) expect(spec).toContain(s);
    for (const b of vector.batches) {
      // Header, payload and JWS each as a whole line of a code block; the hash in backquotes.
      for (const line of [b.header, b.payload, b.jws]) expect(spec).toContain(`\n${line}\n`);
      expect(spec).toContain(`Batch hash: \`${b.hash}\``);
    }
  });

  it('states digests that follow schema/wire.md §2 with the documented example key', () => {
    const K = Uint8Array.from({ length: 32 }, (_, i) => i);
    const deriveDigest = (key: Uint8Array, type: string, c: string) => createHmac('sha256', key).update(`alliance:v1:${type}:${c}`).digest('base64url');
    const items = vector.batches.flatMap((b) => b.batch.items);
    const canonical: Record<string, string> = { email: 'seller@example.com', phone: '+8613800138000', domain: 'example-shop.com' };
    for (const item of items) expect(item.digest).toBe(deriveDigest(K, item.type, canonical[item.type]!));
  });
});

function sortKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sortKeys);
  if (x && typeof x === 'object') {
    return Object.fromEntries(
      Object.keys(x)
        .sort()
        .map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]),
    );
  }
  return x;
}
