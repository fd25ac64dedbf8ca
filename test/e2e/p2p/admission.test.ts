/**
 * Admission on the P2P listener (docs/architecture.md, "The exchange"; schema/wire.md §10 "Transport and admission"): an outsider
 * who holds idle or slow TCP connections on a member's port, re-opening each as soon as the node
 * closes it, must not keep real members from connecting. Real libp2p hosts on loopback; the outsider
 * is plain node:net sockets from loopback addresses of its own (127.0.0.2 and up).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PeerDirectory } from '../../../node/p2p/peers.ts';
import { createHost, DEFAULT_CONNECTION_LIMITS, HostError, normalizeIp, type Host } from '../../../node/p2p/host.ts';
import { connected, dialAddr, Hosts, newKey, Outsider, sleep, tcpAddr, tcpPort, waitFor } from '../../helpers/p2p.ts';

const hosts = new Hosts();
const outsiders: Outsider[] = [];
const directories: PeerDirectory[] = [];
afterEach(async () => {
  await Promise.all(outsiders.splice(0).map((o) => o.stop()));
  await Promise.all(directories.splice(0).map((d) => d.stop()));
  await hosts.closeAll();
});

function outsider(host: Host): Outsider {
  const o = new Outsider(tcpPort(tcpAddr(host)));
  outsiders.push(o);
  return o;
}

/**
 * `from` dials `to` `times` times, hanging up after each success; returns how many dials succeeded.
 * The dials are 250 ms apart, as a member's redials are at least (its backoff starts at 500 ms):
 * faster ones from one address meet the per-address rate limit (connectionsPerSecond) instead.
 */
async function dialRepeatedly(from: Host, to: Host, times: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < times; i++) {
    if (i > 0) await sleep(250);
    try {
      await from.dial(dialAddr(to), { signal: AbortSignal.timeout(5000) });
      ok++;
      await from.hangUp(to.peerId);
      await waitFor(() => !connected(from, to) && !connected(to, from), 'the hang-up to reach both sides');
    } catch {
      // Counted as a failure: the outsider kept the member out.
    }
  }
  return ok;
}

describe('the P2P listener under an outsider', () => {
  it('a member gets 7 of 7 dials through while an outsider holds 10 idle connections, re-opened whenever closed', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const a = await hosts.start({ key: ka, allow: new Set([kb.id]) });
    const b = await hosts.start({ key: kb, allow: new Set([ka.id]) });
    const o = outsider(a);
    o.hold('127.0.0.2', 10);
    await waitFor(() => o.opened >= 10, 'the outsider to open its connections');
    await sleep(300);

    expect(await dialRepeatedly(b, a, 7)).toBe(7);
    // The outsider was there all along, not refused once and gone.
    expect(o.openFrom('127.0.0.2')).toBeGreaterThan(0);
  });

  it('one address holds at most pendingPerAddress connections in their handshake; the rest are closed at once', async () => {
    const a = await hosts.start({ limits: { pendingPerAddress: 3 } });
    const o = outsider(a);
    o.hold('127.0.0.3', 10, { reopen: false });
    await waitFor(() => o.closedByNode >= 7, 'the node to refuse the connections over the limit', 3000);
    await sleep(300);
    expect(o.openFrom('127.0.0.3')).toBe(3);
    expect(o.closedByNode).toBe(7);
  });

  it('addresses not known as members\' share what is left of the pending room after the members\' reserve', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const limits = { maxPending: 10, reservedPending: 4, pendingPerAddress: 2 };
    // 127.0.0.1 is where the member's connections come from: the roster lists it.
    const a = await hosts.start({ key: ka, allow: new Set([kb.id]), limits, isMemberAddress: (ip: string) => ip === '127.0.0.1' });
    const b = await hosts.start({ key: kb, allow: new Set([ka.id]) });
    const o = outsider(a);
    // Twelve addresses, two connections each: 24 tries at 6 places (10 - 4).
    for (let i = 2; i < 14; i++) o.hold(`127.0.0.${i}`, 2, { reopenMs: 50 });
    await waitFor(() => o.opened >= 24, 'the outsider to open its connections');
    await sleep(400);
    // Sockets the node refused close within milliseconds; those it holds in their handshake stay.
    expect(o.heldLongerThan(250)).toBeLessThanOrEqual(limits.maxPending - limits.reservedPending);
    expect(o.heldLongerThan(250)).toBeGreaterThan(0);

    expect(await dialRepeatedly(b, a, 7)).toBe(7);
  });

  it('a connection that does not finish its handshake within handshakeTimeoutMs is closed, idle or trickling', async () => {
    const a = await hosts.start({ limits: { handshakeTimeoutMs: 800 } });
    const o = outsider(a);
    const started = performance.now();
    o.hold('127.0.0.4', 1, { reopen: false });
    o.hold('127.0.0.5', 1, { reopen: false, trickleMs: 100 });
    await waitFor(() => o.closedByNode === 2, 'the node to close both', 4000);
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(700);
    expect(took).toBeLessThan(2500);
  });

  it('the default limits keep a handshake short and leave members room', () => {
    expect(DEFAULT_CONNECTION_LIMITS.handshakeTimeoutMs).toBeLessThanOrEqual(5000);
    expect(DEFAULT_CONNECTION_LIMITS.reservedPending).toBeGreaterThan(0);
    expect(DEFAULT_CONNECTION_LIMITS.reservedPending).toBeLessThan(DEFAULT_CONNECTION_LIMITS.maxPending);
    expect(DEFAULT_CONNECTION_LIMITS.pendingPerAddress).toBeLessThan(DEFAULT_CONNECTION_LIMITS.maxPending - DEFAULT_CONNECTION_LIMITS.reservedPending);
  });

  it.each([
    ['no room left for anyone but members', { maxPending: 10, reservedPending: 10 }, 'reservedPending'],
    ['more per address than in all', { maxPending: 10, pendingPerAddress: 11 }, 'pendingPerAddress'],
    ['a handshake timeout under 100 ms', { handshakeTimeoutMs: 99 }, 'handshakeTimeoutMs'],
    ['no connection a second', { connectionsPerSecond: 0 }, 'connectionsPerSecond'],
    ['a fractional pool', { maxPending: 2.5 }, 'maxPending'],
  ])('refuses limits with %s (P2P_LIMITS_INVALID)', async (_name, limits, limit) => {
    const err = await createHost({ privateKey: (await newKey()).key, listen: '/ip4/127.0.0.1/tcp/0', isAllowed: () => true, limits }).then(
      async (h) => {
        await h.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HostError);
    expect(err).toMatchObject({ code: 'P2P_LIMITS_INVALID', details: { limit } });
  });

  it('spells an address one way, however it is written', () => {
    expect(normalizeIp('127.0.0.1')).toBe('127.0.0.1');
    for (const v of ['::ffff:127.0.0.1', '::FFFF:127.0.0.1', '0:0:0:0:0:ffff:7f00:1', '::ffff:7f00:0001']) expect(normalizeIp(v), v).toBe('127.0.0.1');
    expect(normalizeIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normalizeIp('::1')).toBe('::1');
    for (const bad of ['', 'localhost', '256.1.1.1', '1.2.3', '::g']) expect(normalizeIp(bad), bad).toBeUndefined();
  });
});

describe('member addresses (PeerDirectory)', () => {
  it('knows the addresses the roster lists, and learns those its members connect from', async () => {
    const [ka, kb, kc] = [await newKey(), await newKey(), await newKey()];
    // B has no address in the roster (behind NAT, it dials in); C has literal addresses of its own.
    const roster = {
      members: [
        { id: 'm-a', status: 'ACTIVE', peerId: ka.id, addrs: [] },
        { id: 'm-b', status: 'ACTIVE', peerId: kb.id, addrs: [] as string[] },
        { id: 'm-c', status: 'ACTIVE', peerId: kc.id, addrs: ['/ip4/127.0.0.9/tcp/4001', '/ip6/::ffff:127.0.0.10/tcp/4001'] },
        { id: 'm-d', status: 'SUSPENDED', peerId: (await newKey()).id, addrs: ['/ip4/127.0.0.11/tcp/4001'] },
      ],
    };
    const dir = new PeerDirectory({ roster: () => roster, self: 'm-a', backoff: { initialMs: 50, maxMs: 400, jitter: 0.2 }, pingIntervalMs: 0 });
    directories.push(dir);
    expect(dir.isMemberAddress('127.0.0.9')).toBe(true);
    // An IPv4 address written as IPv6 (how a dual-stack listener sees it) is the same address.
    expect(dir.isMemberAddress('::ffff:127.0.0.9')).toBe(true);
    expect(dir.isMemberAddress('127.0.0.10')).toBe(true);
    expect(dir.isMemberAddress('127.0.0.11')).toBe(false);
    expect(dir.isMemberAddress('127.0.0.1')).toBe(false);
    expect(dir.isMemberAddress('not an address')).toBe(false);

    const a = await hosts.start({ key: ka, isAllowed: (id: string) => dir.isAllowed(id) });
    await dir.start(a);
    const b = await hosts.start({ key: kb, allow: 'all' });
    await b.dial(dialAddr(a), { signal: AbortSignal.timeout(5000) });
    await waitFor(() => connected(a, b), 'B to dial in');
    expect(dir.isMemberAddress('127.0.0.1')).toBe(true);
    expect(dir.isMemberAddress('::ffff:127.0.0.1')).toBe(true);
    expect(dir.isMemberAddress('127.0.0.2')).toBe(false);

    // Suspended: what was learned of B goes with it.
    roster.members[1]!.status = 'SUSPENDED';
    dir.update();
    expect(dir.isMemberAddress('127.0.0.1')).toBe(false);
  });
});
