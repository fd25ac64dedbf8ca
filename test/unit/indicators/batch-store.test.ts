import fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BatchStore, type IngestOutcome, type StoredBatchEvent } from '../../../node/indicators/batch-store.ts';
import { batchHash, signBatch, type Batch } from '../../../node/indicators/batch.ts';
import type { Indicator } from '../../../node/indicators/indicator.ts';
import { loadMemberIdentity } from '../../../node/membership/keys.ts';
import { applyEntry, type RosterState } from '../../../node/membership/roster-state.ts';
import { epochBody, genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin, type TestMember } from '../../helpers/roster.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';

const ALLIANCE = 'store-alliance';
const GRACE_MS = 7 * 86_400_000;

interface Signer {
  kid: string;
  privateKey: CryptoKey;
}

/**
 * Roster timeline (times are the entries' createdAt):
 *   04-01 00:00-00:03 A, B, C, E admitted      04-01 01:00 epoch 1
 *   04-10 00:00 A rotates its signing key       04-20 00:00 epoch 2
 *   04-21 00:00 B suspended                     04-21 00:01 C revoked
 * Epoch 0 is live until 04-08 01:00, epoch 1 until 04-27 00:00 (7 days of grace).
 */
const R: Record<'epoch1' | 'rotated' | 'epoch2' | 'sanctioned', RosterState> = {} as never;
const K: Record<'a' | 'aNew' | 'b' | 'c' | 'e' | 'outsider', Signer> = {} as never;
const members: TestMember[] = [];

async function step(state: RosterState, p: Parameters<typeof nextText>[1], admin: TestAdmin): Promise<RosterState> {
  return applyEntry(state, await nextText(state, p, [admin]));
}

beforeAll(async () => {
  const admin = await newTestAdmin('admin');
  let s = await applyEntry(null, await genesisText(ALLIANCE, [admin], 1));
  for (const [i, id] of ['member-a', 'member-b', 'member-c', 'member-e'].entries()) {
    const m = await newTestMember(id);
    members.push(m);
    s = await step(s, { type: 'member.add', body: m.request, createdAt: `2026-04-01T00:0${i}:00Z` }, admin);
  }
  const [a, b, c, e] = members as [TestMember, TestMember, TestMember, TestMember];
  for (const [name, m] of [['a', a], ['b', b], ['c', c], ['e', e]] as const) {
    const id = await loadMemberIdentity(m.dataDir);
    K[name] = { kid: id.signingKey.kid, privateKey: id.signingKey.privateKey };
  }
  s = await step(s, { type: 'epoch.new', body: await epochBody(ALLIANCE, 1, members.map((m) => m.request)), createdAt: '2026-04-01T01:00:00Z' }, admin);
  R.epoch1 = s;
  K.aNew = await newSigner();
  K.outsider = await newSigner();
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: (await exportJWK(K.aNew.privateKey)).x! };
  s = await step(s, { type: 'member.update', body: { id: 'member-a', signingKey: { kid: K.aNew.kid, jwk } }, createdAt: '2026-04-10T00:00:00Z' }, admin);
  R.rotated = s;
  s = await step(s, { type: 'epoch.new', body: await epochBody(ALLIANCE, 2, members.map((m) => m.request)), createdAt: '2026-04-20T00:00:00Z' }, admin);
  R.epoch2 = s;
  s = await step(s, { type: 'member.suspend', body: { id: 'member-b' }, createdAt: '2026-04-21T00:00:00Z' }, admin);
  s = await step(s, { type: 'member.revoke', body: { id: 'member-c' }, createdAt: '2026-04-21T00:01:00Z' }, admin);
  R.sanctioned = s;
});

afterAll(() => {
  for (const m of members) fs.rmSync(m.dataDir, { recursive: true, force: true });
});

async function newSigner(): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const pub = await exportJWK(publicKey);
  return { kid: await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: pub.x! }), privateKey };
}

const digest = (label: string) => createHash('sha256').update(label).digest('base64url');
const REF1 = Buffer.alloc(16, 1).toString('base64url');
const REF2 = Buffer.alloc(16, 2).toString('base64url');

function add(label: string, over: Partial<Indicator> = {}): Indicator {
  return {
    type: 'email',
    digest: digest(label),
    op: 'add',
    ref: REF1,
    categories: ['COUNTERFEIT', 'TRADEMARK'],
    status: 'CONFIRMED',
    confidence: 80,
    firstSeen: '2026-04-01',
    expiresAt: '2027-04-01T00:00:00Z',
    ...over,
  };
}
const retract = (label: string, over: Partial<Indicator> = {}): Indicator => add(label, { op: 'retract', status: 'CLEARED', ...over });

interface Made {
  jws: string;
  hash: string;
  batch: Batch;
}

async function make(
  signer: Signer,
  origin: string,
  seq: number,
  prev: string | null,
  items: Indicator[],
  over: Partial<Pick<Batch, 'epoch' | 'createdAt' | 'alliance'>> = {},
): Promise<Made> {
  const batch = { v: 1 as const, alliance: ALLIANCE, origin, epoch: 2, seq, prev, createdAt: '2026-04-21T12:00:00Z', items, ...over };
  const jws = await signBatch(batch, { privateKey: signer.privateKey, kid: signer.kid });
  return { jws, hash: batchHash(jws), batch: { ...batch, kid: signer.kid } };
}

/** Batches 1..n of one origin, chained, each with the items `itemsOf(seq)`. */
async function chain(signer: Signer, origin: string, n: number, itemsOf: (seq: number) => Indicator[], over: Parameters<typeof make>[5] = {}): Promise<Made[]> {
  const out: Made[] = [];
  for (let seq = 1; seq <= n; seq++) out.push(await make(signer, origin, seq, out.at(-1)?.hash ?? null, itemsOf(seq), over));
  return out;
}

function rejected(reason: string): IngestOutcome {
  return expect.objectContaining({ status: 'rejected', reason }) as IngestOutcome;
}

for (const kind of STORAGES) {
  describe(`BatchStore on ${kind}`, () => {
    let t: TestDb;
    let state: RosterState | null;
    let clock: string;
    let events: StoredBatchEvent[];
    const newStore = (over: Partial<ConstructorParameters<typeof BatchStore>[1]> = {}) =>
      new BatchStore(t.db, { roster: () => state, graceMs: GRACE_MS, now: () => new Date(clock), onStored: (e) => events.push(e), ...over });
    let store: BatchStore;

    beforeAll(async () => {
      t = await openTestDb(kind);
    });
    afterAll(async () => {
      await t?.close();
    });
    beforeEach(async () => {
      await t.db.exec('TRUNCATE batches, indicators');
      state = R.epoch2;
      clock = '2026-04-22T00:00:00Z';
      events = [];
      store = newStore();
    });

    const indicators = async () =>
      (
        await t.db.query<{ origin: string; type: string; digest: string; ref: string; epoch: number; status: string; confidence: number; categories: string[]; seq: number; first_seen: string; expires_at: string }>(
          `SELECT origin, type, digest, ref, epoch, status, confidence, categories, seq::float8 AS seq, to_char(first_seen, 'YYYY-MM-DD') AS first_seen,
                  to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_at
             FROM indicators ORDER BY origin, digest, ref`,
        )
      ).rows;
    const batchRows = async () => (await t.db.query<{ origin: string; seq: number; hash: string; jws: string }>('SELECT origin, seq::float8 AS seq, hash, jws FROM batches ORDER BY origin, seq')).rows;
    const labelsOf = async (origin: string, labels: string[]) => {
      const have = new Set((await indicators()).filter((r) => r.origin === origin).map((r) => r.digest));
      return labels.filter((l) => have.has(digest(l)));
    };

    it('stores a valid chain: exact JWS, indicator rows, counts and events', async () => {
      const [b1, b2] = await chain(K.b, 'member-b', 2, (seq) =>
        seq === 1 ? [add('one'), add('two', { type: 'phone', ref: REF2, categories: [] })] : [retract('one'), add('three', { status: 'SUSPECTED', confidence: 40 })],
      );
      expect(await store.ingest(b1!.jws)).toEqual({ status: 'stored', origin: 'member-b', seq: 1, hash: b1!.hash, epoch: 2, items: 2, adds: 2, retracts: 0 });
      expect(await store.ingest(Buffer.from(b2!.jws, 'latin1'))).toEqual({ status: 'stored', origin: 'member-b', seq: 2, hash: b2!.hash, epoch: 2, items: 2, adds: 1, retracts: 1 });
      expect(await batchRows()).toEqual([
        { origin: 'member-b', seq: 1, hash: b1!.hash, jws: b1!.jws },
        { origin: 'member-b', seq: 2, hash: b2!.hash, jws: b2!.jws },
      ]);
      const rows = await indicators();
      expect(rows).toHaveLength(2);
      expect(rows.find((r) => r.digest === digest('two'))).toEqual({
        origin: 'member-b', type: 'phone', digest: digest('two'), ref: REF2, epoch: 2, status: 'CONFIRMED', confidence: 80, categories: [], seq: 1, first_seen: '2026-04-01', expires_at: '2027-04-01T00:00:00Z',
      });
      expect(rows.find((r) => r.digest === digest('three'))).toMatchObject({ status: 'SUSPECTED', confidence: 40, categories: ['COUNTERFEIT', 'TRADEMARK'], seq: 2 });
      expect(await labelsOf('member-b', ['one'])).toEqual([]);
      expect(events.map((e) => [e.seq, e.adds.map((k) => k.digest), e.retracts.map((k) => k.digest)])).toEqual([
        [1, [digest('one'), digest('two')], []],
        [2, [digest('three')], [digest('one')]],
      ]);
      expect(await store.head('member-b')).toEqual({ seq: 2, hash: b2!.hash });
      expect(await store.head('member-a')).toBeUndefined();
    });

    it('answers duplicate for a batch it holds, and fork for another batch at a held seq', async () => {
      const [b1] = await chain(K.b, 'member-b', 1, () => [add('one')]);
      const other = await make(K.b, 'member-b', 1, null, [add('other')]);
      expect((await store.ingest(b1!.jws)).status).toBe('stored');
      expect(await store.ingest(b1!.jws)).toEqual({ status: 'duplicate', origin: 'member-b', seq: 1, hash: b1!.hash });
      const fork = await store.ingest(other.jws);
      expect(fork).toEqual(rejected('fork'));
      expect(fork).toMatchObject({ origin: 'member-b', seq: 1, message: expect.stringContaining('FORK') });
      expect((await batchRows()).map((r) => r.jws)).toEqual([b1!.jws]);
      expect(await labelsOf('member-b', ['one', 'other'])).toEqual(['one']);
      expect(events).toHaveLength(1);
    });

    it('answers gap for a batch beyond head + 1 and stores nothing', async () => {
      const [b1, b2, b3] = await chain(K.b, 'member-b', 3, (seq) => [add(`i${seq}`)]);
      expect(await store.ingest(b2!.jws)).toEqual({ status: 'gap', origin: 'member-b', seq: 2, head: 0 });
      expect(await batchRows()).toEqual([]);
      expect(await indicators()).toEqual([]);
      await store.ingest(b1!.jws);
      expect(await store.ingest(b3!.jws)).toEqual({ status: 'gap', origin: 'member-b', seq: 3, head: 1 });
      expect(await labelsOf('member-b', ['i1', 'i2', 'i3'])).toEqual(['i1']);
      expect(events.map((e) => e.seq)).toEqual([1]);
    });

    it('refuses a batch whose prev is not the hash of the stored previous batch', async () => {
      const [b1] = await chain(K.b, 'member-b', 1, () => [add('one')]);
      await store.ingest(b1!.jws);
      const bad = await make(K.b, 'member-b', 2, digest('not the head'), [add('two')]);
      expect(await store.ingest(bad.jws)).toEqual(rejected('bad_prev'));
      expect((await batchRows()).map((r) => r.seq)).toEqual([1]);
      expect(await labelsOf('member-b', ['two'])).toEqual([]);
    });

    it('refuses forged, malformed and oversized input with its wire reason and stores nothing', async () => {
      const good = await make(K.b, 'member-b', 1, null, [add('one')]);
      const [h, p, s] = good.jws.split('.') as [string, string, string];
      const flip = (part: string, at: number) => part.slice(0, at) + (part[at] === 'A' ? 'B' : 'A') + part.slice(at + 1);
      expect(await store.ingest(`${h}.${p}.${flip(s, 10)}`)).toEqual(rejected('bad_signature'));
      expect(await store.ingest(`${h}.${flip(p, 40)}.${s}`)).toEqual(rejected('bad_signature'));
      const bytes = Buffer.from(good.jws, 'latin1');
      bytes[h.length + 51] = bytes[h.length + 51]! ^ 0x01;
      expect((await store.ingest(bytes)).status).toBe('rejected');
      expect(await store.ingest('')).toEqual(rejected('malformed'));
      expect(await store.ingest('not.a.batch')).toEqual(rejected('malformed'));
      expect(await store.ingest(42 as unknown as string)).toEqual(rejected('malformed'));
      expect(await store.ingestMany([null as never, 42 as never, {} as never])).toEqual([rejected('malformed'), rejected('malformed'), rejected('malformed')]);
      expect(await newStore({ limits: { maxBytes: 100 } }).ingest(good.jws)).toEqual(rejected('too_large'));
      expect(await batchRows()).toEqual([]);
      expect(await indicators()).toEqual([]);
      expect(events).toEqual([]);
      // The untouched batch is still accepted.
      expect((await store.ingest(good.jws)).status).toBe('stored');
    });

    it('refuses batches of unknown signers, of another alliance, and in another member\'s name', async () => {
      expect(await store.ingest((await make(K.outsider, 'member-d', 1, null, [add('x')])).jws)).toEqual(rejected('unknown_origin'));
      expect(await store.ingest((await make(K.b, 'member-b', 1, null, [add('x')], { alliance: 'other-alliance' })).jws)).toEqual(rejected('wrong_alliance'));
      expect(await store.ingest((await make(K.b, 'member-e', 1, null, [add('x')])).jws)).toEqual(rejected('wrong_origin'));
      state = null;
      expect(await store.ingest((await make(K.b, 'member-b', 1, null, [add('x')])).jws)).toEqual(rejected('unknown_origin'));
      expect(await batchRows()).toEqual([]);
      expect(await indicators()).toEqual([]);
    });

    it('refuses batches of suspended and revoked members, also those made before the sanction', async () => {
      state = R.sanctioned;
      const before = { createdAt: '2026-04-20T12:00:00Z' };
      const suspended = await store.ingest((await make(K.b, 'member-b', 1, null, [add('x')], before)).jws);
      expect(suspended).toEqual(rejected('origin_suspended'));
      expect(suspended).toMatchObject({ origin: 'member-b', seq: 1 });
      expect(await store.ingest((await make(K.c, 'member-c', 1, null, [add('x')], before)).jws)).toEqual(rejected('origin_revoked'));
      expect((await store.ingest((await make(K.e, 'member-e', 1, null, [add('x')])).jws)).status).toBe('stored');
      expect((await batchRows()).map((r) => r.origin)).toEqual(['member-e']);
    });

    it('accepts a rotated-away key only for batches created before the rotation', async () => {
      // Rotation at 04-10 00:00.
      const late = await make(K.a, 'member-a', 1, null, [add('x')], { createdAt: '2026-04-15T00:00:00Z' });
      expect(await store.ingest(late.jws)).toEqual(rejected('kid_not_valid'));
      const newKeyTooEarly = await make(K.aNew, 'member-a', 1, null, [add('x')], { epoch: 1, createdAt: '2026-04-09T23:59:59Z' });
      expect(await store.ingest(newKeyTooEarly.jws)).toEqual(rejected('kid_not_valid'));
      expect(await batchRows()).toEqual([]);
      const early = await make(K.a, 'member-a', 1, null, [add('x')], { epoch: 1, createdAt: '2026-04-09T23:59:59Z' });
      expect((await store.ingest(early.jws)).status).toBe('stored');
      const next = await make(K.aNew, 'member-a', 2, early.hash, [add('y')], { createdAt: '2026-04-10T00:00:00Z', epoch: 1 });
      expect((await store.ingest(next.jws)).status).toBe('stored');
      expect(await labelsOf('member-a', ['x', 'y'])).toEqual(['x', 'y']);
    });

    it('refuses batches from the future beyond the clock skew', async () => {
      const far = await make(K.b, 'member-b', 1, null, [add('x')], { createdAt: '2026-04-22T00:05:01Z' });
      expect(await store.ingest(far.jws)).toEqual(rejected('from_future'));
      expect(await batchRows()).toEqual([]);
      const near = await make(K.b, 'member-b', 1, null, [add('x')], { createdAt: '2026-04-22T00:05:00Z' });
      expect((await store.ingest(near.jws)).status).toBe('stored');
      expect(await newStore({ clockSkewMs: 0 }).verify((await make(K.e, 'member-e', 1, null, [], { createdAt: '2026-04-22T00:00:01Z' })).jws)).toEqual({
        ok: false,
        outcome: rejected('from_future'),
      });
    });

    it('answers future_epoch while the roster is behind, and stores the batch once it caught up', async () => {
      const b = await make(K.b, 'member-b', 1, null, [add('x')], { epoch: 3 });
      expect(await store.ingest(b.jws)).toEqual({ status: 'future_epoch', origin: 'member-b', seq: 1, epoch: 3 });
      state = R.rotated; // epoch 1
      const e2 = await make(K.b, 'member-b', 1, null, [add('x')], { epoch: 2 });
      expect(await store.ingest(e2.jws)).toEqual({ status: 'future_epoch', origin: 'member-b', seq: 1, epoch: 2 });
      expect(await batchRows()).toEqual([]);
      state = R.epoch2;
      expect(await store.ingest(e2.jws)).toMatchObject({ status: 'stored', epoch: 2 });
    });

    it('refuses batches made under an epoch after its grace ended', async () => {
      // Epoch 1 is live until 04-27 00:00, epoch 0 until 04-08 01:00.
      clock = '2026-04-28T00:00:00Z';
      const stale = await make(K.b, 'member-b', 1, null, [add('x')], { epoch: 1, createdAt: '2026-04-27T00:00:00Z' });
      const result = await store.ingest(stale.jws);
      expect(result).toEqual(rejected('stale_epoch'));
      expect(result).toMatchObject({ origin: 'member-b', seq: 1 });
      expect(await store.ingest((await make(K.b, 'member-b', 1, null, [add('x')], { epoch: 0, createdAt: '2026-04-09T00:00:00Z' })).jws)).toEqual(rejected('stale_epoch'));
      expect(await batchRows()).toEqual([]);
      const lastSecond = await make(K.b, 'member-b', 1, null, [add('x')], { epoch: 1, createdAt: '2026-04-26T23:59:59Z' });
      expect(await store.ingest(lastSecond.jws)).toMatchObject({ status: 'stored', adds: 0, retracts: 1 });
    });

    it('takes a retract-only batch of a past epoch made after its grace, so a node with a shorter grace does not stall', async () => {
      clock = '2026-04-28T00:00:00Z';
      const withdrawal = await make(K.b, 'member-b', 1, null, [retract('x'), retract('y')], { epoch: 1, createdAt: '2026-04-27T12:00:00Z' });
      expect(await store.ingest(withdrawal.jws)).toMatchObject({ status: 'stored', seq: 1, adds: 0, retracts: 2 });
      // An add with status CLEARED is a retract too; a real add in the same batch makes it stale.
      const cleared = await make(K.b, 'member-b', 2, withdrawal.hash, [add('z', { status: 'CLEARED' })], { epoch: 1, createdAt: '2026-04-27T12:00:01Z' });
      expect(await store.ingest(cleared.jws)).toMatchObject({ status: 'stored', seq: 2 });
      const mixed = await make(K.b, 'member-b', 3, cleared.hash, [retract('w'), add('v')], { epoch: 1, createdAt: '2026-04-27T12:00:02Z' });
      expect(await store.ingest(mixed.jws)).toEqual(rejected('stale_epoch'));
      // An epoch beyond the roster's still waits for the roster, retracts or not.
      const unknown = await make(K.b, 'member-b', 3, cleared.hash, [retract('w')], { epoch: 7, createdAt: '2026-04-27T12:00:02Z' });
      expect(await store.ingest(unknown.jws)).toMatchObject({ status: 'future_epoch' });
    });

    it('stores a late batch of an epoch past its grace for the chain, applying only its retracts', async () => {
      const b1 = await make(K.b, 'member-b', 1, null, [add('x'), add('y'), add('z')], { epoch: 1, createdAt: '2026-04-15T00:00:00Z' });
      const b2 = await make(K.b, 'member-b', 2, b1.hash, [retract('x'), add('w'), add('y', { confidence: 10 })], { epoch: 1, createdAt: '2026-04-23T00:00:00Z' });
      const current = await make(K.e, 'member-e', 1, null, [add('e')]);
      expect(await store.ingest(b1.jws)).toMatchObject({ status: 'stored', adds: 3 });
      await store.ingest(current.jws);
      clock = '2026-04-30T00:00:00Z';
      expect(store.liveEpochs()).toEqual([2]);
      expect(await store.ingest(b2.jws)).toMatchObject({ status: 'stored', seq: 2, items: 3, adds: 0, retracts: 3 });
      expect((await batchRows()).filter((r) => r.origin === 'member-b').map((r) => r.seq)).toEqual([1, 2]);
      expect(await labelsOf('member-b', ['x', 'y', 'z', 'w'])).toEqual(['z']);
      expect(events.at(-1)).toMatchObject({ seq: 2, adds: [] });
      // z belongs to a dead epoch: expire() removes it, and leaves the current epoch's row.
      expect(await store.expire()).toBe(1);
      expect((await indicators()).map((r) => r.origin)).toEqual(['member-e']);
    });

    it('removes a row on retract, on an add with status CLEARED, and on an add already expired', async () => {
      const b = await chain(K.b, 'member-b', 4, (seq) =>
        [
          [add('a'), add('b'), add('c'), add('d')],
          [retract('a'), retract('never-added')],
          [add('b', { status: 'CLEARED' })],
          [add('c', { expiresAt: '2026-04-21T23:59:59Z' }), add('d', { expiresAt: '2026-04-22T00:00:00Z' })],
        ][seq - 1]!,
      );
      const outcomes = [];
      for (const x of b) outcomes.push(await store.ingest(x.jws));
      expect(outcomes.map((o) => o.status === 'stored' && [o.adds, o.retracts])).toEqual([[4, 0], [0, 2], [0, 1], [1, 1]]);
      expect(await labelsOf('member-b', ['a', 'b', 'c', 'd'])).toEqual(['d']);
      expect((await indicators())[0]).toMatchObject({ seq: 4, expires_at: '2026-04-22T00:00:00Z' });
    });

    it('ingestMany gives the same outcomes and tables as ingesting one by one, across chunks', async () => {
      const a = await chain(K.aNew, 'member-a', 40, (seq) => [add(`a${seq}`), ...(seq > 1 ? [retract(`a${seq - 1}`)] : [])]);
      const e = await chain(K.e, 'member-e', 40, (seq) => (seq % 2 ? [add('flip'), add(`e${seq}`)] : [retract('flip'), add(`e${seq}`, { ref: REF2 })]));
      const fork = await make(K.e, 'member-e', 3, e[1]!.hash, [add('forked')]);
      const forged = `${e[5]!.jws.slice(0, -4)}AAAA`;
      const list: string[] = [];
      for (let i = 0; i < 40; i++) {
        list.push(a[i]!.jws);
        if (i === 3) list.push(fork.jws); // e3 is stored before: a fork
        if (i === 5) list.push(forged); // e6 refused here, so e7..e9 are gaps until e6 arrives
        else if (i < 10 || i > 12) list.push(e[i]!.jws);
        if (i === 20) list.push(e[5]!.jws, e[6]!.jws, a[2]!.jws, e[3]!.jws);
      }
      list.push(...e.slice(7).map((x) => x.jws));
      list.push((await make(K.outsider, 'member-d', 1, null, [])).jws);
      expect(list.length).toBeGreaterThan(64);

      const one: IngestOutcome[] = [];
      for (const jws of list) one.push(await store.ingest(jws));
      const tablesOne = [await batchRows(), await indicators()];
      const eventsOne = events.map((x) => [x.origin, x.seq, x.adds.length, x.retracts.length]);

      await t.db.exec('TRUNCATE batches, indicators');
      events = [];
      const many = await store.ingestMany(list);
      expect(many).toEqual(one);
      expect([await batchRows(), await indicators()]).toEqual(tablesOne);
      expect(events.map((x) => [x.origin, x.seq, x.adds.length, x.retracts.length])).toEqual(eventsOne);

      // The list exercised every outcome.
      const statuses = new Set(many.map((o) => (o.status === 'rejected' ? o.reason : o.status)));
      expect([...statuses].sort()).toEqual(['bad_signature', 'duplicate', 'fork', 'gap', 'stored', 'unknown_origin']);
      expect(await labelsOf('member-a', ['a39', 'a40'])).toEqual(['a40']);
      expect((await store.heads()).get('member-e')).toEqual({ seq: 40, hash: e[39]!.hash });
      expect(await store.ingestMany([])).toEqual([]);
    });

    it('lets exactly one of two concurrent ingests of a batch store it', async () => {
      const [b1, b2] = await chain(K.b, 'member-b', 2, (seq) => [add(`x${seq}`)]);
      const other = newStore();
      const results = await Promise.all([store.ingest(b1!.jws), other.ingest(b1!.jws), store.ingest(b1!.jws)]);
      expect(results.map((r) => r.status).sort()).toEqual(['duplicate', 'duplicate', 'stored']);
      const rival = await make(K.b, 'member-b', 2, b1!.hash, [add('rival')]);
      const second = await Promise.all([store.ingest(b2!.jws), other.ingest(rival.jws)]);
      expect(second.map((r) => (r.status === 'rejected' ? r.reason : r.status)).sort()).toEqual(['fork', 'stored']);
      expect((await batchRows()).map((r) => r.seq)).toEqual([1, 2]);
      expect(events).toHaveLength(2);
      // Whichever of the two won, its items alone are applied.
      const won = (await batchRows())[1]!.hash === b2!.hash ? 'x2' : 'rival';
      expect(await labelsOf('member-b', ['x1', 'x2', 'rival'])).toEqual(['x1', won]);
    });

    it('lists heads and ranges, within limits', async () => {
      const b = await chain(K.b, 'member-b', 5, (seq) => [add(`b${seq}`)]);
      const e = await chain(K.e, 'member-e', 2, () => []);
      expect(await store.heads()).toEqual(new Map());
      await store.ingestMany([...b, ...e].map((x) => x.jws));
      expect(await store.heads()).toEqual(new Map([['member-b', { seq: 5, hash: b[4]!.hash }], ['member-e', { seq: 2, hash: e[1]!.hash }]]));
      expect(await store.range('member-b', 2, { limit: 2 })).toEqual([b[1]!.jws, b[2]!.jws]);
      expect(await store.range('member-b', 4)).toEqual([b[3]!.jws, b[4]!.jws]);
      expect(await store.range('member-b', 1, { maxBytes: 1 })).toEqual([b[0]!.jws]);
      expect(await store.range('member-b', 1, { maxBytes: b[0]!.jws.length + b[1]!.jws.length })).toEqual([b[0]!.jws, b[1]!.jws]);
      expect(await store.range('member-b', 1, { maxBytes: b[0]!.jws.length + b[1]!.jws.length - 1 })).toEqual([b[0]!.jws]);
      expect(await store.range('member-b', 6)).toEqual([]);
      expect(await store.range('member-x', 1)).toEqual([]);
      await expect(store.range('member-b', 0)).rejects.toThrow(RangeError);
      await expect(store.range('member-b', 1, { limit: 0 })).rejects.toThrow(RangeError);
      await expect(store.range('member-b', 1.5)).rejects.toThrow(RangeError);
    });

    it('keeps own batches unpublished until marked, and checks that they continue the chain', async () => {
      const own = await chain(K.e, 'member-e', 3, (seq) => [add(`own${seq}`)]);
      await t.db.transaction(async (tx) => {
        for (const x of own.slice(0, 2)) await store.appendOwn(tx, x.jws, x.batch, x.hash);
      });
      // Received batches count as published.
      await store.ingest((await make(K.b, 'member-b', 1, null, [])).jws);
      expect(await store.unpublished('member-b')).toEqual([]);
      expect(await store.unpublished('member-e')).toEqual([{ seq: 1, jws: own[0]!.jws }, { seq: 2, jws: own[1]!.jws }]);
      expect(await labelsOf('member-e', ['own1', 'own2'])).toEqual(['own1', 'own2']);
      expect(events.map((x) => x.origin)).toEqual(['member-b']);
      await store.markPublished('member-e', [1]);
      expect((await store.unpublished('member-e')).map((r) => r.seq)).toEqual([2]);
      await store.markPublished('member-e', []);
      // A batch that skips a seq, or names another prev, is refused and rolls back with its transaction.
      const skip = await make(K.e, 'member-e', 4, own[2]!.hash, [add('own4')]);
      await expect(t.db.transaction((tx) => store.appendOwn(tx, skip.jws, skip.batch, skip.hash))).rejects.toThrow(/does not continue/);
      const wrongPrev = await make(K.e, 'member-e', 3, own[0]!.hash, [add('own3')]);
      await expect(t.db.transaction((tx) => store.appendOwn(tx, wrongPrev.jws, wrongPrev.batch, wrongPrev.hash))).rejects.toThrow(/does not continue/);
      expect((await store.head('member-e'))?.seq).toBe(2);
      expect(await labelsOf('member-e', ['own3', 'own4'])).toEqual([]);
    });

    it('expires indicators past expiresAt or of epochs out of grace, and purges a revoked origin', async () => {
      const b = await make(K.b, 'member-b', 1, null, [add('soon', { expiresAt: '2026-04-22T01:00:00Z' }), add('later')]);
      const e1 = await make(K.e, 'member-e', 1, null, [add('old-epoch')], { epoch: 1, createdAt: '2026-04-19T00:00:00Z' });
      const e2 = await make(K.e, 'member-e', 2, e1.hash, [add('new-epoch')]);
      await store.ingestMany([b.jws, e1.jws, e2.jws]);
      expect(store.liveEpochs()).toEqual([1, 2]);
      expect(await store.expire()).toBe(0);
      clock = '2026-04-22T01:00:00Z';
      expect(await store.expire()).toBe(0);
      clock = '2026-04-22T01:00:01Z';
      expect(await store.expire()).toBe(1);
      expect(await labelsOf('member-b', ['soon', 'later'])).toEqual(['later']);
      clock = '2026-04-27T00:00:00Z';
      expect(store.liveEpochs()).toEqual([2]);
      expect(await store.expire()).toBe(1);
      expect(await labelsOf('member-e', ['old-epoch', 'new-epoch'])).toEqual(['new-epoch']);
      state = null;
      expect(store.liveEpochs()).toEqual([]);
      expect(await store.expire()).toBe(0);

      expect(await store.purgeOrigin('member-e')).toBe(1);
      expect((await indicators()).map((r) => r.origin)).toEqual(['member-b']);
      expect((await batchRows()).map((r) => r.origin)).toEqual(['member-b', 'member-e', 'member-e']);
      expect(await store.purgeOrigin('member-e')).toBe(0);
    });

    it('keeps a batch stored when the onStored listener throws, and reports the error', async () => {
      const errors: unknown[] = [];
      const s = newStore({ onStored: () => { throw new Error('listener broke'); }, onError: (err) => errors.push(err) });
      const b = await make(K.b, 'member-b', 1, null, [add('x')]);
      expect((await s.ingest(b.jws)).status).toBe('stored');
      expect(errors.map((e) => (e as Error).message)).toEqual(['listener broke']);
      expect(await s.ingest(b.jws)).toMatchObject({ status: 'duplicate' });
    });
  });
}

describe('BatchStore options', () => {
  it('refuses a negative grace period', () => {
    expect(() => new BatchStore({} as never, { roster: () => null, graceMs: -1 })).toThrow(RangeError);
  });

  it('verifies without a database: a fresh random key is nobody', async () => {
    const store = new BatchStore({} as never, { roster: () => R.epoch2, graceMs: GRACE_MS, now: () => new Date('2026-04-22T00:00:00Z') });
    const stranger = await newSigner();
    const batch = await make(stranger, 'member-b', 1, null, [add(randomBytes(4).toString('hex'))]);
    expect(await store.verify(batch.jws)).toEqual({ ok: false, outcome: rejected('unknown_origin') });
    const ok = await store.verify((await make(K.b, 'member-b', 1, null, [])).jws);
    expect(ok.ok && ok.verified.batch.origin).toBe('member-b');
  });
});
