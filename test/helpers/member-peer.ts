/**
 * A member peer played by a test: a libp2p host under a roster member's own peer key (so nodes admit
 * it), subscribed to the alliance's topics and serving heads and sync from memory, where the test
 * decides what it holds and what it claims to hold. And chains of batches the test signs with a
 * member's key.
 */
import { randomBytes } from 'node:crypto';
import { createHost, type Host } from '../../node/p2p/host.ts';
import { batchesTopic, registerExchangeProtocols, rosterTopic, type ExchangeSource, type HeadsResponse } from '../../node/p2p/protocols.ts';
import { batchHash, signBatch, type UnsignedBatch } from '../../node/indicators/batch.ts';
import { toWireTime } from '../../node/encoding/time.ts';
import type { Indicator } from '../../node/indicators/indicator.ts';
import { loadMemberIdentity, type MemberIdentity } from '../../node/membership/keys.ts';
import { eventually, type TestAlliance, type TestNode } from './alliance.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** One well-formed indicator with a random digest and ref. */
export function item(): Indicator {
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
export class Chain {
  readonly batches: string[] = [];
  readonly #alliance: TestAlliance;
  readonly identity: MemberIdentity;

  constructor(alliance: TestAlliance, identity: MemberIdentity) {
    this.#alliance = alliance;
    this.identity = identity;
  }

  get origin(): string {
    return this.identity.profile.id;
  }

  /** Signs the next batch of this chain and keeps it. */
  async next(): Promise<string> {
    const jws = await this.sign(this.batches.length + 1);
    this.batches.push(jws);
    return jws;
  }

  /** Signs `n` more batches. */
  async extend(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.next();
  }

  /**
   * Signs a batch at `seq` that continues the kept chain's batch `seq - 1` but differs from the kept
   * batch at `seq` (another item): a fork. Not kept.
   */
  async fork(seq: number): Promise<string> {
    return this.sign(seq);
  }

  /** Signs a batch at `seq` whose prev is the hash of `after` (default: the kept batch at seq - 1). */
  async sign(seq: number, after?: string): Promise<string> {
    const batch: UnsignedBatch = {
      v: 1,
      alliance: this.#alliance.id,
      origin: this.origin,
      epoch: this.#alliance.state.epoch,
      seq,
      prev: seq === 1 ? null : batchHash(after ?? this.batches[seq - 2]!),
      createdAt: toWireTime(new Date()),
      items: [item()],
    };
    return signBatch(batch, { privateKey: this.identity.signingKey.privateKey, kid: this.identity.signingKey.kid });
  }
}

/** A hash-shaped value for heads of chains the peer does not hold (43 base64url characters). */
const SOME_HASH = 'A'.repeat(43);

/** What a test peer serves on heads and sync. */
export class PeerSource implements ExchangeSource {
  /** The batches it holds per origin, seq 1 first. */
  readonly chains = new Map<string, string[]>();
  /** Origins it announces with the seq it holds. */
  announce: string[] = [];
  /** Origins it announces with this seq whatever it holds: a lie when above what it holds. */
  readonly claims = new Map<string, number>();
  /** The roster head it announces (it serves no roster entries): none by default. */
  rosterClaim: { seq: number; head: string } | null = null;
  /** Sync requests wait for this while set. */
  gate: Promise<void> | undefined;
  readonly requests: Array<{ origin: string; from: number }> = [];
  /** Roster sync requests, by their from. */
  readonly rosterRequests: number[] = [];

  async heads(): Promise<HeadsResponse> {
    const origins = [...new Set([...this.announce, ...this.claims.keys()])].map((origin) => {
      const list = this.chains.get(origin) ?? [];
      return { origin, seq: this.claims.get(origin) ?? list.length, hash: list.length > 0 ? batchHash(list.at(-1)!) : SOME_HASH };
    });
    return { roster: this.rosterClaim, origins };
  }

  async batches(origin: string, from: number, limit: number): Promise<{ items: string[]; more: boolean }> {
    this.requests.push({ origin, from });
    if (this.gate !== undefined) await this.gate;
    const list = this.chains.get(origin) ?? [];
    return { items: list.slice(from - 1, from - 1 + limit), more: from - 1 + limit < list.length };
  }

  async rosterEntries(from: number): Promise<{ items: string[]; more: boolean }> {
    this.rosterRequests.push(from);
    return { items: [], more: false };
  }

  /** Holds sync requests until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }
}

export interface MemberPeer {
  id: string;
  identity: MemberIdentity;
  host: Host;
  peerId: string;
  source: PeerSource;
  publish(jws: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a host with member `id`'s own peer key, on a port of its own (not the roster's, so nodes do
 * not dial it), serving `source` (set it up first: nodes ask for heads as soon as they connect),
 * connects it to `nodes` and waits until each side sees the other's subscriptions.
 */
export async function startMemberPeer(alliance: TestAlliance, id: string, nodes: TestNode[], source = new PeerSource()): Promise<MemberPeer> {
  const identity = await loadMemberIdentity(alliance.member(id).dataDir);
  const topics = [batchesTopic(alliance.id), rosterTopic(alliance.id)];
  const host = await createHost({
    privateKey: identity.peer.privateKey,
    listen: '/ip4/127.0.0.1/tcp/0',
    isAllowed: () => true,
    topics: topics.map((topic) => ({ topic })),
  });
  const protocols = await registerExchangeProtocols(host, { alliance: alliance.id, source, limits: { timeoutMs: 30_000 } });
  for (const t of topics) host.services.pubsub.subscribe(t);
  const peerId = host.peerId.toString();
  for (const n of nodes) await host.dial(n.node.exchange!.host.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) });
  await eventually(
    () =>
      nodes.every((n) => {
        const nodeHost = n.node.exchange!.host;
        return (
          host.services.pubsub.getSubscribers(topics[0]!).some((p) => p.equals(nodeHost.peerId)) &&
          nodeHost.services.pubsub.getSubscribers(topics[0]!).some((p) => p.toString() === peerId)
        );
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
