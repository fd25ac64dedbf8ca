import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../node/storage/database.ts';
import { StorageError } from '../../../node/storage/database.ts';
import { openPglite } from '../../../node/storage/pglite.ts';
import { migrate } from '../../../node/storage/migrate.ts';
import { openStorage, pgliteDir } from '../../../node/storage/open.ts';
import { RecordStore } from '../../../node/records/store.ts';
import { validateRecordInput } from '../../../node/records/model.ts';
import { startChild, type Child } from '../../helpers/child.ts';

const ACTOR = { sub: 'pglite-test', role: 'analyst' };

/**
 * One data directory for the whole file, used in order: held here, closed, reopened, and then opened by
 * children that are killed with SIGKILL.
 */
describe('PGlite data directory', () => {
  let root: string;
  let dataDir: string;
  let lockFile: string;
  let db: Database | undefined;
  let recordId: string;
  const children: Child[] = [];
  const child = (mode: string, ...args: string[]) => {
    const c = startChild('pglite-child.ts', [mode, dataDir, ...args]);
    children.push(c);
    return c;
  };
  const countImported = async (d: Database) =>
    (await d.query<{ n: number }>("SELECT count(*)::int AS n FROM records WHERE created_by = 'child'")).rows[0]!.n;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-pglite-'));
    dataDir = pgliteDir(root);
    lockFile = path.join(root, 'pgdata.lock');
    db = await openPglite({ dataDir });
    await migrate(db);
    const r = await new RecordStore(db).create(validateRecordInput({ kind: 'SHOP', name: 'Persisted Shop', identifiers: [{ type: 'domain', value: 'persist.example.com' }] }), ACTOR);
    recordId = r.id;
  });

  afterAll(async () => {
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.exited));
    await db?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('is locked with our pid while open; a second process gets STORAGE_LOCKED and the database stays usable', async () => {
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
    const other = child('open');
    const answer = await other.next();
    expect(answer).toMatchObject({ ok: false, code: 'STORAGE_LOCKED', details: { pid: process.pid } });
    expect(answer.message).toMatch(/in use by another process/);
    expect((await other.exited).code).toBe(0);

    // The same directory opened again in this process is refused too.
    const err = await openPglite({ dataDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ code: 'STORAGE_LOCKED' });

    const { rows } = await db!.query<{ name: string }>('SELECT name FROM records WHERE id = $1', [recordId]);
    expect(rows).toEqual([{ name: 'Persisted Shop' }]);
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
  });

  it('releases the lock on close, and keeps the data across close and reopen', async () => {
    await db!.close();
    db = undefined;
    expect(fs.existsSync(lockFile)).toBe(false);

    // Another process may now open it (and closes it again).
    const other = child('open');
    expect(await other.next()).toEqual({ ok: true });
    expect((await other.exited).code).toBe(0);
    expect(fs.existsSync(lockFile)).toBe(false);

    db = await openPglite({ dataDir });
    expect((await migrate(db)).applied).toEqual([]);
    const r = await new RecordStore(db).get(recordId);
    expect(r).toMatchObject({ name: 'Persisted Shop', identifiers: [{ type: 'domain', value: 'persist.example.com' }], createdBy: ACTOR.sub });
    await db.close();
    db = undefined;
  });

  it('after kill -9 during a bulk import the directory opens again (stale lock taken over) and none of the import is there', async () => {
    const importer = child('import', '3000');
    expect(await importer.next()).toEqual({ inTransaction: true });
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(importer.pid));
    importer.kill('SIGKILL');
    expect((await importer.exited).signal).toBe('SIGKILL');
    // The dead process's lock is still there, and is taken over.
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(importer.pid));

    db = await openPglite({ dataDir });
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
    expect(await countImported(db)).toBe(0);
    expect(await new RecordStore(db).get(recordId)).toMatchObject({ name: 'Persisted Shop' });
    await db.close();
    db = undefined;
  });

  it('after kill -9 right after a bulk import committed, all of it is there', async () => {
    const importer = child('import', '3000');
    expect(await importer.next()).toEqual({ inTransaction: true });
    importer.send('commit');
    expect(await importer.next()).toEqual({ committed: true });
    importer.kill('SIGKILL');
    await importer.exited;

    db = await openPglite({ dataDir });
    expect(await countImported(db)).toBe(3000);
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM record_identifiers i JOIN records r ON r.id = i.record_id WHERE r.created_by = 'child'",
    );
    expect(rows[0]!.n).toBe(3000);
  });

  it('openStorage refuses a database migrated by a newer version and closes it, releasing the lock', async () => {
    await db!.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')");
    await db!.close();
    db = undefined;
    // The node's data dir holds the database in pgdata/, next to its lock.
    const err = await openStorage({ dataDir: root, databaseUrl: undefined, dbPoolSize: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MIGRATION_UNKNOWN' });
    expect(fs.existsSync(lockFile)).toBe(false);

    db = await openStorage({ dataDir: root, databaseUrl: undefined, dbPoolSize: 1 }, { migrate: false });
    expect(db.kind).toBe('pglite');
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
    expect(await new RecordStore(db).get(recordId)).toMatchObject({ name: 'Persisted Shop' });
  });
});

describe('openPglite', () => {
  it('fails with STORAGE_UNAVAILABLE, and leaves no lock, when the data directory cannot be created', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-pglite-'));
    try {
      const file = path.join(root, 'not-a-dir');
      fs.writeFileSync(file, 'x');
      const err = await openPglite({ dataDir: file }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      expect(fs.readdirSync(root)).toEqual(['not-a-dir']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('fails with STORAGE_UNAVAILABLE when the lock file cannot be read', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-pglite-'));
    try {
      fs.mkdirSync(path.join(root, 'pgdata.lock'));
      const err = await openPglite({ dataDir: path.join(root, 'pgdata') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/cannot lock/) });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('fails with STORAGE_UNAVAILABLE on a directory that is not a database, and releases the lock', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-pglite-'));
    try {
      const dir = path.join(root, 'pgdata');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'PG_VERSION'), 'garbage\n');
      const err = await openPglite({ dataDir: dir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      expect(fs.existsSync(path.join(root, 'pgdata.lock'))).toBe(false);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
