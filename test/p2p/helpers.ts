/**
 * Real libp2p hosts on loopback for the P2P tests, and the bookkeeping that closes them all.
 */
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
