import { AllianceError } from '../errors.ts';

/**
 * Rows of one statement, the same shapes from both adapters: bigint (int8) values, and counts, as
 * decimal strings (read them with Number() or BigInt()), numeric as strings, int4 as numbers. SQL
 * never casts a column to text under its own name: ORDER BY, GROUP BY and comparisons would then see
 * the text (test/storage/sql-aliases.test.ts keeps it so).
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/**
 * A hot statement, prepared once per PostgreSQL connection under its name and run from then on
 * without being parsed and planned again (planning can cost as much as running a short lookup).
 * PGlite runs its text like any other. Made by `statement`, once per module.
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
  /**
   * `generic`: planned once per connection, whatever the parameters. PostgreSQL otherwise plans a
   * statement whose parameters are arrays anew on every run (it estimates 100 rows for `unnest` of a
   * parameter, so a generic plan always looks dearer), and for a lookup that planning costs twice the
   * lookup itself. For statements whose plan does not depend on their values; outside transactions
   * only (they run on connections of their own: up to ALLIANCE_DB_POOL more).
   */
  readonly plan: 'custom' | 'generic';
}

const STATEMENTS = new Map<string, string>();

/** Names `text` as a prepared statement; a name stands for one text only in the whole process. */
export function statement(name: string, text: string, opts: { plan?: 'custom' | 'generic' } = {}): Statement {
  if (!/^alliance_[a-z0-9_]{1,50}$/.test(name)) throw new RangeError(`statement name ${name} is not alliance_ followed by lower-case letters, digits or _`);
  const known = STATEMENTS.get(name);
  if (known !== undefined && known !== text) throw new RangeError(`statement name ${name} is taken by another statement`);
  STATEMENTS.set(name, text);
  return Object.freeze({ name, text, plan: opts.plan ?? 'custom' });
}

/** The SQL text of a query argument. */
export function sqlText(sql: string | Statement): string {
  return typeof sql === 'string' ? sql : sql.text;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string | Statement, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * The one storage interface the rest of the node sees. Two adapters implement it: PostgreSQL through
 * a `pg` pool, and embedded PGlite. SQL is written once, for both.
 */
export interface Database extends Queryable {
  readonly kind: 'pg' | 'pglite';
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Checks the database answers (for `/readyz`). */
  ping(): Promise<void>;
  /** Stops taking new work, waits for statements in flight, then closes. Safe to call twice. */
  close(): Promise<void>;
}

export type StorageErrorCode =
  | 'STORAGE_LOCKED'
  | 'STORAGE_CLOSED'
  | 'STORAGE_UNAVAILABLE'
  | 'MIGRATION_FAILED'
  | 'MIGRATION_CHANGED'
  | 'MIGRATION_UNKNOWN';

export class StorageError extends AllianceError {
  declare readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(code, message, details, options);
  }
}

/**
 * Counts statements in flight so `close()` can wait for them (drain before close) and refuse new
 * ones afterwards.
 */
export class InFlight {
  #count = 0;
  #closing = false;
  #idle: Promise<void> | undefined;
  #resolveIdle: (() => void) | undefined;

  get closing(): boolean {
    return this.#closing;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closing) throw new StorageError('STORAGE_CLOSED', 'storage is closed');
    this.#count++;
    try {
      return await fn();
    } finally {
      this.#count--;
      if (this.#count === 0) this.#resolveIdle?.();
    }
  }

  /** Refuses new work from now on; resolves once nothing is in flight. Every caller waits for the same. */
  drain(): Promise<void> {
    this.#closing = true;
    this.#idle ??= this.#count === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.#resolveIdle = resolve));
    return this.#idle;
  }
}
