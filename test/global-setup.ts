/**
 * Runs once before each test project: makes what fresh databases of the run are copied from, since
 * making one from nothing takes seconds (initdb) and migrating it a good part of a second more:
 * - an empty embedded database (`inject('pgliteTemplate')`), for nodes and commands that migrate
 *   their own database;
 * - a migrated embedded database (`inject('pgliteMigratedTemplate')`) and a migrated PostgreSQL
 *   database (`inject('pgMigratedTemplate')`, a database name), for the test databases of
 *   `openTestDb` (test/helpers/storage.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createPgliteTemplate } from '../node/storage/pglite.ts';
import { openPg } from '../node/storage/pg.ts';
import { migrate } from '../node/storage/migrate.ts';
import { PG_ADMIN_URL } from './helpers/pg-admin.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    pgliteMigratedTemplate: string;
    pgMigratedTemplate: string;
  }
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-test-template-'));
  const empty = path.join(dir, 'pglite-empty.tar');
  const migrated = path.join(dir, 'pglite-migrated.tar');
  await createPgliteTemplate(empty);
  await createPgliteTemplate(migrated, { prepare: (db) => migrate(db) });

  const pgTemplate = `alliance_template_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${pgTemplate}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${pgTemplate}`;
  const db = await openPg({ connectionString: url.toString(), max: 1 });
  try {
    await migrate(db);
  } finally {
    // No connection may stay open to a database others are created from.
    await db.close();
  }

  project.provide('pgliteTemplate', empty);
  project.provide('pgliteMigratedTemplate', migrated);
  project.provide('pgMigratedTemplate', pgTemplate);
  return async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${pgTemplate} WITH (FORCE)`));
  };
}
