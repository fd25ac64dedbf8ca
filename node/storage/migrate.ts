import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.ts';
import { StorageError } from './database.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Any fixed number shared by every process of this application; it names the migration lock. */
const MIGRATION_LOCK_KEY = 7_244_115_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql'));
  const seen = new Set<number>();
  const migrations = files.map((file) => {
    const m = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new StorageError('MIGRATION_FAILED', `migration file ${file} is not named NNN_name.sql`);
    const version = Number(m[1]);
    if (seen.has(version)) throw new StorageError('MIGRATION_FAILED', `two migrations share version ${version}`);
    seen.add(version);
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    return { version, name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
  // By version number, not file name: 10_x.sql comes after 9_y.sql.
  return migrations.sort((a, b) => a.version - b.version);
}

export interface MigrateResult {
  applied: number[];
  current: number;
}

/**
 * Applies the migrations not yet recorded, in order, in one transaction under an advisory lock, so two
 * processes starting together apply each migration once and a failure leaves the schema as it was.
 */
export async function migrate(db: Database, migrations: Migration[] = loadMigrations()): Promise<MigrateResult> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const known = new Map(migrations.map((m) => [m.version, m]));
    for (const row of rows) {
      const m = known.get(row.version);
      if (!m) {
        throw new StorageError('MIGRATION_UNKNOWN', `database has migration ${row.version} (${row.name}) that this version does not know: it was written by a newer alliance-node`, {
          version: row.version,
        });
      }
      if (m.checksum !== row.checksum) {
        throw new StorageError('MIGRATION_CHANGED', `migration ${row.version} (${row.name}) was changed after it was applied`, {
          version: row.version,
        });
      }
    }
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      try {
        // Each file may hold several statements; both drivers run a parameterless multi-statement string.
        await tx.exec(m.sql);
      } catch (err) {
        throw new StorageError('MIGRATION_FAILED', `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { version: m.version }, { cause: err });
      }
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      applied.push(m.version);
    }
    const current = migrations.length ? Math.max(...migrations.map((m) => m.version)) : 0;
    return { applied, current };
  });
}
