/**
 * Case data that leaves the node is audited on every path, by one mechanism (`@caseData` fields
 * noted per answer, one `record.read` row committed before the answer is sent), digests only:
 * record pages, one record, its history, mutation answers and matchFound pushes. Answers without
 * case data (ids, statuses, import answers) write nothing; an answer whose row cannot be written is
 * not sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Matcher } from '../../../node/matching/matcher.ts';
import { MatchFeed } from '../../../node/matching/feed.ts';
import { startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { LookupFixture, ref } from '../../helpers/lookup-fixture.ts';
import { WsClient, waitForSubscribers } from '../../helpers/ws-client.ts';
import { putIndicators } from '../../helpers/matching-fixture.ts';
import { normalize } from '../../../node/identifiers/normalize.ts';

const IMPORT = 'mutation ($records: [RecordInput!]!) { importRecords(records: $records) { imported ids skipped { row field message reason } } }';
const READS = /* GraphQL */ `query { auditLog(first: 500, filter: { action: ["record.read"] }) { edges { node { subject role identifierCount digests hitCount details } } } }`;

interface ReadRow {
  subject: string;
  role: string;
  identifierCount: number;
  digests: string[];
  hitCount: number;
  details: string;
}

const rawValue = (i: number) => `Seller.${i}+Shop@Gmail.com`;
const canonicalOf = (i: number) => normalize('email', rawValue(i));

describe.each(STORAGES)('case data is audited on every path (%s)', (kind) => {
  let f: LookupFixture;
  let t: TestApi;
  let admin: string;
  const ids: string[] = [];
  const feed = new MatchFeed();

  const reads = async (): Promise<ReadRow[]> => {
    const r = await t.gql<{ auditLog: { edges: Array<{ node: ReadRow }> } }>(READS, {}, admin);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!.auditLog.edges.map((e) => e.node);
  };
  const ok = async <D>(query: string, variables: Record<string, unknown>, token: string): Promise<D> => {
    const r = await t.gql<D>(query, variables, token);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!;
  };
  /** Every digest of `canonical` under the node's epoch keys. */
  const digestsOf = (canonical: string) => [...f.keys.keys()].map((e) => f.digest('email', canonical, e));

  beforeAll(async () => {
    f = await LookupFixture.create();
    t = await startTestApi({ storage: kind, lookup: (db) => f.sources(db), matchFeed: feed });
    admin = await t.token('admin', { sub: 'auditor' });
    // 120 records in import answers (ids only: nothing to audit).
    const records = Array.from({ length: 120 }, (_, i) => ({ kind: 'SELLER', name: `Seller ${i}`, identifiers: [{ type: 'EMAIL', value: rawValue(i) }], notes: `case ${i}` }));
    const analyst = await t.token('analyst', { sub: 'importer' });
    for (let i = 0; i < records.length; i += 60) {
      const d = await ok<{ importRecords: { ids: string[] } }>(IMPORT, { records: records.slice(i, i + 60) }, analyst);
      ids.push(...d.importRecords.ids);
    }
  });
  afterAll(async () => {
    await t?.close();
    f?.remove();
  });

  it('import answers hold ids and problems, never a value, and write no read row', async () => {
    const bad = await t.gql(IMPORT, { records: [{ kind: 'SELLER', name: 'X', identifiers: [{ type: 'PHONE', value: '+49 12' }] }] }, await t.token('analyst'));
    expect(JSON.stringify(bad.body)).not.toContain('+49 12');
    expect(await reads()).toEqual([]);
  });

  it('a page of 120 records with their identifiers: one row, every record id and every digest, no value', async () => {
    const trust = await t.token('trust', { sub: 'bulk-reader' });
    const d = await ok<{ records: { edges: Array<{ node: { id: string; name: string; identifiers: Array<{ value: string }> } }> } }>(
      '{ records(first: 500) { edges { node { id name identifiers { value } } } } }',
      {},
      trust,
    );
    expect(d.records.edges).toHaveLength(120);
    const rows = await reads();
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ subject: 'bulk-reader', role: 'trust', identifierCount: 120, hitCount: 120 });
    const details = JSON.parse(row.details) as { operation: string; records: number; recordIds: string[] };
    expect(details).toMatchObject({ operation: 'query', records: 120 });
    expect(new Set(details.recordIds)).toEqual(new Set(ids));
    expect(new Set(row.digests)).toEqual(new Set(Array.from({ length: 120 }, (_, i) => digestsOf(canonicalOf(i))).flat()));
    // Digests only: no raw or canonical value anywhere in the audit log.
    const { rows: all } = await t.db.query<{ text: string }>('SELECT row_to_json(a)::text AS text FROM audit_log a');
    const text = all.map((r) => r.text).join('\n');
    for (const i of [0, 9, 10, 99, 119]) {
      expect(text).not.toContain(rawValue(i));
      expect(text).not.toContain(canonicalOf(i));
    }
  });

  it('ids and statuses only: no case data, no row', async () => {
    const before = (await reads()).length;
    await ok('{ records(first: 500) { totalCount edges { node { id status version } } } }', {}, await t.token('trust'));
    expect((await reads()).length).toBe(before);
  });

  it('one record, its history, and a mutation answer are each a row', async () => {
    const analyst = await t.token('analyst', { sub: 'editor' });
    const before = (await reads()).length;
    await ok('query ($id: ID!) { record(id: $id) { history { action reason } } }', { id: ids[10] }, analyst);
    await ok('mutation ($id: ID!) { setRecordStatus(id: $id, status: CONFIRMED, reason: "test purchase") { id notes } }', { id: ids[11] }, analyst);
    const rows = (await reads()).slice(0, (await reads()).length - before);
    expect(rows.map((r) => [JSON.parse(r.details).operation, JSON.parse(r.details).recordIds, r.identifierCount])).toEqual([
      ['mutation', [ids[11]], 0],
      ['query', [ids[10]], 0],
    ]);
  });

  it('a matchFound push with the record is audited (subscription) before it arrives', async () => {
    const trust = await t.token('trust', { sub: 'watcher' });
    const c = await WsClient.init(t.graphqlUrl, { authorization: `Bearer ${trust}` });
    try {
      await c.next((m) => m.type === 'connection_ack');
      c.subscribe('m', 'subscription { matchFound { id record { id identifiers { value } } } }');
      await waitForSubscribers(t.graphqlUrl, 1);
      // Record 5's own indicator (as the publisher leaves it), then another member publishes the
      // same identifier: a match is raised and pushed.
      const own = (await t.db.query<{ ref: string }>('SELECT ref FROM records WHERE id = $1', [ids[5]])).rows[0]!.ref;
      await putIndicators(t.db, { origin: f.members.home.id, type: 'email', digest: f.digest('email', canonicalOf(5)), ref: own, epoch: f.state.epoch });
      await f.publish(t.db, f.members.peerA, [f.item('email', canonicalOf(5), { ref: ref(5) })]);
      const matcher = new Matcher(t.db, { self: () => f.members.home.id, roster: () => f.state, liveEpochs: () => [...f.keys.keys()] });
      const raised = await matcher.match({ peers: [{ origin: f.members.peerA.id, ref: ref(5) }] });
      expect(raised.raised).toHaveLength(1);
      feed.publish(raised.raised);
      const pushed = await c.next((m) => m.id === 'm' && m.type === 'next');
      expect(JSON.stringify(pushed.payload)).toContain(rawValue(5));
      const row = (await reads()).find((r) => r.subject === 'watcher')!;
      expect(row).toMatchObject({ identifierCount: 1, hitCount: 1 });
      expect(JSON.parse(row.details)).toMatchObject({ operation: 'subscription', recordIds: [ids[5]] });
      expect(new Set(row.digests)).toEqual(new Set(digestsOf(canonicalOf(5))));
    } finally {
      c.close();
    }
  });

  it('an answer whose row cannot be written is not sent', async () => {
    await t.db.exec("ALTER TABLE audit_log ADD CONSTRAINT refuse_reads CHECK (action <> 'record.read') NOT VALID");
    try {
      const r = await t.gql('{ records(first: 5) { edges { node { name } } } }', {}, await t.token('trust'));
      expect(r.body.data ?? null).toBeNull();
      expect(r.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(r.body)).not.toContain('Seller 0');
    } finally {
      await t.db.exec('ALTER TABLE audit_log DROP CONSTRAINT refuse_reads');
    }
  });
});
