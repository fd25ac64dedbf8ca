import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildEntry,
  checkMembershipRequest,
  describeEntry,
  dryRun,
  epochNewEntry,
  isProposalError,
  memberRotationFromRequest,
  memberUpdateFromRequest,
  ProposalError,
} from '../../../node/membership/proposal-build.ts';
import { loadMemberIdentity, rotateMemberKeys } from '../../../node/membership/keys.ts';
import { unwrapEpochKey } from '../../../node/membership/epoch-keys.ts';
import { applyEntry, memberById, type RosterState } from '../../../node/membership/roster.ts';
import { REPO_ROOT } from '../../helpers/cli.ts';
import { genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin, type TestMember } from '../../helpers/roster.ts';

let A: TestAdmin[];
let acme: TestMember;
let brand: TestMember;
let state: RosterState;

beforeAll(async () => {
  A = [await newTestAdmin('one'), await newTestAdmin('two')];
  acme = await newTestMember('acme');
  brand = await newTestMember('brand');
  state = await applyEntry(null, await genesisText('build-alliance', A, 2));
  for (const m of [acme, brand]) state = await applyEntry(state, await nextText(state, { type: 'member.add', body: m.request }, A));
  state = await applyEntry(state, await nextText(state, { type: 'member.suspend', body: { id: 'brand' } }, A));
});
afterAll(() => {
  for (const m of [acme, brand]) fs.rmSync(m.dataDir, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<ProposalError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProposalError);
  return err as ProposalError;
}

describe('proposal building (shared by the admin tools and GraphQL)', () => {
  it('epochNewEntry wraps one fresh key to each ACTIVE member only, and it dry-runs', async () => {
    const entry = await epochNewEntry(state, { reason: 'rekey' });
    expect(entry).toMatchObject({ type: 'epoch.new', seq: state.seq + 1, prev: state.head, body: { epoch: state.epoch + 1, reason: 'rekey' } });
    const keys = entry.type === 'epoch.new' ? entry.body.keys : {};
    expect(Object.keys(keys)).toEqual(['acme']);
    const id = await loadMemberIdentity(acme.dataDir);
    expect(await unwrapEpochKey(keys.acme!, id.encryptionKey.privateJwk, { alliance: 'build-alliance', epoch: state.epoch + 1 })).toHaveLength(32);
    const [after] = await dryRun(state, [entry]);
    expect(after).toMatchObject({ epoch: state.epoch + 1, rekeyNeeded: false, admins: state.admins, quorum: 2 });
    expect(describeEntry(entry)).toBe(`seq ${entry.seq} epoch.new (epoch ${state.epoch + 1}, key wrapped for acme) in alliance build-alliance, created ${entry.createdAt}`);
  });

  it('a bad value is PROPOSAL_REFUSED with the roster reason and field', async () => {
    const e = await refusal(epochNewEntry(state, { reason: 'a\u0000b' }));
    expect(e).toMatchObject({ code: 'PROPOSAL_REFUSED', reason: 'malformed', field: 'body.reason' });
    expect(isProposalError(e, 'PROPOSAL_REFUSED')).toBe(true);
    expect(isProposalError(e, 'NOT_A_REQUEST')).toBe(false);
    const q = await refusal(buildEntry(state, { type: 'quorum.set', body: { quorum: 0 } }, 'the quorum.set proposal'));
    expect(q).toMatchObject({ code: 'PROPOSAL_REFUSED', field: 'body.quorum' });
    expect(q.message).toMatch(/^the quorum\.set proposal: /);
  });

  it('dryRun refuses what a node would refuse: state transitions, duplicates, governance', async () => {
    const again = await buildEntry(state, { type: 'member.add', body: acme.request }, 'x');
    expect(await refusal(dryRun(state, [again]))).toMatchObject({ code: 'PROPOSAL_REFUSED', reason: 'member_exists' });
    const suspend = await buildEntry(state, { type: 'member.suspend', body: { id: 'brand' } }, 'x');
    expect(await refusal(dryRun(state, [suspend]))).toMatchObject({ reason: 'bad_state' });
    const quorum = await buildEntry(state, { type: 'quorum.set', body: { quorum: 3 } }, 'x');
    const q = await refusal(dryRun(state, [quorum]));
    expect(q).toMatchObject({ reason: 'bad_state' });
    expect(q.message).toContain('above the number of admins (2)');
    const remove = await buildEntry(state, { type: 'admin.remove', body: { kid: A[0]!.kid } }, 'x');
    expect((await refusal(dryRun(state, [remove]))).message).toContain('below the quorum of 2');
    // A valid chain of two: the states after each, with the real admins.
    const reinstate = await buildEntry(state, { type: 'member.reinstate', body: { id: 'brand' } }, 'x');
    const [s1] = await dryRun(state, [reinstate]);
    const epoch = await epochNewEntry(s1!);
    const [, s2] = await dryRun(state, [reinstate, epoch]);
    expect(memberById(s2!, 'brand')!.status).toBe('ACTIVE');
    expect(Object.keys(s2!.epochKeys).sort()).toEqual(['acme', 'brand']);
    expect(s2!.admins.map((a) => a.kid)).toEqual(A.map((a) => a.kid));
  });

  it('member.update and rotations from a request', async () => {
    const member = memberById(state, 'acme')!;
    const label = 'membership request new.json';
    const other = await refusal(memberUpdateFromRequest(member, brand.request as unknown as Record<string, unknown>, label));
    expect(other).toMatchObject({ code: 'NOT_A_REQUEST' });
    expect(other.message).toBe(`${label} is for member "brand", not acme`);
    const bad = await refusal(checkMembershipRequest({ ...acme.request, kind: 'BRAND' }, label));
    expect(bad.code).toBe('NOT_A_REQUEST');
    expect(bad.message).toMatch(/^membership request new\.json is not valid: .*kind/);

    const same = await refusal(memberRotationFromRequest(member, acme.request as unknown as Record<string, unknown>, label));
    expect(same.code).toBe('NOTHING_TO_CHANGE');
    expect(same.message).toContain('alliance rotate-keys');

    const rotated = await rotateMemberKeys(acme.dataDir, { encryption: true });
    const { body, ignored } = await memberRotationFromRequest(member, { ...rotated.request, country: 'FR' } as unknown as Record<string, unknown>, label);
    expect(body).toEqual({ id: 'acme', signingKey: { kid: rotated.signingKid, jwk: rotated.request.signingKeys[0]!.jwk }, encryptionKey: rotated.request.encryptionKey });
    expect(ignored).toEqual(['country']);

    const revoked = { ...member, status: 'REVOKED' as const };
    expect(await refusal(memberRotationFromRequest(revoked, rotated.request as unknown as Record<string, unknown>, label))).toMatchObject({ code: 'PROPOSAL_REFUSED', reason: 'bad_state' });
  });

  it('the membership layer never imports the command line', () => {
    const dir = path.join(REPO_ROOT, 'node', 'membership');
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      expect(text, f).not.toMatch(/from\s+['"][^'"]*\/cli\/|import\(\s*['"][^'"]*\/cli\//);
    }
  });
});
