import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlText, statement } from '../../../node/storage/database.ts';
import { openPg } from '../../../node/storage/pg.ts';
import { STORAGES, createPgDatabase, openTestDb, type TestDb } from '../../helpers/storage.ts';

describe('statement', () => {
  it('names a text once per process; the same text may be named again, another may not', () => {
    const a = statement('alliance_test_one', 'SELECT $1::int + 1 AS n');
    expect(statement('alliance_test_one', 'SELECT $1::int + 1 AS n')).toEqual(a);
    expect(() => statement('alliance_test_one', 'SELECT 2')).toThrow(/taken by another statement/);
    expect(Object.isFrozen(a)).toBe(true);
    expect(sqlText(a)).toBe('SELECT $1::int + 1 AS n');
    expect(sqlText('SELECT 3')).toBe('SELECT 3');
  });

  it('refuses names outside alliance_[a-z0-9_]', () => {
    for (const name of ['lookup', 'alliance_', 'alliance_Upper', 'alliance_a-b', `alliance_${'x'.repeat(51)}`]) {
      expect(() => statement(name, 'SELECT 1'), name).toThrow(RangeError);
    }
  });
});

describe.each(STORAGES)('prepared statements (%s)', (storage) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(storage);
  });
  afterAll(() => t?.close());

  const add = statement('alliance_test_add', 'SELECT $1::int + $2::int AS n');

  it('run with their parameters, again and again, in and out of transactions', async () => {
    for (let i = 0; i < 3; i++) expect((await t.db.query<{ n: number }>(add, [i, 10])).rows).toEqual([{ n: i + 10 }]);
    const inTx = await t.db.transaction(async (tx) => {
      const first = (await tx.query<{ n: number }>(add, [1, 2])).rows[0]!.n;
      const second = (await tx.query<{ n: number }>(add, [3, 4])).rows[0]!.n;
      return [first, second];
    });
    expect(inTx).toEqual([3, 7]);
  });

  it('a bad parameter fails that call only', async () => {
    await expect(t.db.query(add, ['not a number', 1])).rejects.toThrow(/invalid input syntax for type integer/);
    expect((await t.db.query<{ n: number }>(add, [2, 2])).rows).toEqual([{ n: 4 }]);
  });

  if (storage === 'pg') {
    it('are prepared on the connection under their name (PostgreSQL)', async () => {
      const names = await t.db.transaction(async (tx) => {
        await tx.query(add, [1, 1]);
        return (await tx.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((r) => r.name);
      });
      expect(names).toContain('alliance_test_add');
    });

    it('generic ones run on connections that plan them once, keeping the options of the URL (PostgreSQL)', async () => {
      const settings = "SELECT current_setting('plan_cache_mode') AS mode, current_setting('statement_timeout') AS timeout";
      const generic = statement('alliance_test_generic_mode', settings, { plan: 'generic' });
      const custom = statement('alliance_test_custom_mode', settings);
      const pgDb = await createPgDatabase();
      const url = new URL(pgDb.url);
      url.searchParams.set('options', '-c statement_timeout=12345');
      const db = await openPg({ connectionString: url.toString(), max: 2 });
      try {
        expect((await db.query(generic)).rows).toEqual([{ mode: 'force_generic_plan', timeout: '12345ms' }]);
        expect((await db.query(custom)).rows).toEqual([{ mode: 'auto', timeout: '12345ms' }]);
        const add2 = statement('alliance_test_generic_add', 'SELECT sum(x)::int AS n FROM unnest($1::int[]) AS x', { plan: 'generic' });
        for (let i = 1; i <= 8; i++) expect((await db.query<{ n: number }>(add2, [Array.from({ length: i }, () => 1)])).rows).toEqual([{ n: i }]);
      } finally {
        await db.close();
        await pgDb.drop();
      }
      await expect(db.query(generic)).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    });
  }
});
