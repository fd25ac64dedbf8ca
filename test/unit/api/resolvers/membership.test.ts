import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RosterStore } from '../../../../node/membership/roster-store.ts';
import { applyEntry, type RosterState } from '../../../../node/membership/roster.ts';
import { startTestApi, type TestApi } from '../../../helpers/api.ts';
import { STORAGES } from '../../../helpers/storage.ts';
import { epochBody, genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin, type TestMember } from '../../../helpers/roster.ts';

const ALLIANCE = `{
  alliance {
    id name epoch quorum rekeyNeeded
    admins { kid name }
    members { id name kind country status peerId addrs signingKeys { kid validFrom validUntil } encryptionKid }
    rosterHead { seq hash updatedAt }
  }
}`;

let A: TestAdmin[];
let alice: TestMember;
let bob: TestMember;
let carol: TestMember;
const chain: string[] = [];
let state: RosterState;
let fork: string;

beforeAll(async () => {
  A = [await newTestAdmin('Admin One'), await newTestAdmin('Admin Two')];
  alice = await newTestMember('alice');
  bob = await newTestMember('bob');
  carol = await newTestMember('carol');
  chain.push(await genesisText('api-alliance', A, 1));
  let s = await applyEntry(null, chain[0]!);
  const genesisState = s;
  const add = async (text: string) => {
    chain.push(text);
    s = await applyEntry(s, text);
  };
  await add(await nextText(s, { type: 'member.add', body: alice.request }, [A[0]!]));
  await add(await nextText(s, { type: 'member.add', body: bob.request }, [A[1]!]));
  await add(await nextText(s, { type: 'epoch.new', body: await epochBody('api-alliance', 1, [alice.request, bob.request]) }, [A[0]!]));
  await add(await nextText(s, { type: 'member.suspend', body: { id: 'bob', reason: 'audit' } }, [A[0]!]));
  state = s;
  fork = await nextText(genesisState, { type: 'member.add', body: carol.request }, [A[1]!]);
});

afterAll(() => {
  for (const m of [alice, bob, carol]) fs.rmSync(m.dataDir, { recursive: true, force: true });
});

describe.each(STORAGES)('membership resolvers on %s', (storage) => {
  let t: TestApi;
  let store: RosterStore;

  beforeAll(async () => {
    // No roster passed: the API opens its own store over the database, as a second process would.
    t = await startTestApi({ storage });
    store = await RosterStore.open(t.db);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('alliance is null and members empty while the roster is empty', async () => {
    const r = await t.gql<{ alliance: unknown; members: unknown[] }>('{ alliance { id } members { id } }', undefined, await t.token('analyst'));
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data).toEqual({ alliance: null, members: [] });
  });

  it('shows the alliance, its admins, members (the peer directory) and head once entries are stored', async () => {
    for (const text of chain) await store.submit(text);
    const r = await t.gql<{ alliance: Record<string, unknown> & { members: Array<Record<string, unknown>> } }>(ALLIANCE, undefined, await t.token('trust'));
    expect(r.body.errors).toBeUndefined();
    const a = r.body.data!.alliance;
    expect(a).toMatchObject({
      id: 'api-alliance',
      name: 'Alliance api-alliance',
      epoch: 1,
      quorum: 1,
      rekeyNeeded: true,
      admins: A.map((x) => ({ kid: x.kid, name: x.key.name })),
      rosterHead: { seq: 4, hash: state.head, updatedAt: state.updatedAt },
    });
    expect(a.members.map((m) => [m.id, m.status])).toEqual([
      ['alice', 'ACTIVE'],
      ['bob', 'SUSPENDED'],
    ]);
    const m = state.members[0]!;
    expect(a.members[0]).toEqual({
      id: 'alice',
      name: 'Member alice',
      kind: 'PLATFORM',
      country: 'DE',
      status: 'ACTIVE',
      peerId: alice.request.peerId,
      addrs: [],
      signingKeys: [{ kid: m.signingKeys[0]!.kid, validFrom: m.signingKeys[0]!.validFrom, validUntil: null }],
      encryptionKid: alice.request.encryptionKey.kid,
    });
    // Nothing private: no JWK at all, let alone a `d`.
    expect(JSON.stringify(r.body)).not.toMatch(/"d"|"jwk"|"x"/);
  });

  it('members and alliance.members filter by status', async () => {
    const token = await t.token('analyst');
    const r = await t.gql<{ members: Array<{ id: string }>; alliance: { members: Array<{ id: string }> } }>(
      '{ members(status: [SUSPENDED]) { id } alliance { members(status: [ACTIVE, REVOKED]) { id } } }',
      undefined,
      token,
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.members.map((m) => m.id)).toEqual(['bob']);
    expect(r.body.data!.alliance.members.map((m) => m.id)).toEqual(['alice']);
    const all = await t.gql<{ members: Array<{ id: string }> }>('{ members { id } }', undefined, token);
    expect(all.body.data!.members.map((m) => m.id)).toEqual(['alice', 'bob']);
  });

  it('rosterAlarms: forks for admins only', async () => {
    await expect(store.submit(fork)).rejects.toMatchObject({ reason: 'fork' });
    const q = '{ rosterAlarms { id seq hash storedHash reason signed detectedAt } }';
    for (const role of ['analyst', 'trust'] as const) {
      const denied = await t.gql(q, undefined, await t.token(role));
      expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const r = await t.gql<{ rosterAlarms: Array<Record<string, unknown>> }>(q, undefined, await t.token('admin'));
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.rosterAlarms).toHaveLength(1);
    expect(r.body.data!.rosterAlarms[0]).toMatchObject({ seq: 1, storedHash: state.hashes[1], reason: 'fork', signed: fork });
    expect(Date.parse(r.body.data!.rosterAlarms[0]!.detectedAt as string)).not.toBeNaN();
  });
});
