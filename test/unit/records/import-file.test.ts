import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/cli.ts';
import { ImportFileError, MAX_ROW_BYTES, formatOf, importFile, type FileImportOptions } from '../../../node/records/import-file.ts';
import { IMPORT_CHUNK } from '../../../node/records/import.ts';
import { RecordStore } from '../../../node/records/store.ts';
import type { StoredRecord } from '../../../node/records/model.ts';

const actor = { sub: 'cli:tester', role: 'cli' };
const opts: FileImportOptions = { actor };

const tmp = tempDir('alliance-import-file-');
afterAll(() => tmp.remove());
let fileNo = 0;
/** Writes `content` to a new file with the given extension and returns its path. */
function file(ext: string, content: string | Buffer): string {
  const p = path.join(tmp.dir, `f${++fileNo}.${ext}`);
  fs.writeFileSync(p, content);
  return p;
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

describe('formatOf', () => {
  it('takes the format from the extension, or from the flag', () => {
    expect(formatOf('a.csv')).toBe('csv');
    expect(formatOf('A.CSV')).toBe('csv');
    expect(formatOf('a.jsonl')).toBe('jsonl');
    expect(formatOf('a.ndjson')).toBe('jsonl');
    expect(formatOf('a.txt', 'csv')).toBe('csv');
    expect(() => formatOf('a.txt')).toThrow(/cannot tell the format of a\.txt/);
    expect(() => formatOf('a.json')).toThrow(ImportFileError);
  });
});

describe.each(STORAGES)('importFile on %s', (kind) => {
  let t: TestDb;
  let store: RecordStore;
  beforeAll(async () => {
    t = await openTestDb(kind);
    store = new RecordStore(t.db);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await t.db.exec('TRUNCATE records, record_identifiers, record_changes');
  });

  async function all(): Promise<StoredRecord[]> {
    return (await store.list({}, 500, null)).records;
  }

  it('imports CSV: header columns, | lists, identifier columns, quoted commas and newlines, BOM, CRLF', async () => {
    const csv =
      '\uFEFFKind,Name,Email,Phone,Domain,Categories,Brands,Notes,Status,Confidence,External_ID,Evidence\r\n' +
      'SELLER,"Fake, Watches Ltd",a@fake.example.com | b@fake.example.com,+44 20 7946 0000,fake.example.com,COUNTERFEIT|TRADEMARK,Rolex|Omega,"line one\r\nline two, with ""quotes""",CONFIRMED,80,case-1,https://evidence.example/1|https://evidence.example/2\r\n' +
      '\r\n' +
      'SHOP,  Shop Two  ,,,,,,,,,,\r\n';
    const r = await importFile(t.db, file('csv', csv), opts);
    expect(r).toMatchObject({ format: 'csv', imported: 2, rows: 2, errorCount: 0, errors: [] });
    const [a, b] = await all();
    expect(a).toMatchObject({
      kind: 'SELLER',
      name: 'Fake, Watches Ltd',
      identifiers: [
        { type: 'email', value: 'a@fake.example.com', canonical: 'a@fake.example.com' },
        { type: 'email', value: 'b@fake.example.com', canonical: 'b@fake.example.com' },
        { type: 'phone', value: '+44 20 7946 0000', canonical: '+442079460000' },
        { type: 'domain', value: 'fake.example.com', canonical: 'example.com' },
      ],
      categories: ['COUNTERFEIT', 'TRADEMARK'],
      brands: ['Rolex', 'Omega'],
      notes: 'line one\r\nline two, with "quotes"',
      status: 'CONFIRMED',
      confidence: 80,
      externalId: 'case-1',
      evidence: ['https://evidence.example/1', 'https://evidence.example/2'],
      createdBy: 'cli:tester',
    });
    // Empty cells take the defaults.
    expect(b).toMatchObject({ kind: 'SHOP', name: 'Shop Two', identifiers: [], categories: [], brands: [], notes: null, status: 'SUSPECTED', confidence: 50, externalId: null });
    const history = await store.history(a!.id);
    expect(history).toEqual([expect.objectContaining({ action: 'import', actor: 'cli:tester', role: 'cli' })]);
  });

  it('imports JSON Lines: one RecordInput per line, blank lines skipped, BOM, upper-case identifier types', async () => {
    const text =
      '\uFEFF' +
      jsonl([
        { kind: 'SELLER', name: 'Alpha', identifiers: [{ type: 'EMAIL', value: 'x@alpha.example.com' }, { type: 'name', value: 'Al Pha' }], categories: ['COUNTERFEIT'] },
      ]) +
      '\n   \n' +
      jsonl([{ kind: 'LISTING', name: 'Beta', status: 'DISPUTED', confidence: 0, brands: ['Nike'], externalId: 'L-2', notes: 'a\nb' }]);
    const r = await importFile(t.db, file('jsonl', text), opts);
    expect(r).toMatchObject({ format: 'jsonl', imported: 2, rows: 2, errorCount: 0 });
    const [a, b] = await all();
    expect(a).toMatchObject({ name: 'Alpha', identifiers: [{ type: 'email', value: 'x@alpha.example.com', canonical: 'x@alpha.example.com' }, { type: 'name', value: 'Al Pha', canonical: 'al pha' }], categories: ['COUNTERFEIT'] });
    expect(b).toMatchObject({ kind: 'LISTING', name: 'Beta', status: 'DISPUTED', confidence: 0, brands: ['Nike'], externalId: 'L-2', notes: 'a\nb' });
  });

  it('a CSV with a bad row names row, line and column, and stores nothing, even after earlier chunks went in', async () => {
    const good = Array.from({ length: IMPORT_CHUNK * 2 + 10 }, (_, i) => `SELLER,Seller ${i},s${i}@x.example.com,SUSPECTED`);
    const lines = ['kind,name,email,status', ...good, 'SELLER,Bad one,bad@x.example.com,MAYBE', 'SELLER,Fine,f@x.example.com,CLEARED'];
    const progress: number[] = [];
    const r = await importFile(t.db, file('csv', lines.join('\n') + '\n'), { actor, onProgress: (n) => progress.push(n) });
    const badRow = good.length + 1;
    expect(r.imported).toBe(0);
    expect(r.rows).toBe(good.length + 2);
    expect(r.errorCount).toBe(1);
    expect(r.errors).toEqual([{ row: badRow, line: badRow + 1, field: 'status', message: expect.stringContaining('must be one of SUSPECTED, CONFIRMED, DISPUTED, CLEARED (got "MAYBE")') }]);
    // Chunks had been inserted inside the transaction before the bad row was read...
    expect(progress.length).toBeGreaterThanOrEqual(2);
    // ...and were rolled back.
    expect(await store.count()).toBe(0);
    const { rows } = await t.db.query<{ n: number }>('SELECT (SELECT count(*) FROM record_identifiers) + (SELECT count(*) FROM record_changes) AS n');
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('reports every problem of every row, with the CSV column each came from', async () => {
    const csv = [
      'kind,name,email,url,categories,confidence,external_id',
      'SELLER,Ok,ok@x.example.com,,,,',
      'VENDOR,,ok@x.example.com,,FAKE,101,',
      'SELLER,"multi',
      'line",,,,abc,',
      'SELLER,Short',
      'SELLER,Long,a,b,,1,x,extra',
      `SELLER,Big,${'e'.repeat(1025)},,,,${'x'.repeat(201)}`,
    ].join('\n');
    const r = await importFile(t.db, file('csv', csv), opts);
    expect(r.imported).toBe(0);
    expect(r.rows).toBe(6);
    expect(r.errors.map((e) => [e.row, e.line, e.field])).toEqual([
      [2, 3, 'kind'],
      [2, 3, 'name'],
      [2, 3, 'confidence'],
      [2, 3, 'categories'],
      [3, 4, 'confidence'],
      [4, 6, 'row'],
      [5, 7, 'row'],
      [6, 8, 'external_id'],
      [6, 8, 'email'],
    ]);
    expect(r.errors[5]!.message).toBe('has 2 columns; the header has 7 (missing: email, url, categories, confidence, external_id)');
    expect(r.errors[6]!.message).toBe('has 8 columns; the header has 7 (1 cell(s) after the last column, external_id)');
    expect(r.errors[8]!.message).toContain('the limit is 1024');
    expect(r.errorCount).toBe(9);
    expect(await store.count()).toBe(0);
  });

  it('names the line a row starts on when quoted cells span lines, with CRLF too', async () => {
    for (const nl of ['\n', '\r\n']) {
      const csv = ['kind,name,notes', 'SELLER,A,"one', 'two', 'three"', '', 'SELLER,B,"x', 'y"', 'SELLER,C,z,extra'].join(nl);
      const r = await importFile(t.db, file('csv', csv), opts);
      expect(r.errors.map((e) => [e.row, e.line, e.field])).toEqual([[3, 8, 'row']]);
    }
    expect(await store.count()).toBe(0);
  });

  it('a bad JSON line is named by row and line, and nothing is stored', async () => {
    const text = [
      JSON.stringify({ kind: 'SELLER', name: 'One' }),
      '',
      '{"kind": "SELLER", "name": "Two"',
      '[1, 2]',
      JSON.stringify({ kind: 'SELLER', name: 'Three', colour: 'red', identifiers: [{ type: 'fax', value: '1' }] }),
      JSON.stringify({ kind: 'SELLER', name: 'Four' }),
    ].join('\n');
    const r = await importFile(t.db, file('jsonl', text), opts);
    expect(r.imported).toBe(0);
    expect(r.rows).toBe(5);
    expect(r.errors).toEqual([
      { row: 2, line: 3, field: 'line', message: expect.stringMatching(/^is not valid JSON \(/) },
      { row: 3, line: 4, field: 'line', message: 'is not a JSON object' },
      { row: 4, line: 5, field: 'colour', message: 'is not a record field' },
      { row: 4, line: 5, field: 'identifiers[0].type', message: expect.stringContaining('must be one of email, phone') },
    ]);
    expect(await store.count()).toBe(0);
  });

  it('refuses an oversized line or CSV record with a clear message, storing nothing', async () => {
    const huge = 'x'.repeat(MAX_ROW_BYTES + 1);
    const long = JSON.stringify({ kind: 'SELLER', name: huge });
    const r = await importFile(t.db, file('jsonl', `${JSON.stringify({ kind: 'SELLER', name: 'ok' })}\n${long}\n`), opts);
    expect(r.errors).toEqual([{ row: 2, line: 2, field: 'line', message: `is ${long.length} characters long; the limit is ${MAX_ROW_BYTES}` }]);
    const csv = await importFile(t.db, file('csv', `kind,name\nSELLER,ok\nSELLER,"${huge}"\n`), opts).catch((e: unknown) => e);
    expect(csv).toMatchObject({ code: 'IMPORT_FORMAT', message: `CSV record 2 (line 3) is longer than the limit of ${MAX_ROW_BYTES} characters (an unclosed quote?)` });
    expect(await store.count()).toBe(0);
  });

  it('keeps at most maxErrors problems but counts them all', async () => {
    const text = Array.from({ length: 30 }, (_, i) => JSON.stringify({ kind: 'NOPE', name: `n${i}` })).join('\n');
    const r = await importFile(t.db, file('jsonl', text), { actor, maxErrors: 5 });
    expect(r.errors).toHaveLength(5);
    expect(r.errorCount).toBe(30);
    expect(r.errors.at(-1)).toMatchObject({ row: 5, line: 5, field: 'kind' });
  });

  it('refuses an unknown CSV column, listing the known ones', async () => {
    const err = await importFile(t.db, file('csv', 'kind,name,colour,e-mail\nSELLER,A,red,a@x\n'), opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportFileError);
    expect(err).toMatchObject({ code: 'IMPORT_FORMAT' });
    const message = (err as Error).message;
    expect(message).toContain('unknown column(s) "colour", "e-mail"');
    for (const col of ['kind', 'name', 'status', 'confidence', 'categories', 'brands', 'notes', 'evidence', 'external_id', 'email', 'phone', 'bank_account', 'address']) {
      expect(message).toContain(col);
    }
    expect(await store.count()).toBe(0);
  });

  it('refuses a CSV header without kind or name, or with a field column twice', async () => {
    await expect(importFile(t.db, file('csv', 'name,email\nA,a@x\n'), opts)).rejects.toThrow('columns kind and name are required');
    await expect(importFile(t.db, file('csv', 'kind,name,external_id,externalid\nSELLER,A,1,2\n'), opts)).rejects.toThrow('column(s) externalId given more than once');
    // Identifier columns may repeat.
    const r = await importFile(t.db, file('csv', 'kind,name,email,email\nSELLER,A,a@x.example.com,b@x.example.com\n'), opts);
    expect(r.imported).toBe(1);
    expect((await all())[0]!.identifiers).toHaveLength(2);
  });

  it('refuses malformed CSV (an unclosed quote) naming the line, storing nothing', async () => {
    const err = await importFile(t.db, file('csv', 'kind,name\nSELLER,A\nSELLER,"B\nSELLER,C\n'), opts).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'IMPORT_FORMAT' });
    expect((err as Error).message).toMatch(/^CSV is malformed near line \d+: /);
    expect(await store.count()).toBe(0);
  });

  it('refuses an empty file, a header-only CSV and a JSON Lines file of blank lines', async () => {
    for (const [ext, content] of [
      ['csv', ''],
      ['csv', '\uFEFFkind,name\r\n'],
      ['jsonl', ''],
      ['jsonl', '\n  \n\n'],
    ] as const) {
      const err = await importFile(t.db, file(ext, content), opts).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'IMPORT_EMPTY', message: expect.stringContaining('holds no records') });
    }
  });

  it('a missing file or a directory: cannot read', async () => {
    const missing = path.join(tmp.dir, 'nope.csv');
    await expect(importFile(t.db, missing, opts)).rejects.toMatchObject({ code: 'IMPORT_FILE', message: `cannot read ${missing}: ENOENT` });
    await expect(importFile(t.db, tmp.dir, { actor, format: 'csv' })).rejects.toMatchObject({ code: 'IMPORT_FILE', message: `cannot read ${tmp.dir}: EISDIR` });
    await expect(importFile(t.db, tmp.dir, { actor, format: 'jsonl' })).rejects.toMatchObject({ code: 'IMPORT_FILE' });
  });

  it('an unknown extension needs a format; with one it imports', async () => {
    const p = file('txt', jsonl([{ kind: 'SHOP', name: 'T' }]));
    await expect(importFile(t.db, p, opts)).rejects.toMatchObject({ code: 'IMPORT_FORMAT' });
    expect(await importFile(t.db, p, { actor, format: 'jsonl' })).toMatchObject({ imported: 1 });
  });

  it('importing the same file twice stores it twice (imports are not deduplicated)', async () => {
    const p = file('jsonl', jsonl([{ kind: 'SHOP', name: 'Dup', externalId: 'D-1' }, { kind: 'SHOP', name: 'Dup 2' }]));
    await importFile(t.db, p, opts);
    await importFile(t.db, p, opts);
    expect(await store.count()).toBe(4);
    expect(await store.count({ text: 'D-1' })).toBe(2);
  });

  it('reports progress after each stored chunk, ending at the total', async () => {
    const n = IMPORT_CHUNK * 2 + 1;
    const p = file('jsonl', jsonl(Array.from({ length: n }, (_, i) => ({ kind: 'SELLER', name: `P${i}`, identifiers: [{ type: 'ip', value: `2001:db8::${i.toString(16)}` }] }))));
    const progress: number[] = [];
    const r = await importFile(t.db, p, { actor, onProgress: (k) => progress.push(k) });
    expect(r.imported).toBe(n);
    expect(progress).toEqual([IMPORT_CHUNK, IMPORT_CHUNK * 2, n]);
    expect(await store.count()).toBe(n);
    // Order is kept: the file's first row is the first record.
    expect((await store.list({}, 1, null)).records[0]!.name).toBe('P0');
  });
});

describe('importFile and a database failure mid-import', () => {
  let t: TestDb;
  afterEach(async () => {
    await t?.close();
  });

  it('a failing insert rolls the whole import back and is reported as an error (PostgreSQL)', async () => {
    t = await openTestDb('pg');
    // A trigger that fails on the 1500th record: after the first chunk went in.
    await t.db.exec(`
      CREATE FUNCTION fail_late() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.name = 'R1499' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER fail_late BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION fail_late();`);
    const p = file('jsonl', jsonl(Array.from({ length: 3000 }, (_, i) => ({ kind: 'SELLER', name: `R${i}` }))));
    await expect(importFile(t.db, p, opts)).rejects.toThrow('disk on fire');
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM records');
    expect(rows[0]!.n).toBe(0);
    // The connection went back to the pool in a usable state.
    await t.db.exec('DROP TRIGGER fail_late ON records');
    expect(await importFile(t.db, p, opts)).toMatchObject({ imported: 3000 });
  });
});
