/**
 * A running alliance whose roster passes ten entries (and then a hundred) keeps restarting: the
 * entries reach the nodes while they run (one by GraphQL, the other by gossip), the nodes stop
 * cleanly, and start again from what they stored. Once, a roster read back in text order (0, 1, 10,
 * 11, 2, ...) made every restart past seq 9 fail with ROSTER_STORAGE_INVALID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGES } from '../../helpers/storage.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';

const SUBMIT = /* GraphQL */ `mutation ($signed: String!) { submitRosterEntry(signed: $signed) { applied seq } }`;
const ALLIANCE = /* GraphQL */ `query { alliance { rosterHead { seq } members { id status } } }`;

describe.each(STORAGES)('a node restarts with a roster past 9 and 99 entries (%s)', (kind) => {
  let alliance: TestAlliance;
  const storage = new Map<string, NodeStorage>();
  const nodes = new Map<string, TestNode>();
  const at = (id: string) => nodes.get(id)!;

  const start = async (id: string) => nodes.set(id, await startMember(alliance, alliance.member(id), storage.get(id)!));
  const stopAll = async () => {
    for (const n of nodes.values()) await n.stop();
    nodes.clear();
  };
  /** Suspends and reinstates beta in turn through alpha's GraphQL API until the head is `seq`. */
  const advanceTo = async (seq: number) => {
    while (alliance.state.seq < seq) {
      const suspended = alliance.state.members.find((m) => m.id === 'beta')!.status === 'SUSPENDED';
      const text = await alliance.next({ type: suspended ? 'member.reinstate' : 'member.suspend', body: { id: 'beta' } });
      const r = await at('alpha').gql<{ submitRosterEntry: { applied: boolean; seq: number } }>(SUBMIT, { signed: text }, 'admin');
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      expect(r.body.data!.submitRosterEntry).toEqual({ applied: true, seq: alliance.state.seq });
    }
  };
  const heads = async () => {
    const out: Record<string, number> = {};
    for (const [id, n] of nodes) {
      const r = await n.gql<{ alliance: { rosterHead: { seq: number } } }>(ALLIANCE, {}, 'admin');
      expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
      out[id] = r.body.data!.alliance.rosterHead.seq;
    }
    return out;
  };

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta']);
    for (const m of alliance.members) {
      storage.set(m.id, await memberStorage(kind));
      await start(m.id);
    }
    await eventually(() => at('beta').node.exchange!.peers.counts().connected === 1, 20_000, 'beta connected to alpha');
  }, 90_000);

  afterAll(async () => {
    for (const n of nodes.values()) await n.stop().catch(() => undefined);
    for (const s of storage.values()) await s.drop?.();
  });

  it('past seq 9: both nodes hold seq 11, stop, and start again at seq 11', async () => {
    expect(alliance.state.seq).toBe(3);
    await advanceTo(11);
    await eventually(() => at('beta').node.roster.state!.seq === 11, 20_000, 'beta at seq 11 by gossip');
    await stopAll();
    await start('alpha');
    await start('beta');
    expect(await heads()).toEqual({ alpha: 11, beta: 11 });
    expect(at('beta').node.roster.state).toEqual(alliance.state);
  }, 90_000);

  it('past seq 99: the entries keep applying, and both nodes start again at seq 101', async () => {
    await eventually(() => at('beta').node.exchange!.peers.counts().connected === 1, 20_000, 'beta connected again');
    await advanceTo(101);
    await eventually(() => at('beta').node.roster.state!.seq === 101, 30_000, 'beta at seq 101 by gossip');
    await stopAll();
    await start('beta');
    await start('alpha');
    expect(await heads()).toEqual({ alpha: 101, beta: 101 });
    expect(at('alpha').node.roster.state).toEqual(alliance.state);
    // Seq 4 suspended beta, 5 reinstated it, ...: at an odd seq it is ACTIVE again.
    expect(alliance.state.members.find((m) => m.id === 'beta')!.status).toBe('ACTIVE');
  }, 120_000);
});
