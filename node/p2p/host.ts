/**
 * The node's libp2p host (DESIGN §1, §4): TCP, noise, yamux, identify, ping and gossipsub, closed to
 * everyone but roster members by a connection gater, and optionally by a pre-shared key (pnet).
 *
 * There is no peer discovery (no mDNS, DHT or bootstrap list): the roster is the directory, and
 * `PeerDirectory` (peers.ts) dials the members it lists. Gossip carries messages that are already
 * signed end to end by their origin (batches, roster entries), so gossipsub runs `StrictNoSign` and
 * names a message by the SHA-256 of its bytes, which for a batch is its batch hash (schema/wire.md §4).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, type GossipSub, type TopicValidatorFn } from '@libp2p/gossipsub';
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';
import { identify, type Identify } from '@libp2p/identify';
import type { ConnectionGater, Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { AllianceError } from '../errors.ts';

export type HostErrorCode = 'SWARM_KEY_INVALID' | 'P2P_START_FAILED';

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
 * penalties (P3, P3b) are off because a quiet topic would punish honest peers for the silence. Invalid
 * messages (a validator's Reject: a forgery, never a message merely unknown or stale, which validators
 * Ignore) cost 10 × count²: one drops the peer to the gossip threshold, three put it near the publish
 * threshold, four graylist it; the count fades over about an hour.
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
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: decayOver(3600),
});

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
  /** Application score of a peer (gossipsub P5), added to its gossip score. */
  appSpecificScore?: ((peerId: string) => number) | undefined;
  /** Gossipsub heartbeat (mesh maintenance, score decay), ms; default 1000. */
  heartbeatIntervalMs?: number | undefined;
}

/** The least time libp2p's connection monitor waits for a ping before it aborts the connection. */
export const PING_TIMEOUT_FLOOR_MS = 20_000;

function gater(isAllowed: (peerId: string) => boolean): ConnectionGater {
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
    denyInboundEncryptedConnection: deny,
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
  const appScore = opts.appSpecificScore ?? (() => 0);
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
      connectionGater: gater(opts.isAllowed),
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
    if (t.validator !== undefined) node.services.pubsub.topicValidators.set(t.topic, t.validator);
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
