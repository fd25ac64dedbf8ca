/**
 * Work tied to the end of a transaction, which the storage interface has no hook for:
 * - `beforeCommit`: runs after the transaction's own work, just before it commits (matching runs
 *   there, after every indicator write of the transaction, so the lock it takes is the last one);
 * - `afterCommit`: runs once it has committed, never if it rolls back (pushing a match alert to
 *   in-process subscribers: before the commit the match may still roll back).
 * This wraps a Database: transactions opened through the wrapper carry the callbacks, and code that
 * only receives the transaction (a BatchStore hook inside the publisher's transaction) registers
 * them by the transaction object.
 *
 *   const hooks = new CommitHooks();
 *   const db2 = hooks.wrap(db);            // hand db2 to whatever opens the transactions
 *   hooks.afterCommit(tx, () => feed.publish(ids));
 *
 * A transaction opened on the unwrapped database carries no callbacks: `beforeCommit` and
 * `afterCommit` then return false and register nothing, and the caller decides (the matcher runs its
 * step at once and warns, once, that it cannot push what it raised).
 */
import type { Database, Queryable, QueryResult } from './database.ts';

interface Pending {
  before: Array<() => Promise<void>>;
  after: Array<() => void>;
}

export class CommitHooks {
  readonly #open = new WeakMap<Queryable, Pending>();
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void = (err) => process.emitWarning(`after-commit callback failed: ${(err as Error)?.message ?? String(err)}`)) {
    this.#onError = onError;
  }

  /** `db` with transactions that run their `beforeCommit` and `afterCommit` callbacks. */
  wrap(db: Database): Database {
    const open = this.#open;
    const onError = this.#onError;
    return {
      kind: db.kind,
      query: <R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => db.query<R>(sql, params),
      exec: (sql: string) => db.exec(sql),
      ping: () => db.ping(),
      close: () => db.close(),
      async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
        const pending: Pending = { before: [], after: [] };
        const result = await db.transaction(async (tx) => {
          open.set(tx, pending);
          try {
            const r = await fn(tx);
            // In order; a callback may register more (they run too).
            for (let i = 0; i < pending.before.length; i++) await pending.before[i]!();
            return r;
          } finally {
            open.delete(tx);
          }
        });
        for (const f of pending.after) {
          try {
            f();
          } catch (err) {
            onError(err);
          }
        }
        return result;
      },
    };
  }

  /**
   * Runs `fn` inside `tx` after the transaction's own work, before it commits; what it throws rolls
   * the transaction back. False, and nothing registered, when `tx` was not opened through a wrapped
   * database.
   */
  beforeCommit(tx: Queryable, fn: () => Promise<void>): boolean {
    const pending = this.#open.get(tx);
    if (pending === undefined) return false;
    pending.before.push(fn);
    return true;
  }

  /** Runs `fn` after `tx` commits (never if it rolls back). False, and nothing registered, as above. */
  afterCommit(tx: Queryable, fn: () => void): boolean {
    const pending = this.#open.get(tx);
    if (pending === undefined) return false;
    pending.after.push(fn);
    return true;
  }
}
