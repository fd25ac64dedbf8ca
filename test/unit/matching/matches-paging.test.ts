/**
 * `matches` pages newest first past ids 9, 99 and 2^31 on both storages: every match once, in
 * numeric order, whatever the page size. (Ids once came back ordered as text while the cursor
 * compared numbers, so pages skipped and repeated as soon as ids passed 9.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../node/storage/database.ts';
import { startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { PAST_NINE, isNewestFirst, restartIdentity, walkPages } from '../../helpers/paging.ts';
import { peerRef } from '../../helpers/matching-fixture.ts';

const MATCHES = /* GraphQL */ `
  query ($first: Int, $after: String, $filter: MatchFilter) {
    matches(first: $first, after: $after, filter: $filter) {
      totalCount
      edges { cursor node { id ref } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
interface MatchesData {
  matches: { totalCount: number; edges: Array<{ cursor: string; node: { id: string; ref: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

/** `n` NEW matches with peer-a, raised now, each of its own actor (refs numbered from `from`). */
async function insertMatches(db: Database, from: number, n: number): Promise<void> {
  await db.query(
    `INSERT INTO matches (record_id, record_ref, origin, ref, types, identifiers, categories, status, confidence, created_at, updated_at)
     SELECT gen_random_uuid(), 'own-ref', 'peer-a', r, '{email}', '[]'::jsonb, '{COUNTERFEIT}', 'SUSPECTED', 50, now(), now()
       FROM unnest($1::text[]) AS r`,
    [Array.from({ length: n }, (_, i) => peerRef((from + i) % 256) + String(from + i))],
  );
}

describe.each(STORAGES)('matches past 9, 99 and 2^31 (%s)', (kind) => {
  let t: TestApi;
  let token: string;
  const all: string[] = [];

  beforeAll(async () => {
    t = await startTestApi({ storage: kind });
    token = await t.token('trust');
    await insertMatches(t.db, 0, PAST_NINE.before);
    await restartIdentity(t.db, 'matches', PAST_NINE.restartAt);
    await insertMatches(t.db, PAST_NINE.before, PAST_NINE.after);
    const { rows } = await t.db.query<{ id: string }>('SELECT id FROM matches ORDER BY id DESC');
    all.push(...rows.map((r) => r.id));
  });
  afterAll(async () => {
    await t?.close();
  });

  it('holds ids 1..105 and 2^31 - 5 .. 2^31 + 4', () => {
    expect(all).toHaveLength(PAST_NINE.before + PAST_NINE.after);
    expect(all[0]).toBe(String(2 ** 31 + 4));
    expect(all.at(-1)).toBe('1');
    expect(all).toContain('10');
    expect(all).toContain('100');
    expect(all).toContain(String(2 ** 31));
  });

  it.each([1, 7, 40, 500])('pages of %i: every match once, newest first by number', async (first) => {
    const { items, pages } = await walkPages(async (after) => {
      const r = await t.gql<MatchesData>(MATCHES, { first, after }, token);
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      const m = r.body.data!.matches;
      expect(m.totalCount).toBe(all.length);
      return { items: m.edges.map((e) => e.node.id), hasNextPage: m.pageInfo.hasNextPage, endCursor: m.pageInfo.endCursor };
    });
    expect(items).toEqual(all);
    expect(isNewestFirst(items)).toBe(true);
    expect(pages).toBe(Math.ceil(all.length / first));
  }, 120_000);

  it('a match past 2^31 is read and decided by its id', async () => {
    const id = String(2 ** 31 + 1);
    const r = await t.gql<{ acknowledgeMatch: { id: string; state: string } }>(
      /* GraphQL */ `mutation ($id: ID!) { acknowledgeMatch(id: $id, verdict: CONFIRMED) { id state } }`,
      { id },
      token,
    );
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    expect(r.body.data!.acknowledgeMatch).toEqual({ id, state: 'CONFIRMED' });
  });
});
