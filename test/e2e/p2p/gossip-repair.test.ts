/**
 * A connected member that gossipsub has lost track of (its gossip stream died with one of two
 * connections, the other stayed open) is hung up on and redialed, after which gossip flows again.
 */
import type { PeerId } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchesTopic } from '../../../node/p2p/protocols.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';

const CREATE = /* GraphQL */ `
  mutation ($input: RecordInput!) { createRecord(input: $input) { id } }
`;

describe('gossip state repair (PGlite)', () => {
  let alliance: TestAlliance;
  const storage: NodeStorage[] = [];
  let alpha: TestNode;
  let beta: TestNode;
  let topic: string;

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta']);
    topic = batchesTopic(alliance.id);
    storage.push(await memberStorage('pglite'), await memberStorage('pglite'));
    alpha = await startMember(alliance, alliance.member('alpha'), storage[0]!);
    beta = await startMember(alliance, alliance.member('beta'), storage[1]!);
    await eventually(
      () => [alpha, beta].every((n) => n.node.exchange!.host.services.pubsub.getSubscribers(topic).length === 1),
      30_000,
      'alpha and beta to see each other subscribed',
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([alpha?.stop(), beta?.stop()]);
    for (const s of storage) await s.drop?.();
  });

  it('a connected peer missing from gossip is reconnected, counted, and gets batches by gossip again', async () => {
    const exchange = alpha.node.exchange!;
    const pubsub = exchange.host.services.pubsub;
    const betaId = beta.node.exchange!.host.peerId;
    // What gossipsub does when the stream it read from a peer fails while another connection stays up.
    (pubsub as unknown as { removePeer(id: PeerId): void }).removePeer(betaId);
    expect(pubsub.getSubscribers(topic)).toEqual([]);
    expect(exchange.peers.status().find((p) => p.memberId === 'beta')?.connected).toBe(true);
    const connectionsBefore = exchange.host.getConnections(betaId).map((c) => c.id);

    await eventually(() => pubsub.getSubscribers(topic).some((p) => p.equals(betaId)), 30_000, 'beta back among alpha\'s subscribers');
    // Not the same connections: the old ones were closed and beta was dialed afresh.
    expect(exchange.host.getConnections(betaId).some((c) => connectionsBefore.includes(c.id))).toBe(false);
    const reconnects = await exchange.metrics.gossipReconnects.get();
    expect(reconnects.values[0]!.value).toBeGreaterThanOrEqual(1);

    // Gossip flows both ways again: a record written at beta reaches alpha without waiting for a heads exchange.
    let delivered = 0;
    const onMessage = () => delivered++;
    pubsub.addEventListener('message', onMessage);
    try {
      const r = await beta.gql(CREATE, {
        input: { kind: 'SELLER', name: 'Repair check', identifiers: [{ type: 'EMAIL', value: 'repair.check@example.com' }], categories: ['COUNTERFEIT'], status: 'CONFIRMED', confidence: 70 },
      });
      expect(r.body.errors).toBeUndefined();
      await eventually(async () => (await alpha.indicatorCount('beta')) === 1, 15_000, 'the indicator at alpha');
      expect(delivered).toBeGreaterThanOrEqual(1);
    } finally {
      pubsub.removeEventListener('message', onMessage);
    }
  }, 60_000);
});
