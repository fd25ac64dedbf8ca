/**
 * End to end, two members on loopback: matches with a member that is suspended, reinstated, then
 * revoked. A suspended member's indicators raise nothing new but its open matches stay; once it is
 * reinstated, what it matched meanwhile is raised (and pushed); once it is revoked, its indicators
 * are purged and its matches retracted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGES } from '../../helpers/storage.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';
import { WsClient, waitForSubscribers } from '../../helpers/ws-client.ts';

const CREATE = /* GraphQL */ `mutation ($input: RecordInput!) { createRecord(input: $input) { id } }`;
const MATCHES = /* GraphQL */ `query ($filter: MatchFilter) { matches(filter: $filter) { edges { node { id state origin recordId } } } }`;

interface Match {
  id: string;
  state: string;
  origin: string;
  recordId: string;
}

describe.each(STORAGES)('matches with a suspended, reinstated and revoked member (%s)', (kind) => {
  let alliance: TestAlliance;
  const storage = new Map<string, NodeStorage>();
  const nodes = new Map<string, TestNode>();
  const at = (id: string) => nodes.get(id)!;
  let subscriber: WsClient;
  const rec: Record<string, string> = {};

  const create = async (n: TestNode, name: string) => {
    const r = await n.gql<{ createRecord: { id: string } }>(CREATE, {
      input: { kind: 'SHOP', name, identifiers: [{ type: 'DOMAIN', value: 'www.Cheap-Brand-Outlet.shop' }], categories: ['COUNTERFEIT'], status: 'CONFIRMED', confidence: 90 },
    });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!.createRecord.id;
  };
  const matchesOf = async (recordId: string) => {
    const r = await at('beta').gql<{ matches: { edges: Array<{ node: Match }> } }>(MATCHES, { filter: { recordId } }, 'analyst');
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!.matches.edges.map((e) => e.node);
  };
  const submit = async (text: string) => {
    for (const n of nodes.values()) await n.node.roster.submit(text).catch(() => undefined);
  };

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta']);
    for (const m of alliance.members) {
      storage.set(m.id, await memberStorage(kind));
      nodes.set(m.id, await startMember(alliance, m, storage.get(m.id)!));
    }
    await eventually(() => at('beta').node.exchange!.peers.counts().connected === 1, 20_000, 'beta connected to alpha');
    subscriber = await WsClient.init(at('beta').node.graphqlUrl, { authorization: `Bearer ${await at('beta').token('analyst')}` });
    await subscriber.next((m) => m.type === 'connection_ack');
    subscriber.subscribe('s', 'subscription { matchFound { id recordId origin } }');
    await waitForSubscribers(at('beta').node.graphqlUrl, 1);

    rec.alpha = await create(at('alpha'), 'Cheap Brand Outlet');
    await eventually(async () => (await at('beta').indicatorCount('alpha')) === 1, 20_000, "alpha's indicator at beta");
    rec.beta = await create(at('beta'), 'Outlet shop');
    await eventually(async () => (await matchesOf(rec.beta!)).length === 1, 20_000, 'match at beta');
  }, 90_000);

  afterAll(async () => {
    subscriber?.close();
    for (const n of nodes.values()) await n.stop().catch(() => undefined);
    for (const s of storage.values()) await s.drop?.();
  });

  it('while alpha is suspended: nothing new is raised with it, its open match stays', async () => {
    await submit(await alliance.next({ type: 'member.suspend', body: { id: 'alpha', reason: 'audit' } }));
    expect(at('beta').node.roster.state!.members.find((m) => m.id === 'alpha')!.status).toBe('SUSPENDED');
    const ownBefore = await at('beta').indicatorCount('beta');
    rec.beta2 = await create(at('beta'), 'Outlet shop, second account');
    await eventually(async () => (await at('beta').indicatorCount('beta')) === ownBefore + 1, 20_000, "beta's new indicator");
    expect(await matchesOf(rec.beta2)).toEqual([]);
    expect(await matchesOf(rec.beta!)).toMatchObject([{ state: 'NEW', origin: 'alpha' }]);
  });

  it('once alpha is reinstated, what it matched meanwhile is raised and pushed', async () => {
    const from = subscriber.messages.length;
    await submit(await alliance.next({ type: 'member.reinstate', body: { id: 'alpha' } }));
    const pushed = await subscriber.next((m) => m.type === 'next', { from });
    expect((pushed.payload as { data: { matchFound: Match } }).data.matchFound).toMatchObject({ recordId: rec.beta2, origin: 'alpha' });
    expect(await matchesOf(rec.beta2!)).toMatchObject([{ state: 'NEW', origin: 'alpha' }]);
  });

  it('once alpha is revoked, its indicators are purged and its matches retracted', async () => {
    await submit(await alliance.next({ type: 'member.revoke', body: { id: 'alpha', reason: 'left the alliance' } }));
    await eventually(async () => (await at('beta').indicatorCount('alpha')) === 0, 20_000, "alpha's indicators purged at beta");
    await eventually(async () => (await matchesOf(rec.beta!))[0]!.state === 'RETRACTED' && (await matchesOf(rec.beta2!))[0]!.state === 'RETRACTED', 20_000, 'matches retracted');
  });
});
