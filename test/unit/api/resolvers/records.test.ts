import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGES } from '../../../helpers/storage.ts';
import { startTestApi, type TestApi } from '../../../helpers/api.ts';

const input = (name: string, extra: Record<string, unknown> = {}) => ({
  kind: 'SELLER',
  name,
  identifiers: [{ type: 'PHONE', value: '+86 138 0000 0000' }],
  categories: ['COUNTERFEIT'],
  ...extra,
});

const IMPORT = 'mutation($r: [RecordInput!]!) { importRecords(records: $r) { imported ids } }';
const COUNT = '{ records { totalCount } }';

describe.each(STORAGES)('records over GraphQL on %s', (kind) => {
  let t: TestApi;
  let analyst: string;
  const count = async () => (await t.gql<{ records: { totalCount: number } }>(COUNT, undefined, analyst)).body.data!.records.totalCount;

  beforeAll(async () => {
    t = await startTestApi({ storage: kind, limits: { importRecords: 50 } });
    analyst = await t.token('analyst', { sub: 'rita' });
  });
  afterAll(() => t?.close());

  it('importRecords with one invalid record stores nothing and lists every problem by row and field', async () => {
    const before = await count();
    const res = await t.gql(IMPORT, { r: [input('Good One'), input('', { confidence: 150 }), input('Good Two', { identifiers: [{ type: 'EMAIL', value: ' ' }] })] }, analyst);
    expect(res.body.data).toBeNull();
    const err = res.body.errors![0]!;
    expect(err.extensions!.code).toBe('BAD_USER_INPUT');
    expect(err.extensions!.rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ row: 2, field: 'name' }),
        expect.objectContaining({ row: 2, field: 'confidence' }),
        expect.objectContaining({ row: 3, field: 'identifiers[0].value' }),
      ]),
    );
    expect(await count()).toBe(before);
  });

  it('importRecords refuses an empty list and one over the per-call limit', async () => {
    const empty = await t.gql(IMPORT, { r: [] }, analyst);
    expect(empty.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const big = await t.gql(IMPORT, { r: Array.from({ length: 51 }, (_, i) => input(`Bulk ${i}`)) }, analyst);
    expect(big.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(big.body.errors![0]!.message).toMatch(/limit per call is 50/);
  });

  it('a bad record id, a missing record and a stale version get BAD_USER_INPUT, NOT_FOUND and CONFLICT', async () => {
    const bad = await t.gql('{ record(id: "not-a-uuid") { id } }', undefined, analyst);
    expect(bad.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');

    const missing = await t.gql('mutation { setRecordStatus(id: "00000000-0000-4000-8000-000000000000", status: CLEARED) { id } }', undefined, analyst);
    expect(missing.body.errors![0]!.extensions!.code).toBe('NOT_FOUND');

    const created = await t.gql<{ createRecord: { id: string; version: number } }>(
      'mutation($in: RecordInput!) { createRecord(input: $in) { id version } }',
      { in: input('Versioned Seller') },
      analyst,
    );
    const { id, version } = created.body.data!.createRecord;
    const UPDATE = 'mutation($id: ID!, $v: Int) { updateRecord(id: $id, input: { confidence: 90 }, expectedVersion: $v) { version confidence } }';
    const ok = await t.gql<{ updateRecord: { version: number; confidence: number } }>(UPDATE, { id, v: version }, analyst);
    expect(ok.body.data!.updateRecord).toEqual({ version: version + 1, confidence: 90 });
    const stale = await t.gql(UPDATE, { id, v: version }, analyst);
    expect(stale.body.errors![0]!.extensions!.code).toBe('CONFLICT');
  });

  it('an empty update, an oversized identifier and an unknown enum value are refused with what is wrong', async () => {
    const created = await t.gql<{ createRecord: { id: string } }>('mutation($in: RecordInput!) { createRecord(input: $in) { id } }', { in: input('Patch Target') }, analyst);
    const id = created.body.data!.createRecord.id;
    const empty = await t.gql('mutation($id: ID!) { updateRecord(id: $id, input: {}) { id } }', { id }, analyst);
    expect(empty.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(empty.body.errors![0]!.message).toMatch(/changes nothing/);

    const long = await t.gql('mutation($in: RecordInput!) { createRecord(input: $in) { id } }', { in: input('Long Id', { identifiers: [{ type: 'URL', value: 'x'.repeat(1025) }] }) }, analyst);
    expect(long.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(long.body.errors![0]!.extensions!.problems).toEqual([{ field: 'identifiers[0].value', message: expect.stringMatching(/1025 characters.*1024/) }]);

    const enumBad = await t.gql('mutation($in: RecordInput!) { createRecord(input: $in) { id } }', { in: input('Enum', { kind: 'PIRATE' }) }, analyst);
    expect(enumBad.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(enumBad.body.errors![0]!.message).toMatch(/PIRATE/);
  });

  it('pages through records with cursors and filters by status and updatedSince', async () => {
    const since = new Date().toISOString();
    const made = await t.gql<{ importRecords: { ids: string[] } }>(IMPORT, { r: Array.from({ length: 7 }, (_, i) => input(`Paged ${i}`, { status: i % 2 ? 'CONFIRMED' : 'DISPUTED' })) }, analyst);
    const ids = made.body.data!.importRecords.ids;
    const PAGE = 'query($after: String, $since: DateTime) { records(first: 3, after: $after, filter: { updatedSince: $since, status: [CONFIRMED, DISPUTED] }) { edges { node { id } cursor } pageInfo { hasNextPage endCursor } } }';
    type Page = { records: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Page = (await t.gql<Page>(PAGE, { after, since }, analyst)).body.data!;
      seen.push(...page.records.edges.map((e) => e.node.id));
      if (!page.records.pageInfo.hasNextPage) break;
      after = page.records.pageInfo.endCursor;
    }
    expect(seen).toEqual(ids);
    const badCursor = await t.gql('{ records(after: "bm9wZQ") { totalCount } }', undefined, analyst);
    expect(badCursor.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const badDate = await t.gql('{ records(filter: { updatedSince: "yesterday" }) { totalCount } }', undefined, analyst);
    expect(badDate.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(badDate.body.errors![0]!.message).toMatch(/ISO 8601/);
  });
});
