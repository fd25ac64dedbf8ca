import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../../node/config.ts';
import { AuditLog } from '../../../node/audit/audit-log.ts';
import { startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { LookupFixture } from '../../helpers/lookup-fixture.ts';

const LOOKUP = /* GraphQL */ `query ($ids: [IdentifierInput!]!) { lookup(identifiers: $ids) { hitCount } }`;
const AUDIT = /* GraphQL */ `
  query ($first: Int, $after: String, $filter: AuditLogFilter) {
    auditLog(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id action subject role at identifierCount digests hitCount details } }
    }
  }
`;

interface Entry {
  id: string;
  action: string;
  subject: string;
  role: string;
  at: string;
  identifierCount: number;
  digests: string[];
  hitCount: number;
  details: string;
}
interface AuditPage {
  auditLog: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    edges: Array<{ cursor: string; node: Entry }>;
  };
}

describe.each(STORAGES)('auditLog (%s)', (storage) => {
  let f: LookupFixture;
  let t: TestApi;
  let admin: string;
  const audit = async (variables: Record<string, unknown>, token = admin) => {
    const r = await t.gql<AuditPage>(AUDIT, variables, token);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!.auditLog;
  };

  beforeAll(async () => {
    f = await LookupFixture.create();
    t = await startTestApi({ storage, lookup: (db) => f.sources(db) });
    admin = await t.token('admin', { sub: 'auditor' });
    // Seven lookups by two subjects; the 2nd and 5th ask about the same phone number, spelled differently.
    const phone = ['+49 30 901820', '+49 (0)30 90 18 20'];
    for (let i = 0; i < 7; i++) {
      const ids = i === 1 ? [{ type: 'PHONE', value: phone[0] }] : i === 4 ? [{ type: 'PHONE', value: phone[1] }, { type: 'EMAIL', value: 'x@' }] : [{ type: 'DOMAIN', value: `shop${i}.com` }];
      const r = await t.gql(LOOKUP, { ids }, await t.token('trust', { sub: i % 2 ? 'bob' : 'alice' }));
      expect(r.body.errors).toBeUndefined();
    }
  });
  afterAll(async () => {
    await t?.close();
    f?.remove();
  });

  it('is for admins only', async () => {
    for (const role of ['analyst', 'trust'] as const) {
      const r = await t.gql(AUDIT, {}, await t.token(role));
      expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('pages newest first with Relay cursors', async () => {
    const seen: Entry[] = [];
    let after: string | null = null;
    const pages: boolean[] = [];
    do {
      const page = await audit({ first: 3, after, filter: { action: ['lookup'] } });
      expect(page.totalCount).toBe(7);
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      seen.push(...page.edges.map((e) => e.node));
      pages.push(page.pageInfo.hasNextPage);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after !== null);
    expect(pages).toEqual([true, true, false]);
    expect(seen).toHaveLength(7);
    expect(new Set(seen.map((e) => e.id)).size).toBe(7);
    const ids = seen.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(seen.map((e) => e.subject)).toEqual(['alice', 'bob', 'alice', 'bob', 'alice', 'bob', 'alice']);
    const oldest = seen.at(-1)!;
    expect(oldest).toMatchObject({ action: 'lookup', role: 'trust', identifierCount: 1, hitCount: 0 });
    expect(JSON.parse(oldest.details)).toMatchObject({ epochs: [1], invalid: 0, peerHits: 0, ownHits: 0, requestId: expect.any(String) });
    expect(oldest.digests).toEqual([f.digest('domain', 'shop0.com')]);
  });

  it('filters by subject, time and digest', async () => {
    expect((await audit({ filter: { subject: 'bob' } })).totalCount).toBe(3);
    expect((await audit({ filter: { since: new Date(Date.now() + 60_000).toISOString() } })).totalCount).toBe(0);
    expect((await audit({ filter: { until: new Date(Date.now() + 60_000).toISOString(), action: ['lookup'] } })).totalCount).toBe(7);
    const byDigest = await audit({ filter: { digest: f.digest('domain', 'shop3.com') } });
    expect(byDigest.edges.map((e) => e.node.subject)).toEqual(['bob']);
  });

  it('finds who asked about an identifier from any spelling of it, and audits that search', async () => {
    const page = await audit({ filter: { identifier: { type: 'PHONE', value: '030 901820' }, region: 'DE', action: ['lookup'] } });
    expect(page.edges.map((e) => [e.node.subject, e.node.identifierCount])).toEqual([
      ['alice', 2],
      ['bob', 1],
    ]);
    const searches = await audit({ filter: { action: ['audit.search'] } });
    expect(searches.edges).toHaveLength(1);
    expect(searches.edges[0]!.node).toMatchObject({ subject: 'auditor', role: 'admin', identifierCount: 1, digests: [f.digest('phone', '+4930901820')] });
    const bad = await t.gql(AUDIT, { filter: { identifier: { type: 'PHONE', value: '12' } } }, admin);
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'filter.identifier.value', reason: expect.stringMatching(/^phone\./) }] });
  });

  it('refuses a foreign cursor and pages over 500', async () => {
    for (const vars of [{ after: 'bm90LWEtY3Vyc29y' }, { after: '' }, { first: 501 }, { first: -1 }]) {
      const r = await t.gql(AUDIT, vars, admin);
      expect(r.body.errors?.[0]?.extensions?.code, JSON.stringify(vars)).toBe('BAD_USER_INPUT');
    }
  });

  it('deletes rows past the retention period', async () => {
    const log = new AuditLog(t.db);
    const id = await log.write({ action: 'record.export', subject: 'old', role: 'analyst', identifierCount: 0, digests: [], hitCount: 0, details: {} });
    await t.db.query("UPDATE audit_log SET at = now() - interval '400 days' WHERE id = $1::bigint", [id]);
    const before = await log.count();
    expect(await log.prune(365)).toBe(1);
    expect(await log.count()).toBe(before - 1);
    expect(await log.prune(365)).toBe(0);
  });
});

describe('lookup and audit settings', () => {
  it('have documented defaults and read the environment', () => {
    const d = loadConfig({}, {});
    expect(d.lookup).toEqual({ ratePerMinute: 60_000, burst: 5000 });
    expect(d.audit).toEqual({ retentionDays: 365 });
    const c = loadConfig({}, { ALLIANCE_LOOKUP_RATE: '0', ALLIANCE_LOOKUP_BURST: '1000', ALLIANCE_AUDIT_RETENTION_DAYS: '30' });
    expect(c.lookup).toEqual({ ratePerMinute: 0, burst: 1000 });
    expect(c.audit).toEqual({ retentionDays: 30 });
    expect(() => loadConfig({}, { ALLIANCE_AUDIT_RETENTION_DAYS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({}, { ALLIANCE_LOOKUP_BURST: '0' })).toThrow(/ALLIANCE_LOOKUP_BURST/);
    expect(() => loadConfig({}, { ALLIANCE_LOOKUP_RATE: '1k' })).toThrow(/ALLIANCE_LOOKUP_RATE/);
  });
});
