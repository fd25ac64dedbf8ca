/**
 * kill -9 during a bulk import (issue 2, bad input): after the kill the data directory opens again and
 * the import is either entirely there or entirely absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteLockPath, runCli, spawnCli, tempDir, waitForExit, waitForOutput } from '../../helpers/cli.ts';
import { createPgDatabase } from '../../helpers/storage.ts';
import { openPglite } from '../../../node/storage/pglite.ts';
import { pgliteDir } from '../../../node/storage/open.ts';

const N = 60_000;
const tmp = tempDir('alliance-crash-');
const bigFile = path.join(tmp.dir, 'big.jsonl');
const smallFile = path.join(tmp.dir, 'small.jsonl');

function writeRecords(file: string, n: number, prefix: string): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        kind: 'SELLER',
        name: `${prefix} ${i}`,
        identifiers: [
          { type: 'email', value: `s${i}@${prefix.toLowerCase()}.example.com` },
          { type: 'domain', value: `${prefix.toLowerCase()}${i}.example.com` },
        ],
        categories: ['COUNTERFEIT'],
      }),
    );
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

beforeAll(() => {
  writeRecords(bigFile, N, 'Crash');
  writeRecords(smallFile, 1500, 'After');
});
afterAll(() => tmp.remove());

/** Starts `alliance import bigFile --progress`, waits for progress at or beyond `atLeast` records, and kills it with SIGKILL. */
async function killMidImport(args: string[], env: Record<string, string>, atLeast: number): Promise<{ pid: number; progressed: number }> {
  const child = spawnCli(['import', bigFile, '--progress', ...args], { env });
  child.stdin!.end();
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const progressOf = (text: string) => Math.max(0, ...[...text.matchAll(/importing: (\d+) records/g)].map((m) => Number(m[1])));
  const stderr = await waitForOutput(child, 'stderr', (text) => progressOf(text) >= atLeast, 30_000);
  child.kill('SIGKILL');
  expect(await waitForExit(child)).toEqual({ code: null, signal: 'SIGKILL' });
  // It really was mid-import: it never got to report success.
  expect(stdout).not.toContain('imported');
  const progressed = progressOf(stderr);
  expect(progressed).toBeLessThan(N);
  return { pid: child.pid!, progressed };
}

describe('kill -9 during alliance import on an embedded (PGlite) data directory', () => {
  const dataDir = path.join(tmp.dir, 'data');

  async function counts(): Promise<{ records: number; identifiers: number; changes: number }> {
    const db = await openPglite({ dataDir: pgliteDir(dataDir) });
    try {
      const { rows } = await db.query<{ records: number; identifiers: number; changes: number }>(
        `SELECT (SELECT count(*)::int FROM records) AS records, (SELECT count(*)::int FROM record_identifiers) AS identifiers,
                (SELECT count(*)::int FROM record_changes) AS changes`,
      );
      return rows[0]!;
    } finally {
      await db.close();
    }
  }

  it('after the kill the data dir opens (stale lock taken over) and the import is all there or absent', async () => {
    // Kill at the first progress line, and again on the same (once crashed) directory further in.
    for (const atLeast of [1, 20_000]) {
      const { pid } = await killMidImport(['--data-dir', dataDir], {}, atLeast);
      // The dead process's lock is still on disk...
      expect(fs.readFileSync(pgliteLockPath(dataDir), 'utf8').trim()).toBe(String(pid));

      // ...and the next command takes it over; the database opens and its schema is intact.
      const migrate = await runCli(['migrate', '--data-dir', dataDir]);
      expect(migrate.stderr).toBe('');
      expect(migrate.code).toBe(0);
      expect(migrate.stdout).toMatch(/^schema up to date at \d+\n$/);
      expect(fs.existsSync(pgliteLockPath(dataDir))).toBe(false);

      const c = await counts();
      expect([0, N]).toContain(c.records);
      expect(c).toEqual({ records: c.records, identifiers: 2 * c.records, changes: c.records });
    }

    // The directory is fully usable: an import after the crashes goes in whole.
    const before = (await counts()).records;
    const after = await runCli(['import', smallFile, '--data-dir', dataDir]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^imported 1500 records/);
    const c = await counts();
    expect(c).toEqual({ records: before + 1500, identifiers: 2 * (before + 1500), changes: before + 1500 });
    // Two crashed imports of 20,000+ records, three processes and PGlite opening each time: room for a busy machine.
  }, 90_000);
});

describe('kill -9 during alliance import into PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createPgDatabase>>;
  beforeAll(async () => {
    database = await createPgDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('leaves nothing of the import, and the database takes the next import', async () => {
    const env = { DATABASE_URL: database.url };
    const dataDir = path.join(tmp.dir, 'pg-data');
    const { progressed } = await killMidImport(['--data-dir', dataDir], env, 1);
    expect(progressed).toBeGreaterThan(0);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // The server notices the dropped connection and rolls its transaction back.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'alliance-node'",
        );
        if (rows[0]!.n === 0) break;
        if (Date.now() > deadline) throw new Error('the killed import still has a connection after 10 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const counts = await client.query(
        'SELECT (SELECT count(*)::int FROM records) AS records, (SELECT count(*)::int FROM record_identifiers) AS identifiers, (SELECT count(*)::int FROM record_changes) AS changes',
      );
      expect(counts.rows[0]).toEqual({ records: 0, identifiers: 0, changes: 0 });

      const after = await runCli(['import', smallFile, '--data-dir', dataDir], { env });
      expect(after.code, after.stderr).toBe(0);
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM records');
      expect(rows[0]!.n).toBe(1500);
    } finally {
      await client.end();
    }
    // PostgreSQL needs no data directory: none was made.
    expect(fs.existsSync(path.join(dataDir, 'pgdata'))).toBe(false);
  });
});
