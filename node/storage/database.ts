import { AllianceError } from '../errors.ts';

/** Rows of one statement. Column types are normalised by the SQL itself (casts), not by the driver. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
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
