/**
 * Ingest benchmark: how fast a node verifies and stores peer batches into PostgreSQL on the catch-up
 * path, against a raw COPY of the same indicator rows into the same table as the ceiling.
 *
 *   npm run bench:ingest -- [--quick] [--json] [--indicators N]
 *
 * The receiving node is wired as `startNode` wires it: `BatchStore.ingestMany` over the matcher's
 * database, so every transaction also runs the matching step, against the node's own records and
 * indicators (1 in 100 of the peer's digests is one of them, so matches are raised as they would be).
 * Batches of 1,000 items are handed over in pages the size a sync response carries (at most 4 MiB),
 * as the exchange does when a node catches up.
 *
 * Figures: indicators/s of ingest (goal >= 100,000) beside the COPY rate, and ingest as a share of
 * COPY (goal >= 50%). Progress, and the CPU time the node process spent, go to stderr.
 *
 * --quick: 20,000 indicators (the default is 200,000). Needs a PostgreSQL server:
 * ALLIANCE_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) must allow CREATE
 * DATABASE; fresh databases are created for the run and dropped after.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BatchStore } from '../../node/indicators/batch-store.ts';
import { batchHash, type Batch } from '../../node/indicators/batch.ts';
import { toWireTime } from '../../node/encoding/time.ts';
import type { Indicator } from '../../node/indicators/indicator.ts';
import { Matcher } from '../../node/matching/matcher.ts';
import type { Database } from '../../node/storage/database.ts';
import { migrate } from '../../node/storage/migrate.ts';
import { openPg } from '../../node/storage/pg.ts';
import { foundBenchAlliance } from './lib/alliance.ts';
import { benchArgs, intFlag, progress } from './lib/cli.ts';
import { createBenchDatabase } from './lib/database.ts';
import { BenchBatchSigner, ITEMS_PER_BATCH } from './lib/indicators.ts';
import { emit, figure, type Figure } from './report.ts';

export const GOAL_INDICATORS_PER_SECOND = 100_000;
export const GOAL_SHARE_OF_COPY_PERCENT = 50;
/** What one sync response carries at most (BatchStore.range's default byte limit). */
const PAGE_BYTES = 4 * 1024 * 1024;
const SELF = 'receiver';
const PEER = 'publisher';
/** One peer digest in OVERLAP is also one of this node's own (so the matcher raises matches). */
const OVERLAP = 100;

const USAGE = 'Usage: npm run bench:ingest -- [--quick] [--json] [--indicators N]';
const args = benchArgs(USAGE, { indicators: { type: 'string' } });
const N = intFlag('indicators', args.indicators, args.quick ? 20_000 : 200_000, ITEMS_PER_BATCH);
const TOTAL = Math.floor(N / ITEMS_PER_BATCH) * ITEMS_PER_BATCH;

const TYPES = ['phone', 'email', 'payment_account'] as const;

function peerIndicators(count: number): Indicator[] {
  const expiresAt = toWireTime(new Date(Date.now() + 365 * 86_400_000));
  return Array.from({ length: count }, (_, i) => ({
    type: TYPES[i % 3]!,
    digest: randomBytes(32).toString('base64url'),
    op: 'add',
    ref: randomBytes(16).toString('base64url'),
    categories: ['COUNTERFEIT'],
    status: 'CONFIRMED',
    confidence: 80,
    firstSeen: '2026-11-01',
    expiresAt,
  }));
}

/**
 * This node's own records and their published indicators (as its publisher leaves them): one
 * record per own indicator, a tenth as many as the peer sends, every OVERLAP-th peer digest among
 * them. Written into both databases, so COPY and ingest start from tables of the same size.
 */
async function seedOwn(db: Database, peer: readonly Indicator[]): Promise<number> {
  const count = Math.max(1, Math.floor(peer.length / 10));
  const own = { id: [] as string[], ref: [] as string[], type: [] as string[], digest: [] as string[] };
  for (let i = 0; i < count; i++) {
    const shared = i * 10 < peer.length && (i * 10) % OVERLAP === 0 ? peer[i * 10] : undefined;
    own.id.push(randomUUID());
    own.ref.push(randomBytes(16).toString('base64url'));
    own.type.push(shared?.type ?? TYPES[i % 3]!);
    own.digest.push(shared?.digest ?? randomBytes(32).toString('base64url'));
  }
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO records (id, kind, name, status, confidence, created_by, updated_by, ref)
       SELECT id, 'SELLER', 'Seller', 'CONFIRMED', 80, 'bench', 'bench', ref FROM unnest($1::uuid[], $2::text[]) AS r(id, ref)`,
      [own.id, own.ref],
    );
    // Published long ago: nothing for the publisher to do.
    await tx.query('DELETE FROM indicator_outbox');
    await tx.query(
      `INSERT INTO indicators (origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq)
       SELECT $1, type, digest, ref, 1, '{COUNTERFEIT}', 'CONFIRMED', 80, '2026-11-01', now() + interval '1 year', 1
         FROM unnest($2::text[], $3::text[], $4::text[]) AS o(ref, type, digest)`,
      [SELF, own.ref, own.type, own.digest],
    );
  });
  return Math.ceil(count / (OVERLAP / 10));
}

/** COPY text format of one value (none of these needs more than tab, newline and backslash escaped). */
function copyValue(v: string | number): string {
  return String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

/** Pages of consecutive batches no larger than a sync response. */
function pages(jws: readonly string[]): string[][] {
  const out: string[][] = [];
  let page: string[] = [];
  let bytes = 0;
  for (const j of jws) {
    if (page.length > 0 && bytes + j.length > PAGE_BYTES) {
      out.push(page);
      page = [];
      bytes = 0;
    }
    page.push(j);
    bytes += j.length;
  }
  if (page.length > 0) out.push(page);
  return out;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-bench-ingest-'));
  const ingestDb = await createBenchDatabase();
  const copyDb = await createBenchDatabase();
  const db = await openPg({ connectionString: ingestDb.url, max: 4 });
  const copyPool = await openPg({ connectionString: copyDb.url, max: 1 });
  try {
    await migrate(db);
    await migrate(copyPool);
    const alliance = await foundBenchAlliance(dir, [{ id: SELF }, { id: PEER }], { alliance: 'bench-ingest' });
    const items = peerIndicators(TOTAL);
    const expectedMatches = await seedOwn(db, items);
    await seedOwn(copyPool, items);

    progress(`signing ${TOTAL / ITEMS_PER_BATCH} batches of ${ITEMS_PER_BATCH} indicators ...`);
    const signer = new BenchBatchSigner(alliance.member(PEER));
    const jws: string[] = [];
    let prev: string | null = null;
    const createdAt = toWireTime(new Date());
    for (let seq = 1; seq * ITEMS_PER_BATCH <= TOTAL; seq++) {
      const batch: Omit<Batch, 'kid'> = { v: 1, alliance: alliance.id, origin: PEER, epoch: alliance.epoch, seq, prev, createdAt, items: items.slice((seq - 1) * ITEMS_PER_BATCH, seq * ITEMS_PER_BATCH) };
      const signed = await signer.sign(batch);
      jws.push(signed);
      prev = batchHash(signed);
    }
    const sync = pages(jws);

    let store!: BatchStore;
    const matcher = new Matcher(db, { self: () => SELF, roster: () => alliance.state, liveEpochs: () => store.liveEpochs(), notify: true });
    store = new BatchStore(matcher.database, { roster: () => alliance.state, graceMs: 7 * 86_400_000, onIndicators: matcher.onIndicators });

    progress(`ingestMany (verify + store + match), ${sync.length} pages of up to ${sync[0]!.length} batches ...`);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const page of sync) {
      const outcomes = await store.ingestMany(page);
      const bad = outcomes.find((o) => o.status !== 'stored');
      if (bad) throw new Error(`ingest: ${JSON.stringify(bad)}`);
    }
    const ingestSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const held = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM indicators WHERE origin = $1', [PEER])).rows[0]!.n);
    if (held !== TOTAL) throw new Error(`ingest: ${held} indicator rows of ${PEER}, expected ${TOTAL}`);
    const matches = Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM matches WHERE state = 'NEW'")).rows[0]!.n);
    if (matches !== expectedMatches) throw new Error(`ingest raised ${matches} matches, expected ${expectedMatches}`);
    progress(`   ${ingestSeconds.toFixed(2)} s; this process's CPU ${((cpu.user + cpu.system) / 1000 / ingestSeconds / 10).toFixed(0)}% of one core; ${matches} matches raised`);

    progress('COPY baseline ...');
    const client = new pg.Client({ connectionString: copyDb.url });
    await client.connect();
    const t1 = performance.now();
    await client.query('BEGIN');
    async function* lines() {
      let buf = '';
      for (let i = 0; i < TOTAL; i++) {
        const x = items[i]!;
        buf += `${[PEER, x.type, x.digest, x.ref, alliance.epoch, `{${x.categories.join(',')}}`, x.status, x.confidence, x.firstSeen, x.expiresAt, Math.floor(i / ITEMS_PER_BATCH) + 1].map(copyValue).join('\t')}\n`;
        if (buf.length >= 65_536) {
          yield buf;
          buf = '';
        }
      }
      if (buf) yield buf;
    }
    await pipeline(Readable.from(lines()), client.query(copyFrom('COPY indicators (origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq) FROM STDIN')));
    await client.query('COMMIT');
    const copySeconds = (performance.now() - t1) / 1000;
    await client.end();
    progress(`   ${copySeconds.toFixed(2)} s`);

    const rate = TOTAL / ingestSeconds;
    const copyRate = TOTAL / copySeconds;
    const note = `${TOTAL.toLocaleString('en-US')} indicators, batches of ${ITEMS_PER_BATCH.toLocaleString('en-US')}`;
    const figures: Figure[] = [
      figure('ingest peer batches (verify + store), PostgreSQL', rate, 'indicators/s', {
        baseline: { name: 'raw COPY', value: copyRate, unit: 'indicators/s' },
        goal: { op: '>=', value: GOAL_INDICATORS_PER_SECOND },
        note,
      }),
      figure('ingest peer batches, share of raw COPY, PostgreSQL', (100 * rate) / copyRate, '%', {
        baseline: { name: 'raw COPY', value: 100, unit: '%' },
        goal: { op: '>=', value: GOAL_SHARE_OF_COPY_PERCENT },
        note,
      }),
    ];
    emit(figures, { json: args.json, quick: args.quick, title: 'ingest of peer batches into PostgreSQL' });
    if (figures.some((f) => f.met === false)) process.exitCode = 1;
  } finally {
    await db.close();
    await copyPool.close();
    await ingestDb.drop();
    await copyDb.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
