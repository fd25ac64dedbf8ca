import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../../node/storage/open.ts';
import { loadMigrations } from '../../../node/storage/migrate.ts';
import { createPgDatabase } from '../../helpers/storage.ts';

describe('openStorage with DATABASE_URL (PostgreSQL)', () => {
  let pgDb: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    pgDb = await createPgDatabase();
  });
  afterAll(() => pgDb.drop());

  const config = () => ({ databaseUrl: pgDb.url, dataDir: '/nonexistent/never-used', dbPoolSize: 2 });

  it('opens PostgreSQL (not the data dir) and migrates it', async () => {
    const db = await openStorage(config());
    try {
      expect(db.kind).toBe('pg');
      const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
      expect((await db.query('SELECT 1 FROM records')).rowCount).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('refuses a database migrated by a newer version, and closes its connections', async () => {
    const db = await openStorage(config(), { migrate: false });
    await db.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')");
    const probe = async () =>
      (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'alliance-node'")).rows[0]!.n;
    const before = await probe();
    await expect(openStorage(config())).rejects.toMatchObject({ code: 'MIGRATION_UNKNOWN' });
    // The failed open left no connection of its own behind (the server may take a moment to notice).
    let after = await probe();
    for (let i = 0; i < 20 && after !== before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await probe();
    }
    expect(after).toBe(before);
    await db.query('DELETE FROM schema_migrations WHERE version = 9999');
    await db.close();
  });

  it('fails with STORAGE_UNAVAILABLE when PostgreSQL cannot be reached', async () => {
    await expect(openStorage({ ...config(), databaseUrl: 'postgres://postgres@127.0.0.1:1/postgres' })).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });
});
