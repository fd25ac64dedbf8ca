/**
 * Embedded databases for the demo's members. Creating an embedded database (initdb inside PGlite) is
 * the slowest step of a first run by far, some ten times slower than opening one, so one is created
 * and migrated, closed, and its files copied for the other members: a cleanly closed database
 * directory is a complete copy of that database, as with any stopped PostgreSQL cluster. Each member
 * then starts over its own copy and writes only its own data into it.
 */
import fs from 'node:fs';
import { openStorage, pgliteDir } from '../storage/open.ts';

export async function prepareMemberStorage(dataDirs: readonly string[], pgliteTemplate?: string): Promise<void> {
  const [first, ...others] = dataDirs;
  if (first === undefined) return;
  const db = await openStorage({ dataDir: first, databaseUrl: undefined, dbPoolSize: 1, pgliteTemplate });
  await db.close();
  for (const dir of others) fs.cpSync(pgliteDir(first), pgliteDir(dir), { recursive: true, errorOnExist: true, force: false });
}
