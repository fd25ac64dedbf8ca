/**
 * Synthetic indicators for benchmarks, and a fast way to give a node millions of them exactly as
 * ingest of peer batches would leave its tables.
 *
 * Identifiers are numbered: `benchIdentifier(n)` is a valid email, phone or domain (by n mod 3) whose
 * canonical form is known without normalising it (checked against the normaliser on a sample), so a
 * bench can derive the digest a member would publish for any n, and look the same n up as a trust
 * team would (raw value in, node normalises).
 *
 * `loadIndicators` writes signed chains of other members' batches into a migrated database:
 * - every origin's batch 1 goes through the node's own `BatchStore.ingestMany` (verify + store);
 * - the rest is streamed in by COPY, rows built from the same signed batches, column by column as
 *   ingest writes them, encoded for the column types the database has now (text or bytea digests);
 * - before the bulk, batch 1 of the first origin is written again by the COPY path inside a
 *   rolled-back transaction and compared, column for column, with what ingest stored. A migration
 *   that changes how ingest stores rows makes the load fail loudly instead of measuring the wrong
 *   tables.
 * Batches are signed by the origin's real key. The fast signer builds the same compact JWS as
 * `signBatch` (canonical payload, one Ed25519 signature; both are deterministic) and is checked
 * against it on every origin's first batch.
 */
import { createHash, createPrivateKey, type KeyObject, sign as signEd25519 } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BatchStore } from '../../../node/indicators/batch-store.ts';
import { BATCH_JWS_ALG, BATCH_JWS_TYP, batchHash, signBatch } from '../../../node/indicators/batch.ts';
import { canonicalCategories, canonicalPayload, type Batch } from '../../../node/indicators/batch-encoding.ts';
import { toWireTime } from '../../../node/encoding/time.ts';
import { deriveDigest } from '../../../node/indicators/derive.ts';
import { type EpochKey } from '../../../node/membership/epoch-keyring.ts';
import type { Indicator } from '../../../node/indicators/indicator.ts';
import { normalize } from '../../../node/identifiers/normalize.ts';
import type { Category, IdentifierType, RecordStatus } from '../../../node/identifiers/vocabulary.ts';
import { openPg } from '../../../node/storage/pg.ts';
import type { BenchAlliance, BenchMember } from './alliance.ts';

export const ITEMS_PER_BATCH = 1000;

export interface BenchIdentifier {
  type: IdentifierType;
  /** As a user would type it. */
  value: string;
  /** What the normaliser makes of it. */
  canonical: string;
}

/** Identifier number `n` (any whole number below 10^8): an email, a phone or a domain. */
export function benchIdentifier(n: number): BenchIdentifier {
  switch (n % 3) {
    case 0:
      return { type: 'email', value: `Seller${n}@Example.com`, canonical: `seller${n}@example.com` };
    case 1: {
      // 138 is a mobile prefix in China for every 11-digit number; 7919 is prime to 10^8, so numbers stay distinct.
      const d = String((n * 7919) % 1e8).padStart(8, '0');
      return { type: 'phone', value: `+86 138 ${d.slice(0, 4)} ${d.slice(4)}`, canonical: `+86138${d}` };
    }
    default:
      return { type: 'domain', value: `www.seller-${n}.shop`, canonical: `seller-${n}.shop` };
  }
}

/** Checks `benchIdentifier`'s canonical forms against the node's normaliser, on a spread of numbers. */
export function checkBenchIdentifiers(upTo: number): void {
  for (let k = 0; k < 300; k++) {
    const n = k < 150 ? k : Math.floor((upTo * (k - 150)) / 150);
    const id = benchIdentifier(n);
    const canonical = normalize(id.type, id.value);
    if (canonical !== id.canonical) throw new Error(`bench identifier ${n}: the normaliser makes ${JSON.stringify(canonical)} of ${JSON.stringify(id.value)}, not ${JSON.stringify(id.canonical)}`);
  }
}

const CATEGORY_SETS: Category[][] = [['COUNTERFEIT'], ['COUNTERFEIT', 'TRADEMARK'], ['TRADEMARK'], ['COUNTERFEIT', 'DESIGN'], ['GREY_MARKET']].map(
  (c) => canonicalCategories(c) as Category[],
);
const STATUSES: RecordStatus[] = ['CONFIRMED', 'SUSPECTED', 'SUSPECTED', 'DISPUTED'];

/** The record handle of an origin's record `r` (128 bits, base64url): three identifiers share one. */
export function benchRef(origin: string, r: number): string {
  return createHash('sha256').update(`${origin}:${r}`).digest().subarray(0, 16).toString('base64url');
}

/** The indicator an origin publishes for identifier `n`, item `j` of its chain. */
export function benchIndicator(key: EpochKey, origin: string, j: number, n: number, at: { firstSeen: string; expiresAt: string }): Indicator {
  const id = benchIdentifier(n);
  const r = Math.floor(j / 3);
  return {
    type: id.type,
    digest: deriveDigest(key, id.type, id.canonical),
    op: 'add',
    ref: benchRef(origin, r),
    categories: CATEGORY_SETS[r % CATEGORY_SETS.length]!,
    status: STATUSES[r % STATUSES.length]!,
    confidence: 40 + (r % 60),
    firstSeen: at.firstSeen,
    expiresAt: at.expiresAt,
  };
}

/** Signs batches of one member: `signBatch`'s exact output, without re-validating every item. */
export class BenchBatchSigner {
  readonly #member: BenchMember;
  readonly #key: KeyObject;
  readonly #header: string;
  #checked = false;

  constructor(member: BenchMember) {
    this.#member = member;
    this.#key = createPrivateKey({ key: member.identity.signingKey.privateJwk, format: 'jwk' });
    const kid = member.identity.signingKey.kid;
    this.#header = Buffer.from(JSON.stringify({ alg: BATCH_JWS_ALG, kid, typ: BATCH_JWS_TYP }), 'utf8').toString('base64url');
  }

  get kid(): string {
    return this.#member.identity.signingKey.kid;
  }

  /** The compact JWS of `batch` (its `kid` is set to this member's). The first call is checked against `signBatch`. */
  async sign(batch: Omit<Batch, 'kid'>): Promise<string> {
    const full: Batch = { ...batch, kid: this.kid };
    const input = `${this.#header}.${Buffer.from(canonicalPayload(full), 'latin1').toString('base64url')}`;
    const jws = `${input}.${signEd25519(null, Buffer.from(input, 'latin1'), this.#key).toString('base64url')}`;
    if (!this.#checked) {
      const reference = await signBatch(batch, { privateKey: this.#member.identity.signingKey.privateKey, kid: this.kid });
      if (reference !== jws) throw new Error('the bench batch signer no longer produces what signBatch does: update scripts/bench/lib/indicators.ts');
      this.#checked = true;
    }
    return jws;
  }
}

export interface LoadOptions {
  /** A migrated database (the node's, before or while it runs). */
  url: string;
  alliance: BenchAlliance;
  /** Members whose chains are written (each from seq 1); indicators are split evenly between them. */
  origins: string[];
  count: number;
  /** createdAt of every batch; default ten minutes ago. */
  createdAt?: Date;
  onProgress?: (indicators: number) => void;
}

export interface LoadedIndicators {
  count: number;
  batches: number;
  /** Items per origin (the first origin may have a few more). */
  perOrigin: number[];
  /** Identifier number of item `j` of origin `o`'s chain. */
  identifierOf(o: number, j: number): number;
  /** Identifier numbers sure to be stored (the first origin's; one in ten is also held by every other origin). */
  storedIdentifier(k: number): number;
  /** Identifier numbers no origin holds. */
  unknownIdentifier(k: number): number;
  /** Seconds the COPY part took (ingest of every origin's batch 1 and the check excluded). */
  copySeconds: number;
}

/** Column → how ingest fills it, for one row. Values are wire forms (base64url for digests and hashes). */
type Row = Record<string, string | number | string[] | null>;
/** Columns holding base64url on the wire, which a migration may store as bytea. */
const BASE64URL_COLUMNS = new Set(['indicators.digest', 'indicators.ref', 'batches.hash', 'batches.prev']);

interface Encoder {
  table: string;
  columns: string[];
  line(row: Row): string;
}

function copyText(v: string): string {
  return v.replace(/[\\\n\r\t]/g, (ch) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[ch]!);
}

/** A COPY text-format encoder for `columns` of `table`, following the column types the database has. */
async function encoderFor(client: pg.Client, table: string, columns: string[]): Promise<Encoder> {
  const { rows } = await client.query<{ column_name: string; data_type: string }>(
    'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1',
    [table],
  );
  const types = new Map(rows.map((r) => [r.column_name, r.data_type]));
  const cells = columns.map((col) => {
    const type = types.get(col);
    if (type === undefined) throw new Error(`${table}.${col} no longer exists: update scripts/bench/lib/indicators.ts`);
    if (type === 'bytea') {
      if (!BASE64URL_COLUMNS.has(`${table}.${col}`)) throw new Error(`${table}.${col} is bytea; the bench loader does not know its wire form`);
      return (v: Row[string]) => (v === null ? '\\N' : `\\\\x${Buffer.from(v as string, 'base64url').toString('hex')}`);
    }
    if (type === 'ARRAY') return (v: Row[string]) => (v === null ? '\\N' : copyText(`{${(v as string[]).join(',')}}`));
    return (v: Row[string]) => (v === null ? '\\N' : copyText(String(v)));
  });
  return { table, columns, line: (row) => `${columns.map((c, i) => cells[i]!(row[c] ?? null)).join('\t')}\n` };
}

const INDICATOR_COLUMNS = ['origin', 'type', 'digest', 'ref', 'epoch', 'categories', 'status', 'confidence', 'first_seen', 'expires_at', 'seq', 'updated_at'];
const BATCH_COLUMNS = ['origin', 'seq', 'hash', 'prev', 'epoch', 'kid', 'created_at', 'item_count', 'jws', 'received_at', 'published_at'];

/** The rows BatchStore's ingest writes for one received batch (batch-store.ts, writeBatches), at `now`. */
function rowsOf(batch: Batch, jws: string, hash: string, now: string): { batch: Row; indicators: Row[] } {
  return {
    batch: { origin: batch.origin, seq: batch.seq, hash, prev: batch.prev, epoch: batch.epoch, kid: batch.kid, created_at: batch.createdAt, item_count: batch.items.length, jws, received_at: now, published_at: now },
    indicators: batch.items.map((x) => ({
      origin: batch.origin,
      type: x.type,
      digest: x.digest,
      ref: x.ref,
      epoch: batch.epoch,
      categories: x.categories,
      status: x.status,
      confidence: x.confidence,
      first_seen: x.firstSeen,
      expires_at: x.expiresAt,
      seq: batch.seq,
      updated_at: now,
    })),
  };
}

/** Times ingest sets to "now", left out of the comparison. */
const NOW_COLUMNS = { indicators: ['updated_at'], batches: ['received_at', 'published_at'] } as const;

async function snapshot(client: pg.Client, origin: string, seq: number): Promise<string[]> {
  const ind = await client.query<{ r: unknown }>(
    `SELECT to_jsonb(i) - $3::text[] AS r FROM indicators i WHERE origin = $1 AND seq = $2 ORDER BY type, digest, ref`,
    [origin, seq, NOW_COLUMNS.indicators],
  );
  const bat = await client.query<{ r: unknown; stamped: boolean }>(
    `SELECT to_jsonb(b) - $3::text[] AS r, (received_at IS NOT NULL AND published_at IS NOT NULL) AS stamped FROM batches b WHERE origin = $1 AND seq = $2`,
    [origin, seq, NOW_COLUMNS.batches],
  );
  const updated = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM indicators WHERE origin = $1 AND seq = $2 AND updated_at IS NULL', [origin, seq]);
  return [...bat.rows.map((r) => `${JSON.stringify(r.r)} stamped=${r.stamped}`), `unstamped indicators=${updated.rows[0]!.n}`, ...ind.rows.map((r) => JSON.stringify(r.r))];
}

async function copyRows(client: pg.Client, enc: Encoder, rows: Row[]): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${enc.table} (${enc.columns.join(', ')}) FROM STDIN`));
  const done = once(stream, 'finish');
  stream.end(rows.map((r) => enc.line(r)).join(''));
  await done;
}

/**
 * Rewrites an ingested batch through the COPY path in a transaction that is rolled back, and fails
 * unless every stored value (times set to "now" aside) is the same.
 */
async function checkCopyMatchesIngest(client: pg.Client, encoders: { batches: Encoder; indicators: Encoder }, batch: Batch, jws: string, hash: string): Promise<void> {
  const { origin, seq } = batch;
  const ingested = await snapshot(client, origin, seq);
  if (ingested.length < 2 + batch.items.length) throw new Error(`ingest stored ${ingested.length - 2} rows of ${origin} batch ${seq}, expected ${batch.items.length}`);
  await client.query('BEGIN');
  try {
    await client.query('DELETE FROM indicators WHERE origin = $1 AND seq = $2', [origin, seq]);
    await client.query('DELETE FROM batches WHERE origin = $1 AND seq = $2', [origin, seq]);
    const rows = rowsOf(batch, jws, hash, new Date().toISOString());
    await copyRows(client, encoders.batches, [rows.batch]);
    await copyRows(client, encoders.indicators, rows.indicators);
    const copied = await snapshot(client, origin, seq);
    const diff = ingested.findIndex((line, i) => copied[i] !== line);
    if (diff >= 0 || copied.length !== ingested.length) {
      throw new Error(`the bench COPY path no longer writes what ingest writes (first difference:\n  ingest: ${ingested[diff]}\n  copy:   ${copied[diff]}): update scripts/bench/lib/indicators.ts`);
    }
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Writes `count` indicators of `origins` (signed chains from seq 1) into the database at `url`. */
export async function loadIndicators(opts: LoadOptions): Promise<LoadedIndicators> {
  const O = opts.origins.length;
  if (O === 0 || opts.count < O) throw new RangeError('loadIndicators: need at least one origin and one indicator per origin');
  const base = Math.floor(opts.count / O);
  const perOrigin = opts.origins.map((_, o) => base + (o === 0 ? opts.count - base * O : 0));
  const total = opts.count;
  // Item j of origin o: the first origin holds identifiers 0..; every other one holds its own range,
  // and every tenth of its items is an identifier the first origin holds too (actors known to two members).
  const identifierOf = (o: number, j: number) => (o === 0 || (j % 10 === 0 && j < perOrigin[0]!) ? j : perOrigin[0]! + (o - 1) * base + j);
  checkBenchIdentifiers(total * 2);

  const createdAt = toWireTime(opts.createdAt ?? new Date(Date.now() - 600_000));
  const day = createdAt.slice(0, 10);
  const at = { firstSeen: day, expiresAt: toWireTime(new Date(Date.parse(createdAt) + 365 * 86_400_000)) };
  const key = opts.alliance.epochKey;

  const makeBatch = (o: number, seq: number, prev: string | null): Omit<Batch, 'kid'> => {
    const origin = opts.origins[o]!;
    const from = (seq - 1) * ITEMS_PER_BATCH;
    const to = Math.min(perOrigin[o]!, from + ITEMS_PER_BATCH);
    const items: Indicator[] = [];
    for (let j = from; j < to; j++) items.push(benchIndicator(key, origin, j, identifierOf(o, j), at));
    return { v: 1, alliance: opts.alliance.id, origin, epoch: opts.alliance.epoch, seq, prev, createdAt, items };
  };

  const db = await openPg({ connectionString: opts.url, max: 2 });
  const client = new pg.Client({ connectionString: opts.url });
  const client2 = new pg.Client({ connectionString: opts.url });
  await client.connect();
  await client2.connect();
  let batches = 0;
  let copySeconds = 0;
  try {
    const encoders = { batches: await encoderFor(client, 'batches', BATCH_COLUMNS), indicators: await encoderFor(client, 'indicators', INDICATOR_COLUMNS) };
    const store = new BatchStore(db, { roster: () => opts.alliance.state, graceMs: 7 * 86_400_000 });
    const signers = opts.origins.map((id) => new BenchBatchSigner(opts.alliance.member(id)));
    const heads: Array<string | null> = [];
    let done = 0;
    for (let o = 0; o < O; o++) {
      const batch = makeBatch(o, 1, null);
      const jws = await signers[o]!.sign(batch);
      const [outcome] = await store.ingestMany([jws]);
      if (outcome?.status !== 'stored') throw new Error(`ingest of ${batch.origin} batch 1: ${JSON.stringify(outcome)}`);
      if (o === 0) await checkCopyMatchesIngest(client, encoders, { ...batch, kid: signers[o]!.kid }, jws, batchHash(jws));
      heads.push(batchHash(jws));
      done += batch.items.length;
      batches++;
    }

    // Two COPY streams on two connections (batches, indicators), fed batch by batch as it is signed.
    const t0 = performance.now();
    const bStream = client.query(copyFrom(`COPY batches (${BATCH_COLUMNS.join(', ')}) FROM STDIN`));
    const iStream = client2.query(copyFrom(`COPY indicators (${INDICATOR_COLUMNS.join(', ')}) FROM STDIN`));
    const finished = Promise.all([once(bStream, 'finish'), once(iStream, 'finish')]);
    const write = async (s: Writable, text: string) => {
      if (!s.write(text)) await once(s, 'drain');
    };
    const now = new Date().toISOString();
    let reported = 0;
    for (let o = 0; o < O; o++) {
      const last = Math.ceil(perOrigin[o]! / ITEMS_PER_BATCH);
      for (let seq = 2; seq <= last; seq++) {
        const unsigned = makeBatch(o, seq, heads[o]!);
        const jws = await signers[o]!.sign(unsigned);
        const hash = batchHash(jws);
        heads[o] = hash;
        const rows = rowsOf({ ...unsigned, kid: signers[o]!.kid }, jws, hash, now);
        await write(bStream, encoders.batches.line(rows.batch));
        let text = '';
        for (const r of rows.indicators) text += encoders.indicators.line(r);
        await write(iStream, text);
        done += unsigned.items.length;
        batches++;
        if (opts.onProgress && done - reported >= 500_000) {
          reported = done;
          opts.onProgress(done);
        }
      }
    }
    bStream.end();
    iStream.end();
    await finished;
    copySeconds = (performance.now() - t0) / 1000;
    await client.query('ANALYZE batches');
    await client.query('ANALYZE indicators');
    const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM indicators');
    if (Number(rows[0]!.n) < total) throw new Error(`indicators holds ${rows[0]!.n} rows after the load, expected at least ${total}`);
  } finally {
    await client.end();
    await client2.end();
    await db.close();
  }
  return {
    count: total,
    batches,
    perOrigin,
    identifierOf,
    storedIdentifier: (k) => k % perOrigin[0]!,
    unknownIdentifier: (k) => 2 * total + (k % total),
    copySeconds,
  };
}
