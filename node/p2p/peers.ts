/**
 * The roster as a peer directory (docs/architecture.md, "The exchange"): which peers may connect, and keeping connected to them.
 *
 * The allowed peers are the ACTIVE members other than this node, by peer id. The host's connection
 * gater asks `isAllowed`, so a suspended or revoked member is refused from the moment `update()` has
 * seen the roster entry, and `update()` also hangs up its open connections at once. Every allowed
 * member with addresses is dialed, and redialed after a failure or a disconnect with exponential
 * backoff and jitter (so that a restarted alliance does not have every node dial every other in the
 * same instant). A member without addresses is not dialed: it is expected to dial in.
 *
 * It also knows which IP addresses are members': those the roster lists, and those allowed peers
 * were seen connecting from (a member behind NAT, one listed by DNS name). The host keeps part of its
 * room for connections in their handshake to these addresses (host.ts, ConnectionLimits).
 *
 * Log lines name the peer's member id `peerMember`: `member` is the key a node's own logger may carry.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import type { Ping } from '@libp2p/ping';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Logger } from '../log.ts';
import { ipOf, normalizeIp } from './host.ts';

/** What the directory reads of the roster; a RosterState is one. */
export interface RosterView {
  members: ReadonlyArray<{ id: string; status: string; peerId: string; addrs: readonly string[] }>;
}

export interface PeerStatus {
  memberId: string;
  peerId: string;
  connected: boolean;
  /** Last connect, successful ping, request or message from the peer (this process's view). */
  lastSeen: Date | null;
  addrs: string[];
}

export interface Backoff {
  /** First retry delay, ms. */
  initialMs: number;
  /** Largest delay, ms. */
  maxMs: number;
  /** Share of each delay that is random: the delay is `d × (1 - jitter × r)` for r uniform in [0, 1). */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<Backoff> = Object.freeze({ initialMs: 500, maxMs: 60_000, jitter: 0.2 });

export interface PeerDirectoryOptions {
  /** The current roster (RosterStore.state), or null before there is one. */
  roster: () => RosterView | null;
  /** This node's member id: never a peer of itself. */
  self: string;
  backoff?: Partial<Backoff> | undefined;
  /** How long one dial may take, ms; default 10000. */
  dialTimeoutMs?: number | undefined;
  /** How often connected peers are pinged to refresh `lastSeen`, ms; 0 turns it off; default 30000. */
  pingIntervalMs?: number | undefined;
  log?: Logger | undefined;
  /** Called when an allowed peer connects (its first connection). */
  onConnect?: ((peer: PeerStatus) => void) | undefined;
  /** Called when an allowed peer's last connection closes. */
  onDisconnect?: ((peer: PeerStatus) => void) | undefined;
}

interface Entry {
  memberId: string;
  peerId: PeerId;
  addrs: string[];
  dialAddrs: Multiaddr[];
  /** IP addresses of `dialAddrs` (those given as IP literals). */
  listedIps: Set<string>;
  /** IP addresses its connections were seen coming from or going to, newest last (a few at most). */
  seenIps: string[];
  lastSeen: Date | null;
  attempt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  dialing: boolean;
}

type DirectoryHost = Libp2p<{ ping?: Ping }>;

/** Addresses remembered per member from its connections: a NAT's or two, not a history. */
const MAX_SEEN_IPS = 4;

export class PeerDirectory {
  readonly #opts: PeerDirectoryOptions;
  readonly #backoff: Backoff;
  readonly #dialTimeoutMs: number;
  readonly #pingIntervalMs: number;
  readonly #log: Logger | undefined;
  /** Allowed peers by peer id string. */
  #peers = new Map<string, Entry>();
  #libp2p: DirectoryHost | undefined;
  #stopping: AbortController | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: PeerDirectoryOptions) {
    this.#opts = opts;
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    if (!(this.#backoff.initialMs > 0) || !(this.#backoff.maxMs >= this.#backoff.initialMs) || !(this.#backoff.jitter >= 0 && this.#backoff.jitter <= 1)) {
      throw new RangeError('backoff needs 0 < initialMs <= maxMs and 0 <= jitter <= 1');
    }
    this.#dialTimeoutMs = opts.dialTimeoutMs ?? 10_000;
    this.#pingIntervalMs = opts.pingIntervalMs ?? 30_000;
    this.#log = opts.log;
    // Known before start, so that the gater of a host created before the directory starts is right.
    this.#peers = this.#allowedFromRoster(new Map());
  }

  /** Whether `peerId` belongs to an ACTIVE member other than this node (the gater's question). */
  isAllowed(peerId: string): boolean {
    return this.#peers.has(peerId);
  }

  /**
   * Whether `ip` is an address of an allowed member: one the roster lists for it, or one it was seen
   * connected at since it became allowed.
   */
  isMemberAddress(ip: string): boolean {
    const normal = normalizeIp(ip);
    if (normal === undefined) return false;
    for (const e of this.#peers.values()) if (e.listedIps.has(normal) || e.seenIps.includes(normal)) return true;
    return false;
  }

  /** Whether an allowed peer has a connection open now. */
  isConnected(peerId: string): boolean {
    const e = this.#peers.get(peerId);
    return e !== undefined && this.#connected(e);
  }

  /** The member id of an allowed peer. */
  memberOf(peerId: string): string | undefined {
    return this.#peers.get(peerId)?.memberId;
  }

  /** The peer id of an allowed member. */
  peerOf(memberId: string): string | undefined {
    for (const [peerId, e] of this.#peers) if (e.memberId === memberId) return peerId;
    return undefined;
  }

  /** Records that the peer was heard from (a gossip message, a request). Unknown peers are ignored. */
  markSeen(peerId: string, at = new Date()): void {
    const e = this.#peers.get(peerId);
    if (e !== undefined) e.lastSeen = at;
  }

  status(): PeerStatus[] {
    return [...this.#peers.values()].map((e) => this.#status(e));
  }

  counts(): { known: number; connected: number } {
    let connected = 0;
    for (const e of this.#peers.values()) if (this.#connected(e)) connected++;
    return { known: this.#peers.size, connected };
  }

  async start(libp2p: DirectoryHost): Promise<void> {
    if (this.#libp2p !== undefined) throw new Error('the peer directory is already started');
    this.#libp2p = libp2p;
    this.#stopping = new AbortController();
    libp2p.addEventListener('peer:connect', this.#onConnect);
    libp2p.addEventListener('peer:disconnect', this.#onDisconnect);
    libp2p.addEventListener('connection:open', this.#onConnectionOpen);
    if (this.#pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => void this.#pingAll(), this.#pingIntervalMs);
      this.#pingTimer.unref?.();
    }
    this.update();
  }

  async stop(): Promise<void> {
    const libp2p = this.#libp2p;
    if (libp2p === undefined) return;
    this.#libp2p = undefined;
    this.#stopping?.abort(new Error('the peer directory stopped'));
    libp2p.removeEventListener('peer:connect', this.#onConnect);
    libp2p.removeEventListener('peer:disconnect', this.#onDisconnect);
    libp2p.removeEventListener('connection:open', this.#onConnectionOpen);
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    for (const e of this.#peers.values()) {
      clearTimeout(e.timer);
      e.timer = undefined;
    }
  }

  /**
   * Re-reads the roster (call after every roster change): peers no longer allowed are forgotten and
   * hung up on at once; new ones are dialed; a member whose addresses changed is redialed there.
   */
  update(): void {
    const next = this.#allowedFromRoster(this.#peers);
    const removed = [...this.#peers.values()].filter((e) => next.get(e.peerId.toString()) !== e);
    this.#peers = next;
    for (const e of removed) {
      clearTimeout(e.timer);
      e.timer = undefined;
      if (!next.has(e.peerId.toString())) {
        this.#log?.info({ peerMember: e.memberId, peer: e.peerId.toString() }, 'peer no longer allowed; hanging up');
        void this.#libp2p?.hangUp(e.peerId).catch((err: unknown) => this.#log?.warn({ peer: e.peerId.toString(), err }, 'hang-up failed'));
      }
    }
    if (this.#libp2p === undefined) return;
    for (const e of next.values()) if (!this.#connected(e) && e.timer === undefined && !e.dialing) void this.#dial(e);
  }

  /** The allowed set from the roster, reusing `prev` entries whose member and addresses did not change. */
  #allowedFromRoster(prev: Map<string, Entry>): Map<string, Entry> {
    const out = new Map<string, Entry>();
    const roster = this.#opts.roster();
    for (const m of roster?.members ?? []) {
      if (m.status !== 'ACTIVE' || m.id === this.#opts.self) continue;
      let peerId: PeerId;
      try {
        peerId = peerIdFromString(m.peerId);
      } catch {
        this.#log?.warn({ peerMember: m.id }, 'roster member has an invalid peer id; not dialed');
        continue;
      }
      const key = peerId.toString();
      const old = prev.get(key);
      if (old !== undefined && old.memberId === m.id && sameList(old.addrs, m.addrs)) {
        out.set(key, old);
        continue;
      }
      const dialAddrs: Multiaddr[] = [];
      const listedIps = new Set<string>();
      for (const a of m.addrs) {
        try {
          const addr = multiaddr(a);
          dialAddrs.push(addr.encapsulate(`/p2p/${key}`));
          const ip = ipOf(addr);
          if (ip !== undefined) listedIps.add(ip);
        } catch {
          this.#log?.warn({ peerMember: m.id }, 'roster member has an invalid address; skipped');
        }
      }
      // What was seen of the same member under the same peer id still holds when only its addresses changed.
      const seenIps = old?.memberId === m.id ? old.seenIps : [];
      out.set(key, { memberId: m.id, peerId, addrs: [...m.addrs], dialAddrs, listedIps, seenIps, lastSeen: old?.lastSeen ?? null, attempt: 0, timer: undefined, dialing: false });
    }
    return out;
  }

  #connected(e: Entry): boolean {
    return (this.#libp2p?.getConnections(e.peerId).length ?? 0) > 0;
  }

  #status(e: Entry): PeerStatus {
    return { memberId: e.memberId, peerId: e.peerId.toString(), connected: this.#connected(e), lastSeen: e.lastSeen, addrs: [...e.addrs] };
  }

  #current(e: Entry): boolean {
    return this.#libp2p !== undefined && this.#peers.get(e.peerId.toString()) === e;
  }

  async #dial(e: Entry): Promise<void> {
    const libp2p = this.#libp2p;
    if (libp2p === undefined || e.dialAddrs.length === 0 || e.dialing || !this.#current(e)) return;
    e.dialing = true;
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(this.#dialTimeoutMs), this.#stopping!.signal]);
      await libp2p.dial(e.dialAddrs, { signal });
      e.attempt = 0;
    } catch (err) {
      if (!this.#current(e)) return;
      this.#log?.debug({ peerMember: e.memberId, attempt: e.attempt, err }, 'dial failed');
      this.#schedule(e);
    } finally {
      e.dialing = false;
    }
  }

  #schedule(e: Entry): void {
    if (!this.#current(e) || e.timer !== undefined || e.dialAddrs.length === 0) return;
    const { initialMs, maxMs, jitter } = this.#backoff;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(e.attempt, 30));
    const delay = Math.round(base * (1 - jitter * Math.random()));
    e.attempt++;
    e.timer = setTimeout(() => {
      e.timer = undefined;
      if (this.#current(e) && !this.#connected(e)) void this.#dial(e);
    }, delay);
    e.timer.unref?.();
  }

  async #pingAll(): Promise<void> {
    const libp2p = this.#libp2p;
    const pinger = libp2p?.services.ping;
    if (libp2p === undefined || pinger === undefined) return;
    await Promise.all(
      [...this.#peers.values()]
        .filter((e) => this.#connected(e))
        .map(async (e) => {
          try {
            await pinger.ping(e.peerId, { signal: AbortSignal.timeout(Math.min(this.#dialTimeoutMs, this.#pingIntervalMs)) });
            e.lastSeen = new Date();
          } catch {
            // The connection monitor closes connections that stop answering; lastSeen just stays put.
          }
        }),
    );
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    const e = this.#peers.get(evt.detail.toString());
    if (e === undefined) return;
    clearTimeout(e.timer);
    e.timer = undefined;
    e.attempt = 0;
    e.lastSeen = new Date();
    this.#log?.info({ peerMember: e.memberId, peer: evt.detail.toString() }, 'peer connected');
    this.#opts.onConnect?.(this.#status(e));
  };

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const e = this.#peers.get(evt.detail.toString());
    if (e === undefined) return;
    this.#log?.info({ peerMember: e.memberId, peer: evt.detail.toString() }, 'peer disconnected');
    this.#opts.onDisconnect?.(this.#status(e));
    // First redial after the initial delay, not at once: a peer that just went away is rarely back yet.
    e.attempt = 0;
    this.#schedule(e);
  };

  /**
   * A connection that got through while the roster changed (the gater saw the old one) is closed here.
   * A member's is remembered by its address, so its next connections find room kept for members.
   */
  readonly #onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail;
    const e = this.#peers.get(conn.remotePeer.toString());
    if (e === undefined) {
      this.#log?.warn({ peer: conn.remotePeer.toString() }, 'closing a connection from a peer that is not allowed');
      conn.abort(new Error('the peer is not an active member'));
      return;
    }
    const ip = ipOf(conn.remoteAddr);
    if (ip === undefined || e.listedIps.has(ip)) return;
    e.seenIps = [...e.seenIps.filter((x) => x !== ip), ip].slice(-MAX_SEEN_IPS);
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
