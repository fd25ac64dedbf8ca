import { afterEach, describe, expect, it } from 'vitest';
import { textArrayLiteral } from '../../../node/storage/sql.ts';
import { loadMigrations, migrate } from '../../../node/storage/migrate.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';

const DIGEST = Buffer.alloc(32, 3).toString('base64url');
const REF = Buffer.alloc(16, 4).toString('base64url');

describe.each(STORAGES)('indicator storage for ingest (%s)', (kind) => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('migration 008 keeps existing indicators and matches, keyed by digest, with byte-order digests and refs', async () => {
    t = await openTestDb(kind, { migrate: false });
    const all = loadMigrations();
    await migrate(t.db, all.filter((m) => m.version < 8));
    await t.db.query(
      `INSERT INTO indicators (origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq)
       VALUES ('peer-a', 'phone', $1, $2, 1, '{COUNTERFEIT}', 'CONFIRMED', 80, '2026-11-01', '2099-01-01T00:00:00Z', 1)`,
      [DIGEST, REF],
    );
    await t.db.query(
      `INSERT INTO matches (record_id, record_ref, origin, ref, types, identifiers, categories, status, confidence, created_at, updated_at)
       VALUES (gen_random_uuid(), $1, 'peer-a', $1, '{phone}', '[]', '{COUNTERFEIT}', 'CONFIRMED', 80, now(), now())`,
      [REF],
    );
    expect((await migrate(t.db, all)).applied).toEqual(all.filter((m) => m.version >= 8).map((m) => m.version));

    const { rows } = await t.db.query<{ digest: string; ref: string }>('SELECT digest, ref FROM indicators');
    expect(rows).toEqual([{ digest: DIGEST, ref: REF }]);
    expect((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM matches WHERE ref = $1 AND record_ref = $1', [REF])).rows[0]!.n).toBe(1);

    const { rows: indexes } = await t.db.query<{ indexname: string; indexdef: string }>("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'indicators' ORDER BY indexname");
    expect(indexes.map((i) => i.indexname)).toEqual(['indicators_expires_idx', 'indicators_origin_ref_idx', 'indicators_pkey']);
    expect(indexes.find((i) => i.indexname === 'indicators_pkey')!.indexdef).toMatch(/\(digest, type, origin, ref\)$/);
    const { rows: columns } = await t.db.query<{ rel: string; col: string; collation: string }>(
      `SELECT c.relname AS rel, a.attname AS col, co.collname AS collation
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_collation co ON co.oid = a.attcollation
        WHERE c.relname IN ('indicators', 'matches') AND a.attname IN ('digest', 'ref', 'record_ref') ORDER BY 1, 2`,
    );
    expect(columns).toEqual([
      { rel: 'indicators', col: 'digest', collation: 'C' },
      { rel: 'indicators', col: 'ref', collation: 'C' },
      { rel: 'matches', col: 'record_ref', collation: 'C' },
      { rel: 'matches', col: 'ref', collation: 'C' },
    ]);

    // The upsert's conflict target still names the key (in any column order).
    await t.db.query(
      `INSERT INTO indicators (origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq)
       VALUES ('peer-a', 'phone', $1, $2, 1, '{}', 'DISPUTED', 10, '2026-11-01', '2099-01-01T00:00:00Z', 2)
       ON CONFLICT (origin, type, digest, ref) DO UPDATE SET status = EXCLUDED.status, seq = EXCLUDED.seq`,
      [DIGEST, REF],
    );
    expect((await t.db.query<{ status: string; seq: string }>('SELECT status, seq::text AS seq FROM indicators')).rows).toEqual([{ status: 'DISPUTED', seq: '2' }]);
  });

  it('serves a lookup by digest and an actor by (origin, ref) from indexes, with text parameters', async () => {
    t = await openTestDb(kind);
    const plan = async (sql: string, params: unknown[]) =>
      t!.db.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        const { rows } = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    expect(await plan('SELECT origin, ref FROM indicators WHERE digest = $1 AND type = $2', [DIGEST, 'phone'])).toMatch(/indicators_pkey/);
    expect(await plan('SELECT i.origin FROM unnest($1::text[], $2::text[]) AS q(digest, type) JOIN indicators i ON i.digest = q.digest AND i.type = q.type', [[DIGEST], ['phone']])).toMatch(
      /indicators_pkey/,
    );
    expect(await plan('SELECT digest FROM indicators WHERE origin = $1 AND ref = ANY($2::text[])', ['peer-a', [REF]])).toMatch(/indicators_origin_ref_idx/);
    expect(await plan('SELECT id FROM matches m JOIN indicators i ON m.origin = i.origin AND m.ref = i.ref WHERE i.digest = $1', [DIGEST])).toMatch(/matches_origin_ref_idx/);
  });

  it('textArrayLiteral reads back as the same text[] for any strings and nulls', async () => {
    t = await openTestDb(kind);
    const values = ['plain', 'NULL', 'null', '', ' spaced ', 'a,b', '{braces}', 'quote"d', 'back\\slash', '\\"both\\"', 'ünïcode', null, 'tab\there'];
    const { rows } = await t.db.query<{ a: Array<string | null> }>('SELECT $1::text[] AS a', [textArrayLiteral(values)]);
    expect(rows[0]!.a).toEqual(values);
    const { rows: empty } = await t.db.query<{ n: number }>('SELECT cardinality($1::text[]) AS n', [textArrayLiteral([])]);
    expect(empty[0]!.n).toBe(0);
  });
});
