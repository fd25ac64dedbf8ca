/**
 * Fresh PostgreSQL databases for benchmarks: created for one run on the server named by
 * ALLIANCE_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres, which must allow
 * CREATE DATABASE) and dropped after.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const BENCH_PG_ADMIN_URL = process.env.ALLIANCE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  /** Drops the database (connections still open to it are closed). Safe to call twice. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BENCH_PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `alliance_bench_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(BENCH_PG_ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** On-disk bytes of tables with their indexes and TOAST (`pg_total_relation_size`), by table. */
export async function tableBytes(url: string, tables: readonly string[]): Promise<Map<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ t: string; bytes: string }>('SELECT t, pg_total_relation_size(t::regclass)::text AS bytes FROM unnest($1::text[]) AS t', [tables]);
    return new Map(rows.map((r) => [r.t, Number(r.bytes)]));
  } finally {
    await c.end();
  }
}
