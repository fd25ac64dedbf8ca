import fs from 'node:fs';
import path from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/cli.ts';
import { initMemberIdentity, loadMemberIdentity, type MemberIdentity } from '../../../node/membership/keys.ts';
import {
  EpochKeyError,
  epochKeyPath,
  loadEpochKeys,
  newEpochKey,
  readWrappedEpochKeyHeader,
  saveEpochKey,
  unwrapEpochKey,
  wrapEpochKey,
} from '../../../node/membership/epoch-keys.ts';
import type { MembershipRequest } from '../../../node/membership/types.ts';

const dirs: Array<() => void> = [];
function dataDir(): string {
  const t = tempDir('alliance-epoch-');
  dirs.push(t.remove);
  return t.dir;
}
afterEach(() => {
  while (dirs.length) dirs.pop()!();
});

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(EpochKeyError);
    expect((err as EpochKeyError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

const CTX = { alliance: 'acg', epoch: 3 };
let a: { id: MemberIdentity; req: MembershipRequest };
let b: { id: MemberIdentity; req: MembershipRequest };

beforeAll(async () => {
  const make = async (name: string) => {
    const t = tempDir('alliance-epoch-member-');
    dirs.push(t.remove);
    const req = await initMemberIdentity(t.dir, { id: name, name });
    return { id: await loadMemberIdentity(t.dir), req };
  };
  a = await make('a');
  b = await make('b');
});

/** Replaces one base64url part of a compact JWE. */
function withPart(jwe: string, index: number, f: (bytes: Buffer) => Buffer): string {
  const parts = jwe.split('.');
  parts[index] = f(Buffer.from(parts[index]!, 'base64url')).toString('base64url');
  return parts.join('.');
}

describe('epoch key wrapping', () => {
  it('a fresh key is 32 random bytes', () => {
    const k1 = newEpochKey();
    expect(k1).toBeInstanceOf(Uint8Array);
    expect(k1).toHaveLength(32);
    expect(Buffer.from(newEpochKey()).equals(Buffer.from(k1))).toBe(false);
  });

  it('wraps to a member, who unwraps it; the header names recipient, alliance and epoch', async () => {
    const key = newEpochKey();
    const jwe = await wrapEpochKey(key, a.req.encryptionKey, CTX);
    expect(jwe.split('.')).toHaveLength(5);
    expect(decodeProtectedHeader(jwe)).toMatchObject({
      alg: 'ECDH-ES+A256KW',
      enc: 'A256GCM',
      typ: 'alliance-epoch-key+jwe',
      kid: a.req.encryptionKey.kid,
      alliance: 'acg',
      epoch: 3,
    });
    expect(readWrappedEpochKeyHeader(jwe)).toEqual({ kid: a.req.encryptionKey.kid, alliance: 'acg', epoch: 3 });
    const out = await unwrapEpochKey(jwe, a.id.encryptionKey.privateJwk, CTX);
    expect(Buffer.from(out).equals(Buffer.from(key))).toBe(true);
    // Two wraps of the same key differ (fresh ephemeral key each time).
    expect(await wrapEpochKey(key, a.req.encryptionKey, CTX)).not.toBe(jwe);
  });

  it('another member cannot unwrap it', async () => {
    const jwe = await wrapEpochKey(newEpochKey(), a.req.encryptionKey, CTX);
    await expectCode(unwrapEpochKey(jwe, b.id.encryptionKey.privateJwk, CTX), 'EPOCH_KEY_WRONG_RECIPIENT');
    // Even with the kid in the header rewritten to B's, authentication fails.
    const relabelled = withPart(jwe, 0, (h) => Buffer.from(JSON.stringify({ ...JSON.parse(h.toString()), kid: b.req.encryptionKey.kid })));
    await expectCode(unwrapEpochKey(relabelled, b.id.encryptionKey.privateJwk, CTX), 'EPOCH_KEY_TAMPERED');
  });

  it('refuses a key wrapped for another epoch or alliance, and a header rewritten to match', async () => {
    const jwe = await wrapEpochKey(newEpochKey(), a.req.encryptionKey, CTX);
    await expectCode(unwrapEpochKey(jwe, a.id.encryptionKey.privateJwk, { ...CTX, epoch: 4 }), 'EPOCH_KEY_WRONG_EPOCH');
    await expectCode(unwrapEpochKey(jwe, a.id.encryptionKey.privateJwk, { ...CTX, alliance: 'other' }), 'EPOCH_KEY_WRONG_ALLIANCE');
    const replayed = withPart(jwe, 0, (h) => Buffer.from(JSON.stringify({ ...JSON.parse(h.toString()), epoch: 4 })));
    await expectCode(unwrapEpochKey(replayed, a.id.encryptionKey.privateJwk, { ...CTX, epoch: 4 }), 'EPOCH_KEY_TAMPERED');
  });

  it('refuses a tampered or malformed JWE', async () => {
    const jwe = await wrapEpochKey(newEpochKey(), a.req.encryptionKey, CTX);
    const flip = (bytes: Buffer) => {
      const c = Buffer.from(bytes);
      c[0]! ^= 1;
      return c;
    };
    for (const part of [1, 2, 3, 4]) {
      await expectCode(unwrapEpochKey(withPart(jwe, part, flip), a.id.encryptionKey.privateJwk, CTX), 'EPOCH_KEY_TAMPERED');
    }
    await expectCode(unwrapEpochKey('not.a.jwe', a.id.encryptionKey.privateJwk, CTX), 'EPOCH_KEY_MALFORMED');
    const dir = withPart(jwe, 0, (h) => Buffer.from(JSON.stringify({ ...JSON.parse(h.toString()), alg: 'dir' })));
    await expectCode(unwrapEpochKey(dir, a.id.encryptionKey.privateJwk, CTX), 'EPOCH_KEY_MALFORMED');
  });

  it('refuses keys that are not 32 bytes, and recipients that are not public X25519 keys', async () => {
    await expectCode(wrapEpochKey(new Uint8Array(16), a.req.encryptionKey, CTX), 'EPOCH_KEY_LENGTH');
    // A wrapped 16-byte key (made by someone else's tooling) is refused on unwrap.
    const { CompactEncrypt, importJWK } = await import('jose');
    const short = await new CompactEncrypt(new Uint8Array(16))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', typ: 'alliance-epoch-key+jwe', kid: a.req.encryptionKey.kid, ...CTX })
      .encrypt(await importJWK(a.req.encryptionKey.jwk, 'ECDH-ES+A256KW'));
    await expectCode(unwrapEpochKey(short, a.id.encryptionKey.privateJwk, CTX), 'EPOCH_KEY_LENGTH');
    await expectCode(wrapEpochKey(newEpochKey(), { kid: 'x', jwk: a.req.encryptionKey.jwk }, CTX), 'EPOCH_KEY_RECIPIENT_INVALID');
    await expectCode(wrapEpochKey(newEpochKey(), { kid: a.req.signingKeys[0]!.kid, jwk: a.req.signingKeys[0]!.jwk }, CTX), 'EPOCH_KEY_RECIPIENT_INVALID');
    await expectCode(wrapEpochKey(newEpochKey(), a.req.encryptionKey, { alliance: 'acg', epoch: -1 }), 'EPOCH_INVALID');
  });
});

describe('stored epoch keys', () => {
  it('saves owner-only files and loads them back in epoch order', async () => {
    const dir = dataDir();
    expect(loadEpochKeys(dir)).toEqual([]);
    const k2 = newEpochKey();
    const k10 = newEpochKey();
    expect(saveEpochKey(dir, { alliance: 'acg', epoch: 10, key: k10 }).created).toBe(true);
    expect(saveEpochKey(dir, { alliance: 'acg', epoch: 2, key: k2 }).created).toBe(true);
    const file = epochKeyPath(dir, 2);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const loaded = loadEpochKeys(dir, { alliance: 'acg' });
    expect(loaded.map((k) => k.epoch)).toEqual([2, 10]);
    expect(Buffer.from(loaded[0]!.key).equals(Buffer.from(k2))).toBe(true);
    expect(loadEpochKeys(dir, { alliance: 'other' })).toEqual([]);
    expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['10.json', '2.json']);
  });

  it('saving the same key again is a no-op; a different key for a stored epoch is a conflict', async () => {
    const dir = dataDir();
    const key = newEpochKey();
    saveEpochKey(dir, { alliance: 'acg', epoch: 1, key });
    expect(saveEpochKey(dir, { alliance: 'acg', epoch: 1, key: new Uint8Array(key) }).created).toBe(false);
    await expectCode(() => saveEpochKey(dir, { alliance: 'acg', epoch: 1, key: newEpochKey() }), 'EPOCH_KEY_CONFLICT');
    await expectCode(() => saveEpochKey(dir, { alliance: 'other', epoch: 1, key }), 'EPOCH_KEY_CONFLICT');
    expect(Buffer.from(loadEpochKeys(dir)[0]!.key).equals(Buffer.from(key))).toBe(true);
  });

  it('wrap, unwrap, save: the path a node takes for its own epoch key', async () => {
    const dir = dataDir();
    const key = newEpochKey();
    const jwe = await wrapEpochKey(key, a.req.encryptionKey, CTX);
    saveEpochKey(dir, { ...CTX, key: await unwrapEpochKey(jwe, a.id.encryptionKey.privateJwk, CTX) });
    expect(loadEpochKeys(dir, { alliance: 'acg' })).toEqual([{ alliance: 'acg', epoch: 3, key }]);
  });
});
