import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_GROUP_ROWS, AuditWriter } from '../../../node/audit/audit-writer.ts';
import type { AuditEntryInput } from '../../../node/audit/audit-log.ts';
import { sqlText, type Database } from '../../../node/storage/database.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';

const entry = (subject: string, o: Partial<AuditEntryInput> = {}): AuditEntryInput => ({
  action: 'lookup',
  subject,
  role: 'trust',
  identifierCount: 2,
  digests: ['dGVzdC1kaWdlc3QtYQ', 'dGVzdC1kaWdlc3QtYg'],
  hitCount: 1,
  details: { peerHits: 1, ownHits: 0 },
  ...o,
});

/** The real database with its audit inserts counted and their group sizes kept. */
function countingInserts(db: Database): { db: Database; groups: number[] } {
  const groups: number[] = [];
  const wrapped: Database = {
    ...db,
    kind: db.kind,
    query: (sql, params) => {
      if (/INSERT INTO audit_log/.test(sqlText(sql))) groups.push((params?.[0] as unknown[]).length);
      return db.query(sql, params);
    },
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    ping: () => db.ping(),
    close: () => db.close(),
  };
  return { db: wrapped, groups };
}

interface Row {
  id: string;
  action: string;
  subject: string;
  role: string;
  identifier_count: number;
  digests: string[];
  hit_count: number;
  details: unknown;
}

describe.each(STORAGES)('AuditWriter (%s)', (storage) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(storage);
  });
  afterAll(() => t?.close());

  const row = async (id: string): Promise<Row | undefined> => {
    const { rows } = await t.db.query<Row>(
      'SELECT id::text AS id, action, subject, role, identifier_count, digests, hit_count, details FROM audit_log WHERE id = $1::bigint',
      [id],
    );
    const r = rows[0];
    return r === undefined ? undefined : { ...r, details: typeof r.details === 'string' ? JSON.parse(r.details) : r.details };
  };

  it('writes a row alone at once, every field as given', async () => {
    const { db, groups } = countingInserts(t.db);
    const writer = new AuditWriter(db);
    const id = await writer.append(entry('alone', { identifierCount: 3, hitCount: 4, details: { epochs: [2, 1], invalid: 1 } }));
    expect(groups).toEqual([1]);
    expect(await row(id)).toEqual({
      id,
      action: 'lookup',
      subject: 'alone',
      role: 'trust',
      identifier_count: 3,
      digests: ['dGVzdC1kaWdlc3QtYQ', 'dGVzdC1kaWdlc3QtYg'],
      hit_count: 4,
      details: { epochs: [2, 1], invalid: 1 },
    });
    const none = await writer.append(entry('no-digests', { digests: [], identifierCount: 0, hitCount: 0 }));
    expect((await row(none))!.digests).toEqual([]);
  });

  it('groups rows that arrive while an insert runs, and gives each caller the id of its own row', async () => {
    const { db, groups } = countingInserts(t.db);
    const writer = new AuditWriter(db);
    const n = 200;
    const ids = await Promise.all(Array.from({ length: n }, (_, i) => writer.append(entry(`group-${i}`, { hitCount: i, digests: [`ZGlnZXN0LQ${i}`] }))));
    // The first row goes alone; the rest waited for it and go together.
    expect(groups).toEqual([1, n - 1]);
    expect(new Set(ids).size).toBe(n);
    for (let i = 0; i < n; i += 37) expect(await row(ids[i]!)).toMatchObject({ subject: `group-${i}`, hit_count: i, digests: [`ZGlnZXN0LQ${i}`] });
    // Ids rise in the order rows were appended.
    expect(ids.map(BigInt)).toEqual([...ids.map(BigInt)].sort((a, b) => (a < b ? -1 : 1)));
  });

  it(`splits a backlog into inserts of at most ${AUDIT_GROUP_ROWS} rows`, async () => {
    const { db, groups } = countingInserts(t.db);
    const writer = new AuditWriter(db);
    const ids = await Promise.all(Array.from({ length: AUDIT_GROUP_ROWS + 50 }, (_, i) => writer.append(entry(`backlog-${i}`))));
    expect(groups).toEqual([1, AUDIT_GROUP_ROWS, 49]);
    expect(await row(ids.at(-1)!)).toMatchObject({ subject: `backlog-${AUDIT_GROUP_ROWS + 49}` });
  });

  it('a failed insert fails every caller of its group and stores none of it; later rows are written', async () => {
    const writer = new AuditWriter(t.db);
    const first = writer.append(entry('before-bad'));
    // These two wait for the first insert and go together: the bad action name fails the statement.
    const bad = writer.append(entry('bad-row', { action: 'Not An Action' }));
    const partner = writer.append(entry('bad-partner'));
    await expect(first).resolves.toMatch(/^\d+$/);
    await expect(bad).rejects.toThrow(/audit_log_action_check|check constraint/);
    await expect(partner).rejects.toThrow(/audit_log_action_check|check constraint/);
    const { rows } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE subject IN ('bad-row', 'bad-partner')");
    expect(rows[0]!.n).toBe(0);
    const after = await writer.append(entry('after-bad'));
    expect(await row(after)).toMatchObject({ subject: 'after-bad' });
  });

  it('refuses a digest that is empty or holds a comma, before anything is sent', async () => {
    const { db, groups } = countingInserts(t.db);
    const writer = new AuditWriter(db);
    await expect(writer.append(entry('comma', { digests: ['a,b'] }))).rejects.toThrow(RangeError);
    await expect(writer.append(entry('empty', { digests: [''] }))).rejects.toThrow(RangeError);
    expect(groups).toEqual([]);
  });
});
