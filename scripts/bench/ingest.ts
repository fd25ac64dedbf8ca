/**
 * Ingest benchmark: how fast a node verifies and stores peer batches (BatchStore.ingestMany, the
 * catch-up path) into PostgreSQL, in indicators per second, against a raw COPY of the same indicator
 * rows into the same table as the ceiling. Goal: at least 100,000 indicators/s and at least half the
 * COPY rate.
 *
 *   npm run bench:ingest -- [--indicators N] [--json]
 *
 * Needs a PostgreSQL server: ALLIANCE_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres)
 * must allow CREATE DATABASE; fresh databases are created for the run and dropped after.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BatchStore } from '../../node/indicators/batch-store.ts';
import { batchHash, signBatch, toBatchTime, type Batch } from '../../node/indicators/batch.ts';
import type { Indicator } from '../../node/indicators/indicator.ts';
import { generateAdminKey, initMemberIdentity, loadAdminKey, loadMemberIdentity } from '../../node/membership/keys.ts';
import { applyEntry, createGenesis, proposeEntry, serializeSignedEntry, signEntry, type RosterState } from '../../node/membership/roster.ts';
import { migrate } from '../../node/storage/migrate.ts';
import { openPg } from '../../node/storage/pg.ts';

export const GOAL_INDICATORS_PER_SECOND = 100_000;
export const GOAL_SHARE_OF_COPY = 0.5;
const ITEMS_PER_BATCH = 1000;

const { values } = parseArgs({
  options: {
    indicators: { type: 'string', default: '200000' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('Usage: npm run bench:ingest -- [--indicators N] [--json]\n');
  process.exit(0);
}
const N = Number(values.indicators);
if (!Number.isInteger(N) || N < ITEMS_PER_BATCH) {
  process.stderr.write(`--indicators must be a whole number of at least ${ITEMS_PER_BATCH} (got ${values.indicators})\n`);
  process.exit(2);
}
const ADMIN_URL = process.env.ALLIANCE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (s: string) => {
  if (!values.json) process.stderr.write(`${s}\n`);
};

async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `alliance_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A one-member alliance at epoch 1, founded through real signed entries, and the member's identity. */
async function alliance(dir: string) {
  await generateAdminKey(path.join(dir, 'admin.jwk'));
  const admin = await loadAdminKey(path.join(dir, 'admin.jwk'));
  const signers = [{ privateKey: admin.privateKey, kid: admin.kid }];
  const request = await initMemberIdentity(dir, { id: 'publisher', name: 'Publisher', kind: 'PLATFORM' });
  const identity = await loadMemberIdentity(dir);
  const t = toBatchTime(new Date(Date.now() - 3_600_000));
  let state: RosterState = await applyEntry(null, serializeSignedEntry(await signEntry(await createGenesis('bench', { admins: [admin.public], quorum: 1, epoch: 1 }, t), signers)));
  state = await applyEntry(state, serializeSignedEntry(await signEntry(await proposeEntry(state, { type: 'member.add', body: request, createdAt: t }), signers)));
  return { state, identity };
}

function indicators(count: number): Indicator[] {
  const expiresAt = toBatchTime(new Date(Date.now() + 365 * 86_400_000));
  const out: Indicator[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      type: i % 3 === 0 ? 'phone' : i % 3 === 1 ? 'email' : 'payment_account',
      digest: randomBytes(32).toString('base64url'),
      op: 'add',
      ref: randomBytes(16).toString('base64url'),
      categories: ['COUNTERFEIT'],
      status: 'CONFIRMED',
      confidence: 80,
      firstSeen: '2026-11-01',
      expiresAt,
    });
  }
  return out;
}

function copyValue(v: string | number): string {
  return String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-bench-ingest-'));
  const ingestDb = await createDatabase();
  const copyDb = await createDatabase();
  const db = await openPg({ connectionString: ingestDb.url, max: 4 });
  const copyPool = await openPg({ connectionString: copyDb.url, max: 1 });
  try {
    await migrate(db);
    await migrate(copyPool);
    const { state, identity } = await alliance(dir);
    const items = indicators(N);
    log(`signing ${N / ITEMS_PER_BATCH} batches of ${ITEMS_PER_BATCH} indicators ...`);
    const jws: string[] = [];
    let prev: string | null = null;
    const createdAt = toBatchTime(new Date());
    for (let seq = 1; seq * ITEMS_PER_BATCH <= N; seq++) {
      const batch: Omit<Batch, 'kid'> = { v: 1, alliance: 'bench', origin: 'publisher', epoch: 1, seq, prev, createdAt, items: items.slice((seq - 1) * ITEMS_PER_BATCH, seq * ITEMS_PER_BATCH) };
      const signed = await signBatch(batch, { privateKey: identity.signingKey.privateKey, kid: identity.signingKey.kid });
      jws.push(signed);
      prev = batchHash(signed);
    }
    const total = jws.length * ITEMS_PER_BATCH;
    const store = new BatchStore(db, { roster: () => state, graceMs: 7 * 86_400_000 });

    log('ingestMany (verify + store) ...');
    const t0 = performance.now();
    for (let i = 0; i < jws.length; i += 64) {
      const outcomes = await store.ingestMany(jws.slice(i, i + 64));
      const bad = outcomes.find((o) => o.status !== 'stored');
      if (bad) throw new Error(`ingest: ${JSON.stringify(bad)}`);
    }
    const ingestSeconds = (performance.now() - t0) / 1000;
    const held = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM indicators')).rows[0]!.n);
    if (held !== total) throw new Error(`ingest: ${held} indicator rows, expected ${total}`);

    log('COPY baseline ...');
    const client = new pg.Client({ connectionString: copyDb.url });
    await client.connect();
    const t1 = performance.now();
    await client.query('BEGIN');
    async function* lines() {
      let buf = '';
      for (let i = 0; i < total; i++) {
        const x = items[i]!;
        buf += `${['publisher', x.type, x.digest, x.ref, 1, `{${x.categories.join(',')}}`, x.status, x.confidence, x.firstSeen, x.expiresAt, Math.floor(i / ITEMS_PER_BATCH) + 1].map(copyValue).join('\t')}\n`;
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

    const rate = Math.round(total / ingestSeconds);
    const copyRate = Math.round(total / copySeconds);
    const share = rate / copyRate;
    const pass = rate >= GOAL_INDICATORS_PER_SECOND && share >= GOAL_SHARE_OF_COPY;
    const report = {
      figures: [
        { name: 'ingest of peer batches into PostgreSQL (verify + store)', value: rate, unit: 'indicators/s', baseline: copyRate, goal: `>= ${GOAL_INDICATORS_PER_SECOND} and >= ${GOAL_SHARE_OF_COPY * 100}% of baseline`, pass },
      ],
      baseline: { method: 'COPY indicators FROM STDIN of the same rows into the same schema, one transaction', seconds: copySeconds },
      indicators: total,
      node: process.version,
      cpus: os.cpus().length,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      process.stdout.write(`ingest into PostgreSQL, ${total} indicators in ${jws.length} batches (${process.version}, ${os.cpus().length} CPUs)\n`);
      process.stdout.write(`ingestMany (verify + store)  ${rate} indicators/s  ${ingestSeconds.toFixed(2)} s\n`);
      process.stdout.write(`COPY (baseline)              ${copyRate} indicators/s  ${copySeconds.toFixed(2)} s\n`);
      process.stdout.write(`share of baseline ${Math.round(share * 100)}%, goal >= ${GOAL_INDICATORS_PER_SECOND}/s and >= ${GOAL_SHARE_OF_COPY * 100}%: ${pass ? 'pass' : 'FAIL'}\n`);
    }
    if (!pass) process.exitCode = 1;
  } finally {
    await db.close();
    await copyPool.close();
    await ingestDb.drop();
    await copyDb.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
