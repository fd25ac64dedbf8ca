import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_RECORD, startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';

const LOOKUP = /* GraphQL */ `
  query ($ids: [IdentifierInput!]!) { lookup(identifiers: $ids) { hitCount results { canonical } } }
`;

const emails = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ type: 'EMAIL', value: `Quota.Probe${from + i}@example.com` }));

describe.each(STORAGES)('lookup quota and metrics (%s)', (storage) => {
  let t: TestApi;
  // The quotas' clock, moved by the test: waiting as told is then instant.
  let clock = Date.now();

  beforeAll(async () => {
    // 60 identifiers a minute (one a second), five at once.
    t = await startTestApi({ storage, lookupQuota: { ratePerMinute: 60, burst: 5 }, clock: () => clock });
    const r = await t.gql(CREATE_RECORD, { input: { kind: 'SELLER', name: 'Quota seller', identifiers: [{ type: 'EMAIL', value: 'quota.probe0@example.com' }] } }, await t.token('analyst'));
    expect(r.body.errors).toBeUndefined();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers RATE_LIMITED with retryAfter once a subject has spent its burst; other subjects go on', async () => {
    const alice = await t.token('trust', { sub: 'alice' });
    const first = await t.gql<{ lookup: { hitCount: number } }>(LOOKUP, { ids: emails(3) }, alice);
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data!.lookup.hitCount).toBe(1);
    expect((await t.gql(LOOKUP, { ids: emails(2, 3) }, alice)).body.errors).toBeUndefined();

    const refused = await t.gql(LOOKUP, { ids: emails(2, 5) }, alice);
    expect(refused.status).toBe(200);
    expect(refused.body.data).toBeNull();
    const err = refused.body.errors![0]!;
    expect(err.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 2, requestId: expect.any(String) });
    expect(err.message).toMatch(/quota spent: 2 identifier\(s\) can be looked up again in 2 s/);

    // The same subject of a token with another role shares the bucket; another subject has its own.
    const aliceAdmin = await t.token('admin', { sub: 'alice' });
    expect((await t.gql(LOOKUP, { ids: emails(1) }, aliceAdmin)).body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect((await t.gql(LOOKUP, { ids: emails(1) }, await t.token('trust', { sub: 'bob' }))).body.errors).toBeUndefined();

    // Waiting as told is enough, and a moment less is not.
    clock += 1900;
    expect((await t.gql(LOOKUP, { ids: emails(2, 5) }, alice)).body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    clock += 100;
    expect((await t.gql(LOOKUP, { ids: emails(2, 5) }, alice)).body.errors).toBeUndefined();
  });

  it('refuses a request bigger than the burst outright (it could never be served)', async () => {
    const r = await t.gql(LOOKUP, { ids: emails(6) }, await t.token('trust', { sub: 'carol' }));
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.message).toMatch(/limit per call is 5 \(this node's lookup burst \(ALLIANCE_LOOKUP_BURST\)\)/);
  });

  it('counts lookups, identifiers, hits and refusals in /metrics, with no identifier in any label', async () => {
    const res = await t.fetch('/metrics');
    const text = await res.text();
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);
    // alice 3 + 2 + 2, bob 1; alice refused three times.
    expect(value('alliance_lookups_total')).toBe(4);
    expect(value('alliance_lookup_identifiers_total{result="valid"}')).toBe(8);
    expect(value('alliance_lookup_hits_total{source="own"}')).toBe(2);
    expect(value('alliance_lookups_rate_limited_total')).toBe(3);
    expect(value('alliance_graphql_errors_total{code="RATE_LIMITED"}')).toBe(3);
    expect(text).toMatch(/^alliance_lookup_duration_seconds_count 4$/m);
    expect(text.toLowerCase()).not.toContain('quota.probe');
    expect(text).not.toContain('example.com');
  });
});
