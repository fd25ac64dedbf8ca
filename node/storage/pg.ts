import pg from 'pg';
import type { Database, Queryable, QueryResult, Statement } from './database.ts';
import { InFlight, StorageError } from './database.ts';

export interface PgOptions {
  connectionString: string;
  max?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

export async function openPg(opts: PgOptions): Promise<Database> {
  const pool = newPool(opts);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new StorageError('STORAGE_UNAVAILABLE', `cannot connect to PostgreSQL: ${(err as Error).message}`, {}, { cause: err });
  }
  return new PgDatabase(pool, () => newPool(opts, '-c plan_cache_mode=force_generic_plan'));
}

function newPool(opts: PgOptions, extraOptions?: string): pg.Pool {
  let connectionString = opts.connectionString;
  let options: string | undefined;
  if (extraOptions !== undefined) {
    // Server options given in the URL (?options=...) are kept and ours added after them; pg would
    // let the URL's replace ours, so they leave the URL. (DATABASE_URL is always a URL: config checks.)
    const url = new URL(connectionString);
    const given = url.searchParams.get('options');
    url.searchParams.delete('options');
    connectionString = url.toString();
    options = given ? `${given} ${extraOptions}` : extraOptions;
  }
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'alliance-node',
    connectionTimeoutMillis: 10_000,
    ...(options === undefined ? {} : { options }),
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return pool;
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(sql: string | Statement, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = typeof sql === 'string' ? await client.query(sql, params as unknown[] | undefined) : await client.query({ name: sql.name, text: sql.text, values: params as unknown[] | undefined });
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      // Without parameters pg uses the simple protocol, which accepts several statements.
      await client.query(sql);
    },
  };
}

class PgDatabase implements Database {
  readonly kind = 'pg' as const;
  readonly #pool: pg.Pool;
  readonly #inFlight = new InFlight();
  readonly #q: Queryable;
  /** Connections for `plan: 'generic'` statements, opened on first use. */
  readonly #newGenericPool: () => pg.Pool;
  #generic: { pool: pg.Pool; q: Queryable } | undefined;
  #closed: Promise<void> | undefined;

  constructor(pool: pg.Pool, newGenericPool: () => pg.Pool) {
    this.#pool = pool;
    this.#q = wrap(pool);
    this.#newGenericPool = newGenericPool;
  }

  query<R = Record<string, unknown>>(sql: string | Statement, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#inFlight.run(() => {
      if (typeof sql !== 'string' && sql.plan === 'generic') {
        if (this.#generic === undefined) {
          const pool = this.#newGenericPool();
          this.#generic = { pool, q: wrap(pool) };
        }
        return this.#generic.q.query<R>(sql, params);
      }
      return this.#q.query<R>(sql, params);
    });
  }

  exec(sql: string): Promise<void> {
    return this.#inFlight.run(() => this.#q.exec(sql));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#inFlight.run(async () => {
      const client = await this.#pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        // A client whose ROLLBACK failed is in an unknown state: destroy it rather than reuse it.
        client.release(broken);
      }
    });
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** A second call (even while the first is still draining) waits for the same close. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#inFlight.drain();
      await Promise.all([this.#pool.end(), this.#generic?.pool.end()]);
    })();
    return this.#closed;
  }
}
