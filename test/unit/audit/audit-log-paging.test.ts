/**
 * `auditLog` pages newest first past ids 9, 99 and 2^31 on both storages: every entry once, in
 * numeric order, whatever the page size, with filters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../node/audit/audit-log.ts';
import { startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { PAST_NINE, isNewestFirst, restartIdentity, walkPages } from '../../helpers/paging.ts';

const AUDIT = /* GraphQL */ `
  query ($first: Int, $after: String, $filter: AuditLogFilter) {
    auditLog(first: $first, after: $after, filter: $filter) {
      totalCount
      edges { node { id subject } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
interface AuditData {
  auditLog: { totalCount: number; edges: Array<{ node: { id: string; subject: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

describe.each(STORAGES)('auditLog past 9, 99 and 2^31 (%s)', (kind) => {
  let t: TestApi;
  let admin: string;
  const ids: string[] = [];

  beforeAll(async () => {
    t = await startTestApi({ storage: kind });
    admin = await t.token('admin', { sub: 'auditor' });
    const log = new AuditLog(t.db);
    const write = (i: number) => log.write({ action: 'test.entry', subject: i % 2 === 0 ? 'even' : 'odd', role: 'analyst', identifierCount: 0, digests: [], hitCount: 0, details: { i } });
    for (let i = 0; i < PAST_NINE.before; i++) ids.push(await write(i));
    await restartIdentity(t.db, 'audit_log', PAST_NINE.restartAt);
    for (let i = PAST_NINE.before; i < PAST_NINE.before + PAST_NINE.after; i++) ids.push(await write(i));
    ids.reverse();
  });
  afterAll(async () => {
    await t?.close();
  });

  const walk = (first: number, filter: Record<string, unknown>) =>
    walkPages(async (after) => {
      const r = await t.gql<AuditData>(AUDIT, { first, after, filter }, admin);
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      const a = r.body.data!.auditLog;
      return { items: a.edges.map((e) => e.node), hasNextPage: a.pageInfo.hasNextPage, endCursor: a.pageInfo.endCursor };
    });

  it('hands out ids 1..105, then from 2^31 - 5', () => {
    expect(ids.at(-1)).toBe('1');
    expect(ids[0]).toBe(String(2 ** 31 + 4));
  });

  it.each([1, 7, 40])('pages of %i: every entry once, newest first by number', async (first) => {
    const { items } = await walk(first, { action: ['test.entry'] });
    expect(items.map((e) => e.id)).toEqual(ids);
    expect(isNewestFirst(items.map((e) => e.id))).toBe(true);
  }, 120_000);

  it('a filtered walk crosses the same edges', async () => {
    const { items } = await walk(9, { action: ['test.entry'], subject: 'odd' });
    expect(items.every((e) => e.subject === 'odd')).toBe(true);
    expect(items).toHaveLength(Math.floor((PAST_NINE.before + PAST_NINE.after) / 2));
    expect(isNewestFirst(items.map((e) => e.id))).toBe(true);
  });
});
