/**
 * Roster fixtures for storage, CLI and API tests: admins with real Ed25519 keys, members with real
 * identities (keys.ts, in a data directory, so their epoch keys can be unwrapped), and entries made
 * and signed by the roster core.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { initMemberIdentity } from '../../node/membership/keys.ts';
import { newEpochKey, wrapEpochKey } from '../../node/membership/epoch-keys.ts';
import {
  createGenesis,
  proposeEntry,
  serializeSignedEntry,
  signEntry,
  type EntryProposal,
  type RosterEntry,
  type RosterState,
  type SignerOptions,
} from '../../node/membership/roster.ts';
import type { AdminKey, MembershipRequest } from '../../node/membership/types.ts';

export interface TestAdmin extends SignerOptions {
  privateKey: CryptoKey;
  key: AdminKey;
}

export async function newTestAdmin(name: string): Promise<TestAdmin> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const full = await exportJWK(publicKey);
  const jwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: full.x! };
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, key: { kid, jwk, name } };
}

export interface TestMember {
  id: string;
  /** Data directory holding its identity (keys/member.json). */
  dataDir: string;
  request: MembershipRequest;
}

/** A member with a real identity in `dataDir` (a fresh temporary directory if not given). */
export async function newTestMember(id: string, dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-member-'))): Promise<TestMember> {
  const request = await initMemberIdentity(dataDir, { id, name: `Member ${id}`, kind: 'PLATFORM', country: 'DE' });
  return { id, dataDir, request };
}

let clock = Date.parse('2026-03-01T09:00:00Z');
/** Increasing entry times (a minute apart). */
export function tick(): string {
  clock += 60_000;
  return new Date(clock).toISOString().slice(0, 19) + 'Z';
}

export async function signedText(entry: RosterEntry, signers: TestAdmin[]): Promise<string> {
  return serializeSignedEntry(await signEntry(entry, signers));
}

export async function genesisText(alliance: string, admins: TestAdmin[], quorum: number, signers = admins): Promise<string> {
  const entry = await createGenesis(alliance, { name: `Alliance ${alliance}`, admins: admins.map((a) => a.key), quorum, epoch: 0 }, tick());
  return signedText(entry, signers);
}

export async function nextText(state: Pick<RosterState, 'alliance' | 'seq' | 'head'>, p: EntryProposal, signers: TestAdmin[]): Promise<string> {
  return signedText(await proposeEntry(state, { createdAt: tick(), ...p } as EntryProposal), signers);
}

/** An `epoch.new` body for `epoch`, one fresh key wrapped to each of `members`. */
export async function epochBody(alliance: string, epoch: number, members: MembershipRequest[]): Promise<{ epoch: number; keys: Record<string, string> }> {
  const key = newEpochKey();
  const keys: Record<string, string> = {};
  for (const m of members) keys[m.id] = await wrapEpochKey(key, m.encryptionKey, { alliance, epoch });
  return { epoch, keys };
}
