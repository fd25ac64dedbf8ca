import { afterEach, describe, expect, it } from 'vitest';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';
import { loadMigrations, migrate } from '../../../node/storage/migrate.ts';
import { StorageError } from '../../../node/storage/database.ts';
import { openPg } from '../../../node/storage/pg.ts';

describe.each(STORAGES)('migrations on %s', (kind) => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('applies every migration once and records it; a second run applies nothing', async () => {
    t = await openTestDb(kind, { migrate: false });
    const first = await migrate(t.db);
    const all = loadMigrations().map((m) => m.version);
    expect(first.applied).toEqual(all);
    const second = await migrate(t.db);
    expect(second.applied).toEqual([]);
    const { rows } = await t.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(all);
  });

  it('refuses a migration that changed after it was applied', async () => {
    t = await openTestDb(kind);
    const changed = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'x'.repeat(64) } : m));
    await expect(migrate(t.db, changed)).rejects.toMatchObject({ code: 'MIGRATION_CHANGED' });
  });

  it('refuses a database migrated by a newer version', async () => {
    t = await openTestDb(kind);
    await t.db.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')");
    await expect(migrate(t.db)).rejects.toMatchObject({ code: 'MIGRATION_UNKNOWN' });
  });

  it('rolls back a failing migration entirely', async () => {
    t = await openTestDb(kind, { migrate: false });
    const bad = [
      ...loadMigrations(),
      { version: 9000, name: 'broken', sql: 'CREATE TABLE half_done (x int); SELECT * FROM no_such_table;', checksum: 'c' },
    ];
    const err = await migrate(t.db, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ code: 'MIGRATION_FAILED' });
    const { rows } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('half_done', 'records')");
    expect(rows[0]!.n).toBe(0);
  });
});

describe('migrations from two processes at once (PostgreSQL)', () => {
  it('apply each migration exactly once', async () => {
    const t = await openTestDb('pg', { migrate: false });
    const other = await openPg({ connectionString: t.url!, max: 2 });
    try {
      const [a, b] = await Promise.all([migrate(t.db), migrate(other)]);
      expect([...a.applied, ...b.applied].sort((x, y) => x - y)).toEqual(loadMigrations().map((m) => m.version));
      const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0]!.n).toBe(loadMigrations().length);
    } finally {
      await other.close();
      await t.close();
    }
  });
});
