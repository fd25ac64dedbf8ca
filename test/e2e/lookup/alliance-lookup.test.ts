/**
 * End to end: two member nodes (startNode over their own storage) connected over libp2p on loopback.
 * A record created at alpha is found by a lookup at beta, from the indicators alpha published.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGES } from '../../helpers/storage.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';

const CREATE = /* GraphQL */ `mutation ($input: RecordInput!) { createRecord(input: $input) { id } }`;
const SET_STATUS = /* GraphQL */ `mutation ($id: ID!, $status: RecordStatus!) { setRecordStatus(id: $id, status: $status) { id } }`;
const LOOKUP = /* GraphQL */ `
  query ($ids: [IdentifierInput!]!, $region: String) {
    lookup(identifiers: $ids, region: $region) {
      epochs
      results { input canonical error { reason } matches { member { id name kind } ref categories status confidence firstSeen lastSeen epoch } ownRecords { id } }
      subjects { member { id } own ref count identifiers }
    }
  }
`;

interface Payload {
  lookup: {
    epochs: number[];
    results: Array<{ input: string; canonical: string | null; error: { reason: string } | null; matches: Array<{ member: { id: string; name: string; kind: string }; ref: string; categories: string[]; status: string; confidence: number; firstSeen: string; lastSeen: string; epoch: number }>; ownRecords: Array<{ id: string }> }>;
    subjects: Array<{ member: { id: string } | null; own: boolean; ref: string; count: number; identifiers: number[] }>;
  };
}

describe.each(STORAGES)('lookup across two members on loopback (%s)', (kind) => {
  let alliance: TestAlliance;
  const storage = new Map<string, NodeStorage>();
  const nodes = new Map<string, TestNode>();
  const at = (id: string) => nodes.get(id)!;
  let recordId: string;

  const lookup = async (n: TestNode, ids: Array<{ type: string; value: string }>, region?: string) => {
    const r = await n.gql<Payload>(LOOKUP, { ids, ...(region ? { region } : {}) }, 'trust');
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!.lookup;
  };

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta']);
    for (const m of alliance.members) {
      storage.set(m.id, await memberStorage(kind));
      nodes.set(m.id, await startMember(alliance, m, storage.get(m.id)!));
    }
    const r = await at('alpha').gql<{ createRecord: { id: string } }>(CREATE, {
      input: {
        kind: 'SELLER',
        name: 'Shenzhen Lucky Trading',
        region: 'CN',
        identifiers: [
          { type: 'PHONE', value: '138 0013 8000' },
          { type: 'EMAIL', value: 'Lucky.Seller+taobao@gmail.com' },
          { type: 'SHOP', value: 'taobao:12345678' },
        ],
        categories: ['TRADEMARK', 'COUNTERFEIT'],
        status: 'CONFIRMED',
        confidence: 85,
      },
    });
    expect(r.body.errors).toBeUndefined();
    recordId = r.body.data!.createRecord.id;
    await eventually(async () => (await at('beta').indicatorCount('alpha')) === 3, 20_000, "alpha's indicators at beta");
  }, 90_000);

  afterAll(async () => {
    for (const n of nodes.values()) await n.stop().catch(() => undefined);
    for (const s of storage.values()) await s.drop?.();
  });

  it("finds alpha's record at beta by each identifier and by other spellings of them", async () => {
    const out = await lookup(
      at('beta'),
      [
        { type: 'PHONE', value: '+86 138-0013-8000' },
        { type: 'EMAIL', value: 'luckyseller@googlemail.com' },
        { type: 'SHOP', value: 'taobao:12345678' },
        { type: 'PHONE', value: '(010) 6552 9988' },
      ],
      'CN',
    );
    expect(out.epochs).toEqual([1]);
    const [phone, email, shop, other] = out.results;
    for (const r of [phone!, email!, shop!]) {
      expect(r.matches).toEqual([
        {
          member: { id: 'alpha', name: 'Member alpha', kind: 'PLATFORM' },
          ref: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
          categories: ['COUNTERFEIT', 'TRADEMARK'],
          status: 'CONFIRMED',
          confidence: 85,
          firstSeen: new Date().toISOString().slice(0, 10),
          lastSeen: expect.any(String),
          epoch: 1,
        },
      ]);
      expect(r.ownRecords).toEqual([]);
    }
    expect(email!.canonical).toBe('luckyseller@gmail.com');
    expect(other!.matches).toEqual([]);
    // The three identifiers point at one actor at alpha.
    expect(out.subjects).toEqual([{ member: { id: 'alpha' }, own: false, ref: phone!.matches[0]!.ref, count: 3, identifiers: [0, 1, 2] }]);
  });

  it('at alpha the same identifiers are its own record, not a match', async () => {
    const out = await lookup(at('alpha'), [{ type: 'PHONE', value: '+8613800138000' }]);
    expect(out.results[0]!.matches).toEqual([]);
    expect(out.results[0]!.ownRecords).toEqual([{ id: recordId }]);
    expect(out.subjects).toEqual([{ member: { id: 'alpha' }, own: true, ref: expect.any(String), count: 1, identifiers: [0] }]);
  });

  it('stops matching at beta once alpha clears the record', async () => {
    const r = await at('alpha').gql(SET_STATUS, { id: recordId, status: 'CLEARED' });
    expect(r.body.errors).toBeUndefined();
    await eventually(async () => (await at('beta').indicatorCount('alpha')) === 0, 20_000, 'retraction at beta');
    const out = await lookup(at('beta'), [{ type: 'SHOP', value: 'taobao:12345678' }]);
    expect(out.results[0]!.matches).toEqual([]);
  });
});
