import { calculateJwkThumbprint, CompactEncrypt, exportJWK, generateKeyPair, type JWK } from 'jose';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  activeMembers,
  addSignature,
  applyEntry,
  canonicalJson,
  createGenesis,
  createProposal,
  entryHash,
  findSigningKey,
  isRosterError,
  parseSignedEntry,
  proposeEntry,
  replay,
  ROSTER_ERROR_REASONS,
  serializeSignedEntry,
  signEntry,
  signingKeyValidAt,
  type EntryProposal,
  type RosterErrorReason,
  type RosterState,
  type SignedEntry,
  type SignerOptions,
} from '../../../node/membership/roster.ts';
import type { AdminKey, MembershipRequest } from '../../../node/membership/types.ts';

// ---- fixtures -------------------------------------------------------------------------------

interface Admin extends SignerOptions {
  key: AdminKey;
}

async function okpKey(alg: 'EdDSA' | 'ECDH-ES') {
  const { publicKey, privateKey } = await generateKeyPair(alg, alg === 'ECDH-ES' ? { crv: 'X25519', extractable: true } : { extractable: true });
  const full = await exportJWK(publicKey);
  const jwk: JWK = { kty: 'OKP', crv: full.crv!, x: full.x! };
  return { kid: await calculateJwkThumbprint(jwk), jwk, publicKey, privateKey };
}

async function newAdmin(name: string): Promise<Admin> {
  const k = await okpKey('EdDSA');
  return { kid: k.kid, privateKey: k.privateKey, key: { kid: k.kid, jwk: k.jwk, name } };
}

interface MemberKeys {
  request: MembershipRequest;
  signing: Awaited<ReturnType<typeof okpKey>>;
  encryption: Awaited<ReturnType<typeof okpKey>>;
}

let peerCounter = 0;
function peerId(): string {
  peerCounter += 1;
  return `12D3KooWTestPeer${String(peerCounter).padStart(4, '1').replace(/0/g, 'z')}`;
}

async function newMember(id: string): Promise<MemberKeys> {
  const signing = await okpKey('EdDSA');
  const encryption = await okpKey('ECDH-ES');
  return {
    signing,
    encryption,
    request: {
      id,
      name: `Member ${id}`,
      kind: 'RIGHTS_HOLDER',
      country: 'FR',
      signingKeys: [{ kid: signing.kid, jwk: signing.jwk, validFrom: '2026-03-01T08:00:00.000Z' }],
      encryptionKey: { kid: encryption.kid, jwk: encryption.jwk },
      peerId: peerId(),
      addrs: [`/dns4/${id}.example/tcp/4001`],
    },
  };
}

/** A real compact JWE (ECDH-ES+A256KW / A256GCM) of 32 bytes to the member's X25519 key. */
async function wrapFor(m: MemberKeys, kid = m.encryption.kid): Promise<string> {
  return new CompactEncrypt(new Uint8Array(32).fill(7))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid })
    .encrypt(m.encryption.publicKey);
}

let clock = Date.parse('2026-03-01T09:00:00Z');
function tick(): string {
  clock += 60_000;
  return new Date(clock).toISOString().slice(0, 19) + 'Z';
}

async function propose(state: RosterState, p: EntryProposal, signers: Admin[]): Promise<SignedEntry> {
  const entry = await proposeEntry(state, { createdAt: tick(), ...p } as EntryProposal);
  return signEntry(entry, signers);
}

async function expectReason(p: Promise<unknown>, reason: RosterErrorReason): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected RosterError ${reason}`).toBeDefined();
  if (!isRosterError(err)) throw err;
  expect({ reason: err.reason, message: err.message }).toMatchObject({ reason });
  expect(err.code).toBe('ROSTER_INVALID');
}

// ---- the founding and life of an alliance ------------------------------------------------------

let A: Admin[];
let genesis: SignedEntry;
let g: RosterState;
let alice: MemberKeys;
let bob: MemberKeys;
let s1: RosterState; // alice admitted
let s2: RosterState; // alice and bob admitted

beforeAll(async () => {
  A = [await newAdmin('one'), await newAdmin('two'), await newAdmin('three'), await newAdmin('four')];
  const entry = await createGenesis('test-alliance', { name: 'Test Alliance', admins: A.slice(0, 3).map((a) => a.key), quorum: 2, epoch: 1 }, '2026-03-01T09:00:00Z');
  genesis = await signEntry(entry, A.slice(0, 3));
  g = await applyEntry(null, genesis, { alliance: 'test-alliance' });
  alice = await newMember('alice');
  bob = await newMember('bob');
  s1 = await applyEntry(g, await propose(g, { type: 'member.add', body: alice.request }, [A[0]!, A[1]!]));
  s2 = await applyEntry(s1, await propose(s1, { type: 'member.add', body: bob.request }, [A[1]!, A[2]!]));
});

describe('founding and membership', () => {
  it('founds an alliance with 3 admins and quorum 2', () => {
    expect(g).toMatchObject({ alliance: 'test-alliance', name: 'Test Alliance', seq: 0, quorum: 2, epoch: 1, epochStartedAt: '2026-03-01T09:00:00Z', members: [] });
    expect(g.admins.map((a) => a.kid)).toEqual(A.slice(0, 3).map((a) => a.kid));
    expect(g.head).toBe(entryHash(Buffer.from(genesis.payload, 'base64url')));
  });

  it('admits members: ACTIVE, key valid from the entry, rekey flagged', () => {
    expect(s2.seq).toBe(2);
    expect(activeMembers(s2).map((m) => m.id)).toEqual(['alice', 'bob']);
    const k = s2.members[0]!.signingKeys[0]!;
    expect(k.validUntil).toBeNull();
    expect(k.validFrom > '2026-03-01T09:00:00Z').toBe(true);
    expect(s2.rekeyNeeded).toBe(true);
  });

  it('lets admins sign one after another through a file (JSON text)', async () => {
    const entry = await proposeEntry(s2, { type: 'member.suspend', body: { id: 'bob' }, createdAt: tick() });
    const file0 = serializeSignedEntry(await createProposal(entry));
    await expectReason(applyEntry(s2, file0), 'insufficient_signatures');
    const file1 = serializeSignedEntry(await addSignature(file0, A[2]!));
    await expectReason(applyEntry(s2, file1), 'insufficient_signatures');
    await expectReason(addSignature(file1, A[2]!), 'duplicate_signature');
    const file2 = serializeSignedEntry(await addSignature(file1, A[0]!));
    const next = await applyEntry(s2, file2);
    expect(next.members.find((m) => m.id === 'bob')!.status).toBe('SUSPENDED');
    // Signature order does not change the entry: same hash either way.
    const other = await signEntry(entry, [A[0]!, A[2]!]);
    expect((await applyEntry(s2, other)).head).toBe(next.head);
  });

  it('refuses to sign with a key that is not the kid', async () => {
    const entry = await proposeEntry(s2, { type: 'member.suspend', body: { id: 'bob' }, createdAt: tick() });
    await expect(addSignature(entry, { kid: A[0]!.kid, privateKey: A[1]!.privateKey })).rejects.toThrow(TypeError);
  });

  it('rotates a signing key: the old kid is valid before the rotation, refused after', async () => {
    const fresh = await okpKey('EdDSA');
    const at = tick();
    const entry = await proposeEntry(s2, { type: 'member.update', body: { id: 'alice', signingKey: { kid: fresh.kid, jwk: fresh.jwk } }, createdAt: at });
    const s = await applyEntry(s2, await signEntry(entry, [A[0]!, A[1]!]));
    const old = alice.signing.kid;
    const keys = s.members[0]!.signingKeys;
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatchObject({ kid: old, validUntil: at });
    expect(keys[1]).toMatchObject({ kid: fresh.kid, validFrom: at, validUntil: null });
    const before = new Date(Date.parse(at) - 1000);
    const after = new Date(Date.parse(at) + 1000);
    expect(signingKeyValidAt(s, 'alice', old, before)).toBe(true);
    expect(signingKeyValidAt(s, 'alice', old, at)).toBe(false);
    expect(signingKeyValidAt(s, 'alice', old, after)).toBe(false);
    expect(signingKeyValidAt(s, 'alice', fresh.kid, before)).toBe(false);
    expect(signingKeyValidAt(s, 'alice', fresh.kid, at)).toBe(true);
    expect(signingKeyValidAt(s, 'alice', fresh.kid, after)).toBe(true);
    // Not another member's key, not a made-up member or time.
    expect(signingKeyValidAt(s, 'bob', fresh.kid, after)).toBe(false);
    expect(signingKeyValidAt(s, 'nobody', fresh.kid, after)).toBe(false);
    expect(signingKeyValidAt(s, 'alice', fresh.kid, 'tomorrow')).toBe(false);
    expect(findSigningKey(s, old)).toMatchObject({ member: { id: 'alice' }, key: { kid: old, validUntil: at } });
    expect(findSigningKey(s, 'unknown-kid')).toBeUndefined();
    // The old key can never come back.
    const back = await propose(s, { type: 'member.update', body: { id: 'alice', signingKey: { kid: old, jwk: alice.signing.jwk } } }, [A[0]!, A[1]!]);
    await expectReason(applyEntry(s, back), 'key_exists');
  });

  it('suspends, reinstates and revokes; batches are refused while not ACTIVE', async () => {
    const when = () => new Date(clock + 1000);
    let s = await applyEntry(s2, await propose(s2, { type: 'member.suspend', body: { id: 'alice', reason: 'investigation' } }, [A[0]!, A[1]!]));
    expect(s.members[0]!.status).toBe('SUSPENDED');
    expect(signingKeyValidAt(s, 'alice', alice.signing.kid, when())).toBe(false);
    await expectReason(applyEntry(s, await propose(s, { type: 'member.suspend', body: { id: 'alice' } }, [A[0]!, A[1]!])), 'bad_state');

    s = await applyEntry(s, await propose(s, { type: 'member.reinstate', body: { id: 'alice' } }, [A[0]!, A[1]!]));
    expect(s.members[0]!.status).toBe('ACTIVE');
    expect(signingKeyValidAt(s, 'alice', alice.signing.kid, when())).toBe(true);
    await expectReason(applyEntry(s, await propose(s, { type: 'member.reinstate', body: { id: 'alice' } }, [A[0]!, A[1]!])), 'bad_state');

    s = await applyEntry(s, await propose(s, { type: 'member.revoke', body: { id: 'alice', reason: 'sold data' } }, [A[0]!, A[1]!]));
    expect(s.members[0]!.status).toBe('REVOKED');
    expect(s.members[0]!.signingKeys[0]!.validUntil).toBe(s.updatedAt);
    expect(signingKeyValidAt(s, 'alice', alice.signing.kid, when())).toBe(false);
    expect(activeMembers(s).map((m) => m.id)).toEqual(['bob']);
    for (const p of [
      { type: 'member.revoke', body: { id: 'alice' } },
      { type: 'member.reinstate', body: { id: 'alice' } },
      { type: 'member.suspend', body: { id: 'alice' } },
      { type: 'member.update', body: { id: 'alice', name: 'Alice again' } },
    ] as EntryProposal[]) {
      await expectReason(applyEntry(s, await propose(s, p, [A[0]!, A[1]!])), 'bad_state');
    }
    // A revoked member's id and keys stay taken.
    await expectReason(applyEntry(s, await propose(s, { type: 'member.add', body: alice.request }, [A[0]!, A[1]!])), 'member_exists');
  });

  it('starts a new epoch with exactly one wrapped key per ACTIVE member', async () => {
    let s = await applyEntry(s2, await propose(s2, { type: 'member.revoke', body: { id: 'bob' } }, [A[0]!, A[1]!]));
    const keys = { alice: await wrapFor(alice) };
    await expectReason(applyEntry(s, await propose(s, { type: 'epoch.new', body: { epoch: 3, keys } }, [A[0]!, A[1]!])), 'bad_epoch');
    await expectReason(applyEntry(s, await propose(s, { type: 'epoch.new', body: { epoch: 2, keys: {} } }, [A[0]!, A[1]!])), 'bad_epoch');
    await expectReason(applyEntry(s, await propose(s, { type: 'epoch.new', body: { epoch: 2, keys: { ...keys, bob: await wrapFor(bob) } } }, [A[0]!, A[1]!])), 'bad_epoch');
    await expectReason(applyEntry(s, await propose(s, { type: 'epoch.new', body: { epoch: 2, keys: { alice: await wrapFor(alice, bob.encryption.kid) } } }, [A[0]!, A[1]!])), 'bad_epoch');
    await expectReason(
      proposeEntry(s, { type: 'epoch.new', body: { epoch: 2, keys: { alice: 'not.a.jwe' } } }),
      'malformed',
    );
    s = await applyEntry(s, await propose(s, { type: 'epoch.new', body: { epoch: 2, keys, reason: 'bob revoked' } }, [A[0]!, A[1]!]));
    expect(s).toMatchObject({ epoch: 2, epochStartedAt: s.updatedAt, epochKeys: keys, rekeyNeeded: false });
  });

  it('adds and removes admins and sets the quorum; a removed admin can no longer sign', async () => {
    const [a0, a1, a2, a3] = A as [Admin, Admin, Admin, Admin];
    let s = await applyEntry(s2, await propose(s2, { type: 'admin.add', body: { admin: a3.key } }, [a0, a1]));
    expect(s.admins).toHaveLength(4);
    await expectReason(applyEntry(s, await propose(s, { type: 'admin.add', body: { admin: a3.key } }, [a0, a1])), 'key_exists');
    // A member's key cannot become an admin key.
    await expectReason(
      applyEntry(s, await propose(s, { type: 'admin.add', body: { admin: { kid: bob.signing.kid, jwk: bob.signing.jwk } } }, [a0, a1])),
      'key_exists',
    );
    s = await applyEntry(s, await propose(s, { type: 'quorum.set', body: { quorum: 3 } }, [a0, a3]));
    expect(s.quorum).toBe(3);
    await expectReason(applyEntry(s, await propose(s, { type: 'quorum.set', body: { quorum: 5 } }, [a0, a1, a2])), 'bad_state');
    await expectReason(applyEntry(s, await propose(s, { type: 'member.suspend', body: { id: 'bob' } }, [a0, a1])), 'insufficient_signatures');
    s = await applyEntry(s, await propose(s, { type: 'admin.remove', body: { kid: a2.kid } }, [a0, a1, a3]));
    expect(s.admins.map((a) => a.kid)).toEqual([a0.kid, a1.kid, a3.kid]);
    await expectReason(applyEntry(s, await propose(s, { type: 'admin.remove', body: { kid: a2.kid } }, [a0, a1, a3])), 'bad_state');
    // 3 admins, quorum 3: removing one more would go below the quorum.
    await expectReason(applyEntry(s, await propose(s, { type: 'admin.remove', body: { kid: a3.kid } }, [a0, a1, a3])), 'bad_state');
    // The removed admin's signature is refused, even beside a quorum of good ones.
    await expectReason(applyEntry(s, await propose(s, { type: 'member.suspend', body: { id: 'bob' } }, [a0, a1, a3, a2])), 'not_admin');
    await expectReason(applyEntry(s, await propose(s, { type: 'member.suspend', body: { id: 'bob' } }, [a2, a0, a1])), 'not_admin');
    // A former admin's key cannot be re-added.
    await expectReason(applyEntry(s, await propose(s, { type: 'admin.add', body: { admin: a2.key } }, [a0, a1, a3])), 'key_exists');
    s = await applyEntry(s, await propose(s, { type: 'quorum.set', body: { quorum: 1 } }, [a0, a1, a3]));
    s = await applyEntry(s, await propose(s, { type: 'member.suspend', body: { id: 'bob' } }, [a3]));
    expect(s.members[1]!.status).toBe('SUSPENDED');
    expect(s.governance.map((x) => [x.since, x.admins.length, x.quorum])).toEqual([
      [1, 3, 2],
      [4, 4, 2],
      [5, 4, 3],
      [6, 3, 3],
      [7, 3, 1],
    ]);
  });

  it('replays a chain from its genesis to the same state', async () => {
    const entries: SignedEntry[] = [genesis];
    let s = await applyEntry(null, genesis);
    const steps: EntryProposal[] = [
      { type: 'member.add', body: alice.request },
      { type: 'member.add', body: bob.request },
      { type: 'member.update', body: { id: 'bob', addrs: ['/ip4/10.0.0.2/tcp/4001'], name: 'Bob SA' } },
      { type: 'epoch.new', body: { epoch: 2, keys: { alice: await wrapFor(alice), bob: await wrapFor(bob) } } },
    ];
    for (const p of steps) {
      const e = await propose(s, p, [A[2]!, A[0]!]);
      entries.push(e);
      s = await applyEntry(s, e);
    }
    const strings = entries.map(serializeSignedEntry);
    expect(await replay(strings, { alliance: 'test-alliance', genesis: g.head })).toEqual(s);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s); // plain data
    expect(s.members[1]).toMatchObject({ name: 'Bob SA', addrs: ['/ip4/10.0.0.2/tcp/4001'] });
  });
});

// ---- every reason --------------------------------------------------------------------------------

describe('invalid entries are refused with their reason', () => {
  const suspendBob = (): EntryProposal => ({ type: 'member.suspend', body: { id: 'bob' } });

  it('bad_signature: a signature over other bytes', async () => {
    const e = await propose(s2, suspendBob(), [A[0]!, A[1]!]);
    const other = await propose(s2, { type: 'member.suspend', body: { id: 'alice' } }, [A[0]!, A[1]!]);
    const mixed = { payload: e.payload, signatures: [e.signatures[0]!, other.signatures[1]!] };
    await expectReason(applyEntry(s2, mixed), 'bad_signature');
  });

  it('duplicate_signature: the same admin twice', async () => {
    const e = await propose(s2, suspendBob(), [A[0]!]);
    await expectReason(applyEntry(s2, { payload: e.payload, signatures: [e.signatures[0]!, e.signatures[0]!] }), 'duplicate_signature');
  });

  it('insufficient_signatures: fewer than the quorum, also at genesis', async () => {
    await expectReason(applyEntry(s2, await propose(s2, suspendBob(), [A[0]!])), 'insufficient_signatures');
    const entry = await createGenesis('test-alliance', { admins: A.slice(0, 3).map((a) => a.key), quorum: 2, epoch: 1 }, '2026-03-01T09:00:00Z');
    await expectReason(applyEntry(null, await signEntry(entry, [A[0]!])), 'insufficient_signatures');
  });

  it('epochs fit the 32-bit columns that store them: a genesis at 2^31 - 1 founds, one at 2^31 is refused', async () => {
    const at = (epoch: number) => createGenesis('test-alliance', { admins: A.slice(0, 3).map((a) => a.key), quorum: 2, epoch }, '2026-03-01T09:00:00Z');
    const top = await applyEntry(null, await signEntry(await at(2 ** 31 - 1), [A[0]!, A[1]!]));
    expect(top.epoch).toBe(2 ** 31 - 1);
    const err = await at(2 ** 31).catch((e: unknown) => e);
    expect(isRosterError(err)).toBe(true);
    expect((err as Error).message).toMatch(/epoch/);
  });

  it('not_admin: a signer that never was an admin', async () => {
    await expectReason(applyEntry(s2, await propose(s2, suspendBob(), [A[0]!, A[3]!])), 'not_admin');
  });

  it('wrong_prev, wrong_alliance, gap, bad_time', async () => {
    const base = await proposeEntry(s2, { ...suspendBob(), createdAt: tick() });
    const sign = (e: object) => signEntry(e as typeof base, [A[0]!, A[1]!]);
    await expectReason(applyEntry(s2, await sign({ ...base, prev: s1.head })), 'wrong_prev');
    await expectReason(applyEntry(s2, await sign({ ...base, alliance: 'other-alliance' })), 'wrong_alliance');
    await expectReason(applyEntry(s2, await sign(base), { alliance: 'other-alliance' }), 'wrong_alliance');
    await expectReason(applyEntry(s2, await sign({ ...base, seq: 4 })), 'gap');
    await expectReason(applyEntry(null, await sign(base)), 'gap');
    await expectReason(applyEntry(s2, await sign({ ...base, createdAt: '2026-03-01T09:00:30Z' })), 'bad_time');
    // A node pinned to another genesis refuses this one.
    await expectReason(applyEntry(null, genesis, { genesis: s1.head }), 'wrong_alliance');
  });

  it('replay: an entry already applied, with any set of signatures', async () => {
    const e = await propose(s2, suspendBob(), [A[0]!, A[1]!]);
    const s = await applyEntry(s2, e);
    await expectReason(applyEntry(s, e), 'replay');
    await expectReason(applyEntry(s, await addSignature(e, A[2]!)), 'replay');
    await expectReason(applyEntry(s, genesis), 'replay');
  });

  it('fork: a validly signed other entry at an applied seq is an alarm, never applied', async () => {
    const e1 = await propose(s2, suspendBob(), [A[0]!, A[1]!]);
    const e2 = await propose(s2, { type: 'member.suspend', body: { id: 'alice' } }, [A[1]!, A[2]!]);
    const s = await applyEntry(s2, e1);
    const err = await applyEntry(s, e2).catch((x: unknown) => x);
    expect(isRosterError(err, 'fork')).toBe(true);
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({ reason: 'fork', seq: 3, stored: s.head });
    // An older fork is checked against the admins of its time; a forged one is not a fork.
    const forkAt1 = await signEntry(await proposeEntry(g, { type: 'member.add', body: bob.request, createdAt: tick() }), [A[0]!, A[2]!]);
    await expectReason(applyEntry(s, forkAt1), 'fork');
    const forged = await signEntry(await proposeEntry(g, { type: 'member.add', body: bob.request, createdAt: tick() }), [A[0]!, A[3]!]);
    await expectReason(applyEntry(s, forged), 'not_admin');
    await expectReason(applyEntry(s, await signEntry(await proposeEntry(g, { type: 'member.add', body: bob.request, createdAt: tick() }), [A[0]!])), 'insufficient_signatures');
  });

  it('unknown_type', async () => {
    const base = await proposeEntry(s2, { ...suspendBob(), createdAt: tick() });
    const payload = Buffer.from(canonicalJson({ ...base, type: 'member.promote' })).toString('base64url');
    await expectReason(applyEntry(s2, { payload, signatures: [] }), 'unknown_type');
  });

  it('too_large: over the byte limit before parsing, over the signature limit', async () => {
    await expectReason(applyEntry(s2, 'x'.repeat(256 * 1024 + 1)), 'too_large');
    await expectReason(applyEntry(s2, new Uint8Array(300 * 1024)), 'too_large');
    const e = await propose(s2, suspendBob(), [A[0]!, A[1]!]);
    await expectReason(applyEntry(s2, e, { limits: { maxBytes: 500 } }), 'too_large');
    await expectReason(applyEntry(s2, e, { limits: { maxSignatures: 1 } }), 'too_large');
  });

  it('malformed: syntax, header, payload form and non-canonical bytes', async () => {
    const e = await propose(s2, suspendBob(), [A[0]!, A[1]!]);
    const entry = JSON.parse(Buffer.from(e.payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const withPayload = (text: string) => ({ payload: Buffer.from(text, 'utf8').toString('base64url'), signatures: e.signatures });
    const cases: unknown[] = [
      '{',
      '[]',
      { payload: e.payload },
      { ...e, header: {} },
      { payload: e.payload, signatures: [{ ...e.signatures[0]!, header: { kid: 'x' } }] },
      { payload: e.payload + '=', signatures: e.signatures },
      { payload: e.payload, signatures: [{ protected: Buffer.from('{"alg":"EdDSA","kid":"' + A[0]!.kid + '"}').toString('base64url'), signature: e.signatures[0]!.signature }] },
      { payload: e.payload, signatures: [{ protected: Buffer.from('{"alg":"none","kid":"' + A[0]!.kid + '","typ":"alliance-roster+jws"}').toString('base64url'), signature: e.signatures[0]!.signature }] },
      { payload: e.payload, signatures: [{ protected: Buffer.from('{"kid":"' + A[0]!.kid + '","alg":"EdDSA","typ":"alliance-roster+jws"}').toString('base64url'), signature: e.signatures[0]!.signature }] },
      { payload: e.payload, signatures: [{ ...e.signatures[0]!, signature: 'AAAA' }] },
      withPayload(JSON.stringify(entry, null, 1)),
      withPayload(canonicalJson({ ...entry, extra: 1 })),
      withPayload(canonicalJson({ ...entry, seq: '3' })),
      withPayload(canonicalJson({ ...entry, createdAt: '2026-03-01T10:00:00.000Z' })),
      withPayload(canonicalJson({ ...entry, prev: null })),
      withPayload(canonicalJson({ ...entry, type: 'genesis' })),
      withPayload(canonicalJson({ ...entry, body: { id: 'bob', note: 'x' } })),
      withPayload(canonicalJson({ ...entry, body: { id: 'bob b' } })),
      withPayload(canonicalJson({ ...entry, type: 'member.update', body: { id: 'bob' } })),
      withPayload(canonicalJson({ ...entry, type: 'quorum.set', body: { quorum: 0 } })),
      withPayload(canonicalJson({ ...entry, type: 'admin.add', body: { admin: { ...A[3]!.key, kid: A[0]!.kid } } })),
      withPayload(canonicalJson({ ...entry, type: 'admin.add', body: { admin: { ...A[3]!.key, jwk: { ...A[3]!.key.jwk, d: 'secret' } } } })),
      withPayload(canonicalJson({ ...entry, type: 'member.add', body: { ...bob.request, id: 'carol', country: 'XX' } })),
      withPayload(canonicalJson({ ...entry, type: 'member.add', body: { ...bob.request, id: 'carol', signingKeys: [] } })),
      withPayload(canonicalJson({ ...entry, type: 'member.add', body: { ...bob.request, id: 'carol', encryptionKey: { kid: bob.signing.kid, jwk: bob.signing.jwk } } })),
      withPayload(canonicalJson({ ...entry, type: 'member.add', body: { ...bob.request, id: 'carol', name: 'a\u0007b' } })),
    ];
    for (const c of cases) await expectReason(applyEntry(s2, c as SignedEntry), 'malformed');
    await expectReason(applyEntry(s2, withPayload(canonicalJson({ ...entry, v: 2 }))), 'unsupported_version');
  });

  it('member_exists, key_exists (signing kid, encryption kid, peer id, admin kid), unknown_member', async () => {
    const carol = await newMember('carol');
    const add = (body: MembershipRequest) => propose(s2, { type: 'member.add', body }, [A[0]!, A[1]!]);
    await expectReason(applyEntry(s2, await add({ ...carol.request, id: 'alice' })), 'member_exists');
    await expectReason(applyEntry(s2, await add({ ...carol.request, signingKeys: alice.request.signingKeys })), 'key_exists');
    await expectReason(applyEntry(s2, await add({ ...carol.request, encryptionKey: alice.request.encryptionKey })), 'key_exists');
    await expectReason(applyEntry(s2, await add({ ...carol.request, peerId: alice.request.peerId })), 'key_exists');
    await expectReason(applyEntry(s2, await add({ ...carol.request, signingKeys: [{ kid: A[0]!.kid, jwk: A[0]!.key.jwk, validFrom: '2026-03-01T08:00:00Z' }] })), 'key_exists');
    await expectReason(applyEntry(s2, await propose(s2, { type: 'member.update', body: { id: 'bob', peerId: alice.request.peerId } }, [A[0]!, A[1]!])), 'key_exists');
    await expectReason(applyEntry(s2, await propose(s2, { type: 'member.update', body: { id: 'bob', encryptionKey: alice.request.encryptionKey } }, [A[0]!, A[1]!])), 'key_exists');
    await expectReason(applyEntry(s2, await propose(s2, { type: 'member.suspend', body: { id: 'carol' } }, [A[0]!, A[1]!])), 'unknown_member');
    await expectReason(applyEntry(s2, await propose(s2, { type: 'member.update', body: { id: 'carol', name: 'C' } }, [A[0]!, A[1]!])), 'unknown_member');
    expect((await applyEntry(s2, await add(carol.request))).members.map((m) => m.id)).toEqual(['alice', 'bob', 'carol']);
  });

  it('covers every reason of ROSTER_ERROR_REASONS in this file', () => {
    // Reminder for whoever adds a reason: test it above.
    expect(ROSTER_ERROR_REASONS).toHaveLength(19);
  });
});

// ---- tampering -----------------------------------------------------------------------------------

describe('tampering', () => {
  it('any change to the bytes of a signed entry is refused (never applied as something else)', async () => {
    const e = await propose(s2, { type: 'member.update', body: { id: 'bob', name: 'Bob Ltd', addrs: ['/ip4/10.0.0.9/tcp/4001'] } }, [A[0]!, A[1]!]);
    const text = serializeSignedEntry(e);
    const good = await applyEntry(s2, text);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: text.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (pos, delta, drop) => {
        const bytes = Buffer.from(text, 'utf8');
        const tampered = drop ? Buffer.concat([bytes.subarray(0, pos), bytes.subarray(pos + 1)]) : Buffer.from(bytes);
        if (!drop) tampered[pos] = (tampered[pos]! + delta) % 256;
        const out = await applyEntry(s2, tampered).then(
          (s) => s,
          (err: unknown) => {
            if (!isRosterError(err)) throw err;
            return undefined;
          },
        );
        // Some byte changes are not changes of the JWS (JSON whitespace is not produced here, but
        // e.g. escaping a character in a JSON string would be): anything accepted must be the same entry.
        if (out !== undefined) expect(out).toEqual(good);
      }),
      { numRuns: 300 },
    );
  });

  it('parses the signed entry before it looks at the chain', async () => {
    const e = await propose(s2, { type: 'member.suspend', body: { id: 'bob' } }, [A[0]!, A[1]!]);
    const parsed = await parseSignedEntry(e);
    expect(parsed.kids).toEqual([A[0]!.kid, A[1]!.kid]);
    expect(parsed.hash).toBe(entryHash(parsed.payload));
  });
});
