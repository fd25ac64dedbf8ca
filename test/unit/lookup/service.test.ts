import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LookupService } from '../../../node/lookup/lookup.ts';
import { RateLimiter } from '../../../node/lookup/rate-limit.ts';
import { RecordStore } from '../../../node/records/store.ts';
import { validateRecordInput } from '../../../node/records/model.ts';
import { sqlText, type Database } from '../../../node/storage/database.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';
import { LookupFixture, ref } from '../../helpers/lookup-fixture.ts';

/** The real database, with every statement sent to it counted (transactions count their statements). */
function counting(db: Database): { db: Database; calls: () => number; auditInserts: () => number } {
  let n = 0;
  let audits = 0;
  const wrapped: Database = {
    kind: db.kind,
    query: (sql, params) => {
      n++;
      if (/INSERT INTO audit_log/.test(sqlText(sql))) audits++;
      return db.query(sql, params);
    },
    exec: (sql) => {
      n++;
      return db.exec(sql);
    },
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: (sql, params) => {
            n++;
            return tx.query(sql, params);
          },
          exec: (sql) => {
            n++;
            return tx.exec(sql);
          },
        }),
      ),
    ping: () => db.ping(),
    close: () => db.close(),
  };
  return { db: wrapped, calls: () => n, auditInserts: () => audits };
}

describe.each(STORAGES)('LookupService (%s)', (storage) => {
  let f: LookupFixture;
  let t: TestDb;

  beforeAll(async () => {
    f = await LookupFixture.create();
    t = await openTestDb(storage);
    const items = Array.from({ length: 200 }, (_, i) => f.item('email', `seller${i}@example.com`, { ref: ref(1 + (i % 5)) }));
    await f.publish(t.db, f.members.peerA, items);
    await f.publish(t.db, f.members.peerB, items.slice(0, 50).map((x) => ({ ...x, ref: ref(9) })));
    const records = new RecordStore(t.db);
    for (let i = 0; i < 20; i++) {
      await records.create(validateRecordInput({ kind: 'SHOP', name: `Own ${i}`, identifiers: [{ type: 'email', value: `seller${i * 10}@example.com` }] }), { sub: 'analyst', role: 'analyst' });
    }
  });
  afterAll(async () => {
    await t?.close();
    f?.remove();
  });

  it('answers a whole request in one read statement, then commits its audit row', async () => {
    const { db, calls, auditInserts } = counting(t.db);
    const service = new LookupService(db, f.sources(t.db));
    const inputs = Array.from({ length: 1000 }, (_, i) => ({ type: 'email' as const, value: i % 7 === 0 ? `not an address ${i}` : `Seller${i}@Example.com` }));
    const auditBefore = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log')).rows[0]!.n;
    const out = await service.lookup(inputs, { actor: { sub: 'counted', role: 'trust' } });
    expect(calls()).toBe(2);
    expect(auditInserts()).toBe(1);
    const valid = inputs.filter((_, i) => i % 7 !== 0).length;
    expect(out.invalid).toBe(1000 - valid);
    // seller0..199 at peer-a; seller0..49 also at peer-b; own records for seller0, 10, ..., 190; multiples of 7 are invalid.
    const isValid = (i: number) => i % 7 !== 0;
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(out.peerHits).toBe(range(200).filter(isValid).length + range(50).filter(isValid).length);
    expect(out.ownHits).toBe(range(20).map((i) => i * 10).filter(isValid).length);
    expect(out.hitCount).toBe(out.peerHits + out.ownHits);
    const audit = await t.db.query<{ id: string; n: number; hit_count: number; digests: number; details: unknown }>(
      'SELECT id::text AS id, count(*) OVER ()::int AS n, hit_count, cardinality(digests) AS digests, details FROM audit_log ORDER BY id DESC LIMIT 1',
    );
    expect(audit.rows[0]).toMatchObject({ id: out.auditId, n: auditBefore + 1, hit_count: out.hitCount, digests: valid });
    const details = audit.rows[0]!.details;
    expect(typeof details === 'string' ? JSON.parse(details) : details).toMatchObject({ peerHits: out.peerHits, ownHits: out.ownHits, invalid: out.invalid, epochs: out.epochs });
    // Five actors at peer-a and one at peer-b, most identifiers first, then by member and ref.
    const expected: Array<[string, string, number]> = [['peer-b', ref(9), range(50).filter(isValid).length]];
    for (const k of [1, 2, 3, 4, 5]) expected.push(['peer-a', ref(k), range(200).filter((i) => isValid(i) && i % 5 === k - 1).length]);
    expected.sort((a, b) => b[2] - a[2] || a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
    expect(out.subjects.filter((s) => !s.own).map((s) => [s.member!.id, s.ref, s.count])).toEqual(expected);
    expect(out.subjects.filter((s) => s.own)).toHaveLength(out.ownHits);
  });

  it('concurrent lookups share audit inserts, and each answer names its own committed row', async () => {
    const { db, calls, auditInserts } = counting(t.db);
    const service = new LookupService(db, f.sources(t.db));
    const n = 40;
    const outs = await Promise.all(
      Array.from({ length: n }, (_, i) => service.lookup([{ type: 'email', value: `seller${i}@example.com` }, { type: 'email', value: `nobody${i}@example.com` }], { actor: { sub: `concurrent-${i}`, role: 'trust' } })),
    );
    expect(calls()).toBe(n + auditInserts());
    expect(auditInserts()).toBeLessThan(n / 4);
    const { rows } = await t.db.query<{ id: string; subject: string; hit_count: number; identifier_count: number }>(
      "SELECT id::text AS id, subject, hit_count, identifier_count FROM audit_log WHERE subject LIKE 'concurrent-%'",
    );
    expect(rows).toHaveLength(n);
    const byId = new Map(rows.map((r) => [r.id, r]));
    outs.forEach((out, i) => {
      expect(byId.get(out.auditId)).toEqual({ id: out.auditId, subject: `concurrent-${i}`, hit_count: out.hitCount, identifier_count: 2 });
      expect(out.hitCount).toBe(2 + (i % 10 === 0 ? 1 : 0));
    });
  });

  it('without a roster or epoch keys, still finds own records (nothing published yet)', async () => {
    const service = new LookupService(t.db, { self: () => undefined, roster: () => null, epochKeys: () => new Map(), liveEpochs: () => [] });
    const out = await service.lookup([{ type: 'email', value: 'seller10@example.com' }], { actor: { sub: 'x', role: 'trust' } });
    expect(out.epochs).toEqual([]);
    expect(out.results[0]!.matches).toEqual([]);
    expect(out.results[0]!.ownRecords.map((o) => o.name)).toEqual(['Own 1']);
    expect(out.subjects).toEqual([expect.objectContaining({ own: true, member: null, count: 1 })]);
  });
});

describe('RateLimiter', () => {
  it('lets a burst through, then refills at the sustained rate, all or nothing per request', () => {
    let now = 0;
    const limiter = new RateLimiter({ perMinute: 600, burst: 100, now: () => now });
    expect(limiter.take('a', 100)).toBe(0);
    // 10 per second: 5 more need half a second, reported as 1 s.
    expect(limiter.take('a', 5)).toBe(1);
    expect(limiter.take('a', 50)).toBe(5);
    // Another subject has its own bucket.
    expect(limiter.take('b', 100)).toBe(0);
    now += 5000;
    expect(limiter.take('a', 50)).toBe(0);
    expect(limiter.take('a', 1)).toBe(1);
    // Idle long: back to the burst, never beyond it.
    now += 3_600_000;
    expect(limiter.take('a', 100)).toBe(0);
    expect(limiter.take('a', 1)).toBe(1);
    expect(() => limiter.take('a', 101)).toThrow(RangeError);
  });

  it('is off with a rate of 0', () => {
    const limiter = new RateLimiter({ perMinute: 0, burst: 1 });
    expect(limiter.unlimited).toBe(true);
    expect(limiter.burst).toBe(Number.POSITIVE_INFINITY);
    for (let i = 0; i < 100; i++) expect(limiter.take('a', 1000)).toBe(0);
  });
});
