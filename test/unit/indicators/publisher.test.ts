import fs from 'node:fs';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BatchStore } from '../../../node/indicators/batch-store.ts';
import { verifyBatch, type Batch } from '../../../node/indicators/batch.ts';
import { deriveDigest } from '../../../node/indicators/derive.ts';
import { epochKey, type EpochKey } from '../../../node/membership/epoch-keyring.ts';
import type { Indicator } from '../../../node/indicators/indicator.ts';
import { Publisher, type PublisherOptions } from '../../../node/indicators/publisher.ts';
import { loadMemberIdentity } from '../../../node/membership/keys.ts';
import { applyEntry, findSigningKey, type RosterState } from '../../../node/membership/roster-state.ts';
import { validateRecordInput, type Actor, type RawRecordInput, type StoredRecord } from '../../../node/records/model.ts';
import { RecordStore, insertRecords } from '../../../node/records/store.ts';
import { epochBody, genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin, type TestMember } from '../../helpers/roster.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';

const ALLIANCE = 'publish-alliance';
const SELF = 'member-p';
const GRACE_MS = 7 * 86_400_000;
const ACTOR: Actor = { sub: 'analyst@example.com', role: 'analyst' };

interface Signer {
  kid: string;
  privateKey: CryptoKey;
}

/**
 * Roster states, all branching from `epoch1` (entries are pure data, so one state can be continued
 * in several ways):
 *   epoch1   P and Q admitted 04-01 00:00/00:01, epoch 1 at 04-01 01:00
 *   epoch2   + epoch 2 at 04-10 00:00 (epoch 1 live until 04-17 00:00)
 *   rotated  + P's signing key replaced by `pNew` at 04-03 00:00
 *   suspended + P suspended at 04-02 00:00
 */
const R: Record<'epoch1' | 'epoch2' | 'rotated' | 'suspended', RosterState> = {} as never;
let pOld: Signer;
let pNew: Signer;
const members: TestMember[] = [];

async function step(state: RosterState, p: Parameters<typeof nextText>[1], admin: TestAdmin): Promise<RosterState> {
  return applyEntry(state, await nextText(state, p, [admin]));
}

beforeAll(async () => {
  const admin = await newTestAdmin('admin');
  let s = await applyEntry(null, await genesisText(ALLIANCE, [admin], 1));
  for (const [i, id] of [SELF, 'member-q'].entries()) {
    const m = await newTestMember(id);
    members.push(m);
    s = await step(s, { type: 'member.add', body: m.request, createdAt: `2026-04-01T00:0${i}:00Z` }, admin);
  }
  const identity = await loadMemberIdentity(members[0]!.dataDir);
  pOld = { kid: identity.signingKey.kid, privateKey: identity.signingKey.privateKey };
  s = await step(s, { type: 'epoch.new', body: await epochBody(ALLIANCE, 1, members.map((m) => m.request)), createdAt: '2026-04-01T01:00:00Z' }, admin);
  R.epoch1 = s;
  R.epoch2 = await step(s, { type: 'epoch.new', body: await epochBody(ALLIANCE, 2, members.map((m) => m.request)), createdAt: '2026-04-10T00:00:00Z' }, admin);
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const x = (await exportJWK(publicKey)).x!;
  pNew = { kid: await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x }), privateKey };
  R.rotated = await step(s, { type: 'member.update', body: { id: SELF, signingKey: { kid: pNew.kid, jwk: { kty: 'OKP', crv: 'Ed25519', x } } }, createdAt: '2026-04-03T00:00:00Z' }, admin);
  R.suspended = await step(s, { type: 'member.suspend', body: { id: SELF }, createdAt: '2026-04-02T00:00:00Z' }, admin);
});

afterAll(() => {
  for (const m of members) fs.rmSync(m.dataDir, { recursive: true, force: true });
});

const K1 = epochKey(randomBytes(32));
const K2 = epochKey(randomBytes(32));

function seller(n: number, over: RawRecordInput = {}): RawRecordInput {
  return {
    kind: 'SELLER',
    name: `Seller ${n}`,
    identifiers: [
      { type: 'email', value: `seller${n}@example.com` },
      { type: 'phone', value: `+1 202 555 01${String(n % 100).padStart(2, '0')}` },
    ],
    categories: ['TRADEMARK', 'COUNTERFEIT'],
    status: 'CONFIRMED',
    confidence: 90,
    ...over,
  };
}

for (const kind of STORAGES) {
  describe(`Publisher on ${kind}`, () => {
    let t: TestDb;
    let records: RecordStore;
    let state: RosterState | null;
    let clock: string;
    let keys: Map<number, EpochKey>;
    let published: Array<{ jws: string; batch: Batch }>;
    let store: BatchStore;

    const publisher = (over: Partial<PublisherOptions> = {}) =>
      new Publisher(t.db, {
        self: { id: SELF, signingKeys: [pOld] },
        roster: () => state,
        epochKey: (e) => keys.get(e),
        store,
        lifetimeDays: 30,
        batchItems: 100,
        windowMs: 20,
        graceMs: GRACE_MS,
        onBatch: (jws, batch) => void published.push({ jws, batch }),
        now: () => new Date(clock),
        ...over,
      });

    beforeAll(async () => {
      t = await openTestDb(kind);
      records = new RecordStore(t.db);
    });
    afterAll(async () => {
      await t?.close();
    });
    beforeEach(async () => {
      await t.db.exec('TRUNCATE records, record_identifiers, record_changes, batches, indicators, indicator_outbox');
      state = R.epoch1;
      clock = '2026-04-05T00:00:00Z';
      keys = new Map([[1, K1]]);
      published = [];
      store = new BatchStore(t.db, { roster: () => state, graceMs: GRACE_MS, now: () => new Date(clock) });
    });

    const create = async (input: RawRecordInput) => records.create(validateRecordInput(input), ACTOR);
    const outbox = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM indicator_outbox')).rows[0]!.n;
    const chainSeqs = async () => (await t.db.query<{ seq: number }>('SELECT seq::float8 AS seq FROM batches WHERE origin = $1 ORDER BY seq', [SELF])).rows.map((r) => r.seq);
    const ownRows = async () =>
      (await t.db.query<{ epoch: number; type: string; digest: string; ref: string; confidence: number }>('SELECT epoch, type, digest, ref, confidence FROM indicators WHERE origin = $1 ORDER BY epoch, type, digest', [SELF])).rows;
    const digestsOf = (rec: StoredRecord, key: EpochKey) => rec.identifiers.map((i) => deriveDigest(key, i.type, i.canonical)).sort();
    const ops = (items: Indicator[]) => items.map((i) => `${i.op}:${i.type}:${i.digest}`).sort();
    const expectOps = (rec: StoredRecord, key: EpochKey, op: 'add' | 'retract', types = rec.identifiers.map((i) => i.type)) =>
      rec.identifiers.filter((i) => types.includes(i.type)).map((i) => `${op}:${i.type}:${deriveDigest(key, i.type, i.canonical)}`).sort();

    it('publishes a new record as a signed batch whose digests are its keyed identifiers', async () => {
      const rec = await create(seller(1));
      expect(await outbox()).toBe(1);
      const pub = publisher();
      expect(await pub.flush()).toEqual({ batches: 1, items: 2 });
      expect(await outbox()).toBe(0);
      expect(published).toHaveLength(1);
      const { jws, batch } = published[0]!;
      expect(batch).toMatchObject({ v: 1, alliance: ALLIANCE, origin: SELF, kid: pOld.kid, epoch: 1, seq: 1, prev: null, createdAt: '2026-04-05T00:00:00Z' });
      expect(batch.items.map((i) => i.digest).sort()).toEqual(digestsOf(rec, K1));
      expect(batch.items[0]).toMatchObject({
        op: 'add',
        ref: rec.ref,
        categories: ['COUNTERFEIT', 'TRADEMARK'],
        status: 'CONFIRMED',
        confidence: 90,
        firstSeen: rec.createdAt.slice(0, 10),
        expiresAt: '2026-05-05T00:00:00Z',
      });
      // Any peer accepts it against the roster.
      const verified = await verifyBatch(jws, {
        alliance: ALLIANCE,
        resolveKey: (kid) => {
          const f = findSigningKey(state!, kid);
          return f && { key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: f.key.jwk.x! }, format: 'jwk' }), origin: f.member.id };
        },
      });
      expect(verified.batch).toEqual(batch);
      expect((await store.verify(jws)).ok).toBe(true);
      expect(await store.unpublished(SELF)).toEqual([]);
      expect((await ownRows()).map((r) => r.digest).sort()).toEqual(digestsOf(rec, K1));
      // Nothing queued, nothing to publish.
      expect(await pub.flush()).toEqual({ batches: 0, items: 0 });
    });

    it('retracts what an update removes, re-adds what it changes, and keeps the chain gapless', async () => {
      const pub = publisher();
      const rec = await create(seller(2));
      const other = await create(seller(3));
      await pub.flush();
      // One identifier removed: only its retract.
      const email = rec.identifiers.find((i) => i.type === 'email')!;
      const updated = await records.update(rec.id, { identifiers: [email] }, ACTOR);
      expect(await pub.flush()).toEqual({ batches: 1, items: 1 });
      expect(ops(published[1]!.batch.items)).toEqual(expectOps(rec, K1, 'retract', ['phone']));
      // Confidence changed: the remaining indicator again, with the new value.
      await records.update(rec.id, { confidence: 40 }, ACTOR);
      await pub.flush();
      expect(published[2]!.batch.items.map((i) => [i.op, i.digest, i.confidence])).toEqual([['add', deriveDigest(K1, 'email', email.canonical), 40]]);
      // CLEARED retracts everything of the record.
      await records.setStatus(rec.id, 'CLEARED', null, ACTOR);
      await pub.flush();
      expect(ops(published[3]!.batch.items)).toEqual(expectOps(updated, K1, 'retract'));
      // Deleting retracts too.
      await records.delete(other.id, null, ACTOR);
      await pub.flush();
      expect(ops(published[4]!.batch.items)).toEqual(expectOps(other, K1, 'retract'));
      expect(await ownRows()).toEqual([]);
      // Writes that change nothing published publish nothing.
      await records.update(rec.id, { notes: 'still cleared' }, ACTOR);
      expect(await pub.flush()).toEqual({ batches: 0, items: 0 });

      expect(published.map((p) => p.batch.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(await chainSeqs()).toEqual([1, 2, 3, 4, 5]);
      const chain = (await t.db.query<{ prev: string | null; hash: string }>('SELECT prev, hash FROM batches WHERE origin = $1 ORDER BY seq', [SELF])).rows;
      chain.forEach((b, i) => expect(b.prev).toBe(i === 0 ? null : chain[i - 1]!.hash));
      expect(published.map((p) => p.batch.prev)).toEqual(chain.map((b) => b.prev));
    });

    it('skips identifiers without a canonical form', async () => {
      const rec = await create(seller(4));
      await t.db.query("UPDATE record_identifiers SET canonical = NULL WHERE type = 'phone'");
      await publisher().flush();
      expect(ops(published[0]!.batch.items)).toEqual(expectOps(rec, K1, 'add', ['email']));
    });

    it('leaves the outbox alone until the roster, the member, the epoch key and the signing key allow publishing', async () => {
      await create(seller(5));
      await create(seller(6));
      const blocked: Array<[string, () => void]> = [
        ['no roster', () => (state = null)],
        ['suspended', () => (state = R.suspended)],
        ['no epoch key', () => (keys = new Map())],
        ['not a member', () => void 0],
      ];
      for (const [what, setup] of blocked) {
        state = R.epoch1;
        keys = new Map([[1, K1]]);
        setup();
        const pub = what === 'not a member' ? publisher({ self: { id: 'member-z', signingKeys: [pOld] } }) : publisher();
        expect(await pub.flush(), what).toEqual({ batches: 0, items: 0 });
      }
      // The roster lists a current key the identity does not hold.
      state = R.rotated;
      expect(await publisher({ self: { id: SELF, signingKeys: [pOld] } }).flush()).toEqual({ batches: 0, items: 0 });
      expect(await outbox()).toBe(2);
      expect(await chainSeqs()).toEqual([]);
      expect(published).toEqual([]);

      state = R.epoch1;
      keys = new Map([[1, K1]]);
      expect(await publisher().flush()).toEqual({ batches: 1, items: 4 });
      expect(await outbox()).toBe(0);
    });

    it('signs with the roster\'s current key: the old one until the rotation applies, then the new one', async () => {
      const pub = publisher({ self: { id: SELF, signingKeys: [pOld, pNew] } });
      await create(seller(7));
      await pub.flush();
      expect(published[0]!.batch.kid).toBe(pOld.kid);
      state = R.rotated;
      await create(seller(8));
      await pub.flush();
      expect(published[1]!.batch).toMatchObject({ kid: pNew.kid, seq: 2 });
      expect((await store.verify(published[1]!.jws)).ok).toBe(true);
    });

    it('re-derives under a new epoch after requeueAll, and retracts old-epoch rows only for changes', async () => {
      const pub = publisher();
      const a = await create(seller(10));
      const b = await create(seller(11));
      const c = await create(seller(12));
      await pub.flush();
      state = R.epoch2;
      clock = '2026-04-12T00:00:00Z';
      keys.set(2, K2);
      expect(await pub.requeueAll()).toBe(3);
      expect(await pub.flush()).toEqual({ batches: 1, items: 6 });
      expect(published[1]!.batch.epoch).toBe(2);
      expect(ops(published[1]!.batch.items)).toEqual([...expectOps(a, K2, 'add'), ...expectOps(b, K2, 'add'), ...expectOps(c, K2, 'add')].sort());
      expect((await ownRows()).filter((r) => r.epoch === 1)).toHaveLength(6);
      // Requeued again with nothing changed: nothing at all.
      await pub.requeueAll();
      expect(await pub.flush()).toEqual({ batches: 0, items: 0 });

      // A change within epoch 1's grace: retracts in both epochs, each in a batch of its own epoch.
      const email = a.identifiers.find((i) => i.type === 'email')!;
      await records.update(a.id, { identifiers: [email] }, ACTOR);
      await pub.flush();
      expect(published.slice(2).map((p) => [p.batch.epoch, ops(p.batch.items)])).toEqual([
        [1, expectOps(a, K1, 'retract', ['phone'])],
        [2, expectOps(a, K2, 'retract', ['phone'])],
      ]);
      // Without epoch 1's key, its rows of a live record are left to expire.
      keys.delete(1);
      await records.update(b.id, { identifiers: [] }, ACTOR);
      await pub.flush();
      expect(published.slice(4).map((p) => [p.batch.epoch, ops(p.batch.items)])).toEqual([[2, expectOps(b, K2, 'retract')]]);
      expect((await ownRows()).filter((r) => r.epoch === 1 && r.ref === b.ref)).toHaveLength(2);

      // After epoch 1's grace, a deleted record's old rows go locally, without a batch of epoch 1.
      clock = '2026-04-17T00:00:00Z';
      await records.delete(c.id, null, ACTOR);
      await pub.flush();
      expect(published.slice(5).map((p) => [p.batch.epoch, ops(p.batch.items)])).toEqual([[2, expectOps(c, K2, 'retract')]]);
      expect((await ownRows()).filter((r) => r.ref === c.ref)).toEqual([]);
      expect(await chainSeqs()).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('rolls back when signing fails mid-way: the outbox stays, nothing is stored', async () => {
      await create(seller(13));
      await create(seller(14));
      const notEd25519 = generateKeyPairSync('x25519').privateKey;
      const broken = publisher({ self: { id: SELF, signingKeys: [{ kid: pOld.kid, privateKey: notEd25519 }] } });
      await expect(broken.flush()).rejects.toThrow(TypeError);
      expect(await outbox()).toBe(2);
      expect(await chainSeqs()).toEqual([]);
      expect(await ownRows()).toEqual([]);
      expect(published).toEqual([]);
      expect(await publisher().flush()).toEqual({ batches: 1, items: 4 });
    });

    it('keeps a batch whose gossip failed unpublished, and hands it over again in publishPending', async () => {
      const errors: unknown[] = [];
      let fail = true;
      const pub = publisher({
        onError: (err) => errors.push(err),
        onBatch: (jws, batch) => {
          if (fail) throw new Error('no peers');
          published.push({ jws, batch });
        },
      });
      await create(seller(15));
      expect(await pub.flush()).toEqual({ batches: 1, items: 2 });
      expect(errors.map((e) => (e as Error).message)).toEqual(['no peers']);
      expect((await store.unpublished(SELF)).map((r) => r.seq)).toEqual([1]);
      fail = false;
      expect(await pub.publishPending()).toBe(1);
      expect(published.map((p) => p.batch.seq)).toEqual([1]);
      expect(published[0]!.batch.items).toHaveLength(2);
      expect(await store.unpublished(SELF)).toEqual([]);
      expect(await pub.publishPending()).toBe(0);
      // Without onBatch there is nothing to hand over to.
      expect(await publisher({ onBatch: undefined }).publishPending()).toBe(0);
    });

    it('splits a 2,000-record import into ceil(items / batchItems) batches', async () => {
      const fields = Array.from({ length: 2000 }, (_, n) => validateRecordInput(seller(n, n % 2 ? {} : { identifiers: [{ type: 'email', value: `seller${n}@example.com` }] })));
      await t.db.transaction((tx) => insertRecords(tx, fields, ACTOR, 'import'));
      const items = 1000 + 2 * 1000;
      const pub = publisher({ batchItems: 700 });
      expect(await pub.flush()).toEqual({ batches: Math.ceil(items / 700), items });
      expect(published.map((p) => p.batch.items.length)).toEqual([700, 700, 700, 700, 200]);
      expect(await chainSeqs()).toEqual([1, 2, 3, 4, 5]);
      expect(await outbox()).toBe(0);
      expect((await ownRows()).length).toBe(items);
    });

    it('takes the outbox in several transactions when it holds more refs than one takes', async () => {
      for (let n = 20; n < 25; n++) await create(seller(n));
      const pub = publisher({ refsPerTransaction: 2 });
      expect(await pub.flush()).toEqual({ batches: 3, items: 10 });
      expect(await outbox()).toBe(0);
      expect(await chainSeqs()).toEqual([1, 2, 3]);
    });

    // PostgreSQL only: PGlite has one connection, so no write can be in flight beside a flush.
    if (kind === 'pg') it('waits for a record write in flight, so a change whose ref was already queued is published', async () => {
      const rec = await create(seller(60));
      expect(await outbox()).toBe(1);
      // A write as RecordStore.update makes it (row lock, update, identifiers replaced), held open:
      // its trigger finds the ref already queued.
      let commit!: () => void;
      const committing = new Promise<void>((r) => (commit = r));
      const writer = t.db.transaction(async (tx) => {
        await tx.query('SELECT version FROM records WHERE id = $1 FOR UPDATE', [rec.id]);
        await tx.query('UPDATE records SET confidence = 40, version = version + 1 WHERE id = $1', [rec.id]);
        await tx.query("DELETE FROM record_identifiers WHERE record_id = $1 AND type = 'phone'", [rec.id]);
        await committing;
      });
      const flushing = publisher().flush();
      try {
        // The flush waits for the writer's row lock instead of taking the ref with the state before it.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const { rows } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
          if (rows[0]!.n > 0) break;
          if (Date.now() > deadline) throw new Error('the flush did not wait for the record write in flight');
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        commit();
        await writer;
      }
      expect(await flushing).toEqual({ batches: 1, items: 1 });
      expect(published[0]!.batch.items.map((i) => [i.op, i.type, i.confidence])).toEqual([['add', 'email', 40]]);
      expect(await outbox()).toBe(0);
    });

    it('serialises concurrent flushes, also of two publishers on one database', async () => {
      await t.db.transaction((tx) => insertRecords(tx, Array.from({ length: 24 }, (_, n) => validateRecordInput(seller(30 + n))), ACTOR, 'import'));
      const one = publisher({ refsPerTransaction: 1 });
      const others = [publisher({ refsPerTransaction: 1 }), publisher({ refsPerTransaction: 1 }), publisher({ refsPerTransaction: 1 })];
      const results = await Promise.all([one.flush(), one.flush(), ...others.map((p) => p.flush())]);
      expect(results.reduce((n, r) => n + r.items, 0)).toBe(48);
      expect(await chainSeqs()).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
      const hashes = (await t.db.query<{ prev: string | null; hash: string }>('SELECT prev, hash FROM batches ORDER BY seq')).rows;
      hashes.forEach((h, i) => expect(h.prev).toBe(i === 0 ? null : hashes[i - 1]!.hash));
    });

    it('queues indicators that expire within refreshDays and publishes them again', async () => {
      const pub = publisher({ lifetimeDays: 8, refreshDays: 2 });
      const rec = await create(seller(40));
      await pub.flush();
      clock = '2026-04-10T23:59:59Z';
      expect(await pub.refreshExpiring()).toBe(0);
      clock = '2026-04-11T00:00:01Z';
      expect(await pub.refreshExpiring()).toBe(1);
      expect(await pub.flush()).toEqual({ batches: 1, items: 2 });
      expect(published[1]!.batch.items.map((i) => i.expiresAt)).toEqual(['2026-04-19T00:00:01Z', '2026-04-19T00:00:01Z']);
      expect(ops(published[1]!.batch.items)).toEqual(expectOps(rec, K1, 'add'));
      state = null;
      expect(await pub.refreshExpiring()).toBe(0);
    });

    it('runs a loop that publishes pending batches, flushes and reports errors without stopping', async () => {
      const errors: unknown[] = [];
      await create(seller(50));
      // A batch left unpublished by an earlier run.
      await publisher({ onBatch: undefined }).flush();
      let fail = true;
      const pub = publisher({
        onError: (err) => errors.push(err),
        epochKey: (e) => {
          if (fail) throw new Error('key store unavailable');
          return keys.get(e);
        },
      });
      pub.start();
      pub.start();
      await waitFor(() => errors.length >= 2);
      expect(published.map((p) => p.batch.seq)).toEqual([1]);
      fail = false;
      await create(seller(51));
      await waitFor(() => published.length === 2);
      await pub.stop();
      await create(seller(52));
      await new Promise((r) => setTimeout(r, 60));
      expect(published.map((p) => p.batch.seq)).toEqual([1, 2]);
      expect(await outbox()).toBe(1);
      expect((errors[0] as Error).message).toBe('key store unavailable');
    });

    it('refuses options it cannot work with', () => {
      expect(() => publisher({ batchItems: 0 })).toThrow(RangeError);
      expect(() => publisher({ batchItems: 1001 })).toThrow(RangeError);
      expect(() => publisher({ batchItems: 1.5 })).toThrow(RangeError);
      expect(() => publisher({ lifetimeDays: 0 })).toThrow(RangeError);
      expect(() => publisher({ lifetimeDays: 10, refreshDays: 10 })).toThrow(RangeError);
      expect(() => publisher({ windowMs: 0 })).toThrow(RangeError);
      expect(() => publisher({ refsPerTransaction: 0 })).toThrow(RangeError);
    });
  });
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
