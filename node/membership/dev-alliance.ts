/**
 * The development alliance: what `alliance start` founds on a fresh data directory without
 * `--genesis`, so the quick start works on one machine. One member (this node: the member identity
 * of the data directory, created as `dev-member` if there is none), one admin whose key is
 * `keys/dev-admin.jwk`, quorum 1, and a first epoch key wrapped to the member. Every entry is made
 * and signed by the roster core, as an admin would; the epoch key reaches `keys/epochs/` through the
 * store's `onEpoch`.
 *
 * Resumable: a start interrupted half-way finishes the missing entries at the next start.
 *
 * Only ever around `dev-member`: a data directory whose identity `alliance init` made for a real
 * member (and whose roster is still empty) is waiting for its alliance's genesis. Founding a
 * development alliance there would tie it to the wrong chain for good (a later `--genesis` is then
 * GENESIS_MISMATCH), so start refuses with GENESIS_REQUIRED instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AllianceError } from '../errors.ts';
import { toWireTime } from '../encoding/time.ts';
import { generateAdminKey, hasMemberIdentity, initMemberIdentity, keysDir, loadAdminKey, loadMemberIdentity, membershipRequest } from './keys.ts';
import { newEpochKey, wrapEpochKey } from './epoch-keys.ts';
import { createGenesis, proposeEntry, type RosterEntry } from './roster-entry.ts';
import { serializeSignedEntry, signEntry } from './roster-sign.ts';
import { memberById, type RosterState } from './roster-state.ts';
import type { RosterStore } from './roster-store.ts';

export const DEV_MEMBER_ID = 'dev-member';
export const DEV_ALLIANCE_NAME = 'Development alliance';

/** A data directory that must not become a development alliance: exit status 1 at start. */
export class DevAllianceError extends AllianceError {
  declare readonly code: 'GENESIS_REQUIRED';
  constructor(message: string, details?: Record<string, unknown>) {
    super('GENESIS_REQUIRED', message, details);
  }
}

export function devAdminKeyPath(dataDir: string): string {
  return path.join(keysDir(dataDir), 'dev-admin.jwk');
}

/** Whether `state` is this data directory's development alliance: its one admin is the local dev admin key. */
export async function isDevelopmentAlliance(state: RosterState | null, dataDir: string): Promise<boolean> {
  if (state === null || state.governance[0]!.admins.length !== 1) return false;
  const file = devAdminKeyPath(dataDir);
  if (!fs.existsSync(file)) return false;
  const admin = await loadAdminKey(file);
  return state.governance[0]!.admins[0]!.kid === admin.kid;
}

/**
 * Founds the development alliance on an empty roster, or finishes one whose founding was
 * interrupted. Returns the alliance id and the member id. Does nothing to any other roster.
 * GENESIS_REQUIRED for an empty roster beside a member identity other than `dev-member`.
 */
export async function ensureDevelopmentAlliance(store: RosterStore, dataDir: string): Promise<{ alliance: string; member: string } | undefined> {
  if (store.state !== null && !(await isDevelopmentAlliance(store.state, dataDir))) return undefined;
  if (!hasMemberIdentity(dataDir)) await initMemberIdentity(dataDir, { id: DEV_MEMBER_ID, name: 'Development member', kind: 'OTHER' });
  const identity = await loadMemberIdentity(dataDir);
  if (store.state === null && identity.profile.id !== DEV_MEMBER_ID) {
    throw new DevAllianceError(
      `the data directory ${dataDir} holds the identity of member ${identity.profile.id} (alliance init) and no roster yet: start it with --genesis FILE (your alliance's signed genesis or roster log, from its admins). Without --genesis only a fresh data directory becomes a development alliance`,
      { member: identity.profile.id },
    );
  }
  const adminFile = devAdminKeyPath(dataDir);
  if (!fs.existsSync(adminFile)) await generateAdminKey(adminFile, { name: 'Development admin (local)' });
  const admin = await loadAdminKey(adminFile);
  const signers = [{ privateKey: admin.privateKey, kid: admin.kid }];
  const submit = async (entry: RosterEntry) => store.submit(serializeSignedEntry(await signEntry(entry, signers)));
  const now = toWireTime(new Date());

  if (store.state === null) {
    const alliance = `dev-${randomBytes(4).toString('hex')}`;
    await submit(await createGenesis(alliance, { name: DEV_ALLIANCE_NAME, admins: [admin.public], quorum: 1, epoch: 0 }, now));
  }
  const request = membershipRequest(identity);
  if (memberById(store.state!, request.id) === undefined) {
    await submit(await proposeEntry(store.state!, { type: 'member.add', body: request, createdAt: later(store.state!, now) }));
  }
  const state = store.state!;
  if (Object.keys(state.epochKeys).length === 0) {
    const alliance = state.alliance;
    const epoch = state.epoch + 1;
    const keys: Record<string, string> = {};
    const key = newEpochKey();
    for (const m of state.members.filter((x) => x.status === 'ACTIVE')) keys[m.id] = await wrapEpochKey(key, m.encryptionKey, { alliance, epoch });
    await submit(await proposeEntry(state, { type: 'epoch.new', body: { epoch, keys }, createdAt: later(state, now) }));
  }
  return { alliance: store.state!.alliance, member: request.id };
}

/** `now`, or the head's time if the clock went backwards since (entries may not go back in time). */
function later(state: RosterState, now: string): string {
  return now < state.updatedAt ? state.updatedAt : now;
}
