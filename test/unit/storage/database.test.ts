import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../../node/storage/database.ts';
import { openPg } from '../../../node/storage/pg.ts';
import { STORAGES, openTestDb, PG_ADMIN_URL, type TestDb } from '../../helpers/storage.ts';

describe.each(STORAGES)('database on %s', (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(kind, { migrate: false });
    await t.db.exec('CREATE TABLE items (id int PRIMARY KEY, note text); CREATE TABLE other (id int)');
  });
  afterAll(() => t.close());

  const ids = async () => (await t.db.query<{ id: number }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id);

  it('reports kind, answers ping, and runs scripts of several statements with exec', async () => {
    expect(t.db.kind).toBe(kind);
    await expect(t.db.ping()).resolves.toBeUndefined();
    await t.db.exec("INSERT INTO other VALUES (1); INSERT INTO other VALUES (2); UPDATE other SET id = id + 10");
    const { rows } = await t.db.query<{ id: number }>('SELECT id FROM other ORDER BY id');
    expect(rows).toEqual([{ id: 11 }, { id: 12 }]);
  });

  it('counts rows like pg: rows returned by a SELECT, rows changed by INSERT, UPDATE and DELETE', async () => {
    await t.db.exec('CREATE TABLE counted (n int)');
    expect((await t.db.query('INSERT INTO counted SELECT generate_series(1, 5)')).rowCount).toBe(5);
    const sel = await t.db.query('SELECT n FROM counted WHERE n > $1', [2]);
    expect(sel.rows).toHaveLength(3);
    expect(sel.rowCount).toBe(3);
    expect((await t.db.query('SELECT n FROM counted WHERE n > 99')).rowCount).toBe(0);
    expect((await t.db.query('UPDATE counted SET n = n * 10 WHERE n <= 2')).rowCount).toBe(2);
    expect((await t.db.query('INSERT INTO counted VALUES (7), (8) RETURNING n')).rowCount).toBe(2);
    expect((await t.db.query('DELETE FROM counted WHERE n = 12345')).rowCount).toBe(0);
    expect((await t.db.query('DELETE FROM counted')).rowCount).toBe(7);
  });

  it('passes parameters of several types both ways', async () => {
    const { rows } = await t.db.query<{ a: string[]; i: number; t: string | null; j: unknown }>(
      'SELECT $1::text[] AS a, $2::int AS i, $3::text AS t, $4::jsonb AS j',
      [['x', 'y"z', 'a,b', ''], 42, null, JSON.stringify({ k: [1, 'ü'] })],
    );
    expect(rows).toEqual([{ a: ['x', 'y"z', 'a,b', ''], i: 42, t: null, j: { k: [1, 'ü'] } }]);
  });

  it('returns bigint values and counts as exact decimal strings, arrays too, past 2^31 and 2^53', async () => {
    const { rows } = await t.db.query<{ small: string; past31: string; past53: string; n: string; arr: string[]; i2: number; i4: number }>(
      'SELECT 9::bigint AS small, 2147483648::bigint AS past31, 9007199254740993::bigint AS past53, count(*) AS n, $1::bigint[] AS arr, 7::smallint AS i2, 8::int AS i4 FROM other',
      [['10', '2147483649']],
    );
    expect(rows).toEqual([{ small: '9', past31: '2147483648', past53: '9007199254740993', n: '2', arr: ['10', '2147483649'], i2: 7, i4: 8 }]);
  });

  it('orders a bigint column by number past 9, 99 and 2^31, ascending and descending', async () => {
    await t.db.exec('CREATE TABLE chain (seq bigint PRIMARY KEY)');
    const seqs = [0, 1, 2, 9, 10, 11, 99, 100, 101, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 53 - 1];
    await t.db.query('INSERT INTO chain SELECT unnest($1::bigint[])', [[...seqs].reverse().map(String)]);
    const asc = await t.db.query<{ seq: string }>('SELECT seq FROM chain ORDER BY seq');
    expect(asc.rows.map((r) => Number(r.seq))).toEqual(seqs);
    const desc = await t.db.query<{ seq: string }>('SELECT seq FROM chain WHERE seq > $1 ORDER BY seq DESC', ['9']);
    expect(desc.rows.map((r) => Number(r.seq))).toEqual(seqs.filter((s) => s > 9).reverse());
  });

  it('commits a transaction that resolves, and returns its result', async () => {
    const result = await t.db.transaction(async (tx) => {
      await tx.query("INSERT INTO items VALUES (1, 'one')");
      await tx.exec("INSERT INTO items VALUES (2, 'two'); INSERT INTO items VALUES (3, 'three')");
      // Its own writes are visible inside it.
      const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id <= 3');
      return rows[0]!.n;
    });
    expect(result).toBe(3);
    expect(await ids()).toEqual([1, 2, 3]);
  });

  it('rolls back a transaction whose function throws, rethrowing that error, with nothing of it visible', async () => {
    const boom = new Error('boom');
    const err = await t.db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO items VALUES (10, 'ten')");
        await tx.query("UPDATE items SET note = 'changed' WHERE id = 1");
        await tx.exec('DELETE FROM items WHERE id = 2');
        throw boom;
      })
      .catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(await ids()).toEqual([1, 2, 3]);
    const { rows } = await t.db.query<{ note: string }>('SELECT note FROM items WHERE id = 1');
    expect(rows[0]!.note).toBe('one');
  });

  it('rolls back a transaction whose statement fails, and the storage stays usable', async () => {
    const err = await t.db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO items VALUES (20, 'twenty')");
        await tx.query("INSERT INTO items VALUES (1, 'duplicate key')");
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '23505' });
    expect(await ids()).toEqual([1, 2, 3]);
    // The connection that ran the failed transaction is fine for the next ones.
    for (let i = 0; i < 6; i++) await t.db.transaction((tx) => tx.query('INSERT INTO items VALUES ($1, $2)', [30 + i, 'later']));
    expect(await ids()).toEqual([1, 2, 3, 30, 31, 32, 33, 34, 35]);
  });

  it('waits for statements and transactions in flight, then refuses new ones with STORAGE_CLOSED; closing again is safe', async () => {
    // Last test of the block: it closes the shared database (afterAll closing it again is safe).
    const { db } = t;
    await db.exec('CREATE TABLE done (x int)');
    const events: string[] = [];
    const slow = db.query<{ v: number }>('SELECT pg_sleep(0.3), 7 AS v').then((r) => {
      events.push('query');
      return r;
    });
    const tx = db
      .transaction(async (q) => {
        await q.query('SELECT pg_sleep(0.2)');
        await q.query('INSERT INTO done VALUES (1)');
        return (await q.query<{ n: number }>('SELECT count(*)::int AS n FROM done')).rows[0]!.n;
      })
      .then((n) => {
        events.push('transaction');
        return n;
      });
    const closing = db.close().then(() => events.push('close'));
    // A second close while the first is still waiting waits for the same close.
    const closingAgain = db.close().then(() => events.push('close again'));

    // New work is refused as soon as closing begins.
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });

    const [res, n] = await Promise.all([slow, tx, closing, closingAgain]);
    expect(res.rows[0]!.v).toBe(7);
    expect(n).toBe(1);
    expect(events.slice(0, 2).sort()).toEqual(['query', 'transaction']);
    expect(events.slice(2).sort()).toEqual(['close', 'close again']);

    const closed = await db.query('SELECT 1').catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(StorageError);
    expect(closed).toMatchObject({ code: 'STORAGE_CLOSED' });
    await expect(db.exec('SELECT 1')).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    await expect(db.transaction(async () => 1)).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    await expect(db.ping()).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    await expect(db.close()).resolves.toBeUndefined();
  });
});

describe('openPg', () => {
  it('fails with STORAGE_UNAVAILABLE when the server cannot be reached', async () => {
    const err = await openPg({ connectionString: 'postgres://postgres@127.0.0.1:1/postgres' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/cannot connect to PostgreSQL/);
  });

  it('fails with STORAGE_UNAVAILABLE when the database does not exist', async () => {
    const url = new URL(PG_ADMIN_URL);
    url.pathname = '/alliance_no_such_database';
    const err = await openPg({ connectionString: url.toString() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });
});
