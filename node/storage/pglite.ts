import fs from 'node:fs';
import path from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult, Statement } from './database.ts';
import { InFlight, sqlText, StorageError } from './database.ts';
import { DirLock } from './lockfile.ts';
import { writeFileAtomic } from '../atomic-file.ts';

export interface PgliteOptions {
  /** Directory of the database files; undefined means in memory (tests). */
  dataDir?: string | undefined;
  /**
   * A tarball of a freshly initialised, empty database (`createPgliteTemplate`), unpacked for a new
   * database instead of running initdb, which takes seconds; an existing database ignores it.
   */
  template?: string | undefined;
}

/** Opens embedded PostgreSQL. A data directory is locked for this process until `close()`. */
export async function openPglite(opts: PgliteOptions = {}): Promise<Database> {
  let lock: DirLock | undefined;
  if (opts.dataDir !== undefined) {
    try {
      fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StorageError('STORAGE_UNAVAILABLE', `cannot create the embedded database directory ${opts.dataDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {}, { cause: err });
    }
    const lockPath = path.join(opts.dataDir, '..', `${path.basename(opts.dataDir)}.lock`);
    try {
      lock = DirLock.acquire(lockPath);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError('STORAGE_UNAVAILABLE', `cannot lock the embedded database directory (${lockPath}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {}, { cause: err });
    }
  }
  try {
    const isNew = opts.dataDir === undefined || !fs.existsSync(path.join(opts.dataDir, 'PG_VERSION'));
    const loadDataDir = isNew && opts.template !== undefined ? await openTemplate(opts.template) : undefined;
    const db = await PGlite.create({
      ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
      ...(loadDataDir === undefined ? {} : { loadDataDir }),
      parsers: INT8_AS_TEXT,
    });
    return new PgliteDatabase(db, lock);
  } catch (err) {
    lock?.release();
    if (err instanceof StorageError) throw err;
    throw new StorageError('STORAGE_UNAVAILABLE', `cannot open the embedded database: ${(err as Error).message}`, {}, { cause: err });
  }
}

/**
 * bigint columns as decimal strings, as `pg` returns them: PGlite would give a JS number, which loses
 * precision past 2^53 and, worse, made SQL cast such columns to text under their own names to get one
 * shape from both adapters: aliases that ORDER BY then resolved to the text (0, 1, 10, 11, 2, ...).
 */
const INT8_AS_TEXT = { [types.INT8]: (value: string) => value };

async function openTemplate(file: string): Promise<Blob> {
  try {
    // openAsBlob reports a missing file as a bad argument; stat names the real cause.
    fs.statSync(file);
    return await fs.openAsBlob(file);
  } catch (err) {
    throw new StorageError('STORAGE_UNAVAILABLE', `cannot read the embedded database template ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {}, { cause: err });
  }
}

/**
 * Writes a template for `openPglite`: a database as initdb leaves it, or, with `prepare`, as that
 * leaves it (the test suite's migrated template). Migrations still run on every database made from it
 * (none are due on a migrated one). Written to a temporary file and renamed, so a reader
 * never sees half a template.
 */
export async function createPgliteTemplate(file: string, opts: { prepare?: (db: Database) => Promise<unknown> } = {}): Promise<void> {
  const db = await PGlite.create({ parsers: INT8_AS_TEXT });
  try {
    if (opts.prepare !== undefined) await opts.prepare(new PgliteDatabase(db, undefined));
    const dump = await db.dumpDataDir('none');
    await writeFileAtomic(file, Buffer.from(await dump.arrayBuffer()));
  } finally {
    await db.close();
  }
}

function wrap(db: Pick<PGlite, 'query' | 'exec'>): Queryable {
  return {
    async query<R>(sql: string | Statement, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await db.query<R>(sqlText(sql), params as unknown[] | undefined);
      // Like pg: rows returned for a statement that returns rows (PGlite's affectedRows is 0 for a
      // SELECT), rows changed for one that does not.
      return { rows: res.rows, rowCount: res.fields.length > 0 ? res.rows.length : (res.affectedRows ?? 0) };
    },
    async exec(sql: string): Promise<void> {
      await db.exec(sql);
    },
  };
}

class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly #db: PGlite;
  readonly #lock: DirLock | undefined;
  readonly #inFlight = new InFlight();
  readonly #q: Queryable;
  #closed: Promise<void> | undefined;

  constructor(db: PGlite, lock: DirLock | undefined) {
    this.#db = db;
    this.#lock = lock;
    this.#q = wrap(db);
  }

  query<R = Record<string, unknown>>(sql: string | Statement, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#inFlight.run(() => this.#q.query<R>(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.#inFlight.run(() => this.#q.exec(sql));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#inFlight.run(() => this.#db.transaction((tx) => fn(wrap(tx))));
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** A second call (even while the first is still draining) waits for the same close. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#inFlight.drain();
      try {
        await this.#db.close();
      } finally {
        this.#lock?.release();
      }
    })();
    return this.#closed;
  }
}
