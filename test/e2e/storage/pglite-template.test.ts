import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../node/config.ts';
import { openStorage, pgliteDir } from '../../../node/storage/open.ts';
import { createPgliteTemplate, openPglite } from '../../../node/storage/pglite.ts';
import { loadMigrations } from '../../../node/storage/migrate.ts';
import { pgliteTemplate } from '../../helpers/storage.ts';

/**
 * New embedded databases unpacked from a template instead of initdb. A template made here carries a
 * marker table, so a database that has it was unpacked from that template and from nothing else.
 */
describe('embedded database template', () => {
  let root: string;
  let marked: string;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-template-'));
    const pg = await PGlite.create({ loadDataDir: await fs.openAsBlob(pgliteTemplate()!) });
    await pg.exec('CREATE TABLE template_marker (n int); INSERT INTO template_marker VALUES (7)');
    marked = path.join(root, 'marked.tar');
    fs.writeFileSync(marked, Buffer.from(await (await pg.dumpDataDir('none')).arrayBuffer()));
    await pg.close();
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const marker = async (db: { query: <R>(sql: string) => Promise<{ rows: R[] }> }) =>
    (await db.query<{ t: string | null }>("SELECT to_regclass('template_marker')::text AS t")).rows[0]!.t;

  it('createPgliteTemplate writes a whole tarball that opens as an empty database', async () => {
    const file = path.join(root, 'made.tar');
    await createPgliteTemplate(file);
    expect(fs.readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const db = await openPglite({ template: file });
    try {
      expect((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).rows[0]!.n).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('a new data directory is unpacked from the template, migrated, and keeps its data across reopening', async () => {
    const dataDir = path.join(root, 'node-a');
    const config = { dataDir, databaseUrl: undefined, dbPoolSize: 1, pgliteTemplate: marked };
    let db = await openStorage(config);
    try {
      expect(await marker(db)).toBe('template_marker');
      const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
      await db.query('UPDATE template_marker SET n = 8');
    } finally {
      await db.close();
    }
    expect(fs.existsSync(path.join(pgliteDir(dataDir), 'PG_VERSION'))).toBe(true);
    // Reopened with the template still configured: the existing database is used, not unpacked again.
    db = await openStorage(config);
    try {
      expect((await db.query<{ n: number }>('SELECT n FROM template_marker')).rows).toEqual([{ n: 8 }]);
    } finally {
      await db.close();
    }
  });

  it('an existing database is opened as it is even when the template is missing', async () => {
    const dataDir = path.join(root, 'node-b');
    const first = await openStorage({ dataDir, databaseUrl: undefined, dbPoolSize: 1, pgliteTemplate: marked });
    await first.close();
    const db = await openStorage({ dataDir, databaseUrl: undefined, dbPoolSize: 1, pgliteTemplate: path.join(root, 'gone.tar') });
    try {
      expect(await marker(db)).toBe('template_marker');
    } finally {
      await db.close();
    }
  });

  it('a missing template file for a new database is STORAGE_UNAVAILABLE naming the file, and the directory stays unlocked', async () => {
    const dataDir = path.join(root, 'node-c');
    const missing = path.join(root, 'missing.tar');
    const err = await openStorage({ dataDir, databaseUrl: undefined, dbPoolSize: 1, pgliteTemplate: missing }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect((err as Error).message).toContain(`embedded database template ${missing}: ENOENT`);
    expect(fs.existsSync(path.join(dataDir, 'pgdata.lock'))).toBe(false);
    const db = await openStorage({ dataDir, databaseUrl: undefined, dbPoolSize: 1, pgliteTemplate: marked });
    await db.close();
  });

  it('a file that is not a database tarball is refused as STORAGE_UNAVAILABLE', async () => {
    const bogus = path.join(root, 'bogus.tar');
    fs.writeFileSync(bogus, 'not a tarball\n');
    const err = await openPglite({ template: bogus }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });

  it('ALLIANCE_PGLITE_TEMPLATE is read as a path relative to the working directory', () => {
    expect(loadConfig({}, {}).pgliteTemplate).toBeUndefined();
    expect(loadConfig({}, { ALLIANCE_PGLITE_TEMPLATE: 'tpl/empty.tar' }).pgliteTemplate).toBe(path.resolve('tpl/empty.tar'));
  });
});
