/**
 * What a member node believes of its peers, end to end on both storages: heads announcements are
 * judged before they are shown or chased (an origin that does not exist, the node's own origin beyond
 * its head, more than the peer can serve), a head past 2^31 is shown exactly and goes when its peer
 * goes, a fork's evidence is kept for admins, log lines name a peer's member apart from the node's
 * own, and the P2P listener's limits come from the configuration. Real member nodes over their own
 * storage on loopback; test hosts speak as members whose nodes are not running (member-peer.ts);
 * the outsider is plain TCP sockets.
 */
import type { PeerId } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchHash } from '../../../node/indicators/batch.ts';
import { loadMemberIdentity } from '../../../node/membership/keys.ts';
import { batchesTopic } from '../../../node/p2p/protocols.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { logCollector } from '../../helpers/api.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';
import { Outsider, tcpPort } from '../../helpers/p2p.ts';
import { Chain, PeerSource, startMemberPeer, type MemberPeer } from '../../helpers/member-peer.ts';

const CREATE = /* GraphQL */ `
  mutation ($input: RecordInput!) { createRecord(input: $input) { id } }
`;
const HEADS = /* GraphQL */ `
  query { network { heads { origin seq localSeq lag } } }
`;
const ALARMS = /* GraphQL */ `
  query { batchAlarms { id origin seq hash storedHash reason jws detectedAt } }
`;

interface Head {
  origin: string;
  seq: number;
  localSeq: number;
  lag: number;
}

interface Alarm {
  id: string;
  origin: string;
  seq: number;
  hash: string;
  storedHash: string | null;
  reason: string;
  jws: string;
  detectedAt: string;
}

async function heads(n: TestNode): Promise<Head[]> {
  const r = await n.gql<{ network: { heads: Head[] } }>(HEADS, {}, 'trust');
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data!.network.heads;
}

async function metric(n: TestNode, name: string, labels: Record<string, string>): Promise<number> {
  const m = await n.node.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

const penalties = (n: TestNode, reason: string) => metric(n, 'alliance_p2p_penalties_total', { reason });

async function chainLength(n: TestNode, origin: string): Promise<number> {
  return (await n.node.batches.head(origin))?.seq ?? 0;
}

/**
 * The keys of a JSON object text at its top level, in order and with repeats (JSON.parse keeps only
 * the last of two equal keys, which is how a repeated key loses information).
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const rest = text.slice(j + 1).trimStart();
      if (depth === 1 && rest.startsWith(':')) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return keys;
}

describe.each(STORAGES)('what a node believes of its peers (%s)', (kind) => {
  let alliance: TestAlliance;
  const storage = new Map<string, NodeStorage>();
  const peers: MemberPeer[] = [];
  const outsiders: Outsider[] = [];
  let alpha: TestNode;
  let beta: TestNode;
  // alpha's log, through a logger that names alpha's member as the demo's does.
  const log = logCollector('info');
  let m2: Chain;

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    for (const id of ['alpha', 'beta']) storage.set(id, await memberStorage(kind));
    alpha = await startMember(alliance, alliance.member('alpha'), storage.get('alpha')!, { ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS: '1000' }, log.logger.child({ member: 'alpha' }));
    beta = await startMember(alliance, alliance.member('beta'), storage.get('beta')!);
    await eventually(() => alpha.node.exchange!.peers.counts().connected === 1 && beta.node.exchange!.peers.counts().connected === 1, 20_000, 'alpha and beta connected');
    m2 = new Chain(alliance, await loadMemberIdentity(alliance.member('m2').dataDir));
    await m2.extend(12);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(outsiders.map((o) => o.stop()));
    await Promise.allSettled(peers.map((p) => p.stop()));
    await Promise.allSettled([alpha?.stop(), beta?.stop()]);
    for (const s of storage.values()) await s.drop?.();
  });

  const peer = async (id: string, source: PeerSource, to: TestNode[] = [alpha]): Promise<MemberPeer> => {
    const p = await startMemberPeer(alliance, id, to, source);
    peers.push(p);
    return p;
  };

  it('an origin that does not exist, the node\'s own beyond its head and more than the peer can serve are not shown, not chased, and cost the peer', async () => {
    const r = await alpha.gql(CREATE, { input: { kind: 'SELLER', name: 'Own head', identifiers: [{ type: 'EMAIL', value: 'own.head@example.com' }], categories: ['COUNTERFEIT'], status: 'CONFIRMED', confidence: 70 } });
    expect(r.body.errors).toBeUndefined();
    await eventually(async () => (await chainLength(alpha, 'alpha')) >= 1, 15_000, 'alpha to publish');
    const own = await chainLength(alpha, 'alpha');
    const before = { unknown: await penalties(alpha, 'unknown_origin'), own: await penalties(alpha, 'own_head'), unserved: await penalties(alpha, 'unserved_head') };

    // m1 relays m2's twelve batches, and claims 500 more of them, a seq 42 of an origin no roster
    // has, alpha's own chain 1000 past its head, and a roster 100 entries past alpha's (which would
    // leave the unknown origin unjudged if it were believed).
    const rosterSeq = alpha.node.roster.state!.seq;
    const source = new PeerSource();
    source.chains.set('m2', m2.batches);
    source.claims.set('m2', 512);
    source.claims.set('ghost', 42);
    source.claims.set('alpha', own + 1000);
    source.rosterClaim = { seq: rosterSeq + 100, head: 'B'.repeat(43) };
    const m1 = await peer('m1', source);

    await eventually(async () => (await chainLength(alpha, 'm2')) === 12, 20_000, 'the twelve batches m1 holds');
    await eventually(async () => {
      const h = await heads(alpha);
      return JSON.stringify(h.filter((x) => x.origin !== 'beta')) === JSON.stringify([
        { origin: 'alpha', seq: own, localSeq: own, lag: 0 },
        { origin: 'm2', seq: 12, localSeq: 12, lag: 0 },
      ]);
    }, 20_000, 'heads without what m1 cannot back');
    await eventually(async () => (await penalties(alpha, 'unserved_head')) > before.unserved, 20_000, 'the unserved claim judged');
    // Stays so across further announcements (heads every 500 ms here): the refuted claim is not believed again.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const h = await heads(alpha);
    expect(h.map((x) => x.origin)).not.toContain('ghost');
    expect(h.find((x) => x.origin === 'm2')).toEqual({ origin: 'm2', seq: 12, localSeq: 12, lag: 0 });
    expect(h.find((x) => x.origin === 'alpha')).toEqual({ origin: 'alpha', seq: own, localSeq: own, lag: 0 });
    expect(await metric(alpha, 'alliance_sync_lag_batches', { origin: 'm2' })).toBe(0);

    // Sync went after m2 only, from 1 on; never after the origin that does not exist or alpha's own.
    expect(source.requests.length).toBeGreaterThan(0);
    expect(source.requests.every((q) => q.origin === 'm2')).toBe(true);
    expect(source.requests[0]).toEqual({ origin: 'm2', from: 1 });
    expect(await penalties(alpha, 'unknown_origin')).toBeGreaterThan(before.unknown);
    expect(await penalties(alpha, 'own_head')).toBeGreaterThan(before.own);
    // The roster it claimed was asked for, and it had none of it: alpha's roster did not move.
    expect(source.rosterRequests).toContain(rosterSeq + 1);
    expect(alpha.node.roster.state!.seq).toBe(rosterSeq);
    expect(log.lines.some((l) => l.includes('peer announced heads it cannot hold') && l.includes('"rosterUnserved":true'))).toBe(true);
    // Three lies at least: 10 × 3², less at most 20 of positive topic scores.
    await eventually(() => alpha.node.exchange!.host.services.pubsub.getScore(m1.peerId) < -50, 10_000, 'm1 scored down');
    expect(alpha.node.exchange!.penalties.count(m1.peerId)).toBeGreaterThanOrEqual(3);
    // The log says what was refused, without the ids the peer made up.
    const refused = log.lines.filter((l) => l.includes('peer announced heads it cannot hold'));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.join('\n')).not.toContain('ghost');
    await m1.stop();
  });

  it('a head of 3,000,000,000 is shown exactly, is dropped once the peer cannot serve it, and goes with its peer', async () => {
    const local = await chainLength(alpha, 'm2');
    expect(local).toBe(12);
    const claimed = 3_000_000_000;
    const source = new PeerSource();
    source.chains.set('m2', m2.batches);
    source.claims.set('m2', claimed);
    const release = source.hold();
    const m3 = await peer('m3', source);

    // Past 2^31: GraphQL's Int would fail the whole query here.
    await eventually(async () => (await heads(alpha)).some((x) => x.origin === 'm2' && x.seq === claimed), 20_000, 'the claim shown');
    expect((await heads(alpha)).find((x) => x.origin === 'm2')).toEqual({ origin: 'm2', seq: claimed, localSeq: local, lag: claimed - local });
    expect(claimed - local).toBeGreaterThan(2 ** 31);
    expect(await metric(alpha, 'alliance_sync_lag_batches', { origin: 'm2' })).toBe(claimed - local);
    await eventually(() => source.requests.some((q) => q.origin === 'm2' && q.from === local + 1), 20_000, 'alpha asking m3 past its head');

    // m3 has nothing past seq 12 to give: its claim is dropped and it pays for it.
    const unserved = await penalties(alpha, 'unserved_head');
    release();
    await eventually(async () => (await penalties(alpha, 'unserved_head')) > unserved, 20_000, 'the claim judged');
    await eventually(async () => JSON.stringify((await heads(alpha)).find((x) => x.origin === 'm2')) === JSON.stringify({ origin: 'm2', seq: 12, localSeq: 12, lag: 0 }), 20_000, 'the claim dropped');
    expect(await metric(alpha, 'alliance_sync_lag_batches', { origin: 'm2' })).toBe(0);
    await m3.stop();

    // Another peer claims as much, and its sync request waits: the claim lasts as long as the peer.
    const source4 = new PeerSource();
    source4.chains.set('m2', m2.batches);
    source4.claims.set('m2', claimed + 99);
    source4.hold();
    const m4 = await peer('m4', source4);
    await eventually(async () => (await heads(alpha)).some((x) => x.origin === 'm2' && x.seq === claimed + 99), 20_000, 'the second claim shown');
    await m4.stop();
    await eventually(async () => JSON.stringify((await heads(alpha)).find((x) => x.origin === 'm2')) === JSON.stringify({ origin: 'm2', seq: 12, localSeq: 12, lag: 0 }), 20_000, 'the claim gone with its peer');
    expect(await metric(alpha, 'alliance_sync_lag_batches', { origin: 'm2' })).toBe(0);
  });

  it('a member that signs two batches at one seq leaves its evidence for admins, one per seq, newest first', async () => {
    const m5 = new Chain(alliance, await loadMemberIdentity(alliance.member('m5').dataDir));
    await m5.extend(100);
    const source = new PeerSource();
    source.chains.set('m5', m5.batches);
    source.announce = ['m5'];
    const p5 = await peer('m5', source);
    await eventually(async () => (await chainLength(alpha, 'm5')) === 100, 30_000, 'm5\'s hundred batches');
    source.announce = [];

    // Out of seq order, so that newest first is told apart from any order by seq.
    const forkSeqs = [10, 100, 1];
    const forks = [await m5.fork(10), await m5.fork(100), await m5.fork(1)];
    const rejected = () => metric(alpha, 'alliance_batches_rejected_total', { reason: 'fork' });
    const rejected0 = await rejected();
    for (const [i, f] of forks.entries()) {
      await p5.publish(f);
      await eventually(async () => (await rejected()) === rejected0 + i + 1, 20_000, `fork ${i + 1} refused`);
    }
    // m6 relays what m5 signed (any member may: batches are signed end to end); m5 has paid three
    // times already. Another batch at seq 10 is refused as well, but one piece of evidence per seq
    // is kept. A seq 101 continuing the forked seq 100 is a fork seen one batch later.
    const p6 = await peer('m6', new PeerSource());
    await p6.publish(await m5.fork(10));
    await eventually(async () => (await rejected()) === rejected0 + 4, 20_000, 'the second fork at seq 10 refused');
    const badPrev = await m5.sign(101, forks[1]!);
    const badPrev0 = await metric(alpha, 'alliance_batches_rejected_total', { reason: 'bad_prev' });
    await p6.publish(badPrev);
    await eventually(async () => (await metric(alpha, 'alliance_batches_rejected_total', { reason: 'bad_prev' })) === badPrev0 + 1, 20_000, 'seq 101 refused');
    // None of them was stored: the chain is m5's first one.
    expect((await alpha.node.batches.range('m5', 1, { limit: 256 })).map((j) => batchHash(j))).toEqual(m5.batches.map((j) => batchHash(j)));

    const r = await alpha.gql<{ batchAlarms: Alarm[] }>(ALARMS, {}, 'admin');
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    const alarms = r.body.data!.batchAlarms;
    // Newest first, by when they were seen: neither by seq as a number nor as text.
    expect(alarms.map((a) => a.seq)).toEqual([101, 1, 100, 10]);
    expect(alarms[0]).toMatchObject({ origin: 'm5', reason: 'bad_prev', hash: batchHash(badPrev), storedHash: batchHash(m5.batches[99]!), jws: badPrev });
    expect(alarms.slice(1).map((a) => ({ origin: a.origin, seq: a.seq, reason: a.reason, hash: a.hash, storedHash: a.storedHash, jws: a.jws }))).toEqual(
      [2, 1, 0].map((i) => ({ origin: 'm5', seq: forkSeqs[i]!, reason: 'fork', hash: batchHash(forks[i]!), storedHash: batchHash(m5.batches[forkSeqs[i]! - 1]!), jws: forks[i]! })),
    );
    expect(alarms.every((a) => !Number.isNaN(Date.parse(a.detectedAt)))).toBe(true);

    // A seq past 2^31 reads back exactly (no chain that long is signed here: the row is written as ingest writes it).
    await alpha.node.db.query('INSERT INTO batch_alarms (origin, seq, hash, stored_hash, reason, jws) VALUES ($1, $2::bigint, $3, $4, $5, $6)', ['m5', 3_000_000_000, batchHash(forks[0]!), batchHash(m5.batches[0]!), 'fork', forks[0]!]);
    const again = await alpha.gql<{ batchAlarms: Alarm[] }>(ALARMS, {}, 'admin');
    expect(again.body.errors, JSON.stringify(again.body.errors)).toBeUndefined();
    expect(again.body.data!.batchAlarms.map((a) => a.seq)).toEqual([3_000_000_000, 101, 1, 100, 10]);

    // Admins only.
    for (const role of ['trust', 'analyst'] as const) {
      const denied = await alpha.gql(ALARMS, {}, role);
      expect(denied.body.errors?.[0]?.extensions?.code, role).toBe('FORBIDDEN');
    }
  });

  it('log lines about a peer name its member apart from the node\'s own member', async () => {
    const exchange = alpha.node.exchange!;
    const pubsub = exchange.host.services.pubsub;
    const betaId = beta.node.exchange!.host.peerId;
    // Lose beta from gossip while its connection stays: the repair logs, hangs up and redials it.
    (pubsub as unknown as { removePeer(id: PeerId): void }).removePeer(betaId);
    await eventually(() => log.lines.some((l) => l.includes('connected peer missing from gossip')), 30_000, 'the repair line');
    await eventually(() => pubsub.getSubscribers(batchesTopic(alliance.id)).some((p) => p.equals(betaId)), 30_000, 'beta back in gossip');
    await eventually(() => log.lines.filter((l) => l.includes('"msg":"peer connected"')).length >= 2, 20_000, 'beta connected again');

    const about = ['connected peer missing from gossip; reconnecting', 'peer connected', 'peer disconnected', 'peer announced heads it cannot hold', 'peer announced batches it could not serve'];
    const lines = log.lines.filter((l) => about.some((m) => l.includes(`"msg":"${m}"`)));
    for (const line of lines) {
      const keys = topLevelKeys(line);
      expect(keys.filter((k) => k === 'member'), line).toEqual(['member']);
      expect(new Set(keys).size, line).toBe(keys.length);
      const parsed = JSON.parse(line) as { member: string; peerMember?: string };
      expect(parsed.member).toBe('alpha');
      expect(parsed.peerMember, line).toMatch(/^(beta|m\d)$/);
    }
    expect(new Set(lines.map((l) => (JSON.parse(l) as { msg: string }).msg))).toEqual(new Set(about));
    // Not one line of the node's repeats a key.
    for (const line of log.lines) {
      const keys = topLevelKeys(line);
      expect(new Set(keys).size, line).toBe(keys.length);
    }
  });

  it('the listener takes its limits from the configuration, and an outsider does not keep a member away', async () => {
    const port = tcpPort(alliance.member('alpha').p2p);
    const idle = new Outsider(port);
    outsiders.push(idle);
    const started = performance.now();
    idle.hold('127.0.0.2', 1, { reopen: false });
    // ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS=1000 at alpha.
    await eventually(() => idle.closedByNode === 1, 5000, 'alpha to close the idle connection');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);

    // Ten idle connections, re-opened whenever closed; beta is hung up on and must get back each time.
    const o = new Outsider(port);
    outsiders.push(o);
    o.hold('127.0.0.3', 10);
    await eventually(() => o.opened >= 10, 5000, 'the outsider\'s connections');
    const betaId = beta.node.exchange!.host.peerId;
    for (let i = 0; i < 3; i++) {
      const before = new Set(alpha.node.exchange!.host.getConnections(betaId).map((c) => c.id));
      await alpha.node.exchange!.host.hangUp(betaId);
      // Beta may be back before anyone looks: what counts is that the old connections are gone.
      await eventually(() => alpha.node.exchange!.host.getConnections(betaId).every((c) => !before.has(c.id)), 5000, 'the hang-up');
      await eventually(() => alpha.node.exchange!.peers.isConnected(betaId.toString()), 10_000, `beta back (${i + 1})`);
    }
    expect(o.openFrom('127.0.0.3')).toBeGreaterThan(0);
  });
});
