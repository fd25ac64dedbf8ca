import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMigrations, MIGRATIONS_DIR } from '../../../node/storage/migrate.ts';
import { StorageError } from '../../../node/storage/database.ts';

describe('loadMigrations', () => {
  let dir: string | undefined;
  const dirWith = (files: Record<string, string>) => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-migrations-'));
    for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
    return dir;
  };
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('loads the shipped migrations, starting with 001_records', () => {
    const all = loadMigrations(MIGRATIONS_DIR);
    expect(all[0]).toMatchObject({ version: 1, name: 'records' });
    expect(all.map((m) => m.version)).toEqual([...all.map((m) => m.version)].sort((a, b) => a - b));
  });

  it('orders by version number, not by file name, and ignores other files', () => {
    const d = dirWith({ '10_ten.sql': 'SELECT 10;', '9_nine.sql': 'SELECT 9;', '002_two.sql': 'SELECT 2;', '1000_big.sql': 'SELECT 1000;', 'README.md': '#' });
    const all = loadMigrations(d);
    expect(all.map((m) => [m.version, m.name])).toEqual([
      [2, 'two'],
      [9, 'nine'],
      [10, 'ten'],
      [1000, 'big'],
    ]);
    expect(all[0]!.sql).toBe('SELECT 2;');
    expect(all[0]!.checksum).toBe(createHash('sha256').update('SELECT 2;').digest('hex'));
  });

  it.each([
    ['two files with one version', { '01_a.sql': '', '1_b.sql': '' }, /share version 1/],
    ['a badly named file', { '001_ok.sql': '', 'add-index.sql': '' }, /NNN_name\.sql/],
  ])('refuses %s', (_, files, message) => {
    const d = dirWith(files);
    let err: unknown;
    try {
      loadMigrations(d);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ code: 'MIGRATION_FAILED', message: expect.stringMatching(message) });
  });
});
