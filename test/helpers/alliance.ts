/**
 * A real alliance on loopback for end-to-end tests: member identities in their own data directories,
 * three admins (quorum 2), a roster log file every node starts from (`--genesis`), and nodes started
 * in this process with `startNode` over their own storage (a PostgreSQL database each, or embedded
 * PGlite in the data directory). Entry times are real time, so epoch grace periods behave as in
 * production.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../node/config.ts';
import { startNode, type RunningNode } from '../../node/node.ts';
import { createLogger, type Logger } from '../../node/log.ts';
import { initMemberIdentity } from '../../node/membership/keys.ts';
import { issueToken, loadOrCreateApiKey } from '../../node/api/tokens.ts';
import { toWireTime } from '../../node/encoding/time.ts';
import {
  applyEntry,
  createGenesis,
  proposeEntry,
  serializeSignedEntry,
  signEntry,
  type EntryProposal,
  type RosterState,
} from '../../node/membership/roster.ts';
import type { MembershipRequest } from '../../node/membership/types.ts';
import { newTestAdmin, epochBody, type TestAdmin } from './roster.ts';
import { createPgDatabase, pgliteTemplate, type StorageKind } from './storage.ts';
import { gqlAt, type GqlResponse } from './api.ts';
import { freePort } from '../../scripts/lib/net.ts';


export interface AllianceMember {
  id: string;
  dataDir: string;
  /** The libp2p listen multiaddr, also the address the roster lists. */
  p2p: string;
  request: MembershipRequest;
}

export class TestAlliance {
  readonly id: string;
  readonly admins: TestAdmin[];
  readonly members: AllianceMember[];
  /** Every signed entry so far, in seq order. */
  readonly entries: string[] = [];
  state!: RosterState;
  readonly rosterFile: string;
  #founding = true;
  // Founding entries are dated an hour back, so keys are valid well before any batch a test makes.
  #last = Date.now() - 3_600_000;

  private constructor(id: string, admins: TestAdmin[], members: AllianceMember[], dir: string) {
    this.id = id;
    this.admins = admins;
    this.members = members;
    this.rosterFile = path.join(dir, 'roster.jsonl');
  }

  /** Founds an alliance of `ids` (kinds alternate), all ACTIVE, with epoch 1 wrapped to every one. */
  static async found(ids: string[], opts: { alliance?: string } = {}): Promise<TestAlliance> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-net-'));
    const admins = await Promise.all(['admin-a', 'admin-b', 'admin-c'].map((n) => newTestAdmin(n)));
    const members: AllianceMember[] = [];
    for (const id of ids) members.push(await TestAlliance.newMember(root, id));
    const a = new TestAlliance(opts.alliance ?? `net-${Math.random().toString(36).slice(2, 8)}`, admins, members, root);
    const genesis = await createGenesis(a.id, { name: 'Test alliance', admins: admins.map((x) => x.key), quorum: 2, epoch: 0 }, a.now());
    await a.#append(serializeSignedEntry(await signEntry(genesis, admins.slice(0, 2))));
    for (const m of members) await a.next({ type: 'member.add', body: m.request });
    await a.next({ type: 'epoch.new', body: await epochBody(a.id, 1, members.map((m) => m.request)) });
    a.#founding = false;
    fs.writeFileSync(a.rosterFile, a.entries.map((e) => `${e}\n`).join(''));
    return a;
  }

  static async newMember(root: string, id: string): Promise<AllianceMember> {
    const dataDir = fs.mkdtempSync(path.join(root, `${id}-`));
    const p2p = `/ip4/127.0.0.1/tcp/${await freePort()}`;
    const request = await initMemberIdentity(dataDir, { id, name: `Member ${id}`, kind: 'PLATFORM', country: 'DE', addrs: [p2p] });
    return { id, dataDir, p2p, request };
  }

  member(id: string): AllianceMember {
    const m = this.members.find((x) => x.id === id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  /** Entry times: never before the previous entry's, real time once the founding is done. */
  now(): string {
    const t = Math.max(this.#founding ? this.#last : Date.now(), this.#last);
    this.#last = t;
    return toWireTime(new Date(t));
  }

  /** Signs the next entry with two admins and applies it to `state`; returns its text. */
  async next(p: Omit<EntryProposal, 'createdAt'>, signers: TestAdmin[] = this.admins.slice(0, 2)): Promise<string> {
    const entry = await proposeEntry(this.state, { ...p, createdAt: this.now() } as EntryProposal);
    const text = serializeSignedEntry(await signEntry(entry, signers));
    await this.#append(text);
    return text;
  }

  /** An epoch.new wrapping a fresh key to every ACTIVE member of the current state. */
  async nextEpoch(): Promise<string> {
    const active = this.state.members.filter((m) => m.status === 'ACTIVE');
    return this.next({ type: 'epoch.new', body: await epochBody(this.id, this.state.epoch + 1, active) });
  }

  async #append(text: string): Promise<void> {
    this.state = await applyEntry(this.entries.length === 0 ? null : this.state, text);
    this.entries.push(text);
  }
}

export interface TestNode {
  member: AllianceMember;
  node: RunningNode;
  token(role: 'analyst' | 'trust' | 'admin'): Promise<string>;
  gql<D = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, role?: 'analyst' | 'trust' | 'admin'): Promise<GqlResponse<D>>;
  /** Count of live indicator rows of `origin` this node holds. */
  indicatorCount(origin: string): Promise<number>;
  stop(): Promise<void>;
}

export interface NodeStorage {
  kind: StorageKind;
  /** PostgreSQL URL of this member's database (pg only); kept across restarts. */
  url?: string | undefined;
  drop?: (() => Promise<void>) | undefined;
}

/** Storage for one member: a fresh PostgreSQL database, or PGlite in its data directory. */
export async function memberStorage(kind: StorageKind): Promise<NodeStorage> {
  if (kind === 'pglite') return { kind };
  const { url, drop } = await createPgDatabase();
  return { kind, url, drop };
}

/** Fast timings for tests: short publish window, frequent heads. */
export const FAST_EXCHANGE_ENV: Record<string, string> = {
  ALLIANCE_PUBLISH_WINDOW_MS: '20',
  ALLIANCE_HEADS_INTERVAL_MS: '500',
};

export async function startMember(
  alliance: TestAlliance,
  member: AllianceMember,
  storage: NodeStorage,
  env: Record<string, string> = {},
  /** Where the node logs; default silent (or ALLIANCE_TEST_LOG's level on stderr). */
  logger?: Logger,
): Promise<TestNode> {
  const config = loadConfig(
    { dataDir: member.dataDir, http: '127.0.0.1:0', p2p: member.p2p, genesis: alliance.rosterFile, databaseUrl: storage.url },
    { ...FAST_EXCHANGE_ENV, ALLIANCE_PGLITE_TEMPLATE: pgliteTemplate(), ...env } as Record<string, string | undefined>,
  );
  const node = await startNode(config, logger ?? createLogger((process.env.ALLIANCE_TEST_LOG as 'debug' | undefined) ?? 'silent'));
  const key = await loadOrCreateApiKey(member.dataDir);
  const token = (role: 'analyst' | 'trust' | 'admin') => issueToken(key, config.auth, { role, sub: `${member.id}-${role}`, ttlSeconds: 600 });
  return {
    member,
    node,
    token,
    async gql(query, variables, role = 'analyst') {
      return gqlAt(node.graphqlUrl, query, variables, await token(role));
    },
    async indicatorCount(origin) {
      const { rows } = await node.db.query<{ n: string }>('SELECT count(*)::text AS n FROM indicators WHERE origin = $1', [origin]);
      return Number(rows[0]!.n);
    },
    stop: () => node.stop(),
  };
}

/** Polls `check` until it returns true (or throws the last failure after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
