import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { LookupFixture } from '../../helpers/lookup-fixture.ts';
import { validateRecordInput } from '../../../node/records/model.ts';
import { normalize } from '../../../node/identifiers/normalize.ts';

const IMPORT = /* GraphQL */ `mutation ($records: [RecordInput!]!) { importRecords(records: $records) { imported ids } }`;
const EXPORT = /* GraphQL */ `
  query ($filter: RecordFilter, $first: Int, $after: String) {
    exportRecords(filter: $filter, first: $first, after: $after) { rows ids endCursor hasNextPage auditId }
  }
`;
const AUDIT = /* GraphQL */ `
  query { auditLog(first: 50, filter: { action: ["record.export"] }) { edges { node { id action subject role identifierCount digests hitCount details } } } }
`;

interface ExportPage {
  exportRecords: { rows: string[]; ids: string[]; endCursor: string | null; hasNextPage: boolean; auditId: string };
}
interface AuditNode {
  id: string;
  action: string;
  subject: string;
  role: string;
  identifierCount: number;
  digests: string[];
  hitCount: number;
  details: string;
}

// Raw values spelled so that their canonical forms differ from them: neither may reach the audit log.
const RECORDS = [
  {
    kind: 'SELLER',
    name: 'Golden Dragon Trading',
    region: 'US',
    identifiers: [
      { type: 'PHONE', value: '(202) 555-0143' },
      { type: 'EMAIL', value: 'Golden.Dragon+shop@Example.com' },
    ],
    categories: ['COUNTERFEIT'],
    status: 'CONFIRMED',
    confidence: 90,
    brands: ['Aurelia'],
    notes: 'test purchase 2026-10-02',
    evidence: ['case-7/photo-1.jpg'],
    externalId: 'CASE-7',
  },
  { kind: 'SHOP', name: 'Bright Finds', identifiers: [{ type: 'URL', value: 'https://WWW.bright-finds.shop/store?utm_source=x' }], status: 'SUSPECTED' },
  { kind: 'SHOP', name: 'Quiet Harbor', identifiers: [{ type: 'DOMAIN', value: 'Quiet-Harbor.com' }], status: 'CLEARED', categories: ['GREY_MARKET'] },
  { kind: 'PERSON', name: 'No identifiers' },
];

describe.each(STORAGES)('exportRecords (%s)', (storage) => {
  let f: LookupFixture;
  let t: TestApi;
  let trust: string;
  let ids: string[];
  const exportPage = async (variables: Record<string, unknown>, token = trust) => t.gql<ExportPage>(EXPORT, variables, token);
  const exportAll = async (variables: Record<string, unknown> = {}) => {
    const rows: string[] = [];
    const pages: ExportPage['exportRecords'][] = [];
    let after: string | null = null;
    do {
      const r = await exportPage({ ...variables, after });
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      const page: ExportPage['exportRecords'] = r.body.data!.exportRecords;
      pages.push(page);
      rows.push(...page.rows);
      after = page.hasNextPage ? page.endCursor : null;
    } while (after !== null);
    return { rows, pages };
  };
  const auditEntries = async () => {
    const r = await t.gql<{ auditLog: { edges: Array<{ node: AuditNode }> } }>(AUDIT, {}, await t.token('admin'));
    expect(r.body.errors).toBeUndefined();
    return r.body.data!.auditLog.edges.map((e) => e.node);
  };

  beforeAll(async () => {
    f = await LookupFixture.create();
    t = await startTestApi({ storage, lookup: (db) => f.sources(db) });
    trust = await t.token('trust', { sub: 'exporter' });
    const r = await t.gql<{ importRecords: { ids: string[] } }>(IMPORT, { records: RECORDS }, await t.token('analyst'));
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    ids = r.body.data!.importRecords.ids;
  });
  afterAll(async () => {
    await t?.close();
    f?.remove();
  });

  it('pages every record in import format, in the order added, and the rows validate back to the same records', async () => {
    const { rows, pages } = await exportAll({ first: 3 });
    expect(pages.map((p) => p.rows.length)).toEqual([3, 1]);
    expect(pages.flatMap((p) => p.ids)).toEqual(ids);
    expect(rows).toHaveLength(RECORDS.length);
    rows.forEach((row, i) => {
      const parsed = JSON.parse(row) as Record<string, unknown>;
      expect(parsed).not.toHaveProperty('id');
      const again = validateRecordInput(parsed, { defaultRegion: undefined });
      const original = validateRecordInput(RECORDS[i] as never, { defaultRegion: undefined });
      expect(again).toEqual(original);
    });
    expect(JSON.parse(rows[0]!)).toMatchObject({ externalId: 'CASE-7', notes: 'test purchase 2026-10-02', region: 'US', identifiers: [{ type: 'phone', value: '(202) 555-0143' }, { type: 'email', value: 'Golden.Dragon+shop@Example.com' }] });
  });

  it('filters as records does', async () => {
    const { rows } = await exportAll({ filter: { status: ['CONFIRMED', 'CLEARED'] } });
    expect(rows.map((r) => (JSON.parse(r) as { name: string }).name)).toEqual(['Golden Dragon Trading', 'Quiet Harbor']);
  });

  it('audits each page with the digests of its identifiers under every live epoch, never a value', async () => {
    const r = await exportPage({ first: 2, filter: { text: 'Dragon' } });
    expect(r.body.errors).toBeUndefined();
    const page = r.body.data!.exportRecords;
    const entry = (await auditEntries()).find((e) => e.id === page.auditId)!;
    expect(entry).toMatchObject({ action: 'record.export', subject: 'exporter', role: 'trust', identifierCount: 2, hitCount: 1 });
    const expected = [f.digest('phone', normalize('phone', '(202) 555-0143', { region: 'US' })), f.digest('email', normalize('email', 'Golden.Dragon+shop@Example.com'))];
    expect([...entry.digests].sort()).toEqual(expected.sort());
    const details = JSON.parse(entry.details) as Record<string, unknown>;
    expect(details).toMatchObject({ records: 1, filter: { text: true }, continued: false });
    // The free-text filter and every raw or canonical value stay out of the audit log.
    const stored = JSON.stringify((await t.db.query('SELECT * FROM audit_log')).rows);
    for (const raw of ['Dragon', '(202) 555-0143', '+12025550143', 'Golden.Dragon+shop@Example.com', 'goldendragon@example.com', 'golden.dragon@example.com', 'bright-finds', 'Quiet-Harbor', 'quiet-harbor.com']) {
      expect(stored).not.toContain(raw);
    }
  });

  it('is for trust and admin, not analysts', async () => {
    const r = await exportPage({}, await t.token('analyst'));
    expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const a = await exportPage({ first: 1 }, await t.token('admin'));
    expect(a.body.errors).toBeUndefined();
    expect(a.body.data!.exportRecords.rows).toHaveLength(1);
  });

  it('refuses a bad page size or cursor, and audits nothing for it', async () => {
    const before = (await auditEntries()).length;
    for (const variables of [{ first: 0 }, { first: 501 }, { after: 'not-a-cursor' }]) {
      const r = await exportPage(variables);
      expect(r.body.errors?.[0]?.extensions?.code, JSON.stringify(variables)).toBe('BAD_USER_INPUT');
    }
    expect(await auditEntries()).toHaveLength(before);
  });
});
