/**
 * Convergence of a real alliance on loopback (docs/architecture.md, "The exchange"; schema/wire.md §9-§10): five member
 * nodes, each over its own PostgreSQL database, go through record adds, retractions, restarts, the
 * revocation of a member with the epoch rotation that follows it, and a node that lets the old epoch
 * expire at once; a three-member alliance on embedded PGlite goes through the core of it.
 *
 * Converged means, for every origin O: every running node holds exactly the live indicator rows of O
 * (type, digest, ref, epoch, status, confidence, categories, firstSeen, expiresAt) that O's own node
 * holds for itself, and the same head (seq and hash) of O's batch chain, gapless from seq 1, with
 * nothing left to publish at any node (empty outbox, no unsent batch). A revoked
 * origin's rows are held by nobody; its chain stays. All of it is read with SQL from each node's
 * storage (`node.db`).
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveDigest } from '../../../node/indicators/derive.ts';
import { epochKey } from '../../../node/membership/epoch-keyring.ts';
import { lockOrigins } from '../../../node/indicators/batch-store.ts';
import { epochKeyPath, loadEpochKeys } from '../../../node/membership/epoch-keys.ts';
import { epochKeyInstaller, type EpochInstallOutcome } from '../../../node/membership/epoch-install.ts';
import { parseSignedEntry, type EntryOf } from '../../../node/membership/roster.ts';
import { requestHeads } from '../../../node/p2p/protocols.ts';
import { WireError } from '../../../node/p2p/wire.ts';
import { openPg } from '../../../node/storage/pg.ts';
import type { StorageKind } from '../../helpers/storage.ts';
import { logCollector } from '../../helpers/api.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';

const CREATE = /* GraphQL */ `
  mutation ($input: RecordInput!) { createRecord(input: $input) { id } }
`;
const UPDATE = /* GraphQL */ `
  mutation ($id: ID!, $input: RecordPatch!) { updateRecord(id: $id, input: $input) { id version } }
`;
const SET_STATUS = /* GraphQL */ `
  mutation ($id: ID!, $status: RecordStatus!) { setRecordStatus(id: $id, status: $status) { id status } }
`;
const DELETE = /* GraphQL */ `
  mutation ($id: ID!) { deleteRecord(id: $id, reason: "entered by mistake") { id } }
`;
const IMPORT = /* GraphQL */ `
  mutation ($records: [RecordInput!]!) { importRecords(records: $records) { imported ids } }
`;
const SUBMIT = /* GraphQL */ `
  mutation ($signed: String!) { submitRosterEntry(signed: $signed) { applied seq hash } }
`;
const NETWORK = /* GraphQL */ `
  query { network { peerId peers { memberId peerId connected lastSeen } heads { origin seq localSeq lag } } }
`;

interface NetworkView {
  peerId: string | null;
  peers: Array<{ memberId: string; peerId: string; connected: boolean; lastSeen: string | null }>;
  heads: Array<{ origin: string; seq: number; localSeq: number; lag: number }>;
}

type Id = { type: string; value: string };

/** Valid identifiers of every kind a seller record commonly has; `n` keeps them apart. */
const phone = (n: number): Id => ({ type: 'PHONE', value: `+1 202 555 01${String(n).padStart(2, '0')}` });
const email = (tag: string): Id => ({ type: 'EMAIL', value: `${tag}.seller@example.com` });
const domain = (tag: string): Id => ({ type: 'DOMAIN', value: `fake-outlet-${tag}.shop` });
const url = (tag: string): Id => ({ type: 'URL', value: `https://www.fake-outlet-${tag}.shop/item/88?utm_source=mail` });
const IBANS = ['DE89370400440532013000', 'GB82WEST12345698765432', 'FR1420041010050500013M02606'];
const iban = (i: number): Id => ({ type: 'PAYMENT_ACCOUNT', value: `IBAN ${IBANS[i % IBANS.length]}` });

function recordInput(name: string, identifiers: Id[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: 'SELLER', name, identifiers, categories: ['COUNTERFEIT'], status: 'CONFIRMED', confidence: 80, ...extra };
}

/** A running alliance: its nodes by member id, their storage and their log lines (kept across restarts). */
class Cluster {
  readonly nodes = new Map<string, TestNode>();
  readonly storage = new Map<string, NodeStorage>();
  /** Log lines of every run of each member's node. */
  readonly logs = new Map<string, string[][]>();
  /** Members revoked: their nodes may still run, but are no longer part of the alliance. */
  readonly revoked = new Set<string>();
  /** Nodes that only consider epochs from this one on live (a node whose grace period is over). */
  readonly minEpoch = new Map<string, number>();

  readonly alliance: TestAlliance;
  readonly kind: StorageKind;

  constructor(alliance: TestAlliance, kind: StorageKind) {
    this.alliance = alliance;
    this.kind = kind;
  }

  at(id: string): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`${id} is not running`);
    return n;
  }

  /** Running nodes of members in good standing. */
  running(): TestNode[] {
    return [...this.nodes.values()].filter((n) => !this.revoked.has(n.member.id));
  }

  async start(id: string, env: Record<string, string> = {}): Promise<TestNode> {
    if (!this.storage.has(id)) this.storage.set(id, await memberStorage(this.kind));
    const { lines, logger } = logCollector();
    const runs = this.logs.get(id) ?? [];
    runs.push(lines);
    this.logs.set(id, runs);
    const n = await startMember(this.alliance, this.alliance.member(id), this.storage.get(id)!, env, logger);
    this.nodes.set(id, n);
    return n;
  }

  async stop(id: string): Promise<void> {
    await this.at(id).stop();
    this.nodes.delete(id);
  }

  async stopAll(): Promise<void> {
    for (const n of this.nodes.values()) await n.stop().catch(() => undefined);
    this.nodes.clear();
    for (const s of this.storage.values()) await s.drop?.().catch(() => undefined);
  }

  /** Log lines of a member with this message (and these fields). */
  logged(id: string, msg: string, fields: Record<string, unknown> = {}): Array<Record<string, unknown>> {
    return (this.logs.get(id) ?? [])
      .flat()
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((o) => o.msg === msg && Object.entries(fields).every(([k, v]) => o[k] === v));
  }

  /** Every node connected to every other running node of the alliance. */
  async connected(timeoutMs = 30_000): Promise<void> {
    const nodes = this.running();
    await eventually(() => nodes.every((n) => n.node.exchange!.peers.status().filter((p) => p.connected && !this.revoked.has(p.memberId)).length === nodes.length - 1), timeoutMs, `${nodes.length} nodes connected to each other`);
  }

  /** What keeps the alliance from having converged (empty once it has), for the running nodes. */
  async divergence(): Promise<string[]> {
    const nodes = this.running();
    const problems: string[] = [];
    for (const n of nodes) {
      // Every change committed at a node is published: nothing left in its outbox, no batch unsent.
      const pending = await n.node.db.query<{ refs: number; unsent: number }>(
        'SELECT (SELECT count(*)::int FROM indicator_outbox) AS refs, (SELECT count(*)::int FROM batches WHERE published_at IS NULL) AS unsent',
      );
      const { refs, unsent } = pending.rows[0]!;
      if (refs > 0 || unsent > 0) problems.push(`${n.member.id} has ${refs} records and ${unsent} batches still to publish`);
      const { rows } = await n.node.db.query<{ origin: string; n: number; top: number }>('SELECT origin, count(*)::int AS n, max(seq)::int AS top FROM batches GROUP BY origin');
      for (const r of rows) if (r.n !== r.top) problems.push(`${n.member.id} holds ${r.n} batches of ${r.origin} up to seq ${r.top}: a gap`);
    }
    for (const m of this.alliance.members) {
      const origin = m.id;
      const own = this.revoked.has(origin) ? undefined : this.nodes.get(origin);
      const reference = own ?? nodes[0]!;
      const head = await reference.node.batches.head(origin);
      for (const n of nodes) {
        if (n === reference) continue;
        const h = await n.node.batches.head(origin);
        if (h?.seq !== head?.seq || h?.hash !== head?.hash) problems.push(`${n.member.id} has ${origin} at seq ${h?.seq ?? 0}, ${reference.member.id} at ${head?.seq ?? 0}`);
        if (this.revoked.has(origin)) {
          const held = await rowsAt(n, origin);
          if (held.length > 0) problems.push(`${n.member.id} still holds ${held.length} indicators of the revoked ${origin}`);
          continue;
        }
        const from = Math.max(this.minEpoch.get(n.member.id) ?? 0, this.minEpoch.get(reference.member.id) ?? 0);
        const want = await rowsAt(reference, origin, from);
        const got = await rowsAt(n, origin, from);
        const missing = want.filter((x) => !got.includes(x)).length;
        const extra = got.filter((x) => !want.includes(x)).length;
        if (missing > 0 || extra > 0) problems.push(`${n.member.id} lacks ${missing} and has ${extra} extra of ${reference.member.id}'s ${want.length} live rows of ${origin}`);
      }
    }
    return problems;
  }

  async converged(what: string, timeoutMs = 30_000): Promise<void> {
    let last: string[] = [];
    await eventually(async () => (last = await this.divergence()).length === 0, timeoutMs, what).catch((err: Error) => {
      throw new Error(`${err.message}: ${last.join('; ')}`);
    });
  }
}

/** Live indicator rows of `origin` at a node, every published field, sorted; from epoch `from` on. */
async function rowsAt(n: TestNode, origin: string, from = 0, epoch?: number): Promise<string[]> {
  const { rows } = await n.node.db.query<{ k: string }>(
    `SELECT concat_ws(' ', type, digest, ref, 'e' || epoch, status, confidence, array_to_string(categories, ','), to_char(first_seen, 'YYYY-MM-DD'), extract(epoch FROM expires_at)::bigint) AS k
       FROM indicators WHERE origin = $1 AND expires_at > now() AND epoch >= $2 AND ($3::int IS NULL OR epoch = $3) ORDER BY 1`,
    [origin, from, epoch ?? null],
  );
  return rows.map((r) => r.k);
}

/** Rows of `origin` at a node by ref (base64url, as on the wire). */
async function rowsOfRef(n: TestNode, origin: string, ref: string): Promise<Array<{ type: string; digest: string; epoch: number; status: string; confidence: number; categories: string[] }>> {
  const { rows } = await n.node.db.query<{ type: string; digest: string; epoch: number; status: string; confidence: number; categories: string[] }>(
    'SELECT type, digest, epoch, status, confidence::int AS confidence, categories FROM indicators WHERE origin = $1 AND ref = $2 ORDER BY type, digest',
    [origin, ref],
  );
  return rows;
}

/** The `ref` handle of a record at its own node. */
async function refOf(n: TestNode, recordId: string): Promise<string> {
  const { rows } = await n.node.db.query<{ ref: string }>('SELECT ref FROM records WHERE id = $1', [recordId]);
  return rows[0]!.ref;
}

async function ok<D>(p: Promise<{ body: { data?: D | null; errors?: unknown[] } }>): Promise<D> {
  const r = await p;
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data!;
}

const create = async (n: TestNode, input: Record<string, unknown>) => (await ok(n.gql<{ createRecord: { id: string } }>(CREATE, { input }))).createRecord.id;
const importRecords = async (n: TestNode, records: Array<Record<string, unknown>>) => (await ok(n.gql<{ importRecords: { imported: number; ids: string[] } }>(IMPORT, { records }))).importRecords.ids;

async function network(n: TestNode): Promise<NetworkView> {
  return (await ok(n.gql<{ network: NetworkView }>(NETWORK, {}, 'trust'))).network;
}

/** Every head `network` shows obeys lag = seq - localSeq >= 0, and localSeq is what the node holds. */
async function checkHeads(n: TestNode, view: NetworkView): Promise<void> {
  for (const h of view.heads) {
    expect(h.lag, JSON.stringify(h)).toBe(h.seq - h.localSeq);
    expect(h.lag).toBeGreaterThanOrEqual(0);
  }
  const local = await n.node.batches.heads();
  for (const h of view.heads) expect(h.localSeq, h.origin).toBeLessThanOrEqual(local.get(h.origin)?.seq ?? 0);
}

/** Step 1 at the members `at`: records created, imported and updated through GraphQL. Returns ids by name. */
async function addRecords(c: Cluster, at: string[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const [a, b, d] = at;
  // a: two records, one created SUSPECTED and confirmed with setRecordStatus.
  ids.set('a1', await create(c.at(a!), recordInput('Lucky Outlet', [phone(1), email('a1')])));
  ids.set('a2', await create(c.at(a!), recordInput('Outlet Two', [domain('a2'), url('a2')], { status: 'SUSPECTED', confidence: 40 })));
  await ok(c.at(a!).gql(SET_STATUS, { id: ids.get('a2'), status: 'CONFIRMED' }));
  // b: a bulk import.
  const imported = await importRecords(c.at(b!), [
    recordInput('Import One', [email('b1'), iban(0)]),
    recordInput('Import Two', [email('b2'), phone(2)]),
    recordInput('Import Three', [email('b3')], { categories: ['GREY_MARKET'] }),
    recordInput('Import Four', [email('b4'), domain('b4')]),
  ]);
  imported.forEach((id, i) => ids.set(`b${i + 1}`, id));
  // d: created, then updated (another identifier, confidence and categories).
  ids.set('d1', await create(c.at(d!), recordInput('Shop D', [email('d1'), phone(3)])));
  await ok(c.at(d!).gql(UPDATE, { id: ids.get('d1'), input: { identifiers: [email('d1'), phone(3), domain('d1')], confidence: 95, categories: ['COUNTERFEIT', 'TRADEMARK'] } }));
  return ids;
}

/** Step 2 at the same members: CLEARED, deleted, and an identifier removed by updateRecord. */
async function retract(c: Cluster, at: string[], ids: Map<string, string>): Promise<void> {
  const [a, b, d] = at;
  const refs = { a1: await refOf(c.at(a!), ids.get('a1')!), b2: await refOf(c.at(b!), ids.get('b2')!), d1: await refOf(c.at(d!), ids.get('d1')!) };
  const d1Before = await rowsOfRef(c.at(d!), d!, refs.d1);
  const domainDigest = d1Before.find((r) => r.type === 'domain')!.digest;
  for (const n of c.running()) {
    expect(await rowsOfRef(n, a!, refs.a1)).toHaveLength(2);
    expect(await rowsOfRef(n, b!, refs.b2)).toHaveLength(2);
  }
  await ok(c.at(a!).gql(SET_STATUS, { id: ids.get('a1'), status: 'CLEARED' }));
  await ok(c.at(b!).gql(DELETE, { id: ids.get('b2') }));
  await ok(c.at(d!).gql(UPDATE, { id: ids.get('d1'), input: { identifiers: [email('d1'), phone(3)] } }));
  await eventually(async () => (await rowsOfRef(c.at(d!), d!, refs.d1)).length === 2, 30_000, 'the identifier removed at its own node');
  await c.converged('retractions everywhere');
  for (const n of c.running()) {
    expect(await rowsOfRef(n, a!, refs.a1), `${n.member.id}: CLEARED`).toEqual([]);
    expect(await rowsOfRef(n, b!, refs.b2), `${n.member.id}: deleted`).toEqual([]);
    const d1 = await rowsOfRef(n, d!, refs.d1);
    expect(d1.map((r) => r.type), `${n.member.id}: identifier removed`).toEqual(['email', 'phone']);
    expect(d1.some((r) => r.digest === domainDigest)).toBe(false);
  }
}

// ---------------------------------------------------------------------------------------------

describe('a five-member alliance on PostgreSQL converges', () => {
  const IDS = ['m1', 'm2', 'm3', 'm4', 'm5'];
  let alliance: TestAlliance;
  let c: Cluster;
  let ids: Map<string, string>;

  beforeAll(async () => {
    alliance = await TestAlliance.found(IDS);
    c = new Cluster(alliance, 'pg');
    for (const id of IDS) await c.start(id);
    await c.connected();
  }, 90_000);

  afterAll(async () => {
    await c?.stopAll();
  });

  it('1. records created, imported and updated at several nodes through GraphQL converge', async () => {
    ids = await addRecords(c, ['m1', 'm2', 'm3']);
    // m4 and m5 publish too (m5's indicators are purged after its revocation).
    ids.set('e1', await create(c.at('m4'), recordInput('Shop E', [url('e1'), iban(1)])));
    const m5 = await importRecords(c.at('m5'), [recordInput('Five One', [email('f1'), phone(5)]), recordInput('Five Two', [domain('f2')])]);
    m5.forEach((id, i) => ids.set(`f${i + 1}`, id));
    await c.converged('records converged');
    const expected: Record<string, number> = { m1: 4, m2: 7, m3: 3, m4: 2, m5: 3 };
    for (const n of c.running()) {
      for (const [origin, count] of Object.entries(expected)) expect(await rowsAt(n, origin), `${origin} at ${n.member.id}`).toHaveLength(count);
    }
    // The update reached everyone as the origin made it.
    const d1 = await rowsOfRef(c.at('m5'), 'm3', await refOf(c.at('m3'), ids.get('d1')!));
    expect(d1.map((r) => r.type)).toEqual(['domain', 'email', 'phone']);
    expect(d1.every((r) => r.confidence === 95 && r.categories.join(',') === 'COUNTERFEIT,TRADEMARK' && r.epoch === 1 && r.status === 'CONFIRMED')).toBe(true);
  }, 60_000);

  it('2. retractions (CLEARED, delete, an identifier removed) converge', async () => {
    await retract(c, ['m1', 'm2', 'm3'], ids);
  }, 60_000);

  it('3. two nodes stopped while others publish catch up when restarted; network shows their lag meanwhile', async () => {
    const m3HeldOfM1 = (await c.at('m3').node.batches.head('m1'))!.seq;
    await c.stop('m3');
    await c.stop('m4');
    for (let i = 0; i < 6; i++) ids.set(`a-off${i}`, await create(c.at('m1'), recordInput(`Offline ${i}`, [email(`off${i}`)])));
    await importRecords(c.at('m2'), Array.from({ length: 20 }, (_, i) => recordInput(`Bulk ${i}`, [email(`bulk${i}`), phone(10 + i)])));
    await create(c.at('m5'), recordInput('Five Three', [email('f3')]));
    await c.converged('the three running nodes converged');
    const m1Head = (await c.at('m1').node.batches.head('m1'))!.seq;
    expect(m1Head).toBeGreaterThan(m3HeldOfM1);

    // While m3 restarts, a transaction on its database holds the chain lock of origin m1 (as a second
    // process over the same PostgreSQL would while storing m1's batches): m3 learns m1's head from
    // its peers but cannot store the batches yet, so `network` shows the lag.
    const side = await openPg({ connectionString: c.storage.get('m3')!.url!, max: 1, applicationName: 'convergence-test' });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = side.transaction(async (tx) => {
      await lockOrigins(tx, ['m1']);
      locked();
      await released;
    });
    try {
      await isLocked;
      await c.start('m3');
      await c.start('m4');
      let behind: NetworkView['heads'][number] | undefined;
      await eventually(async () => {
        const view = await network(c.at('m3'));
        await checkHeads(c.at('m3'), view);
        behind = view.heads.find((h) => h.origin === 'm1' && h.lag > 0);
        return behind !== undefined;
      }, 30_000, 'm3 showing its lag on m1');
      expect(behind).toEqual({ origin: 'm1', seq: m1Head, localSeq: m3HeldOfM1, lag: m1Head - m3HeldOfM1 });
      // Other origins are not held back.
      await eventually(async () => (await c.at('m3').node.batches.head('m2'))?.seq === (await c.at('m2').node.batches.head('m2'))?.seq, 30_000, 'm3 caught up on m2');
    } finally {
      release();
      await holder;
      await side.close();
    }
    await c.connected();
    await c.converged('all five converged after the restarts');
    const view = await network(c.at('m3'));
    await checkHeads(c.at('m3'), view);
    for (const id of IDS) {
      const h = view.heads.find((x) => x.origin === id)!;
      expect(h, id).toMatchObject({ seq: (await c.at(id).node.batches.head(id))!.seq, lag: 0 });
      expect(h.localSeq).toBe(h.seq);
    }
  }, 90_000);

  it('4. revoking m5 (entries submitted at one node) hangs it up, purges it, and rotates to epoch 2 that it cannot unwrap', async () => {
    const m5Peer = alliance.member('m5').request.peerId;
    const before = new Map<string, string[]>();
    for (const id of ['m1', 'm2', 'm3', 'm4']) before.set(id, await rowsAt(c.at(id), id));
    for (const n of c.running()) expect(await n.indicatorCount('m5')).toBe(3 + 1);

    const revoke = await alliance.next({ type: 'member.revoke', body: { id: 'm5', reason: 'counterfeit listings of its own' } });
    const rotate = await alliance.nextEpoch();
    expect(Object.keys(alliance.state.epochKeys).sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
    for (const signed of [revoke, rotate]) {
      const r = await ok(c.at('m1').gql<{ submitRosterEntry: { applied: boolean; seq: number } }>(SUBMIT, { signed }, 'admin'));
      expect(r.submitRosterEntry.applied).toBe(true);
    }
    expect(c.at('m1').node.roster.state!.seq).toBe(alliance.state.seq);
    c.revoked.add('m5');

    // The entries reach every other member by gossip or sync.
    await eventually(() => ['m2', 'm3', 'm4'].every((id) => c.at(id).node.roster.state!.seq === alliance.state.seq), 30_000, 'the entries at m2, m3, m4');
    for (const n of c.running()) {
      expect(n.node.roster.state!.head).toBe(alliance.state.head);
      expect(n.node.roster.state!.epoch).toBe(2);
    }

    // m5 is hung up and refused everywhere.
    for (const n of c.running()) {
      await eventually(() => n.node.exchange!.host.getConnections().every((x) => x.remotePeer.toString() !== m5Peer), 30_000, `${n.member.id} hung up on m5`);
      const view = await network(n);
      expect(view.peers.map((p) => p.memberId).sort()).toEqual(['m1', 'm2', 'm3', 'm4'].filter((x) => x !== n.member.id));
    }
    const m5 = c.nodes.get('m5')!;
    await eventually(() => m5.node.exchange!.host.getConnections().length === 0, 30_000, "m5's connections dropped");
    // A redial is refused by the others' gaters: no request gets through.
    for (const id of ['m1', 'm3']) {
      await expect(requestHeads(m5.node.exchange!.host, c.at(id).node.exchange!.host.peerId, alliance.id)).rejects.toBeInstanceOf(WireError);
    }
    await eventually(() => m5.node.exchange!.host.getConnections().length === 0, 30_000, 'm5 without connections after redialing');

    // Its indicators are purged at every node; its chain stays.
    await eventually(async () => {
      for (const n of c.running()) if ((await n.indicatorCount('m5')) !== 0) return false;
      return true;
    }, 30_000, "m5's indicators purged");
    for (const n of c.running()) expect((await n.node.batches.head('m5'))?.seq).toBe((await m5.node.batches.head('m5'))?.seq);

    // The remaining members install epoch 2 ...
    for (const n of c.running()) {
      await eventually(() => c.logged(n.member.id, 'epoch key installed', { epoch: 2 }).length === 1, 30_000, `${n.member.id} installing epoch 2`);
      expect(fs.existsSync(epochKeyPath(n.member.dataDir, 2))).toBe(true);
    }
    // ... which m5 cannot unwrap, even holding the entries (the roster is no secret).
    for (const signed of [revoke, rotate]) await m5.node.roster.submit(signed);
    expect(m5.node.roster.state!.epoch).toBe(2);
    expect(fs.existsSync(epochKeyPath(alliance.member('m5').dataDir, 2))).toBe(false);
    expect(loadEpochKeys(alliance.member('m5').dataDir, { alliance: alliance.id }).map((k) => k.epoch)).toEqual([1]);
    expect(c.logged('m5', 'epoch key installed', { epoch: 2 })).toEqual([]);
    const outcomes: EpochInstallOutcome[] = [];
    const parsed = await parseSignedEntry(rotate);
    await epochKeyInstaller(alliance.member('m5').dataDir, { report: (o) => outcomes.push(o) })({ entry: parsed.entry as EntryOf<'epoch.new'>, hash: parsed.hash, state: m5.node.roster.state! });
    expect(outcomes).toEqual([{ status: 'not-for-us', epoch: 2 }]);

    // Every remaining member re-publishes its indicators under epoch 2: one epoch-2 row for every
    // epoch-1 row (same type and ref, another digest); then every node holds them.
    const shape = (rows: string[]) => rows.map((r) => r.split(' ')).map(([type, , ref]) => `${type} ${ref}`).sort();
    await eventually(async () => {
      for (const id of ['m1', 'm2', 'm3', 'm4']) {
        if (JSON.stringify(shape(await rowsAt(c.at(id), id, 0, 2))) !== JSON.stringify(shape(before.get(id)!))) return false;
      }
      return true;
    }, 60_000, 'every remaining member re-published under epoch 2').catch(async (err: Error) => {
      const counts: string[] = [];
      for (const id of ['m1', 'm2', 'm3', 'm4']) counts.push(`${id} ${before.get(id)!.length} rows of epoch 1, ${(await rowsAt(c.at(id), id, 0, 2)).length} of epoch 2`);
      throw new Error(`${err.message}: ${counts.join('; ')}`);
    });
    await c.converged('epoch 2 published and converged', 60_000);
    for (const id of ['m1', 'm2', 'm3', 'm4']) {
      expect((await rowsAt(c.at(id), id, 0, 2)).length, `${id} epoch 2 rows`).toBe(before.get(id)!.length);
      // The epoch-1 rows stay through the grace period, unchanged.
      expect(await rowsAt(c.at(id), id, 0, 1)).toEqual(before.get(id));
    }
    // An epoch-2 digest is the keyed hash under K_2.
    const k2 = loadEpochKeys(alliance.member('m2').dataDir, { alliance: alliance.id }).find((k) => k.epoch === 2)!;
    const d1Ref = await refOf(c.at('m3'), ids.get('d1')!);
    const d1At4 = await rowsOfRef(c.at('m4'), 'm3', d1Ref);
    expect(d1At4.filter((r) => r.epoch === 2).map((r) => r.digest)).toContain(deriveDigest(epochKey(k2.key), 'email', 'd1.seller@example.com'));
    // Batches of epoch 2 exist in every remaining origin's chain.
    for (const n of c.running()) {
      const { rows } = await n.node.db.query<{ origin: string }>("SELECT DISTINCT origin FROM batches WHERE epoch = 2 AND origin <> 'm5' ORDER BY origin");
      expect(rows.map((r) => r.origin)).toEqual(['m1', 'm2', 'm3', 'm4']);
    }

    // Both epochs are live (the grace period is 7 days): the hourly expiry keeps the epoch-1 rows.
    for (const n of c.running()) {
      expect(n.node.batches.liveEpochs()).toEqual(expect.arrayContaining([1, 2]));
      await n.node.batches.expire();
      for (const id of ['m1', 'm2', 'm3', 'm4']) expect(await rowsAt(n, id, 0, 1)).toEqual(before.get(id));
    }
  }, 90_000);

  it('5. a node whose grace period is 0 drops the epoch-1 rows after the rotation, and keeps converging on epoch 2', async () => {
    await c.stop('m4');
    const m4 = await c.start('m4', { ALLIANCE_EPOCH_GRACE_DAYS: '0' });
    c.minEpoch.set('m4', 2);
    expect(m4.node.batches.liveEpochs()).toEqual([2]);
    const epoch1Held = Number((await m4.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM indicators WHERE epoch = 1')).rows[0]!.n);
    expect(epoch1Held).toBeGreaterThan(0);
    expect(await m4.node.batches.expire()).toBeGreaterThanOrEqual(epoch1Held);
    expect((await m4.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM indicators WHERE epoch < 2')).rows[0]!.n).toBe(0);
    // The others keep theirs.
    for (const id of ['m1', 'm2', 'm3']) expect((await rowsAt(c.at(id), 'm1', 0, 1)).length).toBeGreaterThan(0);
    // New records still reach m4, under epoch 2.
    ids.set('late', await create(c.at('m1'), recordInput('Late Seller', [email('late'), phone(50)])));
    await c.connected();
    await c.converged('converged with m4 on epoch 2 only');
    const late = await rowsOfRef(m4, 'm1', await refOf(c.at('m1'), ids.get('late')!));
    expect(late.map((r) => r.epoch)).toEqual([2, 2]);
    // m1 (grace 7 days) withdraws a record it published under both epochs: its epoch-1 retracts
    // come in a batch of epoch 1 made after m4's grace ended. m4 takes it (retracts only), so its
    // chain of m1 goes on instead of stalling there.
    const a1Ref = await refOf(c.at('m1'), ids.get('a1')!);
    await ok(c.at('m1').gql(SET_STATUS, { id: ids.get('a1'), status: 'CLEARED' }));
    await c.converged('converged after a withdrawal under both epochs');
    for (const n of c.running()) expect(await rowsOfRef(n, 'm1', a1Ref)).toEqual([]);
    const m1Head = (await c.at('m1').node.batches.head('m1'))!;
    expect((await m4.node.batches.head('m1'))!.seq).toBe(m1Head.seq);
  }, 60_000);

  it('6. network at one node shows each peer with connected and lastSeen, and every head without lag', async () => {
    const m1 = c.at('m1');
    await m1.node.exchange!.syncNow();
    await eventually(async () => (await network(m1)).peers.every((p) => p.connected), 30_000, 'm1 connected to every peer');
    const view = await network(m1);
    expect(view.peerId).toBe(alliance.member('m1').request.peerId);
    expect(view.peers.map((p) => [p.memberId, p.peerId]).sort()).toEqual(['m2', 'm3', 'm4'].map((id) => [id, alliance.member(id).request.peerId]));
    for (const p of view.peers) {
      expect(p.connected).toBe(true);
      expect(Date.parse(p.lastSeen!)).toBeGreaterThan(Date.now() - 120_000);
    }
    await checkHeads(m1, view);
    expect(view.heads.map((h) => h.origin)).toEqual(IDS);
    for (const h of view.heads) {
      const holder = h.origin === 'm5' ? m1 : c.at(h.origin);
      expect(h, h.origin).toEqual({ origin: h.origin, seq: (await holder.node.batches.head(h.origin))!.seq, localSeq: h.seq, lag: 0 });
    }
  }, 60_000);
});

describe('a three-member alliance on PGlite converges', () => {
  const IDS = ['p1', 'p2', 'p3'];
  let alliance: TestAlliance;
  let c: Cluster;
  let ids: Map<string, string>;

  beforeAll(async () => {
    alliance = await TestAlliance.found(IDS);
    c = new Cluster(alliance, 'pglite');
    for (const id of IDS) await c.start(id);
    await c.connected();
  }, 90_000);

  afterAll(async () => {
    await c?.stopAll();
  });

  it('records added and retracted converge', async () => {
    ids = await addRecords(c, IDS);
    await c.converged('records converged');
    for (const n of c.running()) {
      for (const [origin, count] of Object.entries({ p1: 4, p2: 7, p3: 3 })) expect(await rowsAt(n, origin), `${origin} at ${n.member.id}`).toHaveLength(count);
    }
    await retract(c, IDS, ids);
  }, 60_000);

  it('a node stopped while others publish catches up when restarted; lag = seq - localSeq throughout, 0 at the end', async () => {
    await c.stop('p3');
    for (let i = 0; i < 4; i++) await create(c.at('p1'), recordInput(`Offline ${i}`, [email(`off${i}`)]));
    await importRecords(c.at('p2'), Array.from({ length: 10 }, (_, i) => recordInput(`Bulk ${i}`, [email(`bulk${i}`)])));
    await c.converged('p1 and p2 converged');
    const p3 = await c.start('p3');
    await eventually(async () => {
      const view = await network(p3);
      await checkHeads(p3, view);
      return (await c.divergence()).length === 0;
    }, 30_000, 'p3 caught up');
    await c.connected();
    await c.converged('converged after the restart');
    const view = await network(p3);
    await checkHeads(p3, view);
    expect(view.peers.every((p) => p.connected && p.lastSeen !== null)).toBe(true);
    for (const id of IDS) expect(view.heads.find((h) => h.origin === id), id).toEqual({ origin: id, seq: (await c.at(id).node.batches.head(id))!.seq, localSeq: (await c.at(id).node.batches.head(id))!.seq, lag: 0 });
  }, 60_000);

  it('an epoch rotation: every node re-publishes under epoch 2, epoch-1 rows stay for the grace period', async () => {
    const before = new Map<string, string[]>();
    for (const id of IDS) before.set(id, await rowsAt(c.at(id), id, 0, 1));
    await ok(c.at('p2').gql(SUBMIT, { signed: await alliance.nextEpoch() }, 'admin'));
    await eventually(() => IDS.every((id) => c.at(id).node.roster.state!.epoch === 2), 30_000, 'epoch 2 everywhere');
    await eventually(async () => {
      for (const id of IDS) if ((await rowsAt(c.at(id), id, 0, 2)).length !== before.get(id)!.length) return false;
      return true;
    }, 30_000, 'every member re-published under epoch 2');
    await c.converged('converged on both epochs');
    for (const n of c.running()) for (const id of IDS) expect(await rowsAt(n, id, 0, 1)).toEqual(before.get(id));
  }, 60_000);
});
