import { afterEach, describe, expect, it } from 'vitest';
import { PeerDirectory, type RosterView } from '../../../node/p2p/peers.ts';
import { connected, dialAddr, Hosts, newKey, sleep, tcpAddr, waitFor, type TestKey } from '../../helpers/p2p.ts';

const hosts = new Hosts();
const directories: PeerDirectory[] = [];
afterEach(async () => {
  await Promise.all(directories.splice(0).map((d) => d.stop()));
  await hosts.closeAll();
});

type Status = 'ACTIVE' | 'SUSPENDED' | 'REVOKED';
interface MutableRoster {
  members: Array<{ id: string; status: Status; peerId: string; addrs: string[] }>;
}

function member(id: string, key: TestKey, addrs: string[], status: Status = 'ACTIVE'): MutableRoster['members'][number] {
  return { id, status, peerId: key.id, addrs };
}

/** A host whose gater is a directory over `roster`, as the node wires them. */
async function directoryHost(self: string, key: TestKey, roster: () => RosterView | null, fast = true): Promise<{ host: Awaited<ReturnType<Hosts['start']>>; dir: PeerDirectory }> {
  const dir = new PeerDirectory({ roster, self, backoff: fast ? { initialMs: 50, maxMs: 400, jitter: 0.2 } : undefined, pingIntervalMs: 200, dialTimeoutMs: 2000 });
  directories.push(dir);
  const host = await hosts.start({ key, isAllowed: (id) => dir.isAllowed(id) });
  await dir.start(host);
  return { host, dir };
}

describe('PeerDirectory', () => {
  it('dials the ACTIVE members of the roster, not itself and not suspended ones', async () => {
    const [ka, kb, kc] = [await newKey(), await newKey(), await newKey()];
    const b = await hosts.start({ key: kb, allow: 'all' });
    const c = await hosts.start({ key: kc, allow: 'all' });
    const roster: MutableRoster = {
      members: [member('m-a', ka, ['/ip4/127.0.0.1/tcp/1']), member('m-b', kb, [tcpAddr(b)]), member('m-c', kc, [tcpAddr(c)], 'SUSPENDED')],
    };
    const { host: a, dir } = await directoryHost('m-a', ka, () => roster);

    expect(dir.isAllowed(kb.id)).toBe(true);
    expect(dir.isAllowed(kc.id)).toBe(false);
    expect(dir.isAllowed(ka.id)).toBe(false);
    await waitFor(() => connected(a, b), 'A to dial B');
    await sleep(200);
    expect(connected(a, c)).toBe(false);

    const status = dir.status();
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ memberId: 'm-b', peerId: kb.id, connected: true, addrs: [tcpAddr(b)] });
    expect(status[0]!.lastSeen).toBeInstanceOf(Date);
    expect(dir.counts()).toEqual({ known: 1, connected: 1 });
    expect(dir.memberOf(kb.id)).toBe('m-b');
    expect(dir.peerOf('m-b')).toBe(kb.id);
    expect(dir.memberOf(kc.id)).toBeUndefined();
  });

  it('knows no peers without a roster, and skips members with a bad peer id or address', async () => {
    const ka = await newKey();
    const kb = await newKey();
    let roster: MutableRoster | null = null;
    const { dir } = await directoryHost('m-a', ka, () => roster);
    expect(dir.status()).toEqual([]);
    roster = {
      members: [
        { id: 'm-x', status: 'ACTIVE', peerId: 'not-a-peer-id', addrs: ['/ip4/127.0.0.1/tcp/1'] },
        member('m-b', kb, ['not a multiaddr']),
      ],
    };
    expect(() => dir.update()).not.toThrow();
    expect(dir.status().map((s) => s.memberId)).toEqual(['m-b']);
    expect(dir.status()[0]!.connected).toBe(false);
    expect(() => new PeerDirectory({ roster: () => null, self: 'm-a', backoff: { initialMs: 0 } })).toThrow(RangeError);
    expect(() => new PeerDirectory({ roster: () => null, self: 'm-a', backoff: { initialMs: 100, maxMs: 10 } })).toThrow(RangeError);
  });

  it('hangs up at once on a peer that is suspended, refuses it while suspended, and reconnects on reinstatement', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const b = await hosts.start({ key: kb, allow: 'all' });
    const roster: MutableRoster = { members: [member('m-a', ka, []), member('m-b', kb, [tcpAddr(b)])] };
    const { host: a, dir } = await directoryHost('m-a', ka, () => roster);
    await waitFor(() => connected(a, b), 'A to dial B');

    roster.members[1]!.status = 'SUSPENDED';
    dir.update();
    expect(dir.isAllowed(kb.id)).toBe(false);
    await waitFor(() => !connected(a, b) && !connected(b, a), 'the connection to close', 1000);
    // B (which admits anyone) tries to come back in: A's gater refuses it now.
    await b.dial(dialAddr(a), { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    await sleep(300);
    expect(connected(a, b)).toBe(false);
    expect(dir.status()).toEqual([]);

    roster.members[1]!.status = 'ACTIVE';
    dir.update();
    await waitFor(() => connected(a, b), 'A to dial B again after reinstatement');
  });

  it('redials a peer that restarts on the same port', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const b1 = await hosts.start({ key: kb, allow: 'all' });
    const addr = tcpAddr(b1);
    const roster: MutableRoster = { members: [member('m-a', ka, []), member('m-b', kb, [addr])] };
    const disconnects: string[] = [];
    const dir = new PeerDirectory({ roster: () => roster, self: 'm-a', backoff: { initialMs: 50, maxMs: 400 }, onDisconnect: (p) => disconnects.push(p.memberId) });
    directories.push(dir);
    const a = await hosts.start({ key: ka, isAllowed: (id) => dir.isAllowed(id) });
    await dir.start(a);
    await waitFor(() => connected(a, b1), 'A to dial B');

    await b1.stop();
    await waitFor(() => !connected(a, b1), 'A to notice B went away');
    expect(disconnects).toEqual(['m-b']);
    // Down for a while: A keeps retrying with backoff meanwhile.
    await sleep(600);
    const b2 = await hosts.start({ key: kb, allow: 'all', listen: addr });
    await waitFor(() => connected(a, b2), 'A to redial the restarted B', 5000);
    expect(dir.status()[0]).toMatchObject({ memberId: 'm-b', connected: true });
  });

  it('does not dial a member without addresses, but accepts it dialing in', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const roster: MutableRoster = { members: [member('m-a', ka, []), member('m-b', kb, [])] };
    const { host: a, dir } = await directoryHost('m-a', ka, () => roster);
    const connects: string[] = [];
    const b = await hosts.start({ key: kb, allow: 'all' });
    // The directory's onConnect is not set here; the status shows the inbound connection.
    a.addEventListener('peer:connect', (evt) => connects.push(evt.detail.toString()));
    await sleep(200);
    expect(connected(a, b)).toBe(false);
    await b.dial(dialAddr(a));
    await waitFor(() => dir.status()[0]?.connected === true, 'the inbound connection to show');
    expect(connects).toEqual([kb.id]);
  });

  it('updates lastSeen from pings and markSeen, for allowed peers only', async () => {
    const [ka, kb, kc] = [await newKey(), await newKey(), await newKey()];
    const b = await hosts.start({ key: kb, allow: 'all' });
    const roster: MutableRoster = { members: [member('m-a', ka, []), member('m-b', kb, [tcpAddr(b)])] };
    const { host: a, dir } = await directoryHost('m-a', ka, () => roster);
    await waitFor(() => connected(a, b), 'A to dial B');
    const first = dir.status()[0]!.lastSeen!.getTime();
    // pingIntervalMs is 200 in these tests: a ping refreshes lastSeen without any traffic of ours.
    await waitFor(() => dir.status()[0]!.lastSeen!.getTime() > first, 'a ping to refresh lastSeen', 2000);

    const at = new Date(Date.now() + 60_000);
    dir.markSeen(kb.id, at);
    expect(dir.status()[0]!.lastSeen).toEqual(at);
    dir.markSeen(kc.id, at);
    expect(dir.status().map((s) => s.peerId)).toEqual([kb.id]);
  });

  it('stops dialing when stopped', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const b = await hosts.start({ key: kb, allow: 'all' });
    const addr = tcpAddr(b);
    await b.stop();
    const roster: MutableRoster = { members: [member('m-a', ka, []), member('m-b', kb, [addr])] };
    const { host: a, dir } = await directoryHost('m-a', ka, () => roster);
    await sleep(150);
    await dir.stop();
    const b2 = await hosts.start({ key: kb, allow: 'all', listen: addr });
    await sleep(600);
    expect(connected(a, b2)).toBe(false);
  });
});
