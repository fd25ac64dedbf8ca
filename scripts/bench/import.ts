/**
 * Import benchmark: how fast `alliance import` (importFile) stores records into PostgreSQL, for JSON
 * Lines and CSV, against a raw COPY of the same rows as the ceiling. Goal (issue 2): at least 10,000
 * records per second into PostgreSQL.
 *
 *   npm run bench:import -- [--records N] [--json] [--keep-files]
 *
 * Needs a PostgreSQL server: ALLIANCE_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres)
 * must allow CREATE DATABASE; a fresh database is created for the run and dropped after.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { mod97 } from '../../node/identifiers/checksums.ts';
import { importFile } from '../../node/records/import-file.ts';
import { validateRecordInput, type RecordFields } from '../../node/records/model.ts';
import type { Database } from '../../node/storage/database.ts';
import { migrate } from '../../node/storage/migrate.ts';
import { openPg } from '../../node/storage/pg.ts';
import { emit, figure } from './report.ts';

export const GOAL_RECORDS_PER_SECOND = 10_000;

const { values } = parseArgs({
  options: {
    records: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'keep-files': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('Usage: npm run bench:import -- [--records N] [--quick] [--json] [--keep-files]\n');
  process.exit(0);
}
// --quick: a small file, for the suite's quick run.
const N = Number(values.records ?? (values.quick ? '5000' : '50000'));
if (!Number.isInteger(N) || N < 1) {
  process.stderr.write(`--records must be a positive whole number (got ${values.records})\n`);
  process.exit(2);
}
const ADMIN_URL = process.env.ALLIANCE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// ---- synthetic data -------------------------------------------------------------------------------

/** Small deterministic PRNG (mulberry32), so every run imports the same rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KINDS = ['SELLER', 'SHOP', 'PERSON', 'COMPANY', 'LISTING'];
const CATEGORIES = ['COUNTERFEIT', 'TRADEMARK', 'COPYRIGHT', 'PATENT', 'DESIGN', 'GREY_MARKET', 'OTHER'];
const STATUSES = ['SUSPECTED', 'SUSPECTED', 'CONFIRMED', 'DISPUTED', 'CLEARED'];
const BRANDS = ['Rolex', 'Omega', 'Nike', 'Adidas', 'Louis Vuitton', 'Gucci', 'Chanel', 'Apple', 'Samsung', 'Lego', 'Canon', 'Ray-Ban'];
const WORDS = ['lux', 'best', 'cheap', 'super', 'outlet', 'global', 'trade', 'style', 'shop', 'mega', 'prime', 'star', 'city', 'deal'];
const TLDS = ['com', 'net', 'shop', 'store', 'top', 'xyz', 'cn', 'ru', 'co.uk'];
const ID_TYPES = ['email', 'phone', 'url', 'domain', 'shop', 'business_id', 'payment_account', 'bank_account', 'ip', 'device_id', 'address'] as const;

interface Synthetic {
  kind: string;
  name: string;
  identifiers: { type: string; value: string }[];
  categories: string[];
  status: string;
  confidence: number;
  brands: string[];
  notes?: string;
  externalId: string;
}

function generate(n: number): Synthetic[] {
  const rnd = prng(20_261_125);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const some = <T>(xs: readonly T[], min: number, max: number): T[] => {
    const k = min + Math.floor(rnd() * (max - min + 1));
    return [...new Set(Array.from({ length: k }, () => pick(xs)))];
  };
  const out: Synthetic[] = [];
  for (let i = 0; i < n; i++) {
    const word = `${pick(WORDS)}${pick(WORDS)}${i}`;
    const domain = `${word}.${pick(TLDS)}`;
    const value = (type: (typeof ID_TYPES)[number]): string => {
      switch (type) {
        case 'email':
          return `sales.${i}@${domain}`;
        case 'phone':
          // 13x is a mobile prefix in China for every 11-digit number.
          return `+86 13${String((i * 7919) % 1e9).padStart(9, '0')}`;
        case 'url':
          return `https://${domain}/products/${Math.floor(rnd() * 1e6)}?ref=replica`;
        case 'domain':
          return domain;
        case 'shop':
          return `marketplace:${word}`;
        case 'business_id':
          return uscc(`91${pick(DIVISIONS)}${String((i * 104_729) % 1e9).padStart(9, '0')}`);
        case 'payment_account':
          return `paypal:${word}@${domain}`;
        case 'bank_account':
          return iban('DE', `${String(10_000_000 + ((i * 7) % 90_000_000))}${String((i * 3_571) % 1e10).padStart(10, '0')}`);
        case 'ip':
          return documentationIp(i);
        case 'device_id':
          return randomUUIDFrom(rnd);
        case 'address':
          return `${1 + (i % 999)} ${pick(WORDS)} Road, Unit ${i % 50}, Shenzhen`;
      }
    };
    const types = some(ID_TYPES, 2, 4);
    out.push({
      kind: pick(KINDS),
      name: `${word[0]!.toUpperCase()}${word.slice(1)} ${pick(['Ltd', 'Trading Co.', 'Store', 'Official', 'Outlet'])}`,
      identifiers: types.map((type) => ({ type, value: value(type) })),
      categories: some(CATEGORIES, 1, 2),
      status: pick(STATUSES),
      confidence: Math.floor(rnd() * 101),
      brands: some(BRANDS, 1, 3),
      ...(rnd() < 0.3 ? { notes: `Test purchase ${i}: "fake" packaging, shipped from ${pick(['HK', 'CN', 'TR', 'AE'])}, paid via card` } : {}),
      externalId: `CASE-${100_000 + i}`,
    });
  }
  return out;
}

/** Administrative division codes (GB/T 2260) for the USCC's characters 3–8. */
const DIVISIONS = ['110000', '310000', '440300', '440100', '330100', '350100', '320500', '510100'];
const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** The 17 characters `payload` with their GB 32100-2015 check character appended. */
function uscc(payload: string): string {
  let sum = 0;
  let weight = 1;
  for (const ch of payload) {
    sum += USCC_ALPHABET.indexOf(ch) * weight;
    weight = (weight * 3) % 31;
  }
  return payload + USCC_ALPHABET[(31 - (sum % 31)) % 31]!;
}

/** An IBAN of `country` and `bban`, with the ISO 13616 (MOD 97-10) check digits computed. */
function iban(country: string, bban: string): string {
  const check = 98 - mod97(`${bban}${country}00`);
  return `${country}${String(check).padStart(2, '0')}${bban}`;
}

/** Addresses of the documentation ranges (RFC 5737, RFC 3849): public in form, assigned to no one. */
const DOCUMENTATION_NETS = ['192.0.2', '198.51.100', '203.0.113'];
function documentationIp(i: number): string {
  if (i % 4 === 3) return `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`;
  return `${DOCUMENTATION_NETS[i % 3]}.${(i >> 2) % 256}`;
}

function randomUUIDFrom(rnd: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

async function writeFiles(dir: string, rows: Synthetic[]): Promise<{ jsonl: string; csv: string }> {
  const jsonl = path.join(dir, 'records.jsonl');
  const csv = path.join(dir, 'records.csv');
  await pipeline(
    Readable.from((function* () {
      for (const r of rows) yield `${JSON.stringify(r)}\n`;
    })()),
    fs.createWriteStream(jsonl),
  );
  const cols = ['kind', 'name', 'status', 'confidence', 'categories', 'brands', 'notes', 'external_id', ...ID_TYPES];
  await pipeline(
    Readable.from((function* () {
      yield `${cols.join(',')}\n`;
      for (const r of rows) {
        const ids = (t: string) =>
          r.identifiers
            .filter((x) => x.type === t)
            .map((x) => x.value)
            .join('|');
        const cells = [r.kind, r.name, r.status, String(r.confidence), r.categories.join('|'), r.brands.join('|'), r.notes ?? '', r.externalId, ...ID_TYPES.map(ids)];
        // `|` separates list values; no generated value contains one, so cells are quoted only for , " and newlines.
        yield `${cells.map((c) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')}\n`;
      }
    })()),
    fs.createWriteStream(csv),
  );
  return { jsonl, csv };
}

// ---- databases ------------------------------------------------------------------------------------

async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `alliance_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

async function truncate(db: Database): Promise<void> {
  await db.exec('TRUNCATE records, record_identifiers, record_changes');
  await db.exec('VACUUM ANALYZE records, record_identifiers, record_changes');
}

async function count(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM records');
  return rows[0]!.n;
}

/** COPY text-format escaping of one value (NULL as \N). */
function copyValue(v: string | number | null): string {
  if (v === null) return '\\N';
  return String(v).replace(/[\\\n\r\t]/g, (ch) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[ch]!);
}

function pgArray(xs: string[]): string {
  return `{${xs.map((x) => `"${x.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`).join(',')}}`;
}

/**
 * The ceiling: the same rows (records, identifiers, change log) streamed by COPY in one transaction,
 * already validated (validation is done before the clock starts) and without any file parsing.
 */
async function copyBaseline(url: string, rows: RecordFields[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    const ids = rows.map(() => randomUUID());
    const actor = 'bench:copy';
    const copy = (sql: string, lines: () => Generator<string>) => pipeline(Readable.from(batch(lines())), client.query(copyFrom(sql)));
    await copy('COPY records (id, kind, name, categories, status, confidence, brands, notes, evidence, external_id, region, created_by, updated_by) FROM STDIN', function* () {
      for (let i = 0; i < rows.length; i++) {
        const f = rows[i]!;
        yield `${[ids[i]!, f.kind, f.name, pgArray(f.categories), f.status, f.confidence, pgArray(f.brands), f.notes, pgArray(f.evidence), f.externalId, f.region, actor, actor].map(copyValue).join('\t')}\n`;
      }
    });
    await copy('COPY record_identifiers (record_id, position, type, value, canonical) FROM STDIN', function* () {
      for (let i = 0; i < rows.length; i++) {
        const idents = rows[i]!.identifiers;
        for (let p = 0; p < idents.length; p++) yield `${[ids[i]!, p, idents[p]!.type, idents[p]!.value, idents[p]!.canonical].map(copyValue).join('\t')}\n`;
      }
    });
    await copy('COPY record_changes (record_id, action, actor, role) FROM STDIN', function* () {
      for (const id of ids) yield `${id}\timport\t${actor}\tcli\n`;
    });
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

/** Joins lines into ~64 KiB strings so the stream is not one tiny write per row. */
function* batch(lines: Generator<string>): Generator<string> {
  let buf = '';
  for (const line of lines) {
    buf += line;
    if (buf.length >= 65_536) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

// ---- run ------------------------------------------------------------------------------------------

interface Result {
  name: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
}

async function timed(name: string, records: number, fn: () => Promise<void>): Promise<Result> {
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  return { name, records, seconds, recordsPerSecond: Math.round(records / seconds) };
}

async function main(): Promise<void> {
  const log = (s: string) => {
    if (!values.json) process.stderr.write(`${s}\n`);
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-bench-import-'));
  const database = await createDatabase();
  const db = await openPg({ connectionString: database.url, max: 2 });
  try {
    await migrate(db);
    log(`generating ${N} records in ${dir} ...`);
    const rows = generate(N);
    const files = await writeFiles(dir, rows);
    // Warm-up (not timed): each path once over a small file, so the figures are the sustained rate
    // rather than the JIT's first steps.
    const warmDir = fs.mkdtempSync(path.join(dir, 'warm-'));
    const warm = await writeFiles(warmDir, rows.slice(0, Math.min(N, 2000)));
    const validated = rows.map((r) => validateRecordInput(r as unknown as Record<string, unknown>));
    const actor = { sub: 'bench', role: 'cli' };
    const results: Result[] = [];

    for (const [name, file, warmFile] of [
      ['importFile JSON Lines', files.jsonl, warm.jsonl],
      ['importFile CSV', files.csv, warm.csv],
    ] as const) {
      await importFile(db, warmFile, { actor });
      await truncate(db);
      log(`${name} ...`);
      const r = await timed(name, N, async () => {
        const out = await importFile(db, file, { actor });
        if (out.errorCount > 0) throw new Error(`${name}: ${out.errorCount} invalid rows, first: ${JSON.stringify(out.errors[0])}`);
        if (out.imported !== N) throw new Error(`${name}: imported ${out.imported}, expected ${N}`);
      });
      if ((await count(db)) !== N) throw new Error(`${name}: records table does not hold ${N} rows`);
      results.push(r);
    }

    // The command itself, as a user runs it: process start, storage open and migration check included.
    await truncate(db);
    log('alliance import (CLI) ...');
    const cli = await timed('alliance import CLI (JSON Lines)', N, async () => {
      await promisify(execFile)(process.execPath, ['node/cli/bin.ts', 'import', files.jsonl, '--data-dir', path.join(dir, 'data')], {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        env: { ...process.env, DATABASE_URL: database.url, ALLIANCE_LOG_LEVEL: 'warn' },
        maxBuffer: 1 << 20,
      });
    });
    if ((await count(db)) !== N) throw new Error('alliance import: records table does not hold the rows');
    results.push(cli);

    await copyBaseline(database.url, validated.slice(0, 2000));
    await truncate(db);
    log('COPY baseline ...');
    const baseline = await timed('COPY FROM STDIN (baseline)', N, () => copyBaseline(database.url, validated));
    if ((await count(db)) !== N) throw new Error('COPY baseline: records table does not hold the rows');

    const figures = results.map((r) =>
      figure(`${r.name} into PostgreSQL`, r.recordsPerSecond, 'records/s', {
        baseline: { name: 'COPY of the same rows', value: baseline.recordsPerSecond, unit: 'records/s' },
        goal: { op: '>=', value: GOAL_RECORDS_PER_SECOND },
        note: `${N.toLocaleString('en-US')} records`,
      }),
    );
    emit(figures, { json: values.json, quick: values.quick, title: `import into PostgreSQL, ${N} records` });
    if (figures.some((f) => f.met === false)) process.exitCode = 1;
  } finally {
    await db.close();
    await database.drop();
    if (values['keep-files']) process.stderr.write(`files kept in ${dir}\n`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
