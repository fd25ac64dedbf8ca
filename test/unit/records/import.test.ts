import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_CHUNK, importRecords, validateRow, type ImportRowError } from '../../../node/records/import.ts';
import { RecordStore } from '../../../node/records/store.ts';
import type { Actor, RawRecordInput } from '../../../node/records/model.ts';
import { sqlText, type Database, type Queryable } from '../../../node/storage/database.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';

const ROWS = 2500;

/** Valid synthetic rows; `tag` keeps each test's rows apart from the others'. */
function rows(tag: string, n = ROWS): RawRecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: i % 2 ? 'SHOP' : 'SELLER',
    name: `${tag} import ${i}`,
    identifiers: [
      { type: 'EMAIL', value: `${tag}-${i}@example.com` },
      { type: 'domain', value: `${tag}-${i}.example.com` },
    ],
    categories: ['COUNTERFEIT'],
    confidence: i % 101,
    externalId: `${tag}-${i}`,
  }));
}

/**
 * The real database, with the SQL of every statement run inside its transactions written down, to see
 * how an import splits its work.
 */
function recording(db: Database): { db: Database; statements: string[] } {
  const statements: string[] = [];
  const wrapped: Database = {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    ping: () => db.ping(),
    close: () => db.close(),
    transaction: (fn) =>
      db.transaction((tx) => {
        const q: Queryable = {
          query: (sql, params) => {
            statements.push(sqlText(sql));
            return tx.query(sql, params);
          },
          exec: (sql) => {
            statements.push(sql);
            return tx.exec(sql);
          },
        };
        return fn(q);
      }),
  };
  return { db: wrapped, statements };
}

describe('validateRow', () => {
  it('returns the fields of a valid row and adds no errors', () => {
    const errors: ImportRowError[] = [];
    expect(validateRow({ kind: 'SHOP', name: 'Row Shop' }, 3, errors)).toMatchObject({ kind: 'SHOP', name: 'Row Shop', status: 'SUSPECTED' });
    expect(errors).toEqual([]);
  });

  it('collects every problem of an invalid row under its row number', () => {
    const errors: ImportRowError[] = [{ row: 1, field: 'name', message: 'earlier' }];
    expect(validateRow({ kind: 'ROBOT', confidence: 2.5 }, 7, errors)).toBeUndefined();
    expect(errors.slice(1).map((e) => [e.row, e.field]).sort()).toEqual([
      [7, 'confidence'],
      [7, 'kind'],
      [7, 'name'],
    ]);
    expect(errors[0]).toEqual({ row: 1, field: 'name', message: 'earlier' });
  });
});

describe.each(STORAGES)('importRecords on %s', (kind) => {
  let t: TestDb;
  let store: RecordStore;
  beforeAll(async () => {
    t = await openTestDb(kind);
    store = new RecordStore(t.db);
  });
  afterAll(() => t.close());

  const count = async (sql: string, params: unknown[]) => (await t.db.query<{ n: number }>(sql, params)).rows[0]!.n;
  const storedBy = (actor: Actor) => count('SELECT count(*)::int AS n FROM records WHERE created_by = $1', [actor.sub]);
  const changesBy = (actor: Actor) => count('SELECT count(*)::int AS n FROM record_changes WHERE actor = $1', [actor.sub]);

  it('stores nothing when one row of 2,500 is invalid, and names its row (from 1) and field', async () => {
    const actor = { sub: 'one-bad', role: 'analyst' };
    const input = rows('onebad');
    input[1733] = { ...input[1733], identifiers: [{ type: 'email', value: 'ok@example.com' }, { type: 'fax', value: '555' }] };
    const { db, statements } = recording(t.db);
    const result = await importRecords(db, input, actor);
    expect(result).toEqual({ ok: false, errors: [{ row: 1734, field: 'identifiers[1].type', message: expect.stringMatching(/must be one of/) }] });
    expect(statements).toEqual([]);
    expect(await storedBy(actor)).toBe(0);
    expect(await changesBy(actor)).toBe(0);
  });

  it('lists every problem of every invalid row, with row numbers from 1', async () => {
    const actor = { sub: 'many-bad', role: 'analyst' };
    const input: unknown[] = rows('manybad', 40);
    input[0] = { kind: 'SHOP', name: '' };
    input[9] = { kind: 'GIANT', name: 'x', confidence: 101 };
    input[39] = null;
    input[20] = { kind: 'SHOP', name: 'Valid name', identifiers: [{ type: 'url', value: 'u'.repeat(1025) }], colour: 'red' };
    const result = await importRecords(t.db, input as RawRecordInput[], actor);
    expect(result.ok).toBe(false);
    const errors = (result as { errors: ImportRowError[] }).errors;
    expect(errors.map((e) => `${e.row}:${e.field}`).sort()).toEqual(['1:name', '10:confidence', '10:kind', '21:colour', '21:identifiers[0].value', '40:input'].sort());
    for (const e of errors) expect(e.message).toEqual(expect.any(String));
    expect(await storedBy(actor)).toBe(0);
  });

  it('stores all 2,500 valid rows in order, in several chunks of one transaction, each with an import history entry', async () => {
    expect(ROWS).toBeGreaterThan(2 * IMPORT_CHUNK);
    const actor = { sub: 'all-good', role: 'analyst' };
    const { db, statements } = recording(t.db);
    const result = await importRecords(db, rows('good'), actor);
    expect(result.ok).toBe(true);
    const ids = (result as { ids: string[] }).ids;
    expect(ids).toHaveLength(ROWS);
    expect(new Set(ids).size).toBe(ROWS);

    // One INSERT INTO records per chunk of IMPORT_CHUNK rows.
    expect(statements.filter((s) => /INSERT INTO records\b/.test(s))).toHaveLength(Math.ceil(ROWS / IMPORT_CHUNK));

    expect(await storedBy(actor)).toBe(ROWS);
    const { rows: stored } = await t.db.query<{ id: string; name: string; n: number }>(
      `SELECT r.id, r.name, (SELECT count(*)::int FROM record_identifiers i WHERE i.record_id = r.id) AS n
         FROM records r WHERE r.created_by = $1 ORDER BY r.seq`,
      [actor.sub],
    );
    expect(stored.map((r) => r.id)).toEqual(ids);
    expect(stored.map((r) => r.name)).toEqual(rows('good').map((r) => r.name));
    expect(stored.every((r) => r.n === 2)).toBe(true);

    const { rows: changes } = await t.db.query<{ action: string; role: string; n: number }>(
      'SELECT action, role, count(*)::int AS n FROM record_changes WHERE actor = $1 GROUP BY action, role',
      [actor.sub],
    );
    expect(changes).toEqual([{ action: 'import', role: 'analyst', n: ROWS }]);

    // Records as the store shows them, spot-checked at both ends and across a chunk boundary.
    for (const i of [0, IMPORT_CHUNK - 1, IMPORT_CHUNK, ROWS - 1]) {
      const r = await store.get(ids[i]!);
      expect(r).toMatchObject({
        name: `good import ${i}`,
        kind: i % 2 ? 'SHOP' : 'SELLER',
        identifiers: [
          { type: 'email', value: `good-${i}@example.com`, canonical: `good-${i}@example.com` },
          { type: 'domain', value: `good-${i}.example.com`, canonical: 'example.com' },
        ],
        confidence: i % 101,
        externalId: `good-${i}`,
        version: 1,
        createdBy: actor.sub,
        updatedBy: actor.sub,
      });
      expect(await store.history(ids[i]!)).toEqual([{ action: 'import', actor: actor.sub, role: 'analyst', at: expect.any(String), fields: [], reason: null }]);
    }
  });

  it('rolls back the chunks already written when a later chunk fails in the database', async () => {
    const actor = { sub: 'late-fail', role: null };
    const input = rows('latefail');
    input[ROWS - 5] = { ...input[ROWS - 5], name: 'explode in the database' };
    // Valid for the validator, refused by the database: only a trigger can do that to a valid row.
    await t.db.exec(`
      CREATE FUNCTION refuse_explode() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'explode in the database' THEN RAISE EXCEPTION 'refused by test trigger'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_explode BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION refuse_explode();
    `);
    try {
      const { db, statements } = recording(t.db);
      await expect(importRecords(db, input, actor)).rejects.toThrow(/refused by test trigger/);
      // The first chunks were written before the failing one...
      expect(statements.filter((s) => /INSERT INTO records\b/.test(s))).toHaveLength(Math.ceil(ROWS / IMPORT_CHUNK));
      // ...and none of it remains.
      expect(await storedBy(actor)).toBe(0);
      expect(await changesBy(actor)).toBe(0);
      expect(await count("SELECT count(*)::int AS n FROM records WHERE name LIKE 'latefail%'", [])).toBe(0);
    } finally {
      await t.db.exec('DROP TRIGGER refuse_explode ON records; DROP FUNCTION refuse_explode()');
    }
  });

  it('imports nothing, successfully, from an empty list', async () => {
    const actor = { sub: 'empty', role: 'analyst' };
    expect(await importRecords(t.db, [], actor)).toEqual({ ok: true, ids: [], skipped: [] });
    expect(await storedBy(actor)).toBe(0);
  });
});
