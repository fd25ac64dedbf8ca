import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Database } from '../../node/storage/database.ts';
import { openPg } from '../../node/storage/pg.ts';
import { openPglite } from '../../node/storage/pglite.ts';
import { migrate } from '../../node/storage/migrate.ts';

/**
 * The run's empty embedded database (test/global-setup.ts): fresh PGlite databases in tests, and in
 * the CLI processes tests start, are unpacked from it instead of each running initdb.
 */
export function pgliteTemplate(): string | undefined {
  // Outside vitest (a bench script borrowing a helper) there is no template: initdb runs as usual.
  return process.env.VITEST === undefined ? undefined : inject('pgliteTemplate');
}

/** Every storage test runs against both adapters. */
export const STORAGES = ['pglite', 'pg'] as const;
export type StorageKind = (typeof STORAGES)[number];

import { PG_ADMIN_URL } from './pg-admin.ts';

export { PG_ADMIN_URL };

/**
 * Creates a PostgreSQL database, empty or a copy of `template` (a database name), and returns its
 * URL and a function that drops it.
 */
export async function createPgDatabase(opts: { template?: string } = {}): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `alliance_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}${opts.template === undefined ? '' : ` TEMPLATE ${opts.template}`}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface TestDb {
  db: Database;
  /** PostgreSQL URL of this database (pg only). */
  url: string | undefined;
  close(): Promise<void>;
}

/** A fresh, migrated database of the given kind: PGlite in memory, or a new PostgreSQL database. */
export async function openTestDb(kind: StorageKind, opts: { migrate?: boolean } = {}): Promise<TestDb> {
  // Migrated databases are copies of the run's migrated templates (test/global-setup.ts); migrate()
  // then finds nothing due, and still checks the checksums.
  const migrated = opts.migrate !== false && process.env.VITEST !== undefined;
  if (kind === 'pglite') {
    const db = await openPglite({ template: migrated ? inject('pgliteMigratedTemplate') : pgliteTemplate() });
    if (opts.migrate !== false) await migrate(db);
    return { db, url: undefined, close: () => db.close() };
  }
  const { url, drop } = await createPgDatabase(migrated ? { template: inject('pgMigratedTemplate') } : {});
  const db = await openPg({ connectionString: url, max: 4 });
  if (opts.migrate !== false) await migrate(db);
  return {
    db,
    url,
    async close() {
      await db.close();
      await drop();
    },
  };
}
