/**
 * Bad inputs and faults of the exchange, end to end (docs/architecture.md, "The exchange"; schema/wire.md §9, §10): real
 * member nodes over their own storage, on loopback, attacked by a test libp2p host that speaks as a
 * member whose node is not running (its own peer key, so the gater admits it), publishing crafted
 * batches on the batches topic and writing raw bytes to the heads and sync protocols. For each case:
 * nothing is stored, the refusal is counted in the metrics, and a forgery costs the sender its score.
 *
 * The last part runs a node as a child process, kills it (SIGKILL) in the middle of catching up on
 * thousands of batches and restarts it: it must converge with no loss and no duplicates.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { CompactSign } from 'jose';
import type { Stream } from '@libp2p/interface';
import { createHost, type Host } from '../../../node/p2p/host.ts';
import {
  batchesTopic,
  headsProtocol,
  registerExchangeProtocols,
  requestHeads,
  requestSync,
  rosterTopic,
  syncProtocol,
  type ExchangeSource,
  type HeadsResponse,
} from '../../../node/p2p/protocols.ts';
import { Deadline, encodeFrame, encodeVarint, FramedStream } from '../../../node/p2p/wire.ts';
import { batchHash, signBatch, type UnsignedBatch } from '../../../node/indicators/batch.ts';
import { toWireTime } from '../../../node/encoding/time.ts';
import type { Indicator } from '../../../node/indicators/indicator.ts';
import { loadMemberIdentity, type MemberIdentity } from '../../../node/membership/keys.ts';
import { createPgDatabase, type StorageKind } from '../../helpers/storage.ts';
import { startNodeProcess, type StartedNode } from '../../helpers/cli.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------------------------
// Batches

/** One well-formed indicator with a random digest and ref (nodes store digests, they cannot judge them). */
function item(): Indicator {
  const now = Date.now();
  return {
    type: 'email',
    digest: randomBytes(32).toString('base64url'),
    op: 'add',
    ref: randomBytes(16).toString('base64url'),
    categories: ['COUNTERFEIT'],
    status: 'CONFIRMED',
    confidence: 80,
    firstSeen: new Date(now).toISOString().slice(0, 10),
    expiresAt: toWireTime(new Date(now + 30 * 86_400_000)),
  };
}

/** A member's chain as the test signs it: the next batch continues seq and prev. */
class Chain {
  readonly batches: string[] = [];
  readonly alliance: TestAlliance;
  readonly identity: MemberIdentity;
  constructor(alliance: TestAlliance, identity: MemberIdentity) {
    this.alliance = alliance;
    this.identity = identity;
  }

  get origin(): string {
    return this.identity.profile.id;
  }

  /** Signs the next batch of this chain (and keeps it), `fields` overriding the defaults. */
  async next(fields: Partial<UnsignedBatch> = {}): Promise<string> {
    const seq = this.batches.length + 1;
    const jws = await sign(this.identity, {
      v: 1,
      alliance: this.alliance.id,
      origin: this.origin,
      epoch: this.alliance.state.epoch,
      seq,
      prev: seq === 1 ? null : batchHash(this.batches.at(-1)!),
      createdAt: toWireTime(new Date()),
      items: [item()],
      ...fields,
    });
    this.batches.push(jws);
    return jws;
  }
}

function sign(identity: MemberIdentity, batch: UnsignedBatch): Promise<string> {
  return signBatch(batch, { privateKey: identity.signingKey.privateKey, kid: identity.signingKey.kid });
}

/** A first batch of `identity`, not part of any chain the test keeps. */
function loose(alliance: TestAlliance, identity: MemberIdentity, fields: Partial<UnsignedBatch> = {}): Promise<string> {
  return new Chain(alliance, identity).next(fields);
}

/** Replaces the character at `index` of part `part` (0 header, 1 payload, 2 signature) by another base64url one. */
function flip(jws: string, part: 1 | 2, index: number): string {
  const parts = jws.split('.');
  const s = parts[part]!;
  const c = s[index]!;
  parts[part] = s.slice(0, index) + (c === 'A' ? 'B' : 'A') + s.slice(index + 1);
  return parts.join('.');
}

/** A batch of format version 2, correctly signed: what a newer member could publish (schema/wire.md §8). */
async function versionTwo(alliance: TestAlliance, identity: MemberIdentity): Promise<string> {
  const kid = identity.signingKey.kid;
  const i = item();
  const payload =
    `{"alliance":"${alliance.id}","createdAt":"${toWireTime(new Date())}","epoch":${alliance.state.epoch},"items":[` +
    `{"categories":["COUNTERFEIT"],"confidence":${i.confidence},"digest":"${i.digest}","expiresAt":"${i.expiresAt}","firstSeen":"${i.firstSeen}","op":"add","ref":"${i.ref}","status":"CONFIRMED","type":"email"}` +
    `],"kid":"${kid}","origin":"${identity.profile.id}","prev":null,"seq":1,"v":2}`;
  return new CompactSign(enc(payload)).setProtectedHeader({ alg: 'EdDSA', kid, typ: 'alliance-batch+jws' }).sign(identity.signingKey.privateKey);
}

// ---------------------------------------------------------------------------------------------
// Observing a node

async function metric(n: TestNode, name: string, labels: Record<string, string>): Promise<number> {
  const m = await n.node.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

const rejected = (n: TestNode, reason: string) => metric(n, 'alliance_batches_rejected_total', { reason });
const received = (n: TestNode, result: string) => metric(n, 'alliance_batches_received_total', { result });
const streamErrors = (n: TestNode, protocol: string, code: string) => metric(n, 'alliance_stream_errors_total', { protocol, code });

async function rowCounts(n: TestNode): Promise<{ batches: number; indicators: number }> {
  const { rows } = await n.node.db.query<{ b: string; i: string }>('SELECT (SELECT count(*) FROM batches)::text AS b, (SELECT count(*) FROM indicators)::text AS i');
  return { batches: Number(rows[0]!.b), indicators: Number(rows[0]!.i) };
}

/** The stored chain of `origin` at `n`: seq and hash, in seq order. */
async function chainAt(n: TestNode, origin: string): Promise<Array<{ seq: number; hash: string }>> {
  const { rows } = await n.node.db.query<{ seq: string; hash: string }>('SELECT seq::text AS seq, hash FROM batches WHERE origin = $1 ORDER BY seq', [origin]);
  return rows.map((r) => ({ seq: Number(r.seq), hash: r.hash }));
}

function scoreAt(n: TestNode, peerId: string): number {
  return n.node.exchange!.host.services.pubsub.getScore(peerId);
}

function metricsUrl(n: TestNode): string {
  return n.node.graphqlUrl.replace(/\/graphql$/, '/metrics');
}

// ---------------------------------------------------------------------------------------------
// A member peer played by the test

/** What a test peer serves on heads and sync: `chains[origin]` in seq order from 1. */
class MemorySource implements ExchangeSource {
  readonly chains = new Map<string, string[]>();
  /** Origins announced on heads (none by default: a node then learns of batches only from gossip). */
  announce: string[] = [];
  /** Sync requests wait for this while set. */
  gate: Promise<void> | undefined;
  /** Answer the next sync request from seq 1 whatever its `from` (a peer replaying what the node holds). */
  replayOnce = false;
  readonly requests: Array<{ origin: string; from: number }> = [];

  async heads(): Promise<HeadsResponse> {
    const origins = this.announce.map((origin) => {
      const list = this.chains.get(origin) ?? [];
      return { origin, seq: list.length, hash: batchHash(list.at(-1)!) };
    });
    return { roster: null, origins };
  }

  async batches(origin: string, from: number, limit: number): Promise<{ items: string[]; more: boolean }> {
    this.requests.push({ origin, from });
    if (this.gate !== undefined) await this.gate;
    const list = this.chains.get(origin) ?? [];
    const start = this.replayOnce ? 0 : from - 1;
    this.replayOnce = false;
    return { items: list.slice(start, start + limit), more: start + limit < list.length };
  }

  async rosterEntries(): Promise<{ items: string[]; more: boolean }> {
    return { items: [], more: false };
  }
}

interface Peer {
  id: string;
  identity: MemberIdentity;
  host: Host;
  peerId: string;
  source: MemorySource;
  publish(jws: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a libp2p host with member `id`'s own peer key, subscribed to the alliance's two topics and
 * serving heads and sync from a MemorySource, and connects it to `nodes`. It listens on the address
 * the roster lists for the member (so the nodes dial it too) unless `rosterAddr` is false.
 */
async function startPeer(alliance: TestAlliance, id: string, nodes: TestNode[], opts: { rosterAddr?: boolean } = {}): Promise<Peer> {
  const member = alliance.member(id);
  const identity = await loadMemberIdentity(member.dataDir);
  const topics = [batchesTopic(alliance.id), rosterTopic(alliance.id)];
  const host = await createHost({
    privateKey: identity.peer.privateKey,
    listen: opts.rosterAddr === false ? '/ip4/127.0.0.1/tcp/0' : member.p2p,
    isAllowed: () => true,
    topics: topics.map((topic) => ({ topic })),
  });
  const source = new MemorySource();
  const protocols = await registerExchangeProtocols(host, {
    alliance: alliance.id,
    source,
    // Held sync requests must outlive the test's checks.
    limits: { timeoutMs: 30_000 },
  });
  for (const t of topics) host.services.pubsub.subscribe(t);
  const peerId = host.peerId.toString();
  for (const n of nodes) {
    const nodeHost = n.node.exchange!.host;
    await host.dial(nodeHost.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) });
  }
  await eventually(
    () =>
      nodes.every((n) => {
        const nodeHost = n.node.exchange!.host;
        const theirs = host.services.pubsub.getSubscribers(topics[0]!).some((p) => p.equals(nodeHost.peerId));
        const ours = nodeHost.services.pubsub.getSubscribers(topics[0]!).some((p) => p.toString() === peerId);
        return theirs && ours;
      }),
    20_000,
    `${id}'s host and the nodes to see each other's subscriptions`,
  );
  return {
    id,
    identity,
    host,
    peerId,
    source,
    async publish(jws) {
      await host.services.pubsub.publish(topics[0]!, enc(jws));
    },
    async stop() {
      await protocols.unregister().catch(() => undefined);
      await host.stop();
    },
  };
}

/** Opens a raw stream to `n` on `protocol`, writes `bytes` (closing its side unless `keepOpen`), and reads every frame back. */
async function rawRequest(from: Host, n: TestNode, protocol: string, bytes: Uint8Array, opts: { keepOpen?: boolean } = {}): Promise<{ frames: unknown[]; reset: boolean; ms: number }> {
  const started = performance.now();
  const stream: Stream = await from.dialProtocol(n.node.exchange!.host.peerId, protocol, { signal: AbortSignal.timeout(10_000) });
  const deadline = new Deadline(15_000);
  const io = new FramedStream(stream, { signal: deadline.signal, maxBufferBytes: 1 << 20 });
  const frames: unknown[] = [];
  try {
    if (bytes.byteLength > 0) stream.send(bytes);
    if (opts.keepOpen !== true) await io.closeWrite();
    for (;;) {
      const f = await io.readJson(1 << 20);
      if (f === null) return { frames, reset: false, ms: performance.now() - started };
      frames.push(f);
    }
  } catch {
    return { frames, reset: true, ms: performance.now() - started };
  } finally {
    deadline.clear();
    io.abort(new Error('done'));
  }
}

const SUBMIT = /* GraphQL */ `
  mutation ($signed: String!) { submitRosterEntry(signed: $signed) { applied seq } }
`;

/** Hands a roster entry to both nodes the ways an admin would: GraphQL on the first, the store on the second. */
async function submitEntry(nodes: TestNode[], text: string): Promise<void> {
  const [first, ...rest] = nodes;
  const r = await first!.gql<{ submitRosterEntry: { applied: boolean } }>(SUBMIT, { signed: text }, 'admin');
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  for (const n of rest) await n.node.roster.submit(text);
}

// ---------------------------------------------------------------------------------------------

const KINDS: StorageKind[] = ['pg', 'pglite'];

describe.each(KINDS)('a member peer sending bad batches and bytes (%s)', (kind) => {
  /** The full set on PostgreSQL; on PGlite the storage-facing cases (forgery, gap and sync, replay). */
  const full = kind === 'pg';
  let alliance: TestAlliance;
  const storage = new Map<string, NodeStorage>();
  const nodes: TestNode[] = [];
  const peers: Peer[] = [];
  let alpha: TestNode;
  let beta: TestNode;
  const peer = async (id: string, opts: { rosterAddr?: boolean; to?: TestNode[] } = {}): Promise<Peer> => {
    const p = await startPeer(alliance, id, opts.to ?? nodes, opts);
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    // alpha and beta run nodes; m1..m6 are members whose peer keys the test speaks with; rex and sue
    // are members an admin will revoke and suspend.
    alliance = await TestAlliance.found(['alpha', 'beta', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'rex', 'sue']);
    for (const id of ['alpha', 'beta']) {
      storage.set(id, await memberStorage(kind));
      // No grace after an epoch ends, so a rotation makes the old epoch stale at once.
      nodes.push(await startMember(alliance, alliance.member(id), storage.get(id)!, { ALLIANCE_EPOCH_GRACE_DAYS: '0' }));
    }
    [alpha, beta] = nodes as [TestNode, TestNode];
    await eventually(() => nodes.every((n) => n.node.exchange!.peers.status().some((p) => p.connected)), 20_000, 'alpha and beta connected');
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(peers.map((p) => p.stop()));
    await Promise.allSettled(nodes.map((n) => n.stop()));
    for (const s of storage.values()) await s.drop?.();
  });

  it('a forged signature (a byte of the signature or of the payload changed) is rejected, not stored, and costs the sender its score', async () => {
    const m1 = await peer('m1');
    const good = await loose(alliance, m1.identity);
    const before = await Promise.all(nodes.map(rowCounts));
    const base = await Promise.all(nodes.map((n) => rejected(n, 'bad_signature')));

    await m1.publish(flip(good, 2, 10));
    await m1.publish(flip(good, 1, 40));
    for (const [i, n] of nodes.entries()) {
      await eventually(async () => (await rejected(n, 'bad_signature')) === base[i]! + 2, 20_000, 'both forgeries counted');
      expect(await rowCounts(n)).toEqual(before[i]);
      expect(await received(n, 'stored')).toBe(0);
      await eventually(() => scoreAt(n, m1.peerId) < 0, 20_000, 'the forger scored down');
    }
    // The one scrape shows it too.
    const text = await (await fetch(metricsUrl(alpha))).text();
    expect(text).toContain(`alliance_batches_rejected_total{reason="bad_signature"} ${base[0]! + 2}`);
    expect(text).toMatch(new RegExp(`alliance_batches_received_total\\{result="rejected"\\} ${base[0]! + 2}\\b`));
    // The untouched batch is still accepted: the signature check, not the sender, refused the others.
    await m1.publish(good);
    await eventually(async () => (await chainAt(alpha, 'm1')).length === 1 && (await chainAt(beta, 'm1')).length === 1, 20_000, 'the genuine batch stored');
  });

  it('a batch signed by one member in another member\'s name is rejected as wrong_origin; a newer format version is refused without a penalty', async () => {
    const m2 = await peer('m2');
    const before = await Promise.all(nodes.map(rowCounts));
    // A format this node does not know yet (schema/wire.md §8): not a forgery, so Ignored.
    await m2.publish(await versionTwo(alliance, m2.identity));
    for (const n of nodes) await eventually(async () => (await rejected(n, 'unsupported_version')) === 1, 20_000, 'the v2 batch counted');
    // m2 signs with its own key a batch whose origin is beta.
    await m2.publish(await loose(alliance, m2.identity, { origin: 'beta' }));
    for (const [i, n] of nodes.entries()) {
      await eventually(async () => (await rejected(n, 'wrong_origin')) === 1, 20_000, 'wrong_origin counted');
      expect(await rowCounts(n)).toEqual(before[i]);
      expect(await chainAt(n, 'beta')).toEqual([]);
    }
    // Scores are cached for a heartbeat (1 s): read them once every cached value postdates both refusals.
    const settled = Date.now() + 1200;
    await eventually(() => Date.now() > settled, 5000, 'the score cache to expire');
    for (const n of nodes) {
      const score = scoreAt(n, m2.peerId);
      // One invalid delivery costs 10 (10 × 1²); two would cost 40.
      expect(score).toBeLessThan(0);
      expect(score).toBeGreaterThan(-20);
    }
  });

  if (full) it('batches of a revoked member and of a suspended one are refused, even when signed before the sanction, without scoring down the relay', async () => {
    const m3 = await peer('m3');
    const rex = await loadMemberIdentity(alliance.member('rex').dataDir);
    const sue = await loadMemberIdentity(alliance.member('sue').dataDir);
    const rexBatch = await loose(alliance, rex);
    const sueBatch = await loose(alliance, sue);

    await submitEntry(nodes, await alliance.next({ type: 'member.revoke', body: { id: 'rex', reason: 'counterfeit supplier' } }));
    await submitEntry(nodes, await alliance.next({ type: 'member.suspend', body: { id: 'sue', reason: 'audit' } }));
    for (const n of nodes) {
      await eventually(() => {
        const members = n.node.roster.state!.members;
        return members.find((m) => m.id === 'rex')?.status === 'REVOKED' && members.find((m) => m.id === 'sue')?.status === 'SUSPENDED';
      }, 20_000, 'the sanctions applied');
    }
    const before = await Promise.all(nodes.map(rowCounts));
    // m3 relays them: relaying is allowed (signatures are end to end), storing them is not.
    await m3.publish(rexBatch);
    await m3.publish(sueBatch);
    for (const [i, n] of nodes.entries()) {
      await eventually(async () => (await rejected(n, 'origin_revoked')) === 1 && (await rejected(n, 'origin_suspended')) === 1, 20_000, 'both refusals counted');
      expect(await rowCounts(n)).toEqual(before[i]);
      expect(await chainAt(n, 'rex')).toEqual([]);
      expect(await chainAt(n, 'sue')).toEqual([]);
    }
    // A sanction reaches nodes at slightly different times, so an honest relay's roster may lag:
    // refused and counted, but the relay's score is left alone.
    await new Promise((r) => setTimeout(r, 500));
    for (const n of nodes) expect(scoreAt(n, m3.peerId)).toBeGreaterThanOrEqual(0);
  });

  if (full) it('a batch of another alliance is rejected and scores its sender down; one of an epoch past its grace is refused without', async () => {
    const m4 = await peer('m4');
    const before = await Promise.all(nodes.map(rowCounts));
    await m4.publish(await loose(alliance, m4.identity, { alliance: 'another-alliance' }));
    for (const [i, n] of nodes.entries()) {
      await eventually(async () => (await rejected(n, 'wrong_alliance')) === 1, 20_000, 'wrong_alliance counted');
      expect(await rowCounts(n)).toEqual(before[i]);
      await eventually(() => scoreAt(n, m4.peerId) < 0, 20_000, 'the sender scored down');
    }

    // Epoch 2 starts now; with no grace, epoch 1 stops being live at once.
    const oldEpoch = alliance.state.epoch;
    await submitEntry(nodes, await alliance.nextEpoch());
    for (const n of nodes) await eventually(() => n.node.roster.state!.epoch === oldEpoch + 1, 20_000, 'the new epoch applied');
    const scores = nodes.map((n) => scoreAt(n, m4.peerId));
    await m4.publish(await loose(alliance, m4.identity, { epoch: oldEpoch }));
    for (const [i, n] of nodes.entries()) {
      await eventually(async () => (await rejected(n, 'stale_epoch')) === 1, 20_000, 'stale_epoch counted');
      expect(await rowCounts(n)).toEqual(before[i]);
      expect(await chainAt(n, 'm4')).toEqual([]);
    }
    // Grace periods are each node's setting: a batch past this node's may be live at the sender's.
    await new Promise((r) => setTimeout(r, 500));
    for (const [i, n] of nodes.entries()) expect(scoreAt(n, m4.peerId)).toBeGreaterThanOrEqual(scores[i]! - 1);
  });

  it('a seq gap is not stored; the node fetches the missing batches with sync from the peer that has them', async () => {
    const m5 = await peer('m5');
    const chain = new Chain(alliance, m5.identity);
    const [b1, b2, b3] = [await chain.next(), await chain.next(), await chain.next()];
    const stored0 = await Promise.all(nodes.map((n) => received(n, 'stored')));
    await m5.publish(b1!);
    for (const n of nodes) await eventually(async () => (await chainAt(n, 'm5')).length === 1, 20_000, 'seq 1 stored');

    m5.source.chains.set('m5', chain.batches);
    let release!: () => void;
    m5.source.gate = new Promise((resolve) => (release = resolve));
    const gaps = await Promise.all(nodes.map((n) => received(n, 'gap')));
    await m5.publish(b3!);
    for (const [i, n] of nodes.entries()) await eventually(async () => (await received(n, 'gap')) === gaps[i]! + 1, 20_000, 'the gap counted');
    // Each node asked the sender for what follows its head, and holds nothing beyond seq 1 meanwhile.
    await eventually(() => m5.source.requests.filter((r) => r.origin === 'm5').length >= nodes.length, 20_000, 'both nodes asking for the missing batches');
    expect(m5.source.requests.every((r) => r.origin === 'm5' && r.from === 2)).toBe(true);
    for (const n of nodes) {
      expect(await chainAt(n, 'm5')).toEqual([{ seq: 1, hash: batchHash(b1!) }]);
      expect(await n.indicatorCount('m5')).toBe(1);
    }

    release();
    m5.source.gate = undefined;
    const expected = [b1!, b2!, b3!].map((b, i) => ({ seq: i + 1, hash: batchHash(b) }));
    for (const [i, n] of nodes.entries()) {
      await eventually(async () => (await chainAt(n, 'm5')).length === 3, 20_000, 'the gap filled');
      expect(await chainAt(n, 'm5')).toEqual(expected);
      expect(await n.indicatorCount('m5')).toBe(3);
      expect(await received(n, 'stored')).toBe(stored0[i]! + 3);
      // Valid batches do not cost the sender anything.
      expect(scoreAt(n, m5.peerId)).toBeGreaterThanOrEqual(0);
    }
  });

  it('a replayed batch is stored once: over sync it is counted as a duplicate, over gossip it is dropped as already seen', async () => {
    const m5 = peers.find((p) => p.id === 'm5')!;
    const chain = m5.source.chains.get('m5')!;
    expect(chain).toHaveLength(3);
    // seq 4 of m5, which m6 relays (any peer may serve any origin's batches) while replaying 1..3 with it.
    const c = new Chain(alliance, m5.identity);
    c.batches.push(...chain);
    const b4 = await c.next();
    const before = { stored: await received(alpha, 'stored'), duplicate: await received(alpha, 'duplicate'), rejected: await received(alpha, 'rejected') };
    // m6 connects to alpha only (it does not listen where the roster says, so beta cannot dial it).
    const m6 = await peer('m6', { rosterAddr: false, to: [alpha] });
    m6.source.chains.set('m5', [...chain, b4]);
    m6.source.announce = ['m5'];
    m6.source.replayOnce = true;
    await alpha.node.exchange!.syncNow();
    await eventually(async () => (await chainAt(alpha, 'm5')).length === 4, 20_000, 'seq 4 fetched from m6');
    expect(m6.source.requests.some((r) => r.origin === 'm5' && r.from === 4)).toBe(true);
    expect(await received(alpha, 'duplicate')).toBe(before.duplicate + 3);
    expect(await received(alpha, 'stored')).toBe(before.stored + 1);
    expect(await received(alpha, 'rejected')).toBe(before.rejected);
    m6.source.announce = [];

    // The same bytes again on gossip: alpha has seen them, so they go no further than the seen cache
    // (or, had it forgotten them, to the store as a duplicate). seq 5 right after shows when alpha is done.
    await m6.publish(chain[0]!);
    const b5 = await c.next();
    await m6.publish(b5);
    await eventually(async () => (await chainAt(alpha, 'm5')).length === 5, 20_000, 'seq 5 stored');
    expect(await chainAt(alpha, 'm5')).toEqual(c.batches.map((b, i) => ({ seq: i + 1, hash: batchHash(b) })));
    expect(await alpha.indicatorCount('m5')).toBe(5);
    expect(await received(alpha, 'stored')).toBe(before.stored + 2);
    expect(await received(alpha, 'rejected')).toBe(before.rejected);
    expect(scoreAt(alpha, m6.peerId)).toBeGreaterThanOrEqual(0);
  });

  if (full) it('garbage and oversized messages on heads and sync get an error or a reset; the node counts them and keeps serving', async () => {
    const m1 = peers.find((p) => p.id === 'm1') ?? (await peer('m1'));
    const heads = headsProtocol(alliance.id);
    const sync = syncProtocol(alliance.id);
    const codes = [
      ['heads', 'MALFORMED'],
      ['heads', 'FRAME_TOO_LARGE'],
      ['sync', 'MALFORMED'],
      ['sync', 'FRAME_TOO_LARGE'],
      ['sync', 'PROTOCOL'],
    ] as const;
    const base = new Map<string, number>();
    for (const [p, c] of codes) base.set(`${p} ${c}`, await streamErrors(alpha, p, c));
    const errorFrame = (code: string) => [{ v: 1, error: { code, message: expect.any(String) } }];

    // A frame that is not JSON.
    expect((await rawRequest(m1.host, alpha, heads, encodeFrame(enc('GET / HTTP/1.1')))).frames).toEqual(errorFrame('MALFORMED'));
    // Bytes that are no length prefix at all (a varint that never ends).
    expect((await rawRequest(m1.host, alpha, heads, new Uint8Array(32).fill(0xff))).frames).toEqual(errorFrame('FRAME_TOO_LARGE'));
    // A frame of bytes that are not UTF-8.
    expect((await rawRequest(m1.host, alpha, sync, encodeFrame(new Uint8Array(64).fill(0xff)))).frames).toEqual(errorFrame('MALFORMED'));
    // A request of another version.
    expect((await rawRequest(m1.host, alpha, sync, encodeFrame(enc('{"v":2,"kind":"batches","origin":"m5","from":1,"limit":1}')))).frames).toEqual(errorFrame('PROTOCOL'));
    // 100 MB announced and the stream left open: refused on the prefix alone, long before the deadline.
    const announced = await rawRequest(m1.host, alpha, sync, encodeVarint(100 * 1024 * 1024), { keepOpen: true });
    expect(announced.frames).toEqual(errorFrame('FRAME_TOO_LARGE'));
    expect(announced.ms).toBeLessThan(5000);
    // The same followed by 1 MiB of junk: more than the responder reads ahead of a request, so it may
    // reset the stream instead of answering; either way at once.
    const flood = await rawRequest(m1.host, alpha, sync, new Uint8Array([...encodeVarint(100 * 1024 * 1024), ...randomBytes(1024 * 1024)]), { keepOpen: true });
    if (!flood.reset) expect(flood.frames).toEqual(errorFrame('FRAME_TOO_LARGE'));
    expect(flood.ms).toBeLessThan(5000);

    await eventually(async () => {
      for (const [p, c] of codes) if ((await streamErrors(alpha, p, c)) !== base.get(`${p} ${c}`)! + (p === 'sync' && c === 'FRAME_TOO_LARGE' ? 2 : 1)) return false;
      return true;
    }, 20_000, 'each stream error counted once');
    const text = await (await fetch(metricsUrl(alpha))).text();
    expect(text).toMatch(/alliance_stream_errors_total\{protocol="heads",code="MALFORMED"\} [1-9]/);

    // Healthy, and serving everyone: the sender itself, and beta.
    expect((await fetch(metricsUrl(alpha).replace(/\/metrics$/, '/healthz'))).status).toBe(200);
    expect((await fetch(metricsUrl(alpha).replace(/\/metrics$/, '/readyz'))).status).toBe(200);
    const fromM1 = await requestHeads(m1.host, alpha.node.exchange!.host.peerId, alliance.id);
    expect(fromM1.origins).toEqual([...(await alpha.node.batches.heads())].map(([origin, h]) => ({ origin, seq: h.seq, hash: h.hash })));
    const fromBeta = await requestSync(beta.node.exchange!.host, alpha.node.exchange!.host.peerId, alliance.id, { kind: 'batches', origin: 'm1', from: 1, limit: 2 });
    expect(fromBeta.items).toEqual(await alpha.node.batches.range('m1', 1, { limit: 2 }));
  });
});

// ---------------------------------------------------------------------------------------------

const IMPORT = /* GraphQL */ `
  mutation ($records: [RecordInput!]!) { importRecords(records: $records) { imported } }
`;

async function importSellers(n: TestNode, from: number, count: number): Promise<void> {
  for (let start = from; start < from + count; start += 500) {
    const records = Array.from({ length: Math.min(500, from + count - start) }, (_, k) => ({
      kind: 'SELLER',
      name: `Seller ${start + k}`,
      identifiers: [{ type: 'EMAIL', value: `seller${start + k}@example.com` }],
      categories: ['COUNTERFEIT'],
      status: 'CONFIRMED',
      confidence: 70,
    }));
    const r = await n.gql<{ importRecords: { imported: number } }>(IMPORT, { records });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    expect(r.body.data!.importRecords.imported).toBe(records.length);
  }
}

describe('a node killed while catching up (PostgreSQL, child process)', () => {
  let alliance: TestAlliance;
  let pubStorage: NodeStorage;
  let pub: TestNode;
  let victimDb: { url: string; drop: () => Promise<void> };
  let victim: StartedNode | undefined;
  let ghost: Host | undefined;
  let client: pg.Client;

  beforeAll(async () => {
    alliance = await TestAlliance.found(['pub', 'victim', 'ghost']);
    pubStorage = await memberStorage('pg');
    // Two indicators per batch: thousands of batches for the victim to catch up on.
    pub = await startMember(alliance, alliance.member('pub'), pubStorage, { ALLIANCE_BATCH_ITEMS: '2' });
    victimDb = await createPgDatabase();
    client = new pg.Client({ connectionString: victimDb.url });
    await client.connect();
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([victim?.stop('SIGKILL'), ghost?.stop(), client?.end(), pub?.stop()]);
    await pubStorage?.drop?.();
    await victimDb?.drop();
  });

  const victimArgs = () => ['--genesis', alliance.rosterFile, '--data-dir', alliance.member('victim').dataDir, '--p2p', alliance.member('victim').p2p];
  const victimEnv = () => ({ DATABASE_URL: victimDb.url, ALLIANCE_HEADS_INTERVAL_MS: '500', ALLIANCE_PUBLISH_WINDOW_MS: '20' });
  const victimHeld = async (): Promise<{ n: number; max: number }> => {
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass('batches')::text AS t");
    if (exists.rows[0]?.t == null) return { n: 0, max: 0 };
    const { rows } = await client.query<{ n: string; max: string | null }>("SELECT count(*)::text AS n, max(seq)::text AS max FROM batches WHERE origin = 'pub'");
    return { n: Number(rows[0]!.n), max: Number(rows[0]!.max ?? 0) };
  };

  it('converges with no loss and no duplicates after SIGKILL mid-ingest, catching up on what was published while it was down; a requester that stops reading does not hold the responder', async () => {
    // ghost, a member peer, publishes four large batches (1,000 indicators, about 330 KB each) that
    // pub stores; then it asks pub for them (over 1 MB, beyond any yamux window the stream can have
    // reached) and stops reading: pub's writes stall on flow control until its 10 s deadline resets
    // the stream. Everything below runs meanwhile, pub serving the victim.
    const ghostPeer = await startPeer(alliance, 'ghost', [pub]);
    ghost = ghostPeer.host;
    const ghostChain = new Chain(alliance, ghostPeer.identity);
    // It serves its chain, as a member's node would: batches validated out of order are fetched again.
    ghostPeer.source.chains.set('ghost', ghostChain.batches);
    for (let k = 0; k < 4; k++) await ghostPeer.publish(await ghostChain.next({ items: Array.from({ length: 1000 }, item) }));
    await eventually(async () => (await chainAt(pub, 'ghost')).length === 4, 20_000, 'pub storing the large batches');
    const timeouts0 = await streamErrors(pub, 'sync', 'TIMEOUT');
    const stalled = await ghost.dialProtocol(pub.node.exchange!.host.peerId, syncProtocol(alliance.id));
    stalled.pause();
    stalled.send(encodeFrame(enc(JSON.stringify({ v: 1, kind: 'batches', origin: 'ghost', from: 1, limit: 256 }))));
    await stalled.close();
    const stallStarted = performance.now();
    const stall = eventually(() => stalled.status !== 'open', 30_000, 'the stalled stream reset').then(() => performance.now() - stallStarted);

    // pub publishes 3,000 records, two indicators per batch, while the victim has never been up.
    await importSellers(pub, 0, 3000);
    await pub.node.publisher!.flush();
    const head1 = (await pub.node.batches.head('pub'))!;
    expect(head1.seq).toBe(1500);

    // The victim catches up from nothing, and is killed midway.
    victim = await startNodeProcess(victimArgs(), { env: victimEnv() });
    await eventually(async () => (await victimHeld()).n > 0, 30_000, 'the victim storing its first batches');
    victim.child.kill('SIGKILL');
    await victim.stop();
    const afterKill = await victimHeld();
    expect(afterKill.n).toBeLessThan(head1.seq);
    // What survived is a gapless prefix of the chain.
    expect(afterKill.max).toBe(afterKill.n);

    // While the victim is down, pub publishes more.
    await importSellers(pub, 3000, 500);
    await pub.node.publisher!.flush();
    const head2 = (await pub.node.batches.head('pub'))!;
    expect(head2.seq).toBe(1750);
    const own = await pub.indicatorCount('pub');
    expect(own).toBe(3500);

    victim = await startNodeProcess(victimArgs(), { env: victimEnv() });
    await eventually(async () => (await victimHeld()).n === head2.seq, 45_000, 'the victim caught up').catch(async (err: Error) => {
      throw new Error(`${err.message}: it holds ${JSON.stringify(await victimHeld())} of ${head2.seq} batches; stderr: ${victim?.stderr().slice(-2000)}`);
    });
    // Every batch once, in order, exactly as pub holds them; every indicator of pub's.
    expect(await victimHeld()).toEqual({ n: head2.seq, max: head2.seq });
    const chain = await client.query<{ seq: string; hash: string }>("SELECT seq::text AS seq, hash FROM batches WHERE origin = 'pub' ORDER BY seq");
    expect(chain.rows.map((r) => ({ seq: Number(r.seq), hash: r.hash }))).toEqual(await chainAt(pub, 'pub'));
    const ind = await client.query<{ n: string }>("SELECT count(*)::text AS n FROM indicators WHERE origin = 'pub'");
    expect(Number(ind.rows[0]!.n)).toBe(own);
    // And ghost's large batches, which only pub's heads announce to it (ghost's announce none).
    await eventually(async () => (await client.query("SELECT 1 FROM batches WHERE origin = 'ghost'")).rowCount === 4, 20_000, "the victim holding ghost's batches");

    // pub's responder gave up on the stalled stream at its deadline, and served everyone meanwhile.
    const stalledMs = await stall;
    expect(stalledMs).toBeLessThan(15_000);
    expect(['reset', 'aborted']).toContain(stalled.status);
    await eventually(async () => (await streamErrors(pub, 'sync', 'TIMEOUT')) === timeouts0 + 1, 20_000, 'the timeout counted');
    const again = await requestSync(ghost, pub.node.exchange!.host.peerId, alliance.id, { kind: 'batches', origin: 'ghost', from: 1, limit: 1 });
    expect(again).toEqual({ items: [ghostChain.batches[0]], more: true });
  }, 120_000);
});
