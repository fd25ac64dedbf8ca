import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RosterStore } from '../../../../node/membership/roster-store.ts';
import { generateAdminKey, loadAdminKey, type LoadedAdminKey } from '../../../../node/membership/keys.ts';
import { addSignature, serializeSignedEntry, type RosterState } from '../../../../node/membership/roster.ts';
import { startTestApi, type TestApi } from '../../../helpers/api.ts';
import { STORAGES } from '../../../helpers/storage.ts';
import { genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin, type TestMember } from '../../../helpers/roster.ts';

const PROPOSAL = 'id seq hash type status signers signaturesNeeded summary body signed reason createdBy createdAt updatedAt';
const PROPOSE = `mutation P($type: RosterEntryType!, $body: String!) { proposeRosterChange(type: $type, body: $body) { ${PROPOSAL} } }`;
const APPROVE = `mutation A($id: ID!) { approveRosterProposal(id: $id) { ${PROPOSAL} } }`;
const SUBMIT = 'mutation S($signed: String!) { submitRosterEntry(signed: $signed) { applied seq hash } }';
const LIST = `query L($status: [RosterProposalStatus!]) { rosterProposals(status: $status) { ${PROPOSAL} } }`;
const MEMBERS = '{ alliance { members { id status } } }';

interface Proposal {
  id: string;
  seq: number;
  status: string;
  signers: string[];
  signaturesNeeded: number;
  signed: string;
  type: string;
  summary: string;
  createdBy: string;
}

let keyDir: string;
let nodeKey: LoadedAdminKey;
let nodeAdmin: TestAdmin;
let other: TestAdmin;
let alice: TestMember;
let bob: TestMember;
let carol: TestMember;

beforeAll(async () => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-admin-key-'));
  await generateAdminKey(path.join(keyDir, 'admin.json'), { name: 'Node Admin' });
  nodeKey = await loadAdminKey(path.join(keyDir, 'admin.json'));
  nodeAdmin = { kid: nodeKey.kid, privateKey: nodeKey.privateKey, key: nodeKey.public };
  other = await newTestAdmin('Offline Admin');
  alice = await newTestMember('alice');
  bob = await newTestMember('bob');
  carol = await newTestMember('carol');
});

afterAll(() => {
  fs.rmSync(keyDir, { recursive: true, force: true });
  for (const m of [alice, bob, carol]) fs.rmSync(m.dataDir, { recursive: true, force: true });
});

async function founded(storage: (typeof STORAGES)[number], quorum: number, adminKey: LoadedAdminKey | undefined): Promise<TestApi> {
  const t = await startTestApi({ storage, ...(adminKey === undefined ? {} : { adminKey }) });
  const store = await RosterStore.open(t.db);
  await store.submit(await genesisText(`proposals-q${quorum}`, [nodeAdmin, other], quorum, [nodeAdmin, other].slice(0, quorum)));
  return t;
}

describe.each(STORAGES)('roster proposals on %s', (storage) => {
  describe('quorum 1, the node holds an admin key', () => {
    let t: TestApi;
    let admin: string;
    beforeAll(async () => {
      t = await founded(storage, 1, nodeKey);
      admin = await t.token('admin', { sub: 'ops-admin' });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('proposeRosterChange member.add is signed by the node, submitted and visible in alliance.members', async () => {
      const r = await t.gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'MEMBER_ADD', body: JSON.stringify(alice.request) }, admin);
      expect(r.body.errors).toBeUndefined();
      const p = r.body.data!.proposeRosterChange;
      expect(p).toMatchObject({ seq: 1, type: 'MEMBER_ADD', status: 'SUBMITTED', signers: [nodeKey.kid], signaturesNeeded: 0, createdBy: 'ops-admin' });
      expect(p.summary).toContain('member alice');
      const m = await t.gql<{ alliance: { members: { id: string; status: string }[] } }>(MEMBERS, undefined, admin);
      expect(m.body.data!.alliance.members).toEqual([{ id: 'alice', status: 'ACTIVE' }]);
      const list = await t.gql<{ rosterProposals: Proposal[] }>(LIST, { status: ['SUBMITTED'] }, admin);
      expect(list.body.data!.rosterProposals.map((x) => x.id)).toEqual([p.id]);
    });

    it('approving a submitted proposal is CONFLICT', async () => {
      const list = await t.gql<{ rosterProposals: Proposal[] }>(LIST, {}, admin);
      const r = await t.gql(APPROVE, { id: list.body.data!.rosterProposals[0]!.id }, admin);
      expect(r.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    });

    it('an invalid body is BAD_USER_INPUT with the roster reason', async () => {
      const notJson = await t.gql(PROPOSE, { type: 'MEMBER_ADD', body: '{nope' }, admin);
      expect(notJson.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'body' });
      const malformed = await t.gql(PROPOSE, { type: 'MEMBER_ADD', body: JSON.stringify({ id: 'x' }) }, admin);
      expect(malformed.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'malformed' });
      const again = await t.gql(PROPOSE, { type: 'MEMBER_ADD', body: JSON.stringify(alice.request) }, admin);
      expect(again.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(again.body.errors?.[0]?.message).toMatch(/alice/);
      const unknown = await t.gql(PROPOSE, { type: 'MEMBER_SUSPEND', body: JSON.stringify({ id: 'nobody' }) }, admin);
      expect(unknown.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const list = await t.gql<{ rosterProposals: Proposal[] }>(LIST, {}, admin);
      expect(list.body.data!.rosterProposals).toHaveLength(1);
    });

    it('every field is for ADMIN only: FORBIDDEN for other roles', async () => {
      for (const role of ['analyst', 'trust'] as const) {
        const token = await t.token(role);
        const p = await t.gql(PROPOSE, { type: 'MEMBER_ADD', body: JSON.stringify(bob.request) }, token);
        expect(p.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        const l = await t.gql(LIST, {}, token);
        expect(l.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        const a = await t.gql(APPROVE, { id: '1' }, token);
        expect(a.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        const s = await t.gql(SUBMIT, { signed: '{}' }, token);
        expect(s.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
    });

    it('an unknown proposal is NOT_FOUND; a refused offline entry is BAD_USER_INPUT', async () => {
      const r = await t.gql(APPROVE, { id: '999' }, admin);
      expect(r.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const s = await t.gql(SUBMIT, { signed: '{"payload":"x","signatures":[]}' }, admin);
      expect(s.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(typeof s.body.errors?.[0]?.extensions?.reason).toBe('string');
    });
  });

  describe('quorum 2, two admins, the node holds one key', () => {
    let t: TestApi;
    let admin: string;
    beforeAll(async () => {
      t = await founded(storage, 2, nodeKey);
      admin = await t.token('admin');
    });
    afterAll(async () => {
      await t?.close();
    });

    it('a proposal stays OPEN with the node signature; approving again is CONFLICT; the offline signature completes it', async () => {
      const r = await t.gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'MEMBER_ADD', body: JSON.stringify(bob.request) }, admin);
      expect(r.body.errors).toBeUndefined();
      const p = r.body.data!.proposeRosterChange;
      expect(p).toMatchObject({ seq: 1, status: 'OPEN', signers: [nodeKey.kid], signaturesNeeded: 1 });

      const twice = await t.gql(APPROVE, { id: p.id }, admin);
      expect(twice.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(twice.body.errors?.[0]?.message).toMatch(/already signed/);

      const open = await t.gql<{ rosterProposals: Proposal[] }>(LIST, { status: ['OPEN'] }, admin);
      expect(open.body.data!.rosterProposals.map((x) => x.id)).toEqual([p.id]);

      // Offline: the other admin signs the proposal text (alliance admin sign) and submits it.
      const signed = serializeSignedEntry(await addSignature(open.body.data!.rosterProposals[0]!.signed, other));
      const s = await t.gql<{ submitRosterEntry: { applied: boolean; seq: number } }>(SUBMIT, { signed }, admin);
      expect(s.body.errors).toBeUndefined();
      expect(s.body.data!.submitRosterEntry).toMatchObject({ applied: true, seq: 1 });
      const again = await t.gql<{ submitRosterEntry: { applied: boolean } }>(SUBMIT, { signed }, admin);
      expect(again.body.data!.submitRosterEntry.applied).toBe(false);

      const m = await t.gql<{ alliance: { members: { id: string }[] } }>(MEMBERS, undefined, admin);
      expect(m.body.data!.alliance.members.map((x) => x.id)).toEqual(['bob']);
      const list = await t.gql<{ rosterProposals: Proposal[] }>(LIST, {}, admin);
      expect(list.body.data!.rosterProposals[0]).toMatchObject({ id: p.id, status: 'SUBMITTED', signaturesNeeded: 0 });
    });

    it('a proposal overtaken by another entry at its seq is STALE', async () => {
      const a = await t.gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'MEMBER_ADD', body: JSON.stringify(carol.request) }, admin);
      const b = await t.gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'MEMBER_SUSPEND', body: JSON.stringify({ id: 'bob', reason: 'audit' }) }, admin);
      expect(a.body.data!.proposeRosterChange.seq).toBe(2);
      expect(b.body.data!.proposeRosterChange.seq).toBe(2);
      const signed = serializeSignedEntry(await addSignature(b.body.data!.proposeRosterChange.signed, other));
      expect((await t.gql(SUBMIT, { signed }, admin)).body.errors).toBeUndefined();
      const list = await t.gql<{ rosterProposals: Proposal[] }>(LIST, {}, admin);
      const byId = new Map(list.body.data!.rosterProposals.map((x) => [x.id, x.status]));
      expect(byId.get(a.body.data!.proposeRosterChange.id)).toBe('STALE');
      expect(byId.get(b.body.data!.proposeRosterChange.id)).toBe('SUBMITTED');
      const r = await t.gql(APPROVE, { id: a.body.data!.proposeRosterChange.id }, admin);
      expect(r.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    });

    it('lists more than ten proposals newest first by number: 12, 11, 10 before 9', async () => {
      const made: string[] = [];
      for (let i = 0; i < 12; i++) {
        const r = await t.gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'MEMBER_REINSTATE', body: JSON.stringify({ id: 'bob', reason: `review ${i}` }) }, admin);
        expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
        made.push(r.body.data!.proposeRosterChange.id);
      }
      expect(Number(made.at(-1))).toBeGreaterThan(10);
      const open = await t.gql<{ rosterProposals: Proposal[] }>(LIST, { status: ['OPEN'] }, admin);
      expect(open.body.data!.rosterProposals.map((x) => x.id)).toEqual([...made].reverse());
    });
  });

  describe('REJECTED: the roster refuses a proposal that reached the quorum', () => {
    // Another process (a second API process, `alliance admin submit`) applies a rival entry at the
    // proposal's seq after this node last looked at the roster and before its own submit: the
    // node's view is held back for that window, the storage and roster store are the real ones.
    let t: TestApi;
    let store: RosterStore;
    let held: RosterState | null | undefined;
    let admin: string;
    beforeAll(async () => {
      t = await startTestApi({
        storage,
        adminKey: nodeKey,
        roster: async (db) => {
          store = await RosterStore.open(db);
          return { refresh: async () => (held === undefined ? store.refresh() : held), submit: (text) => store.submit(text), alarms: () => store.alarms() };
        },
      });
      await store.submit(await genesisText('proposals-rejected', [nodeAdmin, other], 1, [nodeAdmin]));
      admin = await t.token('admin', { sub: 'ops-admin' });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('a quorum-signed proposal overtaken in the race is REJECTED with reason fork, kept as an alarm, and can no longer be approved', async () => {
      held = await store.refresh();
      const rivalStore = await RosterStore.open(t.db);
      const rival = await rivalStore.submit(await nextText(held!, { type: 'member.add', body: bob.request }, [other]));
      expect(rival).toMatchObject({ applied: true, seq: 1 });

      const r = await t.gql(PROPOSE, { type: 'MEMBER_ADD', body: JSON.stringify(carol.request) }, admin);
      expect(r.body.data).toBeNull();
      expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'fork', id: expect.any(String) });
      expect(r.body.errors?.[0]?.message).toMatch(/^the roster refused proposal \d+: /);
      const id = r.body.errors![0]!.extensions!.id as string;
      held = undefined;

      const list = await t.gql<{ rosterProposals: Array<Proposal & { reason: string }> }>(LIST, { status: ['REJECTED'] }, admin);
      expect(list.body.errors).toBeUndefined();
      expect(list.body.data!.rosterProposals).toHaveLength(1);
      const p = list.body.data!.rosterProposals[0]!;
      expect(p).toMatchObject({ id, seq: 1, type: 'MEMBER_ADD', status: 'REJECTED', signers: [nodeKey.kid], signaturesNeeded: 0, createdBy: 'ops-admin' });
      expect(p.reason).toMatch(/^fork: /);
      // Settling the chain later does not turn it into STALE or SUBMITTED.
      const all = await t.gql<{ rosterProposals: Proposal[] }>(LIST, {}, admin);
      expect(all.body.data!.rosterProposals.map((x) => [x.id, x.status])).toEqual([[id, 'REJECTED']]);

      const alarms = await t.gql<{ rosterAlarms: Array<{ seq: number; reason: string; storedHash: string }> }>('{ rosterAlarms { seq reason storedHash } }', undefined, admin);
      expect(alarms.body.data!.rosterAlarms).toEqual([{ seq: 1, reason: 'fork', storedHash: rival.hash }]);
      const members = await t.gql<{ alliance: { members: { id: string }[] } }>(MEMBERS, undefined, admin);
      expect(members.body.data!.alliance.members.map((m) => m.id)).toEqual(['bob']);

      const a = await t.gql(APPROVE, { id }, admin);
      expect(a.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'REJECTED' });
      expect(a.body.errors?.[0]?.message).toMatch(/is REJECTED, not OPEN/);
    });
  });

  describe('a node without an admin key', () => {
    let t: TestApi;
    let admin: string;
    beforeAll(async () => {
      t = await founded(storage, 2, undefined);
      admin = await t.token('admin');
    });
    afterAll(async () => {
      await t?.close();
    });

    it('proposes unsigned; approving is FORBIDDEN (NO_ADMIN_KEY); offline signatures complete it', async () => {
      const r = await t.gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'QUORUM_SET', body: JSON.stringify({ quorum: 1 }) }, admin);
      expect(r.body.errors).toBeUndefined();
      const p = r.body.data!.proposeRosterChange;
      expect(p).toMatchObject({ status: 'OPEN', signers: [], signaturesNeeded: 2 });
      const a = await t.gql(APPROVE, { id: p.id }, admin);
      expect(a.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NO_ADMIN_KEY' });
      expect(a.body.errors?.[0]?.message).toMatch(/ALLIANCE_ADMIN_KEY/);
      let signed = await addSignature(p.signed, nodeAdmin);
      signed = await addSignature(signed, other);
      const s = await t.gql(SUBMIT, { signed: serializeSignedEntry(signed) }, admin);
      expect(s.body.errors).toBeUndefined();
      const q = await t.gql<{ alliance: { quorum: number } }>('{ alliance { quorum } }', undefined, admin);
      expect(q.body.data!.alliance.quorum).toBe(1);
    });
  });
});
