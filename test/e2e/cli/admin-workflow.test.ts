import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../../helpers/cli.ts';
import { unwrapEpochKey } from '../../../node/membership/epoch-keys.ts';
import { loadMemberIdentity } from '../../../node/membership/keys.ts';
import { applyEntry, isRosterError, memberById, parseSignedEntry, replay, signingKeyValidAt, type RosterState } from '../../../node/membership/roster.ts';
import type { AdminKey, MembershipRequest } from '../../../node/membership/types.ts';

/**
 * The offline admin workflow end to end, through the real CLI: three admins found an alliance with
 * quorum 2, admit members, rotate a member's keys, suspend, reinstate and revoke it. Proposal files
 * pass from admin to admin; each fully signed one is appended to a roster log file, which the test
 * validates with `replay` from the genesis, as a node does on submit. The next command reads that
 * log with --roster. The tests of the first describe build on each other and run in order (run the
 * file, not one of them with -t).
 */
let root: { dir: string; remove: () => void };
const W = (name: string) => path.join(root.dir, name);
const ROSTER = () => W('roster.jsonl');

beforeAll(() => {
  root = tempDir('alliance-admin-wf-');
});
afterAll(() => root.remove());

async function ok(args: string[]): Promise<CliResult> {
  const r = await runCli(args);
  expect(r.code, `alliance ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

async function fails(args: string[], code: 1 | 2, pattern: RegExp): Promise<CliResult> {
  const r = await runCli(args);
  expect(r.code, `alliance ${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(code);
  expect(r.stderr).toMatch(pattern);
  return r;
}

function rosterLines(): string[] {
  return fs.readFileSync(ROSTER(), 'utf8').split('\n').filter((l) => l !== '');
}

/** Appends a signed proposal file to the roster log, as a node applying it would, and validates the whole log. */
async function submit(file: string): Promise<RosterState> {
  const text = fs.readFileSync(file, 'utf8');
  expect(text.endsWith('\n') && text.indexOf('\n') === text.length - 1, 'a proposal file is one line').toBe(true);
  fs.appendFileSync(ROSTER(), text);
  return replay(rosterLines());
}

async function state(): Promise<RosterState> {
  return replay(rosterLines());
}

/** Signs FILE with each admin key in turn, as each admin would on their own machine. */
async function signBy(file: string, ...admins: number[]): Promise<void> {
  for (const a of admins) await ok(['admin', 'sign', file, '--key', W(`admin${a}.key`), '--roster', ROSTER()]);
}

const pub = (a: number) => W(`admin${a}.pub.json`);

describe('alliance admin: offline workflow', () => {
  it('every new subcommand has --help and is listed', async () => {
    const help = await ok(['admin', '--help']);
    for (const sub of ['genesis', 'propose', 'sign', 'revoke', 'rotate']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
      const r = await ok(['admin', sub, '--help']);
      expect(r.stdout).toMatch(new RegExp(`^Usage: alliance admin ${sub} `));
      expect(r.stdout).toContain('Options:');
    }
  });

  it('three admins found an alliance with quorum 2', async () => {
    await Promise.all([1, 2, 3, 4].map(async (a) => {
      const r = await ok(['admin', 'keygen', '--out', W(`admin${a}.key`), '--name', `Admin ${a}`]);
      fs.writeFileSync(pub(a), r.stdout);
    }));
    const g = W('genesis.json');
    await ok(['admin', 'genesis', '--alliance', 'demo-alliance', '--admin', pub(1), '--admin', pub(2), '--admin', pub(3), '--quorum', '2', '--name', 'Demo Alliance', '--out', g]);
    const fresh = await parseSignedEntry(fs.readFileSync(g, 'utf8'));
    expect(fresh.signed.signatures).toEqual([]);
    expect(fresh.entry).toMatchObject({ seq: 0, prev: null, type: 'genesis', alliance: 'demo-alliance', body: { quorum: 2, epoch: 0, name: 'Demo Alliance' } });
    expect(fresh.entry.type === 'genesis' && fresh.entry.body.admins.map((a) => a.name)).toEqual(['Admin 1', 'Admin 2', 'Admin 3']);

    // Admin 4 is not a founding admin: refused even without a roster (the genesis lists its admins).
    await fails(['admin', 'sign', g, '--key', W('admin4.key')], 1, /is not an admin of the genesis.*\[NOT_ADMIN\]/);
    const one = await ok(['admin', 'sign', g, '--key', W('admin1.key')]);
    expect(one.stderr).toMatch(/1 signature\(s\); quorum 2: 1 more needed/);
    // One signature is not a quorum: a node refuses it.
    await expect(applyEntry(null, fs.readFileSync(g, 'utf8'))).rejects.toSatisfy((e) => isRosterError(e, 'insufficient_signatures'));

    // Signing twice with one key is refused and leaves the file as it was.
    const before = fs.readFileSync(g, 'utf8');
    await fails(['admin', 'sign', g, '--key', W('admin1.key')], 1, /already signed by .*\[ALREADY_SIGNED\]/);
    expect(fs.readFileSync(g, 'utf8')).toBe(before);

    // --out writes the signed copy elsewhere and keeps the input.
    const two = await ok(['admin', 'sign', g, '--key', W('admin2.key'), '--out', W('genesis-signed.json')]);
    expect(two.stderr).toMatch(/quorum 2 reached: ready to submit/);
    expect(fs.readFileSync(g, 'utf8')).toBe(before);
    fs.writeFileSync(ROSTER(), '');
    const s = await submit(W('genesis-signed.json'));
    expect(s).toMatchObject({ alliance: 'demo-alliance', name: 'Demo Alliance', seq: 0, quorum: 2, epoch: 0, members: [] });
    expect(s.admins.map((a) => a.name)).toEqual(['Admin 1', 'Admin 2', 'Admin 3']);
  }, 60_000);

  it('admits members from their alliance init requests, then delivers the first epoch key', async () => {
    await Promise.all([
      ok(['init', '--member-id', 'acme', '--name', 'Acme Marketplace', '--kind', 'PLATFORM', '--country', 'CN', '--addr', '/dns4/acme.example/tcp/4001', '--data-dir', W('acme')]).then((r) => fs.writeFileSync(W('acme.request.json'), r.stdout)),
      ok(['init', '--member-id', 'brand-b', '--name', 'Brand B', '--kind', 'RIGHTS_HOLDER', '--data-dir', W('brand-b')]).then((r) => fs.writeFileSync(W('brand-b.request.json'), r.stdout)),
    ]);
    const add = W('1-add-acme.json');
    const r = await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.add', '--request', W('acme.request.json'), '--out', add]);
    expect(r.stderr).toMatch(/seq 1 member\.add \(member acme/);
    expect(r.stderr).toContain('propose an epoch.new');
    await signBy(add, 1, 3);
    let s = await submit(add);
    expect(memberById(s, 'acme')).toMatchObject({ status: 'ACTIVE', kind: 'PLATFORM', country: 'CN', addrs: ['/dns4/acme.example/tcp/4001'] });

    // The same request again: refused before it goes round the admins.
    await fails(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.add', '--request', W('acme.request.json'), '--out', W('dup.json')], 1, /already exists \(member_exists.*\[PROPOSAL_REFUSED\]/);
    expect(fs.existsSync(W('dup.json'))).toBe(false);

    const addB = W('2-add-brand-b.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.add', '--request', W('brand-b.request.json'), '--out', addB]);
    await signBy(addB, 2, 3);
    s = await submit(addB);
    expect(s.members.map((m) => [m.id, m.status])).toEqual([['acme', 'ACTIVE'], ['brand-b', 'ACTIVE']]);
    expect(s.rekeyNeeded).toBe(true);

    const epoch = W('3-epoch.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'epoch.new', '--reason', 'first key', '--out', epoch]);
    await signBy(epoch, 1, 2);
    s = await submit(epoch);
    expect(s).toMatchObject({ epoch: 1, rekeyNeeded: false });
    const acme = await loadMemberIdentity(W('acme'));
    const brand = await loadMemberIdentity(W('brand-b'));
    const ctx = { alliance: 'demo-alliance', epoch: 1 };
    const k1 = await unwrapEpochKey(s.epochKeys.acme!, acme.encryptionKey.privateJwk, ctx);
    expect(await unwrapEpochKey(s.epochKeys['brand-b']!, brand.encryptionKey.privateJwk, ctx)).toEqual(k1);
    expect(k1).toHaveLength(32);
  }, 60_000);

  it('rotates a member\'s keys from the request of a fresh data directory', async () => {
    const r0 = await ok(['init', '--member-id', 'acme', '--name', 'Acme Marketplace', '--kind', 'PLATFORM', '--country', 'CN', '--addr', '/dns4/acme2.example/tcp/4001', '--data-dir', W('acme-new')]);
    fs.writeFileSync(W('acme.new-request.json'), r0.stdout);
    const req = JSON.parse(r0.stdout) as MembershipRequest;
    const before = await state();
    const oldKid = memberById(before, 'acme')!.signingKeys[0]!.kid;

    const rot = W('4-rotate-acme.json');
    const r = await ok(['admin', 'rotate', '--roster', ROSTER(), '--member', 'acme', '--request', W('acme.new-request.json'), '--out', rot]);
    expect(r.stderr).toContain(`New signing key ${req.signingKeys[0]!.kid}`);
    const parsed = await parseSignedEntry(fs.readFileSync(rot, 'utf8'));
    expect(parsed.entry.type).toBe('member.update');
    expect(parsed.entry.body).toEqual({
      id: 'acme',
      signingKey: { kid: req.signingKeys[0]!.kid, jwk: req.signingKeys[0]!.jwk },
      encryptionKey: req.encryptionKey,
      peerId: req.peerId,
      addrs: ['/dns4/acme2.example/tcp/4001'],
    });
    await signBy(rot, 2, 3);
    let s = await submit(rot);
    const m = memberById(s, 'acme')!;
    const T = parsed.entry.createdAt;
    expect(m.signingKeys.map((k) => [k.kid, k.validUntil])).toEqual([[oldKid, T], [req.signingKeys[0]!.kid, null]]);
    expect(m.encryptionKey.kid).toBe(req.encryptionKey.kid);
    expect(m.peerId).toBe(req.peerId);
    // Batches signed with the old key before the rotation stay valid, later ones are refused.
    expect(signingKeyValidAt(s, 'acme', oldKid, before.updatedAt)).toBe(true);
    expect(signingKeyValidAt(s, 'acme', oldKid, T)).toBe(false);
    expect(signingKeyValidAt(s, 'acme', req.signingKeys[0]!.kid, T)).toBe(true);
    expect(s.rekeyNeeded).toBe(true); // the encryption key changed

    // Nothing left to rotate with the same request; member.update with it changes nothing either.
    await fails(['admin', 'rotate', '--roster', ROSTER(), '--member', 'acme', '--request', W('acme.new-request.json'), '--out', W('x.json')], 1, /no new signing key.*\[NOTHING_TO_CHANGE\]/);
    await fails(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.update', '--member', 'acme', '--request', W('acme.new-request.json'), '--out', W('x.json')], 1, /changes nothing.*\[NOTHING_TO_CHANGE\]/);
    // Another member's request is not this member's.
    await fails(['admin', 'rotate', '--roster', ROSTER(), '--member', 'acme', '--request', W('brand-b.request.json'), '--out', W('x.json')], 1, /is for member "brand-b", not acme.*\[NOT_A_REQUEST\]/);

    // The member receives the current epoch under its new key.
    const epoch = W('5-epoch.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'epoch.new', '--out', epoch]);
    await signBy(epoch, 1, 3);
    s = await submit(epoch);
    expect(s.epoch).toBe(2);
    const acmeNew = await loadMemberIdentity(W('acme-new'));
    expect(await unwrapEpochKey(s.epochKeys.acme!, acmeNew.encryptionKey.privateJwk, { alliance: 'demo-alliance', epoch: 2 })).toHaveLength(32);
  }, 60_000);

  it('suspends and reinstates a member', async () => {
    const sus = W('6-suspend.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.suspend', '--member', 'acme', '--reason', 'under investigation', '--out', sus]);
    // A rival proposal for the same seq can be written while the roster has not changed; once one
    // is applied, the other is stale and signing it is refused.
    const rival = W('6-rival.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.suspend', '--member', 'brand-b', '--out', rival]);
    await signBy(sus, 1, 2);
    let s = await submit(sus);
    expect(memberById(s, 'acme')!.status).toBe('SUSPENDED');
    await fails(['admin', 'sign', rival, '--key', W('admin1.key'), '--roster', ROSTER()], 1, /is stale.*\[STALE_PROPOSAL\]/);
    await fails(['admin', 'sign', sus, '--key', W('admin3.key'), '--roster', ROSTER()], 1, /already in the roster.*\[STALE_PROPOSAL\]/);
    await fails(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.suspend', '--member', 'acme', '--out', W('x.json')], 1, /needs a member that is ACTIVE; acme is SUSPENDED \(bad_state.*\[PROPOSAL_REFUSED\]/);
    expect(signingKeyValidAt(s, 'acme', memberById(s, 'acme')!.signingKeys[1]!.kid, s.updatedAt)).toBe(false);

    const rein = W('7-reinstate.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.reinstate', '--member', 'acme', '--out', rein]);
    await signBy(rein, 3, 1);
    s = await submit(rein);
    expect(memberById(s, 'acme')!.status).toBe('ACTIVE');
  }, 60_000);

  it('revokes a member in two entries; the new epoch key is unwrappable only by the remaining member', async () => {
    const out = W('revoke');
    const r = await ok(['admin', 'revoke', 'acme', '--roster', ROSTER(), '--out-dir', out, '--reason', 'confirmed leak']);
    const before = await state();
    const [revokeFile, epochFile] = r.stdout.trim().split('\n');
    expect(revokeFile).toBe(path.join(out, `${before.seq + 1}-member.revoke.json`));
    expect(epochFile).toBe(path.join(out, `${before.seq + 2}-epoch.new.json`));
    const rev = await parseSignedEntry(fs.readFileSync(revokeFile!, 'utf8'));
    const ep = await parseSignedEntry(fs.readFileSync(epochFile!, 'utf8'));
    expect(rev.entry).toMatchObject({ type: 'member.revoke', seq: before.seq + 1, prev: before.head, body: { id: 'acme', reason: 'confirmed leak' } });
    expect(ep.entry).toMatchObject({ type: 'epoch.new', seq: before.seq + 2, prev: rev.hash, body: { epoch: before.epoch + 1 } });
    expect(ep.entry.type === 'epoch.new' && Object.keys(ep.entry.body.keys)).toEqual(['brand-b']);

    await signBy(revokeFile!, 1, 2);
    await signBy(epochFile!, 2, 3); // with --roster at head + 1: checked against the current admins
    // Out of order, the epoch.new is refused (it is chained on the revocation).
    await expect(applyEntry(before, fs.readFileSync(epochFile!, 'utf8'))).rejects.toSatisfy((e) => isRosterError(e, 'gap'));
    await submit(revokeFile!);
    const s = await submit(epochFile!);
    expect(memberById(s, 'acme')!.status).toBe('REVOKED');
    expect(s.epoch).toBe(3);
    expect(Object.keys(s.epochKeys)).toEqual(['brand-b']);

    const ctx = { alliance: 'demo-alliance', epoch: 3 };
    const brand = await loadMemberIdentity(W('brand-b'));
    expect(await unwrapEpochKey(s.epochKeys['brand-b']!, brand.encryptionKey.privateJwk, ctx)).toHaveLength(32);
    // Neither of acme's identities (current or pre-rotation) can open the only wrapped key.
    for (const dir of ['acme-new', 'acme']) {
      const acme = await loadMemberIdentity(W(dir));
      await expect(unwrapEpochKey(s.epochKeys['brand-b']!, acme.encryptionKey.privateJwk, ctx)).rejects.toMatchObject({ code: 'EPOCH_KEY_WRONG_RECIPIENT' });
    }

    // A revoked member cannot be revoked, rotated or reinstated again.
    await fails(['admin', 'revoke', 'acme', '--roster', ROSTER(), '--out-dir', W('revoke2')], 1, /already revoked/);
    await fails(['admin', 'rotate', '--roster', ROSTER(), '--member', 'acme', '--request', W('acme.request.json'), '--out', W('x.json')], 1, /is revoked/);
    await fails(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.reinstate', '--member', 'acme', '--out', W('x.json')], 1, /REVOKED.*\[PROPOSAL_REFUSED\]/);
    expect(fs.existsSync(W('revoke2'))).toBe(false);
  }, 60_000);

  it('governance entries: admin.add, quorum.set, admin.remove with their checks', async () => {
    const add = W('gov-add.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'admin.add', '--admin', pub(4), '--out', add]);
    await signBy(add, 1, 2);
    let s = await submit(add);
    const kid4 = (JSON.parse(fs.readFileSync(pub(4), 'utf8')) as AdminKey).kid;
    expect(s.admins.map((a) => a.kid)).toContain(kid4);

    await fails(['admin', 'propose', '--roster', ROSTER(), '--type', 'quorum.set', '--quorum', '5', '--out', W('x.json')], 1, /above the number of admins \(4\).*\[PROPOSAL_REFUSED\]/);
    const q = W('gov-quorum.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'quorum.set', '--quorum', '3', '--out', q]);
    await signBy(q, 4, 1);
    s = await submit(q);
    expect(s.quorum).toBe(3);

    await fails(['admin', 'propose', '--roster', ROSTER(), '--type', 'admin.remove', '--kid', 'not-an-admin', '--out', W('x.json')], 1, /not-an-admin is not an admin.*\[PROPOSAL_REFUSED\]/);
    const rm = W('gov-remove.json');
    // A kid is base64url and may begin with '-': the `--kid=` form is what the CLI's help asks for then.
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'admin.remove', `--kid=${kid4}`, '--out', rm]);
    await signBy(rm, 1, 2);
    // Two signatures no longer make a quorum.
    await expect(submit(rm)).rejects.toSatisfy((e) => isRosterError(e, 'insufficient_signatures'));
    fs.writeFileSync(ROSTER(), rosterLines().slice(0, -1).join('\n') + '\n');
    await signBy(rm, 3);
    s = await submit(rm);
    expect(s.admins.map((a) => a.kid)).not.toContain(kid4);
    // The removed admin's key is refused from now on.
    const next = W('gov-after.json');
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'quorum.set', '--quorum', '2', '--out', next]);
    await fails(['admin', 'sign', next, '--key', W('admin4.key'), '--roster', ROSTER()], 1, /is not an admin of the roster.*\[NOT_ADMIN\]/);
    // Without --roster the signature is added, but a node refuses the entry (not_admin).
    await ok(['admin', 'sign', next, '--key', W('admin4.key')]);
    await signBy(next, 1, 2, 3);
    await expect(submit(next)).rejects.toSatisfy((e) => isRosterError(e, 'not_admin'));
  }, 90_000);
});

describe('alliance admin: bad input', () => {
  it('refuses missing, non-JSON and non-proposal files, unknown members, wrong types (exit 1 or 2)', async () => {
    // ROSTER() holds the chain of the workflow above when run in order; use a fresh one here.
    const t = tempDir('alliance-admin-bad-');
    try {
      const D = (n: string) => path.join(t.dir, n);
      const k = await ok(['admin', 'keygen', '--out', D('a.key')]);
      fs.writeFileSync(D('a.pub.json'), k.stdout);
      await ok(['admin', 'genesis', '--alliance', 'bad', '--admin', D('a.pub.json'), '--quorum', '1', '--out', D('g.json')]);
      await ok(['admin', 'sign', D('g.json'), '--key', D('a.key')]);
      fs.copyFileSync(D('g.json'), D('roster.jsonl'));
      fs.writeFileSync(D('not-json.json'), 'hello');
      fs.writeFileSync(D('obj.json'), '{"a":1}\n');
      fs.writeFileSync(D('bad-request.json'), JSON.stringify({ id: 'm', name: 'M', kind: 'BRAND', country: 'ZZ', signingKeys: [], encryptionKey: {}, peerId: 'x', addrs: [] }));
      const roster = D('roster.jsonl');
      // A few at a time: each is a Node process, and the suite runs on small machines.
      const cases: Array<[string[], 1 | 2, RegExp]> = [
        [['admin', 'propose', '--roster', D('missing.jsonl'), '--type', 'member.suspend', '--member', 'x', '--out', D('x.json')], 1, /roster log file .*missing\.jsonl does not exist \[FILE_NOT_FOUND\]/],
        [['admin', 'propose', '--roster', D('not-json.json'), '--type', 'epoch.new', '--out', D('x.json')], 1, /line 1: .*\[ROSTER_FILE_INVALID\]/],
        [['admin', 'propose', '--roster', roster, '--type', 'member.suspend', '--member', 'ghost', '--out', D('x.json')], 1, /no member ghost in the roster .*members are: none \[UNKNOWN_MEMBER\]/],
        [['admin', 'revoke', 'ghost', '--roster', roster, '--out-dir', D('r')], 1, /\[UNKNOWN_MEMBER\]/],
        [['admin', 'rotate', '--roster', roster, '--member', 'ghost', '--request', D('obj.json'), '--out', D('x.json')], 1, /\[UNKNOWN_MEMBER\]/],
        [['admin', 'propose', '--roster', roster, '--type', 'member.add', '--request', D('nope.json'), '--out', D('x.json')], 1, /membership request file .* does not exist \[FILE_NOT_FOUND\]/],
        [['admin', 'propose', '--roster', roster, '--type', 'member.add', '--request', D('obj.json'), '--out', D('x.json')], 1, /obj\.json is not a membership request .*\[NOT_A_REQUEST\]/],
        [['admin', 'propose', '--roster', roster, '--type', 'member.add', '--body', D('obj.json'), '--out', D('x.json')], 1, /\[PROPOSAL_REFUSED\]/],
        [['admin', 'propose', '--roster', roster, '--type', 'member.add', '--request', D('bad-request.json'), '--out', D('x.json')], 1, /bad-request\.json is not valid: .*kind.*\[NOT_A_REQUEST\]/],
        [['admin', 'propose', '--roster', roster, '--type', 'admin.add', '--admin', D('a.key'), '--out', D('x.json')], 1, /holds a private key.*\[NOT_AN_ADMIN_KEY\]/],
        [['admin', 'sign', D('missing.json'), '--key', D('a.key')], 1, /proposal file .* does not exist \[FILE_NOT_FOUND\]/],
        [['admin', 'sign', D('not-json.json'), '--key', D('a.key')], 1, /is not JSON.*\[NOT_JSON\]/],
        [['admin', 'sign', D('obj.json'), '--key', D('a.key')], 1, /is not a roster proposal.*\[NOT_A_PROPOSAL\]/],
        [['admin', 'sign', D('g.json'), '--key', D('missing.key')], 1, /\[ADMIN_KEY_MISSING\]/],
        [['admin', 'genesis', '--alliance', 'x', '--admin', D('a.pub.json'), '--quorum', '1', '--out', D('g.json')], 1, /already exists.*\[FILE_EXISTS\]/],
        [['admin', 'genesis', '--alliance', 'x', '--admin', D('a.pub.json'), '--admin', D('a.pub.json'), '--quorum', '1', '--out', D('g2.json')], 1, /same admin key/],
        // Usage errors: exit 2 with the usage text.
        [['admin', 'propose', '--roster', roster, '--type', 'member.frobnicate', '--out', D('x.json')], 2, /--type must be one of .*Usage: alliance admin propose/s],
        [['admin', 'propose', '--roster', roster, '--type', 'genesis', '--out', D('x.json')], 2, /alliance admin genesis/],
        [['admin', 'propose', '--roster', roster, '--type', 'quorum.set', '--member', 'x', '--out', D('x.json')], 2, /--member do\(es\) not apply to quorum\.set/],
        [['admin', 'propose', '--roster', roster, '--type', 'quorum.set', '--quorum', 'two', '--out', D('x.json')], 2, /--quorum must be an integer/],
        [['admin', 'propose', '--roster', roster, '--type', 'member.suspend', '--out', D('x.json')], 2, /member\.suspend needs --member/],
        [['admin', 'propose', '--roster', roster, '--type', 'epoch.new', '--body', D('obj.json'), '--out', D('x.json')], 2, /epoch\.new takes no --body/],
        [['admin', 'propose', '--roster', roster, '--type', 'epoch.new', '--reason', 'x'.repeat(1001), '--out', D('x.json')], 2, /--reason: .*1000.*Usage: alliance admin propose/s],
        [['admin', 'propose', '--type', 'epoch.new', '--out', D('x.json')], 2, /--roster is required/],
        [['admin', 'genesis', '--alliance', 'bad id', '--admin', D('a.pub.json'), '--quorum', '1', '--out', D('g3.json')], 2, /--alliance/],
        [['admin', 'genesis', '--alliance', 'x', '--admin', D('a.pub.json'), '--quorum', '2', '--out', D('g3.json')], 2, /more than the 1 admin/],
        [['admin', 'sign', D('g.json')], 2, /--key is required/],
        [['admin', 'revoke', '--roster', roster, '--out-dir', D('r')], 2, /MEMBER_ID/],
        [['admin', 'rotate', '--roster', roster, '--member', 'x', '--out', D('x.json')], 2, /--request is required/],
      ];
      for (let i = 0; i < cases.length; i += 4) await Promise.all(cases.slice(i, i + 4).map(([args, code, pattern]) => fails(args, code, pattern)));
      expect(fs.existsSync(D('x.json'))).toBe(false);
      expect(fs.existsSync(D('r'))).toBe(false);
      // An epoch.new with no ACTIVE member is still a valid entry (it wraps the key for nobody).
      await ok(['admin', 'propose', '--roster', roster, '--type', 'epoch.new', '--out', D('e.json')]);
      await ok(['admin', 'sign', D('e.json'), '--key', D('a.key'), '--roster', roster]);
      fs.appendFileSync(roster, fs.readFileSync(D('e.json')));
      expect((await replay(fs.readFileSync(roster, 'utf8').split('\n').filter(Boolean))).epoch).toBe(1);
    } finally {
      t.remove();
    }
  }, 90_000);
});
