/**
 * A single node's view of an alliance for lookup tests: a real roster (this member "home", and two
 * other members whose batches it receives), epoch keys this test knows, and other members' indicators
 * stored the way the node stores them: signed batches ingested by a real BatchStore. Times follow the
 * real clock plus `offsetMs`, which tests move to let indicators expire or an epoch's grace end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { BatchStore } from '../../node/indicators/batch-store.ts';
import { signBatch } from '../../node/indicators/batch.ts';
import { type Ed25519Key } from '../../node/encoding/ed25519.ts';
import { toWireTime } from '../../node/encoding/time.ts';
import { deriveDigest } from '../../node/indicators/derive.ts';
import { epochKey, type EpochKey } from '../../node/membership/epoch-keyring.ts';
import type { Indicator } from '../../node/indicators/indicator.ts';
import { initMemberIdentity, loadMemberIdentity } from '../../node/membership/keys.ts';
import { newEpochKey, wrapEpochKey } from '../../node/membership/epoch-keys.ts';
import { applyEntry, type RosterState } from '../../node/membership/roster-state.ts';
import type { EntryProposal } from '../../node/membership/roster.ts';
import type { MemberKind, MembershipRequest } from '../../node/membership/types.ts';
import type { IdentifierType } from '../../node/identifiers/vocabulary.ts';
import type { LookupSources } from '../../node/lookup/lookup.ts';
import type { Database } from '../../node/storage/database.ts';
import { genesisText, newTestAdmin, nextText, type TestAdmin } from './roster.ts';

export const GRACE_MS = 7 * 86_400_000;
const DAY = 86_400_000;

export interface FixtureMember {
  id: string;
  name: string;
  kind: MemberKind;
  dataDir: string;
  request: MembershipRequest;
  kid: string;
  privateKey: Ed25519Key;
}

/** A 16-byte ref as on the wire (base64url), from a small number. */
export const ref = (n: number): string => Buffer.alloc(16, n).toString('base64url');

export class LookupFixture {
  readonly alliance: string;
  readonly admin: TestAdmin;
  readonly members: Record<'home' | 'peerA' | 'peerB', FixtureMember>;
  state!: RosterState;
  /** Raw epoch keys, by epoch. */
  readonly keys = new Map<number, Uint8Array>();
  offsetMs = 0;
  readonly #root: string;
  #last: number;

  private constructor(alliance: string, admin: TestAdmin, members: LookupFixture['members'], root: string) {
    this.alliance = alliance;
    this.admin = admin;
    this.members = members;
    this.#root = root;
    this.#last = Date.now() - 30 * DAY;
  }

  /** Genesis, the three members (a minute apart, 30 days ago), and epoch 1 wrapped to all of them. */
  static async create(alliance = `lookup-${Math.random().toString(36).slice(2, 8)}`): Promise<LookupFixture> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-lookup-'));
    const make = async (id: string, name: string, kind: MemberKind): Promise<FixtureMember> => {
      const dataDir = fs.mkdtempSync(path.join(root, `${id}-`));
      const request = await initMemberIdentity(dataDir, { id, name, kind, country: 'DE' });
      const identity = await loadMemberIdentity(dataDir);
      return { id, name, kind, dataDir, request, kid: identity.signingKey.kid, privateKey: identity.signingKey.privateKey };
    };
    const members = {
      home: await make('home', 'Home Platform', 'PLATFORM'),
      peerA: await make('peer-a', 'Brand A Legal', 'RIGHTS_HOLDER'),
      peerB: await make('peer-b', 'Customs B', 'ENFORCEMENT'),
    };
    const f = new LookupFixture(alliance, await newTestAdmin('admin'), members, root);
    f.state = await applyEntry(null, await genesisText(alliance, [f.admin], 1));
    for (const m of Object.values(members)) await f.next({ type: 'member.add', body: m.request } as EntryProposal);
    await f.newEpoch();
    return f;
  }

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** Applies the next roster entry, dated `at` (default a minute after the previous one). */
  async next(p: Omit<EntryProposal, 'createdAt'>, at?: Date): Promise<void> {
    this.#last = Math.max(this.#last + 60_000, at?.getTime() ?? 0);
    const createdAt = toWireTime(new Date(this.#last));
    this.state = await applyEntry(this.state, await nextText(this.state, { ...p, createdAt } as EntryProposal, [this.admin]));
  }

  /** Starts the next epoch with a fresh key wrapped to every ACTIVE member, and keeps the key. */
  async newEpoch(at?: Date): Promise<number> {
    const epoch = this.state.epoch + 1;
    const key = newEpochKey();
    const keys: Record<string, string> = {};
    for (const m of this.state.members.filter((x) => x.status === 'ACTIVE')) keys[m.id] = await wrapEpochKey(key, m.encryptionKey, { alliance: this.alliance, epoch });
    this.keys.set(epoch, key);
    await this.next({ type: 'epoch.new', body: { epoch, keys } } as Omit<EntryProposal, 'createdAt'>, at);
    return epoch;
  }

  epochKey(epoch: number): EpochKey {
    return epochKey(this.keys.get(epoch)!);
  }

  digest(type: IdentifierType, canonical: string, epoch = this.state.epoch): string {
    return deriveDigest(this.epochKey(epoch), type, canonical);
  }

  /** A BatchStore over `db` that reads this fixture's roster and clock. */
  store(db: Database): BatchStore {
    return new BatchStore(db, { roster: () => this.state, graceMs: GRACE_MS, now: () => this.now() });
  }

  /** What the node's lookup reads: member "home", the roster, every epoch key, the live epochs. */
  sources(db: Database): LookupSources {
    const store = this.store(db);
    return {
      self: () => this.members.home.id,
      roster: () => this.state,
      epochKeys: () => new Map([...this.keys].map(([e, k]) => [e, epochKey(k)])),
      liveEpochs: () => store.liveEpochs(),
      now: () => this.now(),
    };
  }

  /** An add for `canonical` under `epoch` (default current), with the given record fields. */
  item(type: IdentifierType, canonical: string, over: Partial<Indicator> & { epoch?: number } = {}): Indicator {
    const { epoch, ...rest } = over;
    return {
      type,
      digest: this.digest(type, canonical, epoch),
      op: 'add',
      ref: ref(1),
      categories: ['COUNTERFEIT'],
      status: 'CONFIRMED',
      confidence: 80,
      firstSeen: '2026-10-01',
      expiresAt: toWireTime(new Date(this.now().getTime() + 300 * DAY)),
      ...rest,
    };
  }

  /**
   * Signs the next batch of `member`'s chain (as held in `db`) with `items` and ingests it; expects it
   * stored. Returns the batch's createdAt.
   */
  async publish(db: Database, member: FixtureMember, items: Indicator[], opts: { epoch?: number; createdAt?: Date } = {}): Promise<string> {
    const store = this.store(db);
    const head = await store.head(member.id);
    const createdAt = toWireTime(opts.createdAt ?? new Date(this.now().getTime() - 60_000));
    const batch = { v: 1 as const, alliance: this.alliance, origin: member.id, epoch: opts.epoch ?? this.state.epoch, seq: (head?.seq ?? 0) + 1, prev: head?.hash ?? null, createdAt, items };
    const jws = await signBatch(batch, { privateKey: member.privateKey, kid: member.kid });
    const outcome = await store.ingest(jws);
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'stored' });
    return createdAt;
  }

  remove(): void {
    fs.rmSync(this.#root, { recursive: true, force: true });
  }
}
