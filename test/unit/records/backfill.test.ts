import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';
import { backfillCanonical } from '../../../node/records/backfill.ts';

describe.each(STORAGES)('canonical backfill on %s', (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(kind);
  });
  afterAll(() => t?.close());

  it('fills identifiers stored without a canonical form, passes over invalid ones, and is idempotent', async () => {
    const rid = '11111111-1111-4111-8111-111111111111';
    await t.db.query("INSERT INTO records (id, kind, name, status, confidence, created_by, updated_by) VALUES ($1, 'SELLER', 'Old', 'SUSPECTED', 50, 'x', 'x')", [rid]);
    // 1,500 rows: more than one chunk. Position 0 is not an IP address and stays without a form.
    await t.db.query(
      `INSERT INTO record_identifiers (record_id, position, type, value)
       SELECT $1::uuid, 0, 'ip', 'not an ip'
       UNION ALL SELECT $1::uuid, g, 'name', '  Old   Name ' || g FROM generate_series(1, 1500) AS g`,
      [rid],
    );
    const first = await backfillCanonical(t.db);
    expect(first.filled).toBe(1500);
    expect(first.invalid).toBe(1);
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM record_identifiers WHERE canonical IS NOT NULL');
    expect(rows[0]!.n).toBe(1500);
    const again = await backfillCanonical(t.db);
    expect(again).toEqual({ filled: 0, invalid: 1 });
  });
});
