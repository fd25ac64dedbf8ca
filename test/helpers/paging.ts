/**
 * Relay pages past 9, 99 and 2^31: the ids a table hands out are moved on with its identity, so one
 * walk crosses each of those edges, and `walkPages` checks that every page continues the last.
 */
import type { Database } from '../../node/storage/database.ts';

/** Ids 1..105 first (past 9 and 99), then from 2^31 - 5 on (past 2^31): where to restart and how many. */
export const PAST_NINE = { before: 105, restartAt: 2 ** 31 - 5, after: 10 } as const;

/** The next value `table`'s identity column hands out is `value`. */
export async function restartIdentity(db: Database, table: string, value: number, column = 'id'): Promise<void> {
  await db.exec(`ALTER TABLE ${table} ALTER COLUMN ${column} RESTART WITH ${value}`);
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  endCursor: string | null;
}

/** Every item over all pages, in page order; throws if a page is empty yet claims a next one. */
export async function walkPages<T>(page: (after: string | null) => Promise<Page<T>>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let after: string | null = null;
  for (let pages = 1; ; pages++) {
    const p = await page(after);
    items.push(...p.items);
    if (!p.hasNextPage) return { items, pages };
    if (p.items.length === 0 || p.endCursor === null) throw new Error(`page ${pages} is empty but says more follow`);
    after = p.endCursor;
  }
}

/** Ids as numbers in the order given: strictly decreasing, no repeats, is what "newest first" means. */
export function isNewestFirst(ids: readonly string[]): boolean {
  return ids.every((id, i) => i === 0 || BigInt(id) < BigInt(ids[i - 1]!));
}
