/**
 * A real alliance for benchmarks, founded through signed roster entries as admins would: one admin
 * (quorum 1), members with real identities each in its own data directory, and epoch 1 wrapped to
 * every member. The roster log file is what nodes start from (`--genesis`). The raw epoch key is kept
 * so a bench can derive the digests the members would publish.
 */
import fs from 'node:fs';
import path from 'node:path';
import { epochKey, type EpochKey } from '../../../node/membership/epoch-keyring.ts';
import { toWireTime } from '../../../node/encoding/time.ts';
import { newEpochKey, wrapEpochKey } from '../../../node/membership/epoch-keys.ts';
import { generateAdminKey, initMemberIdentity, loadAdminKey, loadMemberIdentity, type MemberIdentity } from '../../../node/membership/keys.ts';
import { applyEntry, createGenesis, proposeEntry, serializeSignedEntry, signEntry, type EntryProposal, type RosterState } from '../../../node/membership/roster.ts';
import type { MembershipRequest } from '../../../node/membership/types.ts';

export interface BenchMember {
  id: string;
  /** Its data directory (keys/member.json, epoch keys once a node installed them). */
  dataDir: string;
  identity: MemberIdentity;
  request: MembershipRequest;
}

export interface BenchAlliance {
  id: string;
  /** Roster log (JSON Lines, one signed entry per line): `alliance start --genesis FILE`. */
  rosterFile: string;
  state: RosterState;
  members: BenchMember[];
  epoch: number;
  /** Epoch 1's key, ready for deriveDigest. */
  epochKey: EpochKey;
  member(id: string): BenchMember;
}

export interface BenchMemberSpec {
  id: string;
  /** Multiaddrs the roster lists (where peers dial it); none: nobody dials it. */
  addrs?: string[];
}

const KINDS = ['PLATFORM', 'RIGHTS_HOLDER', 'ENFORCEMENT'] as const;

/** Founds an alliance of `members` under `dir` (created if missing), all ACTIVE, at epoch 1. */
export async function foundBenchAlliance(dir: string, members: BenchMemberSpec[], opts: { alliance?: string } = {}): Promise<BenchAlliance> {
  fs.mkdirSync(dir, { recursive: true });
  const allianceId = opts.alliance ?? 'bench-alliance';
  const adminFile = path.join(dir, 'admin.jwk');
  await generateAdminKey(adminFile, { name: 'Bench admin' });
  const admin = await loadAdminKey(adminFile);
  const signers = [{ privateKey: admin.privateKey, kid: admin.kid }];
  // Entries dated an hour back, so members' keys are valid well before any batch the bench signs.
  const at = toWireTime(new Date(Date.now() - 3_600_000));
  const entries: string[] = [];
  let state: RosterState | null = null;
  const append = async (text: string) => {
    state = await applyEntry(state, text);
    entries.push(text);
  };
  await append(serializeSignedEntry(await signEntry(await createGenesis(allianceId, { name: 'Bench alliance', admins: [admin.public], quorum: 1, epoch: 0 }, at), signers)));
  const next = async (p: Omit<EntryProposal, 'createdAt'>) => append(serializeSignedEntry(await signEntry(await proposeEntry(state!, { ...p, createdAt: at } as EntryProposal), signers)));

  const out: BenchMember[] = [];
  for (const [i, spec] of members.entries()) {
    const dataDir = path.join(dir, spec.id);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const request = await initMemberIdentity(dataDir, { id: spec.id, name: `Member ${spec.id}`, kind: KINDS[i % KINDS.length], country: 'DE', addrs: spec.addrs ?? [] });
    out.push({ id: spec.id, dataDir, identity: await loadMemberIdentity(dataDir), request });
    await next({ type: 'member.add', body: request });
  }
  const key = newEpochKey();
  const keys: Record<string, string> = {};
  for (const m of out) keys[m.id] = await wrapEpochKey(key, m.request.encryptionKey, { alliance: allianceId, epoch: 1 });
  await next({ type: 'epoch.new', body: { epoch: 1, keys } });

  const rosterFile = path.join(dir, 'roster.jsonl');
  fs.writeFileSync(rosterFile, entries.map((e) => `${e}\n`).join(''));
  return {
    id: allianceId,
    rosterFile,
    state: state!,
    members: out,
    epoch: 1,
    epochKey: epochKey(key),
    member(id) {
      const m = out.find((x) => x.id === id);
      if (m === undefined) throw new Error(`no member ${id} in the bench alliance`);
      return m;
    },
  };
}
