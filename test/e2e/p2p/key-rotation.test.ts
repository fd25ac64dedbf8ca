/**
 * A member rotates its signing key in place (alliance rotate-keys) while its node runs. Once the
 * member.update reaches the node, it publishes under the new key without a restart, and peers
 * accept those batches; batches signed before stay valid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateMemberKeys } from '../../../node/membership/keys.ts';
import { memberRotationFromRequest } from '../../../node/membership/proposal-build.ts';
import { memberById } from '../../../node/membership/roster.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';

const CREATE = /* GraphQL */ `mutation ($input: RecordInput!) { createRecord(input: $input) { id } }`;

async function createRecord(n: TestNode, email: string): Promise<void> {
  const r = await n.gql(CREATE, { input: { kind: 'SELLER', name: 'Seller', identifiers: [{ type: 'EMAIL', value: email }], status: 'CONFIRMED' } });
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
}

async function batchesOf(n: TestNode, origin: string): Promise<Array<{ seq: number; kid: string }>> {
  const { rows } = await n.node.db.query<{ seq: string; kid: string }>('SELECT seq::text AS seq, kid FROM batches WHERE origin = $1 ORDER BY seq', [origin]);
  return rows.map((r) => ({ seq: Number(r.seq), kid: r.kid }));
}

describe.each(STORAGES)('signing key rotated under a running node (%s)', (kind) => {
  let alliance: TestAlliance;
  const storage = new Map<string, NodeStorage>();
  const nodes = new Map<string, TestNode>();
  const at = (id: string) => nodes.get(id)!;

  beforeAll(async () => {
    alliance = await TestAlliance.found(['rot-a', 'rot-b']);
    for (const m of alliance.members) {
      storage.set(m.id, await memberStorage(kind));
      nodes.set(m.id, await startMember(alliance, m, storage.get(m.id)!));
    }
    await eventually(() => at('rot-a').node.exchange!.peers.counts().connected === 1 && at('rot-b').node.exchange!.peers.counts().connected === 1, 20_000, 'both nodes connected');
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes.values()) await n.stop().catch(() => undefined);
    for (const s of storage.values()) await s.drop?.();
  });

  it('publishes under the new kid once the member.update applies, and the peer accepts it', async () => {
    const a = at('rot-a');
    const b = at('rot-b');
    const oldKid = memberById(alliance.state, 'rot-a')!.signingKeys[0]!.kid;
    await createRecord(a, 'before.rotation@example.com');
    await eventually(async () => (await b.indicatorCount('rot-a')) === 1, 15_000, 'the first record at rot-b');

    // The member rotates in place; the node keeps running and keeps signing with the old key.
    const rotated = await rotateMemberKeys(a.member.dataDir);
    expect(rotated.signingKid).not.toBe(oldKid);
    await createRecord(a, 'between.rotation@example.com');
    await eventually(async () => (await b.indicatorCount('rot-a')) === 2, 15_000, 'the second record at rot-b');
    expect((await batchesOf(a, 'rot-a')).map((x) => x.kid)).toEqual([oldKid, oldKid]);

    // The admins' member.update reaches the node (submitted at the peer, relayed by gossip).
    const { body } = await memberRotationFromRequest(memberById(alliance.state, 'rot-a')!, rotated.request as unknown as Record<string, unknown>, 'request');
    const entry = await alliance.next({ type: 'member.update', body });
    expect((await b.node.roster.submit(entry)).applied).toBe(true);
    await eventually(async () => memberById((await a.node.roster.refresh())!, 'rot-a')!.signingKeys.some((k) => k.kid === rotated.signingKid), 15_000, 'the rotation at rot-a');

    await createRecord(a, 'after.rotation@example.com');
    await eventually(async () => (await b.indicatorCount('rot-a')) === 3, 15_000, 'the third record at rot-b');
    const held = await batchesOf(b, 'rot-a');
    expect(held.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(held.map((x) => x.kid)).toEqual([oldKid, oldKid, rotated.signingKid]);
    expect(await batchesOf(a, 'rot-a')).toEqual(held);
  }, 60_000);
});
