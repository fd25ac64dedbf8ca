import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteLockPath, runCli, startNodeProcess, tempDir } from '../../helpers/cli.ts';
import { STORAGES, createPgDatabase } from '../../helpers/storage.ts';
import type { Database } from '../../../node/storage/database.ts';
import { openPg } from '../../../node/storage/pg.ts';
import { openPglite } from '../../../node/storage/pglite.ts';
import { pgliteDir } from '../../../node/storage/open.ts';
import { RecordStore } from '../../../node/records/store.ts';

const CSV =
  '\uFEFFkind,name,email,phone,url,categories,brands,notes,status,confidence,external_id\r\n' +
  'SELLER,"Fake, Watches Ltd",a@fake.example.com|b@fake.example.com,+44 20 7946 0000,https://fake.example/shop,COUNTERFEIT|TRADEMARK,Rolex|Omega,"first line\r\nsecond, with comma",CONFIRMED,80,case-1\r\n' +
  'SHOP,Shop Two,,,,,,,,,\r\n' +
  'LISTING,Listing Three,,,https://market.example/item/3,DESIGN,,,DISPUTED,10,case-3\r\n';

const JSONL = [
  { kind: 'PERSON', name: 'Jane Doe', identifiers: [{ type: 'NAME', value: 'J. Doe' }], categories: ['COPYRIGHT'] },
  { kind: 'COMPANY', name: 'Doe Trading', identifiers: [{ type: 'business_id', value: 'FI12345678' }, { type: 'address', value: '1 Main St, Springfield' }] },
]
  .map((r) => JSON.stringify(r))
  .join('\n');

describe.each(STORAGES)('alliance import into %s', (kind) => {
  const tmp = tempDir('alliance-cli-import-');
  const dataDir = path.join(tmp.dir, 'data');
  let env: Record<string, string> = {};
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;

  const f = (name: string, content: string) => {
    const p = path.join(tmp.dir, name);
    fs.writeFileSync(p, content);
    return p;
  };
  /** The node's storage, opened in this process (the CLI must not be running on a PGlite dir). */
  async function withStore<T>(fn: (store: RecordStore, db: Database) => Promise<T>): Promise<T> {
    const db = databaseUrl ? await openPg({ connectionString: databaseUrl, max: 1 }) : await openPglite({ dataDir: pgliteDir(dataDir) });
    try {
      return await fn(new RecordStore(db), db);
    } finally {
      await db.close();
    }
  }
  const count = () => withStore((s) => s.count());
  const importCli = (args: string[]) => runCli(['import', ...args, '--data-dir', dataDir], { env });

  beforeAll(async () => {
    if (kind === 'pg') {
      const database = await createPgDatabase();
      databaseUrl = database.url;
      drop = database.drop;
      env = { DATABASE_URL: database.url };
    }
    // The first import of a fresh data dir creates and migrates its storage.
    const first = await importCli([f('first.jsonl', JSON.stringify({ kind: 'SELLER', name: 'First' }))]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^imported 1 records in [\d.]+ s \(\d+\/s\)\n$/);
  });
  afterAll(async () => {
    await drop?.();
    tmp.remove();
  });

  it('imports a CSV file (header columns, | lists, identifier columns, quoted commas and newlines, BOM)', async () => {
    const before = await count();
    const r = await importCli([f('records.csv', CSV), '--actor', 'ops:jane']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported 3 records in /);
    expect(r.stderr).toBe('');
    await withStore(async (store) => {
      expect(await store.count()).toBe(before + 3);
      const [rec] = (await store.list({ text: 'case-1' }, 10, null)).records;
      expect(rec).toMatchObject({
        kind: 'SELLER',
        name: 'Fake, Watches Ltd',
        identifiers: [
          { type: 'email', value: 'a@fake.example.com' },
          { type: 'email', value: 'b@fake.example.com' },
          { type: 'phone', value: '+44 20 7946 0000' },
          { type: 'url', value: 'https://fake.example/shop' },
        ],
        categories: ['COUNTERFEIT', 'TRADEMARK'],
        brands: ['Rolex', 'Omega'],
        notes: 'first line\r\nsecond, with comma',
        status: 'CONFIRMED',
        confidence: 80,
        createdBy: 'ops:jane',
      });
      expect(await store.history(rec!.id)).toEqual([expect.objectContaining({ action: 'import', actor: 'ops:jane', role: 'cli' })]);
    });
  });

  it('imports a JSON Lines file', async () => {
    const before = await count();
    const r = await importCli([f('records.jsonl', JSONL)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported 2 records in /);
    await withStore(async (store) => {
      expect(await store.count()).toBe(before + 2);
      const [rec] = (await store.list({ kind: ['COMPANY'] }, 10, null)).records;
      expect(rec).toMatchObject({
        name: 'Doe Trading',
        identifiers: [
          { type: 'business_id', value: 'FI12345678' },
          { type: 'address', value: '1 Main St, Springfield' },
        ],
      });
      expect(rec!.createdBy).toMatch(/^cli:/);
    });
  });

  it('a CSV with broken rows exits 1 naming row, line and column, and stores nothing of it', async () => {
    const before = await count();
    const csv = ['kind,name,email,status', 'SELLER,Good,g@x.example.com,SUSPECTED', 'SELLER,Bad status,b@x.example.com,MAYBE', 'SELLER,"Two', 'lines",t@x.example.com', 'SELLER,Also good,,CLEARED'].join('\n');
    const r = await importCli([f('broken.csv', csv)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('row 2 (line 3), column status: must be one of SUSPECTED, CONFIRMED, DISPUTED, CLEARED (got "MAYBE")\n');
    expect(r.stderr).toContain('row 3 (line 4): has 3 columns; the header has 4 (missing: status)\n');
    expect(r.stderr).toContain('alliance import: 2 problem(s) in 4 rows; nothing was imported [IMPORT_INVALID]\n');
    expect(await count()).toBe(before);
  });

  it('a bad JSON line exits 1 naming row and line, and stores nothing', async () => {
    const before = await count();
    const r = await importCli([f('broken.jsonl', `${JSON.stringify({ kind: 'SELLER', name: 'ok' })}\n\n{"kind": "SELLER", "name": \n${JSON.stringify({ kind: 'SELLER', name: 'x', confidence: 'high' })}\n`)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^row 2 \(line 3\): is not valid JSON \(.+\)$/m);
    expect(r.stderr).toContain('row 3 (line 4), field confidence: must be a whole number from 0 to 100 (got "high")\n');
    expect(r.stderr).toContain('2 problem(s) in 3 rows; nothing was imported [IMPORT_INVALID]');
    expect(await count()).toBe(before);
  });

  it('an unknown CSV column exits 1 listing the known columns', async () => {
    const r = await importCli([f('cols.csv', 'kind,name,colour\nSELLER,A,red\n')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CSV header: unknown column(s) "colour"; known columns: kind, name, status, confidence, categories, brands, notes, evidence, external_id');
    expect(r.stderr).toContain('email, phone, url, domain, shop, business_id, payment_account, bank_account, ip, device_id, address [IMPORT_FORMAT]');
  });

  it('an empty file, a missing file and an unknown extension exit 1 with a message', async () => {
    const empty = await importCli([f('empty.csv', '')]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/empty\.csv holds no records .*: nothing to import \[IMPORT_EMPTY\]/);

    const missingPath = path.join(tmp.dir, 'missing.jsonl');
    const missing = await importCli([missingPath]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`alliance import: cannot read ${missingPath}: ENOENT [IMPORT_FILE]\n`);
    // The file is checked before the storage is opened: a typo creates no data directory.
    const fresh = path.join(tmp.dir, 'never-created');
    const typo = await runCli(['import', missingPath, '--data-dir', fresh], { env });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('cannot read');
    expect(fs.existsSync(fresh)).toBe(false);

    const txt = f('records.txt', JSONL);
    const unknown = await importCli([txt]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`cannot tell the format of ${txt}: name it .csv or .jsonl, or pass --format csv|jsonl [IMPORT_FORMAT]`);

    const badFormat = await importCli([txt, '--format', 'xml']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('--format must be csv or jsonl');

    const before = await count();
    const withFormat = await importCli([txt, '--format', 'jsonl']);
    expect(withFormat.code, withFormat.stderr).toBe(0);
    expect(await count()).toBe(before + 2);
  });

  it('importing the same file twice stores it twice (imports are not deduplicated)', async () => {
    const p = f('twice.jsonl', [1, 2, 3].map((i) => JSON.stringify({ kind: 'SHOP', name: `Twice ${i}`, externalId: `TWICE-${i}` })).join('\n'));
    const before = await count();
    expect((await importCli([p])).code).toBe(0);
    expect(await count()).toBe(before + 3);
    expect((await importCli([p])).code).toBe(0);
    await withStore(async (store) => {
      expect(await store.count()).toBe(before + 6);
      expect(await store.count({ text: 'TWICE-2' })).toBe(2);
    });
  });

  it('--progress prints progress lines on stderr', async () => {
    const n = 2500;
    const p = f('progress.jsonl', Array.from({ length: n }, (_, i) => JSON.stringify({ kind: 'SELLER', name: `P${i}` })).join('\n'));
    const r = await importCli([p, '--progress']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.map((l) => /^importing: (\d+) records \(\d+\/s\)$/.exec(l)?.[1])).toEqual(['1000', '2000', '2500']);
    expect(r.stdout).toMatch(/^imported 2500 records/);
  });

  if (kind === 'pglite') {
    it('refuses to import into a data dir while alliance start runs on it (STORAGE_LOCKED)', async () => {
      const before = await count();
      const node = await startNodeProcess(['--data-dir', dataDir]);
      try {
        const r = await importCli([f('locked.jsonl', JSON.stringify({ kind: 'SELLER', name: 'Locked out' }))]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`data directory is in use by another process (pid ${node.child.pid})`);
        expect(r.stderr).toContain('[STORAGE_LOCKED]');
        expect(fs.readFileSync(pgliteLockPath(dataDir), 'utf8').trim()).toBe(String(node.child.pid));
      } finally {
        expect(await node.stop()).toEqual({ code: 0, signal: null });
      }
      expect(await count()).toBe(before);
    });
  }
});
