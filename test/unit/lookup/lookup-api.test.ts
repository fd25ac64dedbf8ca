/**
 * `lookup` over real HTTP on one node, on both storages: other members' indicators arrive as signed
 * batches ingested by a real BatchStore, this member's records are created through GraphQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_RECORD, logCollector, startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { LookupFixture, ref } from '../../helpers/lookup-fixture.ts';

const LOOKUP = /* GraphQL */ `
  query ($ids: [IdentifierInput!]!, $region: String) {
    lookup(identifiers: $ids, region: $region) {
      epochs hitCount
      results {
        index type input canonical error { reason message }
        matches { member { id name kind } ref categories status confidence firstSeen lastSeen expiresAt epoch }
        ownRecords { id name kind status categories confidence ref updatedAt }
      }
      subjects { member { id name kind } own ref recordId identifiers count categories status confidence lastSeen }
    }
  }
`;

interface Match {
  member: { id: string; name: string; kind: string };
  ref: string;
  categories: string[];
  status: string;
  confidence: number;
  firstSeen: string;
  lastSeen: string;
  expiresAt: string;
  epoch: number;
}
interface Result {
  index: number;
  type: string;
  input: string;
  canonical: string | null;
  error: { reason: string; message: string } | null;
  matches: Match[];
  ownRecords: Array<{ id: string; name: string; kind: string; status: string; categories: string[]; confidence: number; ref: string; updatedAt: string }>;
}
interface Subject {
  member: { id: string; name: string; kind: string } | null;
  own: boolean;
  ref: string;
  recordId: string | null;
  identifiers: number[];
  count: number;
  categories: string[];
  status: string;
  confidence: number;
  lastSeen: string;
}
interface Payload {
  lookup: { epochs: number[]; hitCount: number; results: Result[]; subjects: Subject[] };
}

type Id = { type: string; value: string };

/** Raw values and canonical forms every test of this file looks up: none may reach the audit log or the logs. */
const SECRETS = new Set<string>();
const track = (ids: Id[]) => {
  for (const i of ids) SECRETS.add(i.value);
  return ids;
};

describe.each(STORAGES)('lookup on one node (%s)', (storage) => {
  let f: LookupFixture;
  let t: TestApi;
  const logs = logCollector();
  let trust: string;
  let ownId: string;
  let ownRef: string;
  let lastSeenA: string;

  const lookup = async (ids: Id[], role: 'trust' | 'admin' | 'analyst' = 'trust', region?: string) =>
    t.gql<Payload>(LOOKUP, { ids: track(ids), ...(region === undefined ? {} : { region }) }, role === 'trust' ? trust : await t.token(role));
  const ok = async (ids: Id[], region?: string) => {
    const r = await lookup(ids, 'trust', region);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!.lookup;
  };

  beforeAll(async () => {
    f = await LookupFixture.create();
    t = await startTestApi({ storage, logger: logs.logger, lookup: (db) => f.sources(db) });
    trust = await t.token('trust', { sub: 'trust-team' });
    const { peerA, peerB } = f.members;
    // peer-a: one actor (ref 1) with a phone and a Gmail address, another (ref 2) with a shop.
    lastSeenA = await f.publish(t.db, peerA, [
      f.item('phone', '+8613800138000', { ref: ref(1), categories: ['COUNTERFEIT', 'TRADEMARK'], status: 'CONFIRMED', confidence: 90, firstSeen: '2026-09-14' }),
      f.item('email', 'johnsmith@gmail.com', { ref: ref(1), categories: ['COUNTERFEIT', 'TRADEMARK'], status: 'CONFIRMED', confidence: 90, firstSeen: '2026-09-14' }),
      f.item('shop', 'taobao:12345678', { ref: ref(2), categories: ['GREY_MARKET'], status: 'SUSPECTED', confidence: 30 }),
    ]);
    // peer-b knows the same phone, as another actor of its own.
    await f.publish(t.db, peerB, [f.item('phone', '+8613800138000', { ref: ref(7), categories: ['COUNTERFEIT'], status: 'DISPUTED', confidence: 40 })]);
    // This member's own record, with the same Gmail mailbox spelled differently.
    const analyst = await t.token('analyst');
    const created = await t.gql<{ createRecord: { id: string } }>(
      CREATE_RECORD,
      { input: { kind: 'SELLER', name: 'Lucky Trading', identifiers: track([{ type: 'EMAIL', value: 'John.Smith+shop@Gmail.com' }, { type: 'DOMAIN', value: 'lucky-trading.shop' }]), categories: ['COUNTERFEIT'], status: 'SUSPECTED', confidence: 60 } },
      analyst,
    );
    expect(created.body.errors).toBeUndefined();
    ownId = created.body.data!.createRecord.id;
    const { rows } = await t.db.query<{ ref: string }>('SELECT ref FROM records WHERE id = $1', [ownId]);
    ownRef = rows[0]!.ref;
  });

  afterAll(async () => {
    await t?.close();
    f?.remove();
  });

  it("finds other members' indicators with their member, categories, status, confidence and dates", async () => {
    const out = await ok([{ type: 'PHONE', value: '+86 138-0013-8000' }]);
    expect(out.epochs).toEqual([1]);
    const [r] = out.results;
    expect(r).toMatchObject({ index: 0, type: 'PHONE', input: '+86 138-0013-8000', canonical: '+8613800138000', error: null, ownRecords: [] });
    expect(r!.matches).toEqual([
      {
        member: { id: 'peer-a', name: 'Brand A Legal', kind: 'RIGHTS_HOLDER' },
        ref: ref(1),
        categories: ['COUNTERFEIT', 'TRADEMARK'],
        status: 'CONFIRMED',
        confidence: 90,
        firstSeen: '2026-09-14',
        lastSeen: new Date(lastSeenA).toISOString(),
        expiresAt: expect.any(String),
        epoch: 1,
      },
      expect.objectContaining({ member: { id: 'peer-b', name: 'Customs B', kind: 'ENFORCEMENT' }, ref: ref(7), status: 'DISPUTED', confidence: 40 }),
    ]);
    expect(out.hitCount).toBe(2);
  });

  it('reads national numbers in the region given, and any spelling of the same identifier matches', async () => {
    const out = await ok(
      [
        { type: 'PHONE', value: '138 0013 8000' },
        { type: 'EMAIL', value: 'JOHNSMITH@googlemail.com' },
      ],
      'cn',
    );
    expect(out.results.map((r) => r.canonical)).toEqual(['+8613800138000', 'johnsmith@gmail.com']);
    expect(out.results[0]!.matches.map((m) => m.member.id)).toEqual(['peer-a', 'peer-b']);
    expect(out.results[1]!.matches.map((m) => [m.member.id, m.ref])).toEqual([['peer-a', ref(1)]]);
  });

  it("reports this member's own records as own hits, from its records alone", async () => {
    const out = await ok([{ type: 'EMAIL', value: 'j.o.h.n.s.m.i.t.h@gmail.com' }, { type: 'DOMAIN', value: 'https://www.lucky-trading.shop/about' }]);
    const [email, domain] = out.results;
    expect(email!.ownRecords).toEqual([
      { id: ownId, name: 'Lucky Trading', kind: 'SELLER', status: 'SUSPECTED', categories: ['COUNTERFEIT'], confidence: 60, ref: ownRef, updatedAt: expect.any(String) },
    ]);
    // The own record's published indicators (none here: no publisher runs) are never reported as matches.
    expect(email!.matches.map((m) => m.member.id)).toEqual(['peer-a']);
    expect(domain!.ownRecords.map((o) => o.id)).toEqual([ownId]);
    expect(domain!.matches).toEqual([]);
    const own = out.subjects.find((s) => s.own)!;
    expect(own).toMatchObject({ member: { id: 'home', name: 'Home Platform', kind: 'PLATFORM' }, recordId: ownId, ref: ownRef, identifiers: [0, 1], count: 2, status: 'SUSPECTED' });
  });

  it('groups hits by actor: two identifiers of one actor at a member count 2', async () => {
    const out = await ok([
      { type: 'PHONE', value: '+8613800138000' },
      { type: 'SHOP', value: 'taobao:99999999' },
      { type: 'EMAIL', value: 'johnsmith@gmail.com' },
      { type: 'EMAIL', value: 'john.smith@gmail.com' },
      { type: 'SHOP', value: 'taobao:12345678' },
    ]);
    const peers = out.subjects.filter((s) => !s.own);
    expect(peers.map((s) => [s.member!.id, s.ref, s.count, s.identifiers])).toEqual([
      // Inputs 2 and 3 are one identifier spelled twice: they count once.
      ['peer-a', ref(1), 2, [0, 2, 3]],
      ['peer-a', ref(2), 1, [4]],
      ['peer-b', ref(7), 1, [0]],
    ]);
    expect(peers[0]).toMatchObject({ categories: ['COUNTERFEIT', 'TRADEMARK'], status: 'CONFIRMED', confidence: 90, lastSeen: new Date(lastSeenA).toISOString() });
    expect(out.results[1]!.matches).toEqual([]);
    // Per input: peer-a and peer-b; none; peer-a and the own record (twice); peer-a.
    expect(out.hitCount).toBe(2 + 0 + 2 + 2 + 1);
  });

  it('answers every valid input when others are invalid, each invalid one with its reason', async () => {
    const out = await ok([
      { type: 'PHONE', value: '+86 12' },
      { type: 'EMAIL', value: 'johnsmith@gmail.com' },
      { type: 'EMAIL', value: 'not-an-address' },
      { type: 'URL', value: '' },
    ]);
    expect(out.results.map((r) => [r.index, r.canonical, r.error?.reason ?? null])).toEqual([
      [0, null, 'phone.too_short'],
      [1, 'johnsmith@gmail.com', null],
      [2, null, expect.stringMatching(/^email\./)],
      [3, null, 'url.empty'],
    ]);
    expect(out.results[0]!.error!.message).toMatch(/too few digits/);
    expect(out.results[1]!.matches).toHaveLength(1);
    expect(out.results.filter((r) => r.error).every((r) => r.matches.length === 0 && r.ownRecords.length === 0)).toBe(true);
  });

  it('refuses more than 1,000 identifiers, an empty list and a bad region with BAD_USER_INPUT', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ type: 'DEVICE_ID', value: `device-${i}` }));
    const r = await t.gql(LOOKUP, { ids: many }, trust);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.message).toMatch(/has 1001 entries; the limit per call is 1000/);
    expect(r.body.errors?.[0]?.extensions?.problems).toEqual([{ field: 'identifiers', message: expect.stringContaining('1000') }]);
    const empty = await t.gql(LOOKUP, { ids: [] }, trust);
    expect(empty.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const region = await lookup([{ type: 'PHONE', value: '138 0013 8000' }], 'trust', 'China');
    expect(region.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // Exactly 1,000 is fine.
    const thousand = await t.gql<Payload>(LOOKUP, { ids: many.slice(0, 1000) }, trust);
    expect(thousand.body.errors).toBeUndefined();
    expect(thousand.body.data!.lookup.results).toHaveLength(1000);
  });

  it('is for trust teams and admins: analysts are FORBIDDEN', async () => {
    const ids = [{ type: 'PHONE', value: '+8613800138000' }];
    expect((await lookup(ids, 'analyst')).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    for (const role of ['trust', 'admin'] as const) {
      const r = await lookup(ids, role);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.lookup.results[0]!.matches).toHaveLength(2);
    }
  });

  it('never matches retracted, cleared or expired indicators', async () => {
    const { peerA } = f.members;
    const soon = new Date(f.now().getTime() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await f.publish(t.db, peerA, [
      f.item('domain', 'retracted-shop.com', { ref: ref(3) }),
      f.item('domain', 'cleared-shop.com', { ref: ref(3) }),
      f.item('domain', 'expiring-shop.com', { ref: ref(3), expiresAt: soon }),
    ]);
    const ids = [
      { type: 'DOMAIN', value: 'retracted-shop.com' },
      { type: 'DOMAIN', value: 'cleared-shop.com' },
      { type: 'DOMAIN', value: 'expiring-shop.com' },
    ];
    expect((await ok(ids)).results.map((r) => r.matches.length)).toEqual([1, 1, 1]);
    await f.publish(t.db, peerA, [
      f.item('domain', 'retracted-shop.com', { ref: ref(3), op: 'retract', status: 'CLEARED' }),
      f.item('domain', 'cleared-shop.com', { ref: ref(3), status: 'CLEARED' }),
    ]);
    expect((await ok(ids)).results.map((r) => r.matches.length)).toEqual([0, 0, 1]);
    // Two hours on: the expiring indicator is past its expiresAt, though nothing has deleted its row yet.
    f.offsetMs = 2 * 3_600_000;
    try {
      expect((await ok(ids)).results.map((r) => r.matches.length)).toEqual([0, 0, 0]);
      const { rows } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM indicators WHERE origin = 'peer-a' AND expires_at < now() + interval '3 hours'");
      expect(rows[0]!.n).toBe(1);
    } finally {
      f.offsetMs = 0;
    }
  });

  it("keeps answering through an epoch rotation's grace period, then stops matching the old epoch", async () => {
    const { peerA } = f.members;
    await f.publish(t.db, peerA, [f.item('ip', '203.0.113.7', { ref: ref(4) }), f.item('ip', '203.0.113.8', { ref: ref(4) })]);
    // Epoch 2 started a day ago; peer-a re-published only one of its two indicators under it so far.
    const epoch2 = await f.newEpoch(new Date(Date.now() - 86_400_000));
    expect(epoch2).toBe(2);
    await f.publish(t.db, peerA, [f.item('ip', '203.0.113.8', { ref: ref(4), epoch: 2 })], { epoch: 2 });
    const ids = [
      { type: 'IP', value: '203.0.113.7' },
      { type: 'IP', value: '203.0.113.8' },
    ];
    const during = await ok(ids);
    expect(during.epochs).toEqual([2, 1]);
    // Found under the old key; the re-published one once, under the newer epoch.
    expect(during.results.map((r) => r.matches.map((m) => [m.member.id, m.ref, m.epoch]))).toEqual([[['peer-a', ref(4), 1]], [['peer-a', ref(4), 2]]]);
    // Seven days later the grace of epoch 1 (7 days after epoch 2 started) is over.
    f.offsetMs = 7 * 86_400_000;
    try {
      const after = await ok(ids);
      expect(after.epochs).toEqual([2]);
      expect(after.results.map((r) => r.matches.length)).toEqual([0, 1]);
    } finally {
      f.offsetMs = 0;
    }
  });

  it("stops matching a suspended member's indicators, which stay stored", async () => {
    const ids = [{ type: 'PHONE', value: '+8613800138000' }];
    expect((await ok(ids)).results[0]!.matches.map((m) => m.member.id)).toEqual(['peer-a', 'peer-b']);
    await f.next({ type: 'member.suspend', body: { id: 'peer-b', reason: 'review' } } as never);
    expect((await ok(ids)).results[0]!.matches.map((m) => m.member.id)).toEqual(['peer-a']);
    const { rows } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM indicators WHERE origin = 'peer-b'");
    expect(rows[0]!.n).toBe(1);
  });

  it('audits every lookup with digests, never a raw value or canonical form', async () => {
    const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
    const ids = [
      { type: 'PHONE', value: '+86 138 0013 8000' },
      { type: 'EMAIL', value: 'Audit.Probe@gmail.com' },
      { type: 'EMAIL', value: 'broken@' },
    ];
    await ok(ids);
    const { rows } = await t.db.query<{ action: string; subject: string; role: string; identifier_count: number; digests: string[]; hit_count: number; details: Record<string, unknown> }>(
      'SELECT action, subject, role, identifier_count, digests, hit_count, details FROM audit_log ORDER BY id DESC LIMIT 1',
    );
    const row = rows[0]!;
    expect(row).toMatchObject({ action: 'lookup', subject: 'trust-team', role: 'trust', identifier_count: 3, hit_count: 1 });
    // Digests under every live epoch the node holds (1 and 2 here), of the valid inputs only.
    expect(row.digests.sort()).toEqual(
      [f.digest('phone', '+8613800138000', 1), f.digest('phone', '+8613800138000', 2), f.digest('email', 'auditprobe@gmail.com', 1), f.digest('email', 'auditprobe@gmail.com', 2)].sort(),
    );
    expect(row.details).toMatchObject({ epochs: [2, 1], invalid: 1, peerHits: 1, ownHits: 0, requestId: expect.any(String) });
    const after = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n + 1);

    // Every column of every audit row, as text, against every raw value and canonical form looked up.
    SECRETS.add('auditprobe@gmail.com').add('+8613800138000').add('johnsmith@gmail.com').add('taobao:12345678').add('203.0.113.7').add('lucky-trading.shop');
    const all = await t.db.query<{ line: string }>('SELECT a::text AS line FROM audit_log a');
    expect(all.rows.length).toBeGreaterThan(5);
    for (const { line } of all.rows) {
      for (const secret of SECRETS) {
        if (secret.length < 4) continue; // '12', '' and the like occur in any text
        expect(line.toLowerCase(), `audit row holds ${JSON.stringify(secret)}`).not.toContain(secret.toLowerCase());
      }
    }
    // Nor do the node's logs.
    const logText = logs.lines.join('\n').toLowerCase();
    for (const secret of SECRETS) if (secret.length >= 4) expect(logText).not.toContain(secret.toLowerCase());
  });
});
