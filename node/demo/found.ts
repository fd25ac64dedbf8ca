/**
 * Founds the demo alliance the way its admins would on their own machines, with the code behind the
 * admin commands: two admin keys (`alliance admin keygen`), a member identity per member in its own
 * data directory (`alliance init`), the genesis written and signed by both admins (`alliance admin
 * genesis`, `alliance admin sign`), then one `member.add` per member and the first `epoch.new`
 * (`alliance admin propose`), each signed by the quorum. The signed entries are written as a roster
 * log file, which every node is started with (`alliance start --genesis FILE`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateAdminKey, initMemberIdentity, loadAdminKey, type LoadedAdminKey } from '../membership/keys.ts';
import { buildEntry, checkMembershipRequest, epochNewEntry } from '../membership/proposal-build.ts';
import { addSignature, applyEntry, createGenesis, createProposal, serializeSignedEntry, type RosterEntry, type RosterState } from '../membership/roster.ts';
import type { DemoMember } from './members.ts';
import { writeFileAtomic } from './files.ts';

export const DEMO_ALLIANCE_ID = 'demo-alliance';
export const DEMO_ALLIANCE_NAME = 'Demo Anti-Counterfeiting Alliance';

/** The founding admins: one at the first marketplace, one at the rights holder; quorum 2. */
export const DEMO_ADMINS = [
  { file: 'bazaarly-admin.jwk', name: 'Bazaarly trust & safety admin', heldBy: 'bazaarly' },
  { file: 'aurelia-admin.jwk', name: 'Aurelia brand protection admin', heldBy: 'aurelia' },
] as const;

export interface DemoLayout {
  dir: string;
  rosterFile: string;
  genesisFile: string;
  adminsDir: string;
}

export function demoLayout(dir: string): DemoLayout {
  return {
    dir,
    rosterFile: path.join(dir, 'roster.jsonl'),
    genesisFile: path.join(dir, 'genesis.json'),
    adminsDir: path.join(dir, 'admins'),
  };
}

export function memberDataDir(dir: string, memberId: string): string {
  return path.join(dir, memberId);
}

export function adminKeyFile(dir: string, memberId: string): string | undefined {
  const admin = DEMO_ADMINS.find((a) => a.heldBy === memberId);
  return admin === undefined ? undefined : path.join(demoLayout(dir).adminsDir, admin.file);
}

/** Founds the alliance of `members`, each listed at its P2P port on loopback; writes the roster log. */
export async function foundDemoAlliance(dir: string, members: ReadonlyArray<DemoMember & { p2pPort: number }>): Promise<RosterState> {
  const layout = demoLayout(dir);
  const admins: LoadedAdminKey[] = [];
  for (const a of DEMO_ADMINS) {
    const file = path.join(layout.adminsDir, a.file);
    await generateAdminKey(file, { name: a.name });
    admins.push(await loadAdminKey(file));
  }
  const requests = [];
  for (const m of members) {
    requests.push(
      await initMemberIdentity(memberDataDir(dir, m.id), {
        id: m.id,
        name: m.name,
        kind: m.kind,
        country: m.country,
        addrs: [`/ip4/127.0.0.1/tcp/${m.p2pPort}`],
      }),
    );
  }

  const signed: string[] = [];
  const signAll = async (entry: RosterEntry): Promise<string> => {
    let proposal = await createProposal(entry);
    for (const admin of admins) proposal = await addSignature(proposal, { privateKey: admin.privateKey, kid: admin.kid });
    return serializeSignedEntry(proposal);
  };

  const genesis = await createGenesis(DEMO_ALLIANCE_ID, { name: DEMO_ALLIANCE_NAME, admins: admins.map((a) => a.public), quorum: admins.length, epoch: 0 });
  const genesisText = await signAll(genesis);
  writeFileAtomic(layout.genesisFile, `${genesisText}\n`);
  let state = await applyEntry(null, genesisText);
  signed.push(genesisText);
  for (const request of requests) {
    const body = await checkMembershipRequest(request as unknown as Record<string, unknown>, `membership request of ${request.id}`);
    const text = await signAll(await buildEntry(state, { type: 'member.add', body }, `the member.add of ${request.id}`));
    state = await applyEntry(state, text);
    signed.push(text);
  }
  const epochText = await signAll(await epochNewEntry(state, { reason: 'first epoch key of the demo alliance' }));
  state = await applyEntry(state, epochText);
  signed.push(epochText);
  writeFileAtomic(layout.rosterFile, signed.map((e) => `${e}\n`).join(''));
  return state;
}

/** True if every member's identity and the roster log exist (a founding that completed). */
export function isFounded(dir: string, memberIds: readonly string[]): boolean {
  const layout = demoLayout(dir);
  return fs.existsSync(layout.rosterFile) && memberIds.every((id) => fs.existsSync(path.join(memberDataDir(dir, id), 'keys', 'member.json')));
}
