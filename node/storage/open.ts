import path from 'node:path';
import type { Config } from '../config.ts';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import { openPg } from './pg.ts';
import { openPglite } from './pglite.ts';

/** Where the embedded database keeps its files inside the node's data directory. */
export function pgliteDir(dataDir: string): string {
  return path.join(dataDir, 'pgdata');
}

/** Opens the configured storage (PostgreSQL if DATABASE_URL is set, else PGlite) and migrates it. */
export async function openStorage(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'dbPoolSize'> & Partial<Pick<Config, 'pgliteTemplate'>>,
  opts: { migrate?: boolean } = {},
): Promise<Database> {
  const db = config.databaseUrl
    ? await openPg({ connectionString: config.databaseUrl, max: config.dbPoolSize })
    : await openPglite({ dataDir: pgliteDir(config.dataDir), template: config.pgliteTemplate });
  if (opts.migrate !== false) {
    try {
      await migrate(db);
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  return db;
}
