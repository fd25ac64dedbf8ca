import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../helpers/api.ts';
import { leastStall } from '../../../helpers/event-loop.ts';

const NORMALIZE = 'query($ids: [IdentifierInput!]!, $region: String) { normalize(identifiers: $ids, region: $region) { type input canonical error reason } }';
const IMPORT = 'mutation($r: [RecordInput!]!, $on: OnInvalid) { importRecords(records: $r, onInvalid: $on) { imported ids skipped { row field message reason } } }';

describe('normalisation over GraphQL', () => {
  let t: TestApi;
  let trust: string;
  let analyst: string;
  beforeAll(async () => {
    t = await startTestApi({ storage: 'pglite' });
    trust = await t.token('trust');
    analyst = await t.token('analyst');
  });
  afterAll(() => t?.close());

  it('normalize answers per identifier: canonical forms, and errors with reasons for the others', async () => {
    const res = await t.gql<{ normalize: Record<string, string | null>[] }>(
      NORMALIZE,
      { ids: [{ type: 'EMAIL', value: 'Seller@Example.COM' }, { type: 'IP', value: '999.0.0.1' }, { type: 'PHONE', value: '138 0013 8000' }], region: 'CN' },
      trust,
    );
    expect(res.body.errors).toBeUndefined();
    const [email, ip, phone] = res.body.data!.normalize;
    expect(email).toEqual({ type: 'EMAIL', input: 'Seller@Example.COM', canonical: 'seller@example.com', error: null, reason: null });
    expect(ip).toMatchObject({ type: 'IP', canonical: null, error: expect.any(String), reason: expect.stringMatching(/^ip\./) });
    expect(phone!.canonical).toBe('+8613800138000');
  });

  it('refuses a bad region and more than 1,000 identifiers', async () => {
    const region = await t.gql(NORMALIZE, { ids: [{ type: 'PHONE', value: '1' }], region: 'CHINA' }, trust);
    expect(region.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const many = await t.gql(NORMALIZE, { ids: Array.from({ length: 1001 }, () => ({ type: 'IP', value: '192.0.2.1' })) }, trust);
    expect(many.body.errors![0]!.extensions!.code).toMatch(/BAD_USER_INPUT|QUERY_TOO_COMPLEX/);
  });

  it('createRecord stores canonical forms and refuses an invalid identifier naming its index, type and reason', async () => {
    const ok = await t.gql<{ createRecord: { identifiers: { type: string; value: string; canonical: string }[] } }>(
      'mutation($in: RecordInput!) { createRecord(input: $in) { identifiers { type value canonical } } }',
      { in: { kind: 'SELLER', name: 'Canon', region: 'CN', identifiers: [{ type: 'PHONE', value: '138 0013 8000' }, { type: 'EMAIL', value: 'A@Example.com' }] } },
      analyst,
    );
    expect(ok.body.data!.createRecord.identifiers).toEqual([
      { type: 'PHONE', value: '138 0013 8000', canonical: '+8613800138000' },
      { type: 'EMAIL', value: 'A@Example.com', canonical: 'a@example.com' },
    ]);
    const bad = await t.gql('mutation($in: RecordInput!) { createRecord(input: $in) { id } }', { in: { kind: 'SELLER', name: 'Bad', identifiers: [{ type: 'EMAIL', value: 'ok@example.com' }, { type: 'IP', value: '999.0.0.1' }] } }, analyst);
    const err = bad.body.errors![0]!;
    expect(err.extensions!.code).toBe('BAD_USER_INPUT');
    expect(err.extensions!.problems).toEqual([{ field: 'identifiers[1].value', message: expect.stringMatching(/^not a valid ip: /), reason: expect.stringMatching(/^ip\./) }]);
  });

  it('importRecords with SKIP stores the valid records and lists the skipped ones; REJECT stores nothing', async () => {
    const records = [
      { kind: 'SHOP', name: 'Fine', identifiers: [{ type: 'IP', value: '192.0.2.10' }] },
      { kind: 'SHOP', name: 'Broken', identifiers: [{ type: 'IP', value: '300.1.1.1' }] },
      { kind: 'SHOP', name: 'Also fine' },
    ];
    const rejected = await t.gql(IMPORT, { r: records }, analyst);
    expect(rejected.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(rejected.body.errors![0]!.extensions!.rows).toEqual([expect.objectContaining({ row: 2, field: 'identifiers[0].value', reason: expect.stringMatching(/^ip\./) })]);

    const skipped = await t.gql<{ importRecords: { imported: number; ids: string[]; skipped: { row: number; field: string; reason: string }[] } }>(IMPORT, { r: records, on: 'SKIP' }, analyst);
    expect(skipped.body.errors).toBeUndefined();
    expect(skipped.body.data!.importRecords.imported).toBe(2);
    expect(skipped.body.data!.importRecords.skipped).toEqual([expect.objectContaining({ row: 2, field: 'identifiers[0].value', reason: expect.stringMatching(/^ip\./) })]);
  });
});

describe('normalize is bounded like lookup', () => {
  let t: TestApi;
  const costlyUrl = (i: number) => `https://例え${i}.テスト.shop/${'a/'.repeat(20)}?${Array.from({ length: 40 }, (_, j) => `p${j}=%E4%BD%A0&utm_x${j}=1`).join('&')}`.slice(0, 1024);
  beforeAll(async () => {
    t = await startTestApi({ storage: 'pg', lookupQuota: { ratePerMinute: 60, burst: 1000 } });
  });
  afterAll(() => t?.close());

  it('a thousand long URLs are normalised without holding the event loop over 50 ms', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => ({ type: 'URL', value: costlyUrl(i) }));
    // Warm: the first call of a process compiles the normalisers.
    await t.gql(NORMALIZE, { ids: ids.slice(0, 50) }, await t.token('trust', { sub: 'warm' }));
    // Each try as another subject: one try spends a subject's whole burst.
    let tries = 0;
    const { result: r, stallMs } = await leastStall(async () => t.gql<{ normalize: Array<{ canonical: string | null }> }>(NORMALIZE, { ids }, await t.token('trust', { sub: `url-checker-${tries++}` })), 50);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    expect(r.body.data!.normalize.filter((x) => x.canonical !== null)).toHaveLength(1000);
    expect(stallMs).toBeLessThan(50);
  });

  it('has a quota per token subject of its own (the lookup quota is not spent by it)', async () => {
    const token = await t.token('trust', { sub: 'quota-subject' });
    const ids = Array.from({ length: 1000 }, (_, i) => ({ type: 'EMAIL', value: `s${i}@example.com` }));
    expect((await t.gql(NORMALIZE, { ids }, token)).body.errors).toBeUndefined();
    const spent = await t.gql(NORMALIZE, { ids: ids.slice(0, 2) }, token);
    expect(spent.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    const lookup = await t.gql('query ($ids: [IdentifierInput!]!) { lookup(identifiers: $ids) { hitCount } }', { ids: ids.slice(0, 10) }, token);
    expect(lookup.body.errors).toBeUndefined();
  });
});
