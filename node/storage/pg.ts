import pg from 'pg';
import type { Database, Queryable, QueryResult } from './database.ts';
import { InFlight, StorageError } from './database.ts';

export interface PgOptions {
  connectionString: string;
  max?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

export async function openPg(opts: PgOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'alliance-node',
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new StorageError('STORAGE_UNAVAILABLE', `cannot connect to PostgreSQL: ${(err as Error).message}`, {}, { cause: err });
  }
  return new PgDatabase(pool);
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await client.query(sql, params as unknown[] | undefined);
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
  #closed: Promise<void> | undefined;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.#q = wrap(pool);
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#inFlight.run(() => this.#q.query<R>(sql, params));
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
      await this.#pool.end();
    })();
    return this.#closed;
  }
}
