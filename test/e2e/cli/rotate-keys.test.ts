import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, type CliResult } from '../../helpers/cli.ts';
import { createPgDatabase, STORAGES } from '../../helpers/storage.ts';
import { loadEpochKeys } from '../../../node/membership/epoch-keys.ts';
import { loadMemberIdentity, memberIdentityPath, peerFor, signingKeyFor } from '../../../node/membership/keys.ts';
import { memberById, parseSignedEntry, replay, signingKeyValidAt, type RosterState } from '../../../node/membership/roster.ts';
import type { MembershipRequest } from '../../../node/membership/types.ts';
import { batchHash, signBatch, verifyBatch } from '../../../node/indicators/batch.ts';

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

const mode = (p: string) => fs.statSync(p).mode & 0o777;
const secondsBefore = (t: string, s: number) => new Date(Date.parse(t) - s * 1000).toISOString().slice(0, 19) + 'Z';

/**
 * In-place key rotation end to end through the CLI, with the member's node storage embedded and on
 * PostgreSQL: three admins (quorum 2) found an alliance and admit acme; acme rotates its signing,
 * encryption and peer keys in its own data directory; the admins turn the printed request into a
 * member.update and submit it to acme's node. The steps build on each other (run the file, not one
 * test with -t).
 */
describe.each(STORAGES)('alliance rotate-keys, member node on %s', (storage) => {
  let root: { dir: string; remove: () => void };
  let dropDb: (() => Promise<void>) | undefined;
  let storageFlags: string[] = [];
  const W = (name: string) => path.join(root.dir, name);
  const ROSTER = () => W('roster.jsonl');
  const ACME = () => W('acme');
  let oldRequest: MembershipRequest;
  let newRequest: MembershipRequest;
  let beforeUpdate: RosterState;

  beforeAll(async () => {
    root = tempDir('alliance-rotate-');
    if (storage === 'pg') {
      const pg = await createPgDatabase();
      dropDb = pg.drop;
      storageFlags = ['--database-url', pg.url];
    }
  });
  afterAll(async () => {
    await dropDb?.();
    root.remove();
  });

  const rosterLines = () => fs.readFileSync(ROSTER(), 'utf8').split('\n').filter((l) => l !== '');
  /** Appends a fully signed proposal to the admins' roster log and submits it to acme's node. */
  async function apply(file: string): Promise<CliResult> {
    fs.appendFileSync(ROSTER(), fs.readFileSync(file, 'utf8'));
    replay(rosterLines());
    return ok(['admin', 'submit', file, '--data-dir', ACME(), ...storageFlags]);
  }
  async function signBy(file: string, ...admins: number[]): Promise<void> {
    for (const a of admins) await ok(['admin', 'sign', file, '--key', W(`admin${a}.key`), '--roster', ROSTER()]);
  }
  /** acme's node's roster, as `alliance admin export` writes it. */
  async function nodeRoster(): Promise<RosterState> {
    const r = await ok(['admin', 'export', '--data-dir', ACME(), ...storageFlags]);
    return replay(r.stdout.split('\n').filter((l) => l !== ''));
  }

  it('founds the alliance (3 admins, quorum 2) and admits acme with a first epoch key', async () => {
    await Promise.all([1, 2, 3].map(async (a) => fs.writeFileSync(W(`admin${a}.pub.json`), (await ok(['admin', 'keygen', '--out', W(`admin${a}.key`), '--name', `Admin ${a}`])).stdout)));
    await ok(['admin', 'genesis', '--alliance', 'rot-alliance', '--admin', W('admin1.pub.json'), '--admin', W('admin2.pub.json'), '--admin', W('admin3.pub.json'), '--quorum', '2', '--out', W('genesis.json')]);
    await ok(['admin', 'sign', W('genesis.json'), '--key', W('admin1.key')]);
    await ok(['admin', 'sign', W('genesis.json'), '--key', W('admin2.key')]);
    fs.writeFileSync(ROSTER(), '');
    const init = await ok(['init', '--member-id', 'acme', '--name', 'Acme Marketplace', '--kind', 'PLATFORM', '--country', 'CN', '--data-dir', ACME()]);
    oldRequest = JSON.parse(init.stdout) as MembershipRequest;
    fs.writeFileSync(W('acme.request.json'), init.stdout);
    await apply(W('genesis.json'));

    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'member.add', '--request', W('acme.request.json'), '--out', W('1-add.json')]);
    await signBy(W('1-add.json'), 1, 3);
    await apply(W('1-add.json'));
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'epoch.new', '--out', W('2-epoch.json')]);
    await signBy(W('2-epoch.json'), 1, 2);
    const r = await apply(W('2-epoch.json'));
    expect(r.stderr).toMatch(/epoch 1: key for this member installed/);
    const s = await nodeRoster();
    expect(memberById(s, 'acme')).toMatchObject({ status: 'ACTIVE', encryptionKey: { kid: oldRequest.encryptionKey.kid }, peerId: oldRequest.peerId });
  }, 90_000);

  it('rotate-keys adds keys in place, keeps the old ones, and prints the new request', async () => {
    const file = memberIdentityPath(ACME());
    const r = await ok(['rotate-keys', '--encryption', '--peer', '--data-dir', ACME()]);
    newRequest = JSON.parse(r.stdout) as MembershipRequest;
    fs.writeFileSync(W('acme.new-request.json'), r.stdout);
    expect(r.stdout).not.toContain('"d"');
    expect(newRequest).toMatchObject({ id: 'acme', name: 'Acme Marketplace', kind: 'PLATFORM', country: 'CN', addrs: [] });
    expect(newRequest.signingKeys).toHaveLength(1);
    expect(newRequest.signingKeys[0]!.kid).not.toBe(oldRequest.signingKeys[0]!.kid);
    expect(newRequest.encryptionKey.kid).not.toBe(oldRequest.encryptionKey.kid);
    expect(newRequest.peerId).not.toBe(oldRequest.peerId);
    expect(r.stderr).toContain(`signing key ${oldRequest.signingKeys[0]!.kid} -> ${newRequest.signingKeys[0]!.kid}`);
    expect(r.stderr).toContain('alliance admin rotate --roster ROSTER --member acme --request FILE');

    expect(mode(file)).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith('.'))).toEqual([]);
    const id = await loadMemberIdentity(ACME());
    expect(id.signingKeys.map((k) => k.kid)).toEqual([oldRequest.signingKeys[0]!.kid, newRequest.signingKeys[0]!.kid]);
    expect(id.encryptionKeys.map((k) => k.kid)).toEqual([oldRequest.encryptionKey.kid, newRequest.encryptionKey.kid]);
    expect(id.peers.map((p) => p.peerId)).toEqual([oldRequest.peerId, newRequest.peerId]);
    // `init --print` shows the same (newest) request again.
    expect(JSON.parse((await ok(['init', '--print', '--data-dir', ACME()])).stdout)).toEqual(newRequest);

    // The roster does not know the new keys yet: the node keeps signing and dialling with the old ones.
    beforeUpdate = await nodeRoster();
    const acme = memberById(beforeUpdate, 'acme');
    expect(signingKeyFor(id, acme)?.kid).toBe(oldRequest.signingKeys[0]!.kid);
    expect(peerFor(id, acme)?.peerId).toBe(oldRequest.peerId);
  }, 60_000);

  it('an epoch.new wrapped to the replaced encryption key still installs before the rotation is applied', async () => {
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'epoch.new', '--out', W('3-epoch.json')]);
    const e = await parseSignedEntry(fs.readFileSync(W('3-epoch.json'), 'utf8'));
    expect(e.entry.type === 'epoch.new' && e.entry.body.keys.acme).toBeDefined();
    await signBy(W('3-epoch.json'), 2, 3);
    const r = await apply(W('3-epoch.json'));
    expect(r.stderr).toMatch(/epoch 2: key for this member installed/);
    expect(loadEpochKeys(ACME()).map((k) => k.epoch)).toEqual([1, 2]);
  }, 60_000);

  it('admins rotate, sign and submit: the new kid is current, the old one valid only before the entry', async () => {
    const id = await loadMemberIdentity(ACME());
    const oldKid = oldRequest.signingKeys[0]!.kid;
    const newKid = newRequest.signingKeys[0]!.kid;
    const old = id.signingKeys[0]!;
    // A batch signed with the old key before the rotation.
    const early = await signBatch({ v: 1, alliance: 'rot-alliance', origin: 'acme', epoch: 2, seq: 1, prev: null, createdAt: beforeUpdate.updatedAt, items: [] }, { privateKey: old.privateKey, kid: oldKid });

    const r = await ok(['admin', 'rotate', '--roster', ROSTER(), '--member', 'acme', '--request', W('acme.new-request.json'), '--out', W('4-rotate.json')]);
    expect(r.stderr).toContain(`New signing key ${newKid}`);
    expect(r.stderr).toContain('propose an epoch.new');
    const rot = await parseSignedEntry(fs.readFileSync(W('4-rotate.json'), 'utf8'));
    expect(rot.entry.body).toEqual({ id: 'acme', signingKey: { kid: newKid, jwk: newRequest.signingKeys[0]!.jwk }, encryptionKey: newRequest.encryptionKey, peerId: newRequest.peerId });
    await signBy(W('4-rotate.json'), 2, 3);
    const applied = await apply(W('4-rotate.json'));
    expect(applied.stdout).toMatch(/seq 4 member\.update .*: applied/);

    const s = await nodeRoster();
    const T = rot.entry.createdAt;
    const m = memberById(s, 'acme')!;
    expect(m.signingKeys.map((k) => [k.kid, k.validUntil ?? null])).toEqual([[oldKid, T], [newKid, null]]);
    expect(m.encryptionKey.kid).toBe(newRequest.encryptionKey.kid);
    expect(m.peerId).toBe(newRequest.peerId);
    expect(s.rekeyNeeded).toBe(true);
    const beforeT = secondsBefore(T, 1);
    expect(beforeT >= m.signingKeys[0]!.validFrom).toBe(true);
    expect(signingKeyValidAt(s, 'acme', oldKid, beforeT)).toBe(true);
    expect(signingKeyValidAt(s, 'acme', oldKid, T)).toBe(false);
    expect(signingKeyValidAt(s, 'acme', newKid, beforeT)).toBe(false);
    expect(signingKeyValidAt(s, 'acme', newKid, T)).toBe(true);
    // Now the node signs with the new key and uses the new peer id.
    expect(signingKeyFor(id, m)?.kid).toBe(newKid);
    expect(peerFor(id, m)?.peerId).toBe(newRequest.peerId);

    // The early batch still verifies against the roster's old key, and was created while it was valid.
    const resolveKey = async (kid: string) => {
      const k = m.signingKeys.find((x) => x.kid === kid);
      return k === undefined ? undefined : { key: (await import('node:crypto')).createPublicKey({ key: { ...k.jwk }, format: 'jwk' }), origin: 'acme' };
    };
    const v = await verifyBatch(early, { alliance: 'rot-alliance', resolveKey });
    expect(v.batch.kid).toBe(oldKid);
    expect(signingKeyValidAt(s, 'acme', v.batch.kid, v.batch.createdAt)).toBe(true);
    // The old key signing after the rotation is refused by the roster's validity.
    const late = await signBatch({ v: 1, alliance: 'rot-alliance', origin: 'acme', epoch: 2, seq: 2, prev: batchHash(early), createdAt: T, items: [] }, { privateKey: old.privateKey, kid: oldKid });
    const lv = await verifyBatch(late, { alliance: 'rot-alliance', resolveKey });
    expect(signingKeyValidAt(s, 'acme', lv.batch.kid, lv.batch.createdAt)).toBe(false);

    // The same request again: nothing to rotate.
    await fails(['admin', 'rotate', '--roster', ROSTER(), '--member', 'acme', '--request', W('acme.new-request.json'), '--out', W('x.json')], 1, /carries no new signing key.*alliance rotate-keys.*\[NOTHING_TO_CHANGE\]/);
    expect(fs.existsSync(W('x.json'))).toBe(false);
  }, 90_000);

  it('the next epoch.new reaches the member under its new encryption key', async () => {
    await ok(['admin', 'propose', '--roster', ROSTER(), '--type', 'epoch.new', '--out', W('5-epoch.json')]);
    await signBy(W('5-epoch.json'), 1, 3);
    const r = await apply(W('5-epoch.json'));
    expect(r.stderr).toMatch(/epoch 3: key for this member installed/);
    expect(loadEpochKeys(ACME()).map((k) => k.epoch)).toEqual([1, 2, 3]);
    const s = await nodeRoster();
    expect(s.rekeyNeeded).toBe(false);
  }, 60_000);
});

describe('alliance rotate-keys: bad input and concurrency', () => {
  let root: { dir: string; remove: () => void };
  beforeAll(() => {
    root = tempDir('alliance-rotate-bad-');
  });
  afterAll(() => root.remove());

  it('refuses a data directory without an identity (exit 1) and wrong usage (exit 2)', async () => {
    const empty = path.join(root.dir, 'empty');
    await fails(['rotate-keys', '--data-dir', empty], 1, /no member identity in .*empty.*alliance init.*\[IDENTITY_MISSING\]/);
    expect(fs.existsSync(empty)).toBe(false);
    await fails(['rotate-keys', 'extra', '--data-dir', empty], 2, /Unexpected argument 'extra'.*Usage: alliance rotate-keys/s);
    await fails(['rotate-keys', '--signing', '--data-dir', empty], 2, /--signing.*Usage: alliance rotate-keys/s);
    await fails(['rotate-keys', '--peer=yes', '--data-dir', empty], 2, /--peer.*Usage: alliance rotate-keys/s);
  });

  it('a damaged identity is refused and left as it is', async () => {
    const dir = path.join(root.dir, 'damaged');
    await ok(['init', '--member-id', 'm1', '--name', 'M1', '--data-dir', dir]);
    const file = memberIdentityPath(dir);
    const content = JSON.parse(fs.readFileSync(file, 'utf8'));
    content.encryptionKey.x = content.signingKeys[0].jwk.x;
    fs.writeFileSync(file, JSON.stringify(content));
    const before = fs.readFileSync(file, 'utf8');
    await fails(['rotate-keys', '--data-dir', dir], 1, /is not a valid member identity: .*\[IDENTITY_INVALID\]/);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('waits for nobody: a live lock is IDENTITY_BUSY, a lock left by a dead process is taken over', async () => {
    const dir = path.join(root.dir, 'locked');
    await ok(['init', '--member-id', 'm2', '--name', 'M2', '--data-dir', dir]);
    const file = memberIdentityPath(dir);
    const lock = path.join(path.dirname(file), '.member.json.lock');
    const before = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(lock, String(process.pid));
    await fails(['rotate-keys', '--data-dir', dir], 1, new RegExp(`being changed by process ${process.pid}.*\\[IDENTITY_BUSY\\]`));
    expect(fs.readFileSync(file, 'utf8')).toBe(before);

    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(lock, String(dead));
    await ok(['rotate-keys', '--data-dir', dir]);
    expect(fs.existsSync(lock)).toBe(false);
    expect((await loadMemberIdentity(dir)).signingKeys).toHaveLength(2);
  });

  it('two rotations at once never lose a key', async () => {
    const dir = path.join(root.dir, 'race');
    await ok(['init', '--member-id', 'm3', '--name', 'M3', '--data-dir', dir]);
    const results = await Promise.all([runCli(['rotate-keys', '--data-dir', dir]), runCli(['rotate-keys', '--data-dir', dir])]);
    const okCount = results.filter((r) => r.code === 0).length;
    for (const r of results.filter((x) => x.code !== 0)) expect(r.stderr).toMatch(/\[IDENTITY_BUSY\]/);
    const id = await loadMemberIdentity(dir);
    expect(id.signingKeys).toHaveLength(1 + okCount);
    const printed = results.filter((r) => r.code === 0).map((r) => (JSON.parse(r.stdout) as MembershipRequest).signingKeys[0]!.kid);
    for (const kid of printed) expect(id.signingKeys.map((k) => k.kid)).toContain(kid);
  });
});
