import fs from 'node:fs';
import path from 'node:path';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { encodeEntry, entryHash, replay, serializeSignedEntry, signEntry, type RosterEntry } from '../../../node/membership/roster.ts';

/**
 * The fixed test vector of schema/roster.md §8 (test/vectors/roster.json), recomputed byte for byte:
 * a change to the payload encoding, the signature header, the serialisation or the chain hash fails
 * here, and must then be a new format version, not a silent change.
 */
interface Vector {
  alliance: string;
  admins: (JWK & { kid: string; name: string })[];
  entries: { entry: RosterEntry; signers: number[]; payload: string; signed: string; hash: string }[];
  state: { seq: number; head: string; quorum: number; epoch: number };
}

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../vectors/roster.json');
const vector = JSON.parse(fs.readFileSync(file, 'utf8')) as Vector;

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

describe('roster test vector (schema/roster.md)', async () => {
  const signers = await Promise.all(vector.admins.map(async (a) => ({ kid: a.kid, privateKey: (await importJWK({ kty: a.kty, crv: a.crv, d: a.d, x: a.x }, 'EdDSA')) as CryptoKey })));

  it('is a genesis with 3 admins and quorum 2, then a member.add signed by 2 of them, chained', () => {
    const [g, add] = vector.entries as [Vector['entries'][0], Vector['entries'][0]];
    expect(g.entry).toMatchObject({ seq: 0, prev: null, type: 'genesis', body: { quorum: 2 } });
    expect((g.entry.body as { admins: unknown[] }).admins).toHaveLength(3);
    expect(add.entry).toMatchObject({ seq: 1, prev: g.hash, type: 'member.add' });
    expect(add.signers).toHaveLength(2);
  });

  for (const [n, v] of vector.entries.entries()) {
    describe(`entry ${n} (${v.entry.type})`, () => {
      it('encodes to exactly the payload bytes, whose SHA-256 is the hash', async () => {
        const bytes = await encodeEntry(v.entry);
        expect(Buffer.from(bytes).toString('utf8')).toBe(v.payload);
        expect(entryHash(bytes)).toBe(v.hash);
        expect(createHash('sha256').update(v.payload, 'utf8').digest('base64url')).toBe(v.hash);
      });

      it('signs to exactly the General JSON JWS', async () => {
        const signed = await signEntry(v.entry, v.signers.map((i) => signers[i]!));
        expect(serializeSignedEntry(signed)).toBe(v.signed);
      });

      it('is reproducible without this code: RFC 8785 payload, plain Ed25519 over protected.payload', () => {
        expect(JSON.stringify(sortKeys(JSON.parse(v.payload)))).toBe(v.payload);
        const jws = JSON.parse(v.signed) as { payload: string; signatures: { protected: string; signature: string }[] };
        expect(Buffer.from(jws.payload, 'base64url').toString('utf8')).toBe(v.payload);
        jws.signatures.forEach((s, i) => {
          const admin = vector.admins[v.signers[i]!]!;
          expect(JSON.parse(Buffer.from(s.protected, 'base64url').toString('utf8'))).toEqual({ alg: 'EdDSA', kid: admin.kid, typ: 'alliance-roster+jws' });
          const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: admin.x! }, format: 'jwk' });
          expect(verify(null, Buffer.from(`${s.protected}.${jws.payload}`, 'latin1'), key, Buffer.from(s.signature, 'base64url'))).toBe(true);
        });
      });
    });
  }

  it('replays to the expected state', async () => {
    const s = await replay(vector.entries.map((e) => e.signed), { alliance: vector.alliance, genesis: vector.entries[0]!.hash });
    expect({ seq: s.seq, head: s.head, quorum: s.quorum, epoch: s.epoch }).toEqual(vector.state);
    expect(s.members.map((m) => [m.id, m.status, m.signingKeys[0]!.validFrom])).toEqual([['member-a', 'ACTIVE', '2026-03-01T10:00:00Z']]);
  });

  it('is the vector printed in schema/roster.md', () => {
    const spec = fs.readFileSync(path.join(path.dirname(file), '../../schema/roster.md'), 'utf8');
    for (const a of vector.admins) for (const s of [a.d!, a.x!, a.kid]) expect(spec).toContain(s);
    for (const e of vector.entries) {
      for (const line of [e.payload, e.signed]) expect(spec).toContain(`\n${line}\n`);
      expect(spec).toContain(`Entry hash: \`${e.hash}\``);
    }
  });
});
