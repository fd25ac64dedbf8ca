/**
 * Real libp2p hosts on loopback for the P2P tests, and the bookkeeping that closes them all.
 */
import net from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createHost, type Host, type HostOptions } from '../../node/p2p/host.ts';

export const LOOPBACK = '/ip4/127.0.0.1/tcp/0';

export interface TestKey {
  key: PrivateKey;
  id: string;
}

export async function newKey(): Promise<TestKey> {
  const key = await generateKeyPair('Ed25519');
  return { key, id: peerIdFromPrivateKey(key).toString() };
}

/** Hosts started by a test; `closeAll` in afterEach stops every one, whatever the test did. */
export class Hosts {
  readonly #hosts: Host[] = [];

  async start(opts: Partial<HostOptions> & { key?: TestKey; allow?: Set<string> | 'all' }): Promise<Host & { key: TestKey }> {
    const key = opts.key ?? (await newKey());
    const allow = opts.allow ?? 'all';
    const host = await createHost({
      privateKey: key.key,
      listen: LOOPBACK,
      isAllowed: (id) => allow === 'all' || allow.has(id),
      ...opts,
    });
    this.#hosts.push(host);
    return Object.assign(host, { key });
  }

  async closeAll(): Promise<void> {
    const hosts = this.#hosts.splice(0);
    await Promise.all(hosts.map((h) => h.stop()));
  }
}

/** The host's loopback TCP address, without /p2p (as the roster lists addresses). */
export function tcpAddr(host: Host): string {
  const a = host.getMultiaddrs().find((m) => m.toString().startsWith('/ip4/127.0.0.1/tcp/'));
  if (a === undefined) throw new Error('the host has no loopback TCP address');
  return a.toString().replace(/\/p2p\/[^/]+$/, '');
}

/** The host's loopback TCP address with /p2p/<peer id>. */
export function dialAddr(host: Host): Multiaddr {
  return multiaddr(`${tcpAddr(host)}/p2p/${host.peerId.toString()}`);
}

export function connected(a: Host, b: Host): boolean {
  return a.getConnections(b.peerId).length > 0;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The TCP port of a multiaddr such as /ip4/127.0.0.1/tcp/4001. */
export function tcpPort(addr: string): number {
  const m = /\/tcp\/(\d+)/.exec(addr);
  if (m === null) throw new Error(`${addr} has no TCP port`);
  return Number(m[1]);
}

/**
 * Someone who is no member, holding idle TCP connections on a node's P2P port: plain sockets
 * (node:net) from loopback addresses of its own (127.0.0.2 and up; Linux routes all of 127/8 to
 * the loopback interface), each reopened shortly after the node closes or refuses it. It never
 * completes a handshake, and may trickle a byte now and then so that no inactivity timer fires.
 */
export class Outsider {
  readonly #port: number;
  readonly #sockets = new Set<net.Socket>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** When each open socket connected (performance.now()). */
  readonly #since = new Map<net.Socket, number>();
  #stopped = false;
  /** Connections the node closed or refused. */
  closedByNode = 0;
  /** Connections opened, in all. */
  opened = 0;

  constructor(port: number) {
    this.#port = port;
  }

  /** Connections open now, per local address. */
  openFrom(from?: string): number {
    let n = 0;
    for (const s of this.#sockets) if (!s.destroyed && s.readyState === 'open' && (from === undefined || s.localAddress === from)) n++;
    return n;
  }

  /** Connections open for at least `ms` now: those the node holds in their handshake, not those it refuses at once. */
  heldLongerThan(ms: number): number {
    const now = performance.now();
    let n = 0;
    for (const [s, at] of this.#since) if (!s.destroyed && now - at >= ms) n++;
    return n;
  }

  /** Opens `count` connections from `from`; each is reopened `reopenMs` after the node closes it (unless `reopen` is false). */
  hold(from: string, count: number, opts: { reopen?: boolean; reopenMs?: number; trickleMs?: number } = {}): void {
    const open = (): void => {
      if (this.#stopped) return;
      const s = net.connect({ host: '127.0.0.1', port: this.#port, localAddress: from });
      this.opened++;
      this.#sockets.add(s);
      let trickle: ReturnType<typeof setInterval> | undefined;
      if (opts.trickleMs !== undefined) {
        // One byte of a multistream-select header at a time: never a whole message.
        trickle = setInterval(() => s.write(Buffer.from([0x13])), opts.trickleMs);
      }
      s.on('connect', () => this.#since.set(s, performance.now()));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearInterval(trickle);
        this.#sockets.delete(s);
        this.#since.delete(s);
        if (this.#stopped) return;
        this.closedByNode++;
        if (opts.reopen === false) return;
        const t = setTimeout(() => {
          this.#timers.delete(t);
          open();
        }, opts.reopenMs ?? 20);
        this.#timers.add(t);
      });
    };
    for (let i = 0; i < count; i++) open();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }
}
