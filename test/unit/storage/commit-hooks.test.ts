import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitHooks } from '../../../node/storage/commit-hooks.ts';
import type { Database } from '../../../node/storage/database.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';

describe.each(STORAGES)('commit hooks on %s', (kind) => {
  let t: TestDb;
  let hooks: CommitHooks;
  let db: Database;
  const failures: unknown[] = [];
  beforeAll(async () => {
    t = await openTestDb(kind, { migrate: false });
    await t.db.exec('CREATE TABLE hooked (id int PRIMARY KEY)');
    hooks = new CommitHooks((err) => failures.push(err));
    db = hooks.wrap(t.db);
  });
  afterAll(() => t.close());

  const ids = async () => (await t.db.query<{ id: number }>('SELECT id FROM hooked ORDER BY id')).rows.map((r) => r.id);

  it('runs beforeCommit inside the transaction, in order, and afterCommit once it is committed', async () => {
    const seen: string[] = [];
    let committed: Promise<number[]> | undefined;
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO hooked VALUES (1)');
      expect(
        hooks.beforeCommit(tx, async () => {
          seen.push('before 1');
          await tx.query('INSERT INTO hooked VALUES (2)');
          // Registered while the callbacks run: it runs too.
          hooks.beforeCommit(tx, async () => void seen.push('before 3'));
        }),
      ).toBe(true);
      hooks.beforeCommit(tx, async () => void seen.push('before 2'));
      expect(
        hooks.afterCommit(tx, () => {
          seen.push('after');
          // What afterCommit sees is committed: a read outside the transaction finds it.
          committed = ids();
        }),
      ).toBe(true);
      seen.push('work');
    });
    expect(seen).toEqual(['work', 'before 1', 'before 2', 'before 3', 'after']);
    expect(await committed).toEqual([1, 2]);
  });

  it('rolls the transaction back when beforeCommit throws, and never runs afterCommit then', async () => {
    let after = 0;
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO hooked VALUES (10)');
        hooks.afterCommit(tx, () => void after++);
        hooks.beforeCommit(tx, async () => {
          throw new Error('refused');
        });
      }),
    ).rejects.toThrow('refused');
    // A statement that fails rolls back just the same.
    await expect(
      db.transaction(async (tx) => {
        hooks.afterCommit(tx, () => void after++);
        await tx.query('SELECT 1/0');
      }),
    ).rejects.toThrow();
    expect(after).toBe(0);
    expect(await ids()).toEqual([1, 2]);
  });

  it('reports an afterCommit callback that throws, keeping the commit and the other callbacks', async () => {
    let ran = false;
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO hooked VALUES (20)');
      hooks.afterCommit(tx, () => {
        throw new Error('subscriber gone');
      });
      hooks.afterCommit(tx, () => void (ran = true));
    });
    expect(ran).toBe(true);
    expect(failures.map((e) => (e as Error).message)).toEqual(['subscriber gone']);
    expect(await ids()).toEqual([1, 2, 20]);
  });

  it('registers nothing on a transaction opened on the unwrapped database', async () => {
    await t.db.transaction(async (tx) => {
      expect(hooks.beforeCommit(tx, async () => undefined)).toBe(false);
      expect(hooks.afterCommit(tx, () => undefined)).toBe(false);
    });
  });
});
