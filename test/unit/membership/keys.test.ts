import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, CompactSign, compactVerify, importJWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/cli.ts';
import {
  encryptionKeyFor,
  generateAdminKey,
  initMemberIdentity,
  KeyError,
  loadAdminKey,
  loadMemberIdentity,
  memberIdentityPath,
  membershipRequest,
  peerFor,
  rotateMemberKeys,
  signingKeyFor,
  validateMemberProfile,
} from '../../../node/membership/keys.ts';
import { unwrapEpochKey, wrapEpochKey } from '../../../node/membership/epoch-keys.ts';

const dirs: Array<() => void> = [];
function dataDir(): string {
  const t = tempDir('alliance-keys-');
  dirs.push(t.remove);
  return path.join(t.dir, 'data');
}
afterEach(() => {
  while (dirs.length) dirs.pop()!();
});

const mode = (p: string) => fs.statSync(p).mode & 0o777;

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(KeyError);
    expect((err as KeyError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('member identity', () => {
  it('creates owner-only keys and returns the public membership request', async () => {
    const dir = dataDir();
    const req = await initMemberIdentity(dir, { id: 'acme.cn', name: ' Acme  ', kind: 'platform', country: 'cn', addrs: ['/dns4/node.acme.example/tcp/4001'] });
    expect(req).toMatchObject({ id: 'acme.cn', name: 'Acme', kind: 'PLATFORM', country: 'CN', addrs: ['/dns4/node.acme.example/tcp/4001'] });
    expect(req.peerId).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/);
    expect(req.signingKeys).toHaveLength(1);
    const [sk] = req.signingKeys;
    expect(Object.keys(sk!.jwk).sort()).toEqual(['crv', 'kty', 'x']);
    expect(sk!.jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(sk!.kid).toBe(await calculateJwkThumbprint(sk!.jwk));
    expect(Date.parse(sk!.validFrom)).not.toBeNaN();
    expect(Object.keys(req.encryptionKey.jwk).sort()).toEqual(['crv', 'kty', 'x']);
    expect(req.encryptionKey.jwk.crv).toBe('X25519');
    expect(req.encryptionKey.kid).toBe(await calculateJwkThumbprint(req.encryptionKey.jwk));
    expect(JSON.stringify(req)).not.toContain('"d"');

    const file = memberIdentityPath(dir);
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['member.json']);
  });

  it('loads the same identity back, and its keys work', async () => {
    const dir = dataDir();
    const req = await initMemberIdentity(dir, { id: 'm1', name: 'Member one' });
    expect(req).toMatchObject({ kind: 'OTHER', country: 'ZZ', addrs: [] });
    const id = await loadMemberIdentity(dir);
    expect(membershipRequest(id)).toEqual(req);
    expect(id.peer.peerId).toBe(req.peerId);
    expect(id.encryptionKey.privateJwk.d).toEqual(expect.any(String));
    const jws = await new CompactSign(new TextEncoder().encode('hello'))
      .setProtectedHeader({ alg: 'EdDSA', kid: id.signingKey.kid })
      .sign(id.signingKey.privateKey);
    const { payload } = await compactVerify(jws, await importJWK(req.signingKeys[0]!.jwk, 'EdDSA'));
    expect(new TextDecoder().decode(payload)).toBe('hello');
    const sig = await id.peer.privateKey.sign(new TextEncoder().encode('x'));
    expect(await id.peer.privateKey.publicKey.verify(new TextEncoder().encode('x'), sig)).toBe(true);
  });

  it('never overwrites an existing identity, even when two inits race', async () => {
    const dir = dataDir();
    const results = await Promise.allSettled([
      initMemberIdentity(dir, { id: 'a', name: 'A' }),
      initMemberIdentity(dir, { id: 'b', name: 'B' }),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    const before = fs.readFileSync(memberIdentityPath(dir), 'utf8');
    await expectCode(initMemberIdentity(dir, { id: 'c', name: 'C' }), 'IDENTITY_EXISTS');
    expect(fs.readFileSync(memberIdentityPath(dir), 'utf8')).toBe(before);
    expect(fs.readdirSync(path.dirname(memberIdentityPath(dir)))).toEqual(['member.json']);
  });

  it('reports a missing or damaged identity', async () => {
    const dir = dataDir();
    await expectCode(loadMemberIdentity(dir), 'IDENTITY_MISSING');
    await initMemberIdentity(dir, { id: 'm', name: 'M' });
    const file = memberIdentityPath(dir);
    const content = JSON.parse(fs.readFileSync(file, 'utf8'));
    content.signingKeys[0].jwk.kid = 'not-the-thumbprint';
    fs.writeFileSync(file, JSON.stringify(content));
    await expectCode(loadMemberIdentity(dir), 'IDENTITY_INVALID');
    fs.writeFileSync(file, '{');
    await expectCode(loadMemberIdentity(dir), 'IDENTITY_INVALID');
  });

  it('validates the profile with a clear reason', async () => {
    const ok = { id: 'x', name: 'X' };
    expect(validateMemberProfile({ ...ok, id: 'A-z0.9_:-'.padEnd(128, 'a') }).id).toHaveLength(128);
    await expectCode(() => validateMemberProfile({ ...ok, id: 'a'.repeat(129) }), 'MEMBER_ID_INVALID');
    await expectCode(() => validateMemberProfile({ ...ok, id: 'a b' }), 'MEMBER_ID_INVALID');
    await expectCode(() => validateMemberProfile({ ...ok, id: '' }), 'MEMBER_ID_INVALID');
    await expectCode(() => validateMemberProfile({ ...ok, name: '   ' }), 'MEMBER_NAME_INVALID');
    await expectCode(() => validateMemberProfile({ ...ok, name: 'x'.repeat(201) }), 'MEMBER_NAME_INVALID');
    await expectCode(() => validateMemberProfile({ ...ok, name: 'a\nb' }), 'MEMBER_NAME_INVALID');
    await expectCode(() => validateMemberProfile({ ...ok, kind: 'BRAND' }), 'MEMBER_KIND_INVALID');
    expect(validateMemberProfile({ ...ok, kind: 'rights-holder' }).kind).toBe('RIGHTS_HOLDER');
    await expectCode(() => validateMemberProfile({ ...ok, country: 'XX' }), 'COUNTRY_INVALID');
    await expectCode(() => validateMemberProfile({ ...ok, country: 'DEU' }), 'COUNTRY_INVALID');
    expect(validateMemberProfile({ ...ok, country: 'uk' }).country).toBe('GB');
    await expectCode(() => validateMemberProfile({ ...ok, addrs: ['not-an-addr'] }), 'ADDR_INVALID');
    await expectCode(() => validateMemberProfile({ ...ok, addrs: ['/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWJ4HNAsK93JA5V4pb58abjVZDWDVK8XRBW6EJj27ogZvb'] }), 'ADDR_INVALID');
    expect(validateMemberProfile({ ...ok, addrs: ['/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.4/tcp/1'] }).addrs).toEqual(['/ip4/1.2.3.4/tcp/1']);
    // Nothing is written for an invalid profile.
    const dir = dataDir();
    await expectCode(initMemberIdentity(dir, { ...ok, kind: 'nope' }), 'MEMBER_KIND_INVALID');
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('member key rotation in place', () => {
  it('appends a signing key and keeps the encryption and peer keys unless asked', async () => {
    const dir = dataDir();
    const first = await initMemberIdentity(dir, { id: 'm', name: 'M', addrs: ['/dns4/m.example/tcp/4001'] });
    const r = await rotateMemberKeys(dir);
    expect(r.previousSigningKid).toBe(first.signingKeys[0]!.kid);
    expect(r).toMatchObject({ encryptionKid: undefined, peerId: undefined });
    expect(r.request).toEqual({ ...first, signingKeys: [expect.objectContaining({ kid: r.signingKid })] });
    expect(Date.parse(r.request.signingKeys[0]!.validFrom)).toBeGreaterThanOrEqual(Date.parse(first.signingKeys[0]!.validFrom));
    const id = await loadMemberIdentity(dir);
    expect(id.signingKeys.map((k) => k.kid)).toEqual([first.signingKeys[0]!.kid, r.signingKid]);
    expect(id.signingKey.kid).toBe(r.signingKid);
    expect(id.encryptionKeys).toHaveLength(1);
    expect(id.peers).toHaveLength(1);
    expect(membershipRequest(id)).toEqual(r.request);
    expect(mode(memberIdentityPath(dir))).toBe(0o600);
    expect(fs.readdirSync(path.dirname(memberIdentityPath(dir)))).toEqual(['member.json']);
    await expectCode(rotateMemberKeys(dataDir()), 'IDENTITY_MISSING');
  });

  it('picks the keys the roster lists, and unwraps with a replaced encryption key', async () => {
    const dir = dataDir();
    const first = await initMemberIdentity(dir, { id: 'm', name: 'M' });
    const ctx = { alliance: 'a', epoch: 4 };
    const epochKey = new Uint8Array(32).fill(7);
    const wrappedToOld = await wrapEpochKey(epochKey, first.encryptionKey, ctx);
    const r = await rotateMemberKeys(dir, { encryption: true, peer: true });
    const id = await loadMemberIdentity(dir);
    const roster = (signing: Array<[string, string | null]>, enc: string, peerId: string) => ({
      signingKeys: signing.map(([kid, validUntil]) => ({ kid, validUntil })),
      encryptionKey: { kid: enc },
      peerId,
    });
    const before = roster([[first.signingKeys[0]!.kid, null]], first.encryptionKey.kid, first.peerId);
    expect(signingKeyFor(id, before)?.kid).toBe(first.signingKeys[0]!.kid);
    expect(peerFor(id, before)?.peerId).toBe(first.peerId);
    const after = roster([[first.signingKeys[0]!.kid, '2026-03-01T00:00:00Z'], [r.signingKid, null]], r.encryptionKid!, r.peerId!);
    expect(signingKeyFor(id, after)?.kid).toBe(r.signingKid);
    expect(peerFor(id, after)?.peerId).toBe(r.peerId);
    // Not admitted yet: the newest keys; keys held elsewhere: none of ours.
    expect(signingKeyFor(id, undefined)?.kid).toBe(r.signingKid);
    expect(peerFor(id, undefined)?.peerId).toBe(r.peerId);
    const elsewhere = roster([['someone-elses-kid', null]], 'x', '12D3KooWelsewhere');
    expect(signingKeyFor(id, elsewhere)).toBeUndefined();
    expect(peerFor(id, elsewhere)).toBeUndefined();

    const old = encryptionKeyFor(id, first.encryptionKey.kid);
    expect(old?.kid).toBe(first.encryptionKey.kid);
    expect(await unwrapEpochKey(wrappedToOld, old!.privateJwk, ctx)).toEqual(epochKey);
    expect(encryptionKeyFor(id, r.encryptionKid!)?.kid).toBe(id.encryptionKey.kid);
    expect(encryptionKeyFor(id, 'unknown')).toBeUndefined();
    await expect(unwrapEpochKey(wrappedToOld, id.encryptionKey.privateJwk, ctx)).rejects.toMatchObject({ code: 'EPOCH_KEY_WRONG_RECIPIENT' });
  });

  it('refuses a file whose kept keys are damaged', async () => {
    const dir = dataDir();
    await initMemberIdentity(dir, { id: 'm', name: 'M' });
    await rotateMemberKeys(dir, { encryption: true, peer: true });
    const file = memberIdentityPath(dir);
    const good = fs.readFileSync(file, 'utf8');
    for (const damage of [
      (c: Record<string, unknown>) => (c.previousEncryptionKeys = 'nope'),
      (c: Record<string, unknown>) => ((c.previousEncryptionKeys as Array<Record<string, unknown>>)[0]!.kid = 'x'),
      (c: Record<string, unknown>) => (c.previousPeerKeys = ['bm90IGEga2V5']),
    ]) {
      const c = JSON.parse(good) as Record<string, unknown>;
      damage(c);
      fs.writeFileSync(file, JSON.stringify(c));
      await expectCode(loadMemberIdentity(dir), 'IDENTITY_INVALID');
      await expectCode(rotateMemberKeys(dir), 'IDENTITY_INVALID');
    }
  });
});

describe('admin keys', () => {
  it('writes an owner-only private JWK and returns the public AdminKey', async () => {
    const dir = dataDir();
    const file = path.join(dir, 'admins', 'alice.jwk');
    const pub = await generateAdminKey(file, { name: 'Alice (ops)' });
    expect(pub).toEqual({ kid: expect.any(String), jwk: { kty: 'OKP', crv: 'Ed25519', x: expect.any(String) }, name: 'Alice (ops)' });
    expect(pub.kid).toBe(await calculateJwkThumbprint(pub.jwk));
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(stored).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: pub.kid, d: expect.any(String), name: 'Alice (ops)' });

    const loaded = await loadAdminKey(file);
    expect(loaded.public).toEqual(pub);
    const jws = await new CompactSign(new Uint8Array([1, 2, 3])).setProtectedHeader({ alg: 'EdDSA', kid: pub.kid }).sign(loaded.privateKey);
    await expect(compactVerify(jws, await importJWK(pub.jwk, 'EdDSA'))).resolves.toBeTruthy();
  });

  it('never overwrites a key file, and checks what it loads', async () => {
    const dir = dataDir();
    const file = path.join(dir, 'a.jwk');
    const pub = await generateAdminKey(file);
    expect(pub).not.toHaveProperty('name');
    const before = fs.readFileSync(file, 'utf8');
    await expectCode(generateAdminKey(file), 'ADMIN_KEY_EXISTS');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    await expectCode(generateAdminKey(path.join(dir, 'b.jwk'), { name: '' }), 'ADMIN_NAME_INVALID');
    await expectCode(loadAdminKey(path.join(dir, 'missing.jwk')), 'ADMIN_KEY_MISSING');
    const other = await generateAdminKey(path.join(dir, 'c.jwk'));
    const tampered = { ...JSON.parse(before), x: other.jwk.x };
    fs.writeFileSync(path.join(dir, 't.jwk'), JSON.stringify(tampered));
    await expectCode(loadAdminKey(path.join(dir, 't.jwk')), 'ADMIN_KEY_INVALID');
    fs.writeFileSync(path.join(dir, 'pub.jwk'), JSON.stringify({ ...pub.jwk, kid: pub.kid }));
    await expectCode(loadAdminKey(path.join(dir, 'pub.jwk')), 'ADMIN_KEY_INVALID');
  });
});
