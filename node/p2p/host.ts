/**
 * The node's libp2p host (docs/architecture.md, "The exchange"): TCP, noise, yamux, identify, ping and gossipsub, closed to
 * everyone but roster members by a connection gater, and optionally by a pre-shared key (pnet).
 * Connections still in their handshake, which could be anyone's, are limited by one policy
 * (`ConnectionLimits`): libp2p's own pending limit, rate limit and upgrade timeout, divided by the
 * gater per address and between members' addresses and everyone else's.
 *
 * There is no peer discovery (no mDNS, DHT or bootstrap list): the roster is the directory, and
 * `PeerDirectory` (peers.ts) dials the members it lists. Gossip carries messages that are already
 * signed end to end by their origin (batches, roster entries), so gossipsub runs `StrictNoSign` and
 * names a message by the SHA-256 of its bytes, which for a batch is its batch hash (schema/wire.md §4).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, TopicValidatorResult, type GossipSub, type TopicValidatorFn } from '@libp2p/gossipsub';
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';
import { identify, type Identify } from '@libp2p/identify';
import type { ConnectionGater, Libp2p, MultiaddrConnection, PeerId, PrivateKey } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { AllianceError } from '../errors.ts';

export type HostErrorCode = 'SWARM_KEY_INVALID' | 'P2P_START_FAILED' | 'P2P_LIMITS_INVALID';

export class HostError extends AllianceError {
  declare readonly code: HostErrorCode;
  constructor(code: HostErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(code, message, details, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Swarm key (pre-shared key of a private network)

const SWARM_KEY_TAG = '/key/swarm/psk/1.0.0/';
const SWARM_KEY_CODEC = '/base16/';
/** A swarm key file is three short lines; anything much longer is not one. */
const SWARM_KEY_MAX_BYTES = 1024;

/**
 * Checks swarm key file contents (the go-ipfs / `@libp2p/pnet` format: `/key/swarm/psk/1.0.0/`,
 * `/base16/`, then 64 hexadecimal digits, one per line, LF or CRLF, trailing blank lines allowed) and
 * returns them in the canonical form `@libp2p/pnet` reads (LF, lower-case hex, no trailing newline).
 * pnet itself would read a wrong codec line or stray text after the key without complaint, and
 * upper-case hex as a different key: a typo must fail here, not show up as peers that cannot connect.
 */
export function parseSwarmKey(content: string | Uint8Array, source = 'the swarm key'): Uint8Array {
  const bad = (why: string): HostError => new HostError('SWARM_KEY_INVALID', `${source} is not a swarm key: ${why} (expected "${SWARM_KEY_TAG}", "${SWARM_KEY_CODEC}" and 64 hexadecimal digits, one per line; "alliance" can generate one)`, { source });
  if (content.length > SWARM_KEY_MAX_BYTES) throw bad('too long');
  let text: string;
  try {
    text = typeof content === 'string' ? content : new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw bad('not text');
  }
  const lines = text.split(/\r?\n/);
  while (lines.length > 3 && lines.at(-1) === '') lines.pop();
  if (lines.length !== 3) throw bad(`${lines.length} lines`);
  const [tag, codec, key] = lines as [string, string, string];
  if (tag !== SWARM_KEY_TAG) throw bad('the first line is not the swarm key tag');
  if (codec !== SWARM_KEY_CODEC) throw bad('the second line is not /base16/ (the only encoding supported)');
  if (!/^[0-9a-fA-F]{64}$/.test(key)) throw bad('the third line is not 64 hexadecimal digits (32 bytes)');
  return new TextEncoder().encode(`${SWARM_KEY_TAG}\n${SWARM_KEY_CODEC}\n${key.toLowerCase()}`);
}

/** Reads and checks a swarm key file (`ALLIANCE_P2P_PSK`); HostError SWARM_KEY_INVALID if unreadable or malformed. */
export function readSwarmKey(file: string): Uint8Array {
  let content: Buffer;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > SWARM_KEY_MAX_BYTES) throw new Error(`${stat.size} bytes is too long for a swarm key`);
    content = fs.readFileSync(file);
  } catch (err) {
    throw new HostError('SWARM_KEY_INVALID', `cannot read the swarm key file ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  return parseSwarmKey(content, `the swarm key file ${file}`);
}

/** New swarm key file contents (32 random bytes), with a final newline; every member needs the same file. */
export function generateSwarmKey(): string {
  return `${SWARM_KEY_TAG}\n${SWARM_KEY_CODEC}\n${randomBytes(32).toString('hex')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Gossip scoring

/** Per-second decay factor that takes a counter down to 1% over `seconds` (score decay runs every second). */
function decayOver(seconds: number): number {
  return 0.01 ** (1 / seconds);
}

/**
 * Topic scoring for an alliance: a few dozen authenticated members that publish rarely. Mesh-delivery
 * penalties (P3, P3b) are off because a quiet topic would punish honest peers for the silence.
 * gossipsub's own invalid-message penalty (P4) is off too: it is counted per topic, so a sender that
 * spread its forgeries over the batches and the roster topic paid half of what the same forgeries on
 * one topic cost (2² + 2² against 4²). Invalid messages are counted per peer instead, in
 * `PeerPenalties`, whatever the topic (or protocol) they came on.
 */
export const TOPIC_SCORE: Readonly<TopicScoreParams> = Object.freeze({
  topicWeight: 1,
  timeInMeshWeight: 0.0027,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 3600,
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: decayOver(3600),
  firstMessageDeliveriesCap: 10,
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 100,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  invalidMessageDeliveriesWeight: 0,
  invalidMessageDeliveriesDecay: decayOver(3600),
});

/**
 * What one misbehaviour costs: `weight × count²` of the peer's gossip score (P5, the application's
 * part), the count fading to 1% over `fadeSeconds`. One drops a peer to the gossip threshold, three
 * put it near the publish threshold, four graylist it whatever its record.
 */
export const PENALTY = Object.freeze({ weight: -10, fadeSeconds: 3600 });

/**
 * One account of misbehaviour per peer, whatever it misbehaved on: a gossip message a topic
 * validator rejected (on any topic), a heads announcement the peer could not back (claims.ts). The
 * host adds it to the peer's gossip score, so every kind of lie lowers one number, and two kinds (or
 * two topics) cost what as many of one kind cost.
 */
export class PeerPenalties {
  readonly #counts = new Map<string, { count: number; at: number }>();
  readonly #now: () => number;
  readonly #onAdd: ((peerId: string, reason: string, n: number) => void) | undefined;

  /** `onAdd` hears of every penalty (metrics); `now` is a clock in ms (tests). */
  constructor(opts: { now?: () => number; onAdd?: (peerId: string, reason: string, n: number) => void } = {}) {
    this.#now = opts.now ?? (() => performance.now());
    this.#onAdd = opts.onAdd;
  }

  /** Counts `n` misbehaviours of `peerId`; `reason` is a word for the metrics (e.g. invalid_message). */
  add(peerId: string, reason: string, n = 1): void {
    if (!(n > 0) || !Number.isFinite(n)) return;
    const now = this.#now();
    this.#counts.set(peerId, { count: this.count(peerId) + n, at: now });
    if (this.#counts.size > 4096) this.#prune();
    try {
      this.#onAdd?.(peerId, reason, n);
    } catch {
      // Bookkeeping must not undo the penalty.
    }
  }

  /** The peer's count now (faded). */
  count(peerId: string): number {
    const e = this.#counts.get(peerId);
    if (e === undefined) return 0;
    return e.count * 0.01 ** ((this.#now() - e.at) / 1000 / PENALTY.fadeSeconds);
  }

  /** What the count takes off the peer's gossip score (0 or negative). */
  score(peerId: string): number {
    const c = this.count(peerId);
    return c === 0 ? 0 : PENALTY.weight * c * c;
  }

  /** Counts that have faded below a hundredth weigh nothing: drop them. */
  #prune(): void {
    for (const id of this.#counts.keys()) if (this.count(id) < 0.01) this.#counts.delete(id);
  }
}

export const SCORE_THRESHOLDS: Readonly<PeerScoreThresholds> = Object.freeze({
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 5,
});

function scoreParams(topics: readonly string[], appSpecificScore: (peerId: string) => number): Partial<PeerScoreParams> {
  return {
    topics: Object.fromEntries(topics.map((t) => [t, { ...TOPIC_SCORE }])),
    topicScoreCap: 20,
    appSpecificScore,
    appSpecificWeight: 1,
    // Members are admitted by peer id, so many peers behind one address (a NAT, one host running
    // several members' nodes) is no sign of a Sybil attack here.
    IPColocationFactorWeight: 0,
    IPColocationFactorThreshold: 10,
    IPColocationFactorWhitelist: new Set(),
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 0,
    behaviourPenaltyDecay: decayOver(600),
    decayInterval: 1000,
    decayToZero: 0.01,
    retainScore: 3600 * 1000,
  };
}

/** Message id: SHA-256 of the message bytes (for a batch, the bytes of its batch hash). */
export function messageId(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}

// ---------------------------------------------------------------------------------------------
// Admission: the connection-limit policy of the P2P listener

/**
 * Limits on inbound connections before they are known to be a member's. Until its noise handshake
 * ends, a connection is anonymous: only its address says anything about it. An outsider can open
 * TCP connections and never finish a handshake, so each connection in its handshake ("pending")
 * takes room that a member dialing in then lacks. These limits keep that room for members:
 */
export interface ConnectionLimits {
  /** Longest time from accepting a connection to the end of its handshake (pnet, noise, yamux), ms. */
  handshakeTimeoutMs: number;
  /** Most inbound connections in their handshake at once, from anyone. */
  maxPending: number;
  /**
   * Of `maxPending`, how many only addresses known as members' may use (those the roster lists and
   * those members were seen connecting from): room outsiders cannot take.
   */
  reservedPending: number;
  /** Most inbound connections in their handshake at once from one address (member or not). */
  pendingPerAddress: number;
  /** Most new inbound connections per second from one address; more are closed at once. */
  connectionsPerSecond: number;
}

/**
 * A handshake takes a few round trips (a second at most on a slow link); 5 s leaves a busy node room
 * and holds an idle outsider's connection a twentieth of a minute. 32 pending connections are far more
 * than a few dozen members dialing in at once need; a quarter of them are the members' own.
 */
export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  handshakeTimeoutMs: 5000,
  maxPending: 32,
  reservedPending: 8,
  pendingPerAddress: 4,
  connectionsPerSecond: 5,
});

/** Checks a full set of limits; HostError P2P_LIMITS_INVALID naming the limit that is out of range. */
export function checkConnectionLimits(l: ConnectionLimits): ConnectionLimits {
  const int = (name: keyof ConnectionLimits, min: number, max: number): void => {
    const v = l[name];
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw new HostError('P2P_LIMITS_INVALID', `connection limit ${name} must be an integer from ${min} to ${max} (got ${String(v)})`, { limit: name });
    }
  };
  int('handshakeTimeoutMs', 100, 600_000);
  int('maxPending', 1, 100_000);
  int('reservedPending', 0, l.maxPending - 1);
  int('pendingPerAddress', 1, l.maxPending);
  int('connectionsPerSecond', 1, 100_000);
  return l;
}

/**
 * The IP address of a multiaddr (`/ip4/…`, `/ip6/…`) in one spelling: IPv6 in lower case, and an IPv4
 * address written as IPv6 (`::ffff:1.2.3.4`, how a dual-stack listener reports it) as plain IPv4.
 * Undefined for anything else (a DNS name, a relay).
 */
export function ipOf(addr: Multiaddr): string | undefined {
  for (const c of addr.getComponents()) {
    if ((c.name === 'ip4' || c.name === 'ip6') && c.value !== undefined) return normalizeIp(c.value);
  }
  return undefined;
}

/** `ip` in the one spelling `ipOf` gives, or undefined if it is no IP address. */
export function normalizeIp(ip: string): string | undefined {
  const kind = isIP(ip);
  if (kind === 4) return ip;
  if (kind !== 6) return undefined;
  let canonical: string;
  try {
    // The URL parser writes IPv6 in its one compressed, lower-case form (RFC 5952), mapped IPv4 in hex.
    canonical = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    // A zone index (fe80::1%eth0) is no URL host; such an address is not a member's anyway.
    return ip.toLowerCase();
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped === null) return canonical;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/**
 * Counts inbound connections in their handshake, per address and for addresses not known as
 * members', and refuses those over the limits. libp2p counts pending connections too (its
 * `maxIncomingPendingConnections`), but as one pool: this is what divides it. A connection leaves the
 * count when its encryption handshake ends (its peer id is known; the gater then admits members only)
 * or when it closes, whichever comes first.
 */
class InboundAdmission {
  readonly #limits: ConnectionLimits;
  readonly #isMemberAddress: (ip: string) => boolean;
  readonly #perAddress = new Map<string, number>();
  readonly #pending = new Map<MultiaddrConnection, { ip: string; member: boolean }>();
  #outsiders = 0;

  constructor(limits: ConnectionLimits, isMemberAddress: (ip: string) => boolean) {
    this.#limits = limits;
    this.#isMemberAddress = isMemberAddress;
  }

  /** Whether to refuse `conn` (the gater's denyInboundConnection); admitted connections are counted. */
  deny(conn: MultiaddrConnection): boolean {
    if (conn.status !== 'open') return true;
    // Without an IP address (not expected over TCP) all such connections share one count.
    const ip = ipOf(conn.remoteAddr) ?? 'unknown';
    let member: boolean;
    try {
      member = ip !== 'unknown' && this.#isMemberAddress(ip);
    } catch {
      // A failing check must fail closed: the connection gets the outsiders' room only.
      member = false;
    }
    const fromAddress = this.#perAddress.get(ip) ?? 0;
    if (fromAddress >= this.#limits.pendingPerAddress) return true;
    if (!member && this.#outsiders >= this.#limits.maxPending - this.#limits.reservedPending) return true;
    this.#perAddress.set(ip, fromAddress + 1);
    if (!member) this.#outsiders++;
    this.#pending.set(conn, { ip, member });
    conn.addEventListener('close', () => this.release(conn), { once: true });
    return false;
  }

  /** `conn` is no longer in its handshake (identified, or closed). */
  release(conn: MultiaddrConnection): void {
    const p = this.#pending.get(conn);
    if (p === undefined) return;
    this.#pending.delete(conn);
    const n = (this.#perAddress.get(p.ip) ?? 1) - 1;
    if (n <= 0) this.#perAddress.delete(p.ip);
    else this.#perAddress.set(p.ip, n);
    if (!p.member) this.#outsiders--;
  }
}

// ---------------------------------------------------------------------------------------------
// Host

/** The gossipsub service with the scoring and mesh accessors the class has beyond its interface. */
export interface AlliancePubSub extends GossipSub {
  getScore(peerId: string): number;
  getMeshPeers(topic: string): string[];
}

// A type alias, not an interface: libp2p's ServiceMap constraint needs the implicit index signature.
export type HostServices = {
  identify: Identify;
  ping: Ping;
  pubsub: AlliancePubSub;
};

export type Host = Libp2p<HostServices>;

export interface HostTopic {
  topic: string;
  /** Runs before a message is delivered or forwarded; Reject lowers the sender's score, Ignore does not. */
  validator?: TopicValidatorFn | undefined;
}

export interface HostOptions {
  /** The member's libp2p key (MemberIdentity.peer.privateKey): its peer id is the one the roster lists. */
  privateKey: PrivateKey;
  /** Listen multiaddr(s), e.g. `/ip4/0.0.0.0/tcp/4001`. */
  listen: string | readonly string[];
  /** Addresses to tell peers (identify) instead of the listen addresses, e.g. behind NAT. */
  announce?: readonly string[] | undefined;
  /** Whether a peer id may connect, in or out (PeerDirectory.isAllowed). Consulted on every connection. */
  isAllowed: (peerId: string) => boolean;
  /** Swarm key file contents (`readSwarmKey`): only peers with the same key can connect at all. */
  psk?: Uint8Array | undefined;
  /**
   * Gossip topics this node takes part in, each scored, optionally with its validator. Peers'
   * subscriptions to other topics are ignored.
   */
  topics?: readonly HostTopic[] | undefined;
  /** Application score of a peer (gossipsub P5), added to its gossip score (and to its penalties). */
  appSpecificScore?: ((peerId: string) => number) | undefined;
  /**
   * The account of each peer's misbehaviour, part of its gossip score: every message a topic validator
   * rejects is counted in it. Default: one of the host's own.
   */
  penalties?: PeerPenalties | undefined;
  /** Limits on inbound connections in their handshake; unset ones are DEFAULT_CONNECTION_LIMITS'. */
  limits?: Partial<ConnectionLimits> | undefined;
  /**
   * Whether an IP address (`normalizeIp`'s spelling) is known to be a member's
   * (PeerDirectory.isMemberAddress): its connections may use the pending room kept for members.
   */
  isMemberAddress?: ((ip: string) => boolean) | undefined;
  /** Gossipsub heartbeat (mesh maintenance, score decay), ms; default 1000. */
  heartbeatIntervalMs?: number | undefined;
}

/** The least time libp2p's connection monitor waits for a ping before it aborts the connection. */
export const PING_TIMEOUT_FLOOR_MS = 20_000;

function gater(isAllowed: (peerId: string) => boolean, admission: InboundAdmission): ConnectionGater {
  const deny = (peer: PeerId): boolean => {
    try {
      return !isAllowed(peer.toString());
    } catch {
      // A failing check must fail closed: an error is no admission.
      return true;
    }
  };
  return {
    denyDialPeer: deny,
    // Runs right after libp2p took the connection into its pending count, before any byte is read.
    denyInboundConnection: (conn) => admission.deny(conn),
    denyInboundEncryptedConnection: (peer, conn) => {
      // The handshake is done and the peer named: from here only members go on.
      admission.release(conn);
      return deny(peer);
    },
    denyOutboundEncryptedConnection: deny,
    // Checked again once the connection is upgraded: the roster may have changed during the handshake.
    denyInboundUpgradedConnection: deny,
    denyOutboundUpgradedConnection: deny,
    // Members run on private networks too (a VPN, docker-compose), so no address class is refused.
    denyDialMultiaddr: () => false,
  };
}

/** Creates and starts the host. Throws HostError P2P_START_FAILED (e.g. the port is in use). */
export async function createHost(opts: HostOptions): Promise<Host> {
  const topics = opts.topics ?? [];
  const topicNames = topics.map((t) => t.topic);
  const penalties = opts.penalties ?? new PeerPenalties();
  const extraScore = opts.appSpecificScore;
  const appScore = extraScore === undefined ? (id: string) => penalties.score(id) : (id: string) => penalties.score(id) + extraScore(id);
  const limits = checkConnectionLimits({ ...DEFAULT_CONNECTION_LIMITS, ...opts.limits });
  const admission = new InboundAdmission(limits, opts.isMemberAddress ?? (() => false));
  const listen = typeof opts.listen === 'string' ? [opts.listen] : [...opts.listen];
  let node: Host;
  try {
    node = await createLibp2p<HostServices>({
      start: false,
      privateKey: opts.privateKey,
      addresses: { listen, ...(opts.announce === undefined ? {} : { announce: [...opts.announce] }) },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(opts.psk === undefined ? {} : { connectionProtector: preSharedKey({ psk: opts.psk }) }),
      connectionGater: gater(opts.isAllowed, admission),
      connectionManager: {
        maxIncomingPendingConnections: limits.maxPending,
        inboundConnectionThreshold: limits.connectionsPerSecond,
        // The whole inbound upgrade (pnet, noise, muxer) within the handshake timeout.
        inboundUpgradeTimeout: limits.handshakeTimeoutMs,
      },
      // libp2p pings every connection every 10 s and aborts it when a ping fails. Its adaptive
      // timeout follows loopback or LAN round trips down to its 5 s floor, so a node whose event loop
      // is busy for a few seconds (starting up, importing) had every connection cut, and gossip
      // state with it. A dead peer is still found within half a minute.
      connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_FLOOR_MS } },
      services: {
        identify: identify(),
        // Two pings may be out to one peer at once: libp2p's connection monitor's and the peer
        // directory's (peers.ts). With the default of one, the monitor's stream is refused whenever
        // they coincide, and the monitor takes that refusal for a dead peer and aborts the
        // connection, gossip streams and all. Peers accept two inbound pings (the ping spec's SHOULD).
        ping: ping({ maxOutboundStreams: 2 }),
        pubsub: (components) =>
          gossipsub({
            globalSignaturePolicy: 'StrictNoSign',
            msgIdFn: (msg) => messageId(msg.data),
            // Duplicates are dropped on this id before the message is decoded or validated.
            fastMsgIdFn: (rpc) => createHash('sha256').update(rpc.data ?? new Uint8Array(0)).digest('base64url'),
            // The string form of a message id is base64url, so for a batch it reads as its batch hash.
            msgIdToStrFn: (id) => Buffer.from(id).toString('base64url'),
            emitSelf: false,
            allowPublishToZeroTopicPeers: true,
            fallbackToFloodsub: false,
            // Peer exchange would hand out peers the roster did not name; the gater would refuse them anyway.
            doPX: false,
            ...(topicNames.length === 0 ? {} : { allowedTopics: topicNames }),
            // A batch is at most 512 KiB; one RPC may carry several messages.
            maxInboundDataLength: 4 * 1024 * 1024,
            scoreParams: scoreParams(topicNames, appScore),
            scoreThresholds: { ...SCORE_THRESHOLDS },
            ...(opts.heartbeatIntervalMs === undefined ? {} : { heartbeatInterval: opts.heartbeatIntervalMs }),
          })(components) as AlliancePubSub,
      },
    });
  } catch (err) {
    throw new HostError('P2P_START_FAILED', `cannot create the P2P host: ${(err as Error).message}`, undefined, { cause: err });
  }
  for (const t of topics) {
    const validator = t.validator;
    if (validator === undefined) continue;
    // Every rejection is counted in the peer's one account, whatever the topic (TOPIC_SCORE says why).
    node.services.pubsub.topicValidators.set(t.topic, async (peer, msg) => {
      let result: TopicValidatorResult;
      try {
        result = await validator(peer, msg);
      } catch (err) {
        if ((err as { code?: unknown } | null)?.code === 'ERR_TOPIC_VALIDATOR_REJECT') penalties.add(peer.toString(), 'invalid_message');
        throw err;
      }
      if (result === TopicValidatorResult.Reject) penalties.add(peer.toString(), 'invalid_message');
      return result;
    });
  }
  try {
    await node.start();
  } catch (err) {
    try {
      await node.stop();
    } catch {
      // The start error is the one worth reporting.
    }
    throw new HostError('P2P_START_FAILED', `cannot start the P2P host on ${listen.join(', ')}: ${(err as Error).message}`, { listen }, { cause: err });
  }
  return node;
}
