/**
 * End to end: member nodes started with `startNode` over their own storage, connected over libp2p on
 * loopback, exchanging what their records yield. Runs on PostgreSQL and on embedded PGlite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { createHost } from '../../../node/p2p/host.ts';
import { requestHeads } from '../../../node/p2p/protocols.ts';
import { WireError } from '../../../node/p2p/wire.ts';
import { deriveDigest } from '../../../node/indicators/derive.ts';
import { epochKey } from '../../../node/membership/epoch-keyring.ts';
import { loadEpochKeys } from '../../../node/membership/epoch-keys.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';

const CREATE = /* GraphQL */ `
  mutation ($input: RecordInput!) { createRecord(input: $input) { id } }
`;
const SET_STATUS = /* GraphQL */ `
  mutation ($id: ID!, $status: RecordStatus!) { setRecordStatus(id: $id, status: $status) { id status } }
`;
const NETWORK = /* GraphQL */ `
  query { network { peerId listenAddrs peers { memberId peerId connected lastSeen } heads { origin seq localSeq lag } } }
`;

async function createRecord(n: TestNode, identifiers: Array<{ type: string; value: string }>, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await n.gql<{ createRecord: { id: string } }>(CREATE, { input: { kind: 'SELLER', name: 'Seller', identifiers: identifiers.map((i) => ({ ...i, type: i.type.toUpperCase() })), categories: ['COUNTERFEIT'], status: 'CONFIRMED', confidence: 80, ...extra } });
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data!.createRecord.id;
}

async function digestsAt(n: TestNode, origin: string): Promise<Array<{ type: string; digest: string; status: string; epoch: number }>> {
  const { rows } = await n.node.db.query<{ type: string; digest: string; status: string; epoch: number }>(
    'SELECT type, digest, status, epoch FROM indicators WHERE origin = $1 ORDER BY type, digest',
    [origin],
  );
  return rows;
}

describe.each(STORAGES)('a three-member alliance on loopback (%s)', (kind) => {
  let alliance: TestAlliance;
  const storage = new Map<string, NodeStorage>();
  const nodes = new Map<string, TestNode>();
  const at = (id: string) => nodes.get(id)!;

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta', 'gamma']);
    for (const m of alliance.members) {
      storage.set(m.id, await memberStorage(kind));
      nodes.set(m.id, await startMember(alliance, m, storage.get(m.id)!));
    }
    await eventually(async () => {
      for (const n of nodes.values()) if (n.node.exchange!.peers.counts().connected < 2) return false;
      return true;
    }, 20_000, 'every node connected to both others');
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes.values()) await n.stop().catch(() => undefined);
    for (const s of storage.values()) await s.drop?.();
  });

  it('a record added at alpha is held by beta and gamma, under the digests of epoch 1', async () => {
    await createRecord(at('alpha'), [
      { type: 'phone', value: '+1 202 555 0143' },
      { type: 'email', value: 'Shop.Owner@example.com' },
    ]);
    await eventually(async () => (await at('beta').indicatorCount('alpha')) === 2 && (await at('gamma').indicatorCount('alpha')) === 2, 15_000, 'alpha indicators at beta and gamma');
    const [k] = loadEpochKeys(alliance.member('beta').dataDir, { alliance: alliance.id }).filter((x) => x.epoch === 1);
    const key = epochKey(k!.key);
    const expected = [deriveDigest(key, 'email', 'shop.owner@example.com'), deriveDigest(key, 'phone', '+12025550143')].sort();
    const held = await digestsAt(at('gamma'), 'alpha');
    expect(held.map((r) => r.digest).sort()).toEqual(expected);
    expect(held.every((r) => r.status === 'CONFIRMED' && r.epoch === 1)).toBe(true);
  });

  it('a retraction (status CLEARED) removes the indicators everywhere', async () => {
    const id = await createRecord(at('beta'), [{ type: 'domain', value: 'fake-brand-outlet.shop' }]);
    await eventually(async () => (await at('alpha').indicatorCount('beta')) === 1 && (await at('gamma').indicatorCount('beta')) === 1, 15_000, 'beta indicator spread');
    const r = await at('beta').gql(SET_STATUS, { id, status: 'CLEARED' });
    expect(r.body.errors).toBeUndefined();
    await eventually(async () => (await at('alpha').indicatorCount('beta')) === 0 && (await at('gamma').indicatorCount('beta')) === 0, 15_000, 'beta indicator retracted');
  });

  it('a node offline while others publish catches up on restart, with no gaps or duplicates', async () => {
    await at('gamma').stop();
    nodes.delete('gamma');
    for (let i = 0; i < 30; i++) {
      await createRecord(at('alpha'), [{ type: 'email', value: `seller${i}@example.com` }]);
    }
    await at('alpha').node.publisher!.flush();
    const alphaCount = await at('alpha').indicatorCount('alpha');
    expect(alphaCount).toBe(32);
    await eventually(async () => (await at('beta').indicatorCount('alpha')) === alphaCount, 15_000, 'beta caught up live');
    nodes.set('gamma', await startMember(alliance, alliance.member('gamma'), storage.get('gamma')!));
    await eventually(async () => (await at('gamma').indicatorCount('alpha')) === alphaCount, 20_000, 'gamma caught up after restart').catch(async (err: Error) => {
      throw new Error(`${err.message}: gamma holds ${await at('gamma').indicatorCount('alpha')} of alpha's ${alphaCount} indicators`);
    });
    const seqs = await at('gamma').node.db.query<{ n: string; max: string }>("SELECT count(*)::text AS n, max(seq)::text AS max FROM batches WHERE origin = 'alpha'");
    expect(Number(seqs.rows[0]!.n)).toBe(Number(seqs.rows[0]!.max));
    const alphaHead = (await at('alpha').node.batches.head('alpha'))!;
    expect(Number(seqs.rows[0]!.max)).toBe(alphaHead.seq);
  });

  it('network shows each peer connected and every origin without lag', async () => {
    await at('alpha').node.exchange!.syncNow();
    await eventually(async () => {
      const r = await at('alpha').gql<{ network: { peers: Array<{ connected: boolean }> } }>(NETWORK, {}, 'trust');
      return r.body.data?.network.peers.filter((p) => p.connected).length === 2;
    }, 15_000, 'alpha connected to both peers again');
    const r = await at('alpha').gql<{ network: { peerId: string; listenAddrs: string[]; peers: Array<{ memberId: string; connected: boolean; lastSeen: string | null }>; heads: Array<{ origin: string; seq: number; localSeq: number; lag: number }> } }>(NETWORK, {}, 'trust');
    expect(r.body.errors).toBeUndefined();
    const net = r.body.data!.network;
    expect(net.peerId).toBe(alliance.member('alpha').request.peerId);
    expect(net.listenAddrs.length).toBeGreaterThan(0);
    expect(net.peers.map((p) => p.memberId).sort()).toEqual(['beta', 'gamma']);
    expect(net.peers.every((p) => p.connected && p.lastSeen !== null)).toBe(true);
    const alphaHead = net.heads.find((h) => h.origin === 'alpha')!;
    expect(alphaHead).toMatchObject({ lag: 0 });
    expect(alphaHead.localSeq).toBeGreaterThan(1);
    // Analysts may not read the network.
    const denied = await at('alpha').gql(NETWORK, {}, 'analyst');
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('a peer that is not a member is refused, inbound and outbound', async () => {
    const outsider = await createHost({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', isAllowed: () => true });
    try {
      // Inbound: alpha's gater hangs up on the outsider, whose dial may complete its side first.
      await outsider.dial(multiaddr(alliance.member('alpha').p2p), { signal: AbortSignal.timeout(5000) }).then(
        () => undefined,
        () => undefined,
      );
      await expect(requestHeads(outsider, at('alpha').node.exchange!.host.peerId, alliance.id)).rejects.toBeInstanceOf(WireError);
      await eventually(() => outsider.getConnections().length === 0, 5000, 'the outsider hung up');
      expect(at('alpha').node.exchange!.host.getConnections(outsider.peerId)).toHaveLength(0);
      // Outbound: alpha will not dial it either.
      await expect(at('alpha').node.exchange!.host.dial(outsider.peerId, { signal: AbortSignal.timeout(5000) })).rejects.toThrow(/gater|denied|refused/i);
      const metrics = await at('alpha').node.metrics.registry.getSingleMetricAsString('alliance_p2p_peers');
      expect(metrics).toMatch(/state="known"\} 2/);
    } finally {
      await outsider.stop();
    }
  });
});
