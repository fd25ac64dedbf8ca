import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newEpochKey, unwrapEpochKey, wrapEpochKey } from '../../../node/membership/epoch-keys.ts';
import { generateAdminKey, initMemberIdentity, loadAdminKey, loadMemberIdentity } from '../../../node/membership/keys.ts';
import { activeMembers, applyEntry, createGenesis, isRosterError, proposeEntry, signEntry, type EntryProposal, type RosterState } from '../../../node/membership/roster.ts';

/**
 * The roster together with the key files of keys.ts and the wrapped epoch keys of epoch-keys.ts:
 * what `alliance init` prints is a valid `member.add`, and after a revocation the new epoch key is
 * wrapped only for the remaining members, so the revoked member cannot unwrap it.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-epoch-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('roster with real member identities and epoch keys', () => {
  it('admits two members from their init requests, revokes one, and only the other can unwrap the new epoch key', async () => {
    const admins = await Promise.all([1, 2, 3].map(async (i) => {
      const file = path.join(dir, `admin-${i}.json`);
      await generateAdminKey(file, { name: `Admin ${i}` });
      return loadAdminKey(file);
    }));
    const signers = admins.map((a) => ({ kid: a.kid, privateKey: a.privateKey }));
    const reqA = await initMemberIdentity(path.join(dir, 'a'), { id: 'platform-a', name: 'Platform A', kind: 'platform', country: 'cn', addrs: ['/ip4/127.0.0.1/tcp/4101'] });
    const reqB = await initMemberIdentity(path.join(dir, 'b'), { id: 'brand-b', name: 'Brand B' });
    const idA = await loadMemberIdentity(path.join(dir, 'a'));
    const idB = await loadMemberIdentity(path.join(dir, 'b'));

    let t = Date.parse('2026-04-01T00:00:00Z');
    const at = () => new Date((t += 3600_000)).toISOString().slice(0, 19) + 'Z';
    const step = async (s: RosterState, p: EntryProposal, by = [signers[0]!, signers[2]!]) => applyEntry(s, await signEntry(await proposeEntry(s, { ...p, createdAt: at() } as EntryProposal), by));

    let s = await applyEntry(null, await signEntry(await createGenesis('demo', { admins: admins.map((a) => a.public), quorum: 2, epoch: 0 }, at()), signers));
    s = await step(s, { type: 'member.add', body: reqA });
    s = await step(s, { type: 'member.add', body: reqB });
    expect(s.members.map((m) => [m.id, m.country, m.status])).toEqual([['platform-a', 'CN', 'ACTIVE'], ['brand-b', 'ZZ', 'ACTIVE']]);
    expect(s.rekeyNeeded).toBe(true);

    const wrapAll = async (state: RosterState, key: Uint8Array, epoch: number) =>
      Object.fromEntries(await Promise.all(activeMembers(state).map(async (m) => [m.id, await wrapEpochKey(key, m.encryptionKey, { alliance: 'demo', epoch })] as const)));

    const k1 = newEpochKey();
    s = await step(s, { type: 'epoch.new', body: { epoch: 1, keys: await wrapAll(s, k1, 1) } });
    expect(await unwrapEpochKey(s.epochKeys['brand-b']!, idB.encryptionKey.privateJwk, { alliance: 'demo', epoch: 1 })).toEqual(k1);

    // A wrapped key made for another epoch is refused even though it is to the right member key.
    s = await step(s, { type: 'member.revoke', body: { id: 'brand-b', reason: 'leaked indicators' } });
    const k2 = newEpochKey();
    const stale = await wrapAll(s, k2, 7);
    const err = await step(s, { type: 'epoch.new', body: { epoch: 2, keys: stale } }).catch((e: unknown) => e);
    expect(isRosterError(err, 'bad_epoch')).toBe(true);

    s = await step(s, { type: 'epoch.new', body: { epoch: 2, keys: await wrapAll(s, k2, 2), reason: 'brand-b revoked' } });
    expect(Object.keys(s.epochKeys)).toEqual(['platform-a']);
    expect(await unwrapEpochKey(s.epochKeys['platform-a']!, idA.encryptionKey.privateJwk, { alliance: 'demo', epoch: 2 })).toEqual(k2);
    // brand-b has no wrapped key, and cannot open platform-a's.
    await expect(unwrapEpochKey(s.epochKeys['platform-a']!, idB.encryptionKey.privateJwk, { alliance: 'demo', epoch: 2 })).rejects.toThrow();
  });
});
