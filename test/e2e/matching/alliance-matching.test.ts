/**
 * End to end: two member nodes (startNode over their own storage) on loopback. The same identifier,
 * spelled differently, in a record at each member raises a match at both, whichever member writes
 * first; the match is pushed to a subscriber over a real WebSocket, decided, audited, retracted when
 * the other member clears its record, raised again when it reopens it, and retracted on expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGES } from '../../helpers/storage.ts';
import { TestAlliance, eventually, memberStorage, startMember, type NodeStorage, type TestNode } from '../../helpers/alliance.ts';
import { DEFAULTS } from '../../../node/config.ts';
import { issueToken, loadOrCreateApiKey } from '../../../node/api/tokens.ts';
import { WsClient, waitForSubscribers, type WsMessage } from '../../helpers/ws-client.ts';

const CREATE = /* GraphQL */ `mutation ($input: RecordInput!) { createRecord(input: $input) { id } }`;
const UPDATE = /* GraphQL */ `mutation ($id: ID!, $input: RecordPatch!) { updateRecord(id: $id, input: $input) { id } }`;
const SET_STATUS = /* GraphQL */ `mutation ($id: ID!, $status: RecordStatus!) { setRecordStatus(id: $id, status: $status) { id } }`;
const DELETE = /* GraphQL */ `mutation ($id: ID!) { deleteRecord(id: $id) { id } }`;
const MATCH_FIELDS = 'id state origin ref recordId types identifiers { type digest epoch } categories status confidence member { id } record { id } decidedBy note';
const MATCHES = /* GraphQL */ `query ($filter: MatchFilter) { matches(filter: $filter, first: 100) { totalCount edges { node { ${MATCH_FIELDS} } } } }`;
const ACK = /* GraphQL */ `mutation ($id: ID!, $verdict: MatchVerdict!, $note: String) { acknowledgeMatch(id: $id, verdict: $verdict, note: $note) { id state decidedBy note } }`;
const SUBSCRIPTION = /* GraphQL */ `subscription { matchFound { ${MATCH_FIELDS} } }`;

interface Match {
  id: string;
  state: string;
  origin: string;
  ref: string;
  recordId: string;
  types: string[];
  identifiers: Array<{ type: string; digest: string; epoch: number }>;
  categories: string[];
  status: string;
  confidence: number;
  member: { id: string } | null;
  record: { id: string } | null;
  decidedBy: string | null;
  note: string | null;
}

describe.each(STORAGES)('match alerts between two members on loopback (%s)', (kind) => {
  let alliance: TestAlliance;
  const storage = new Map<string, NodeStorage>();
  const nodes = new Map<string, TestNode>();
  const at = (id: string) => nodes.get(id)!;
  let subscriber: WsClient;
  const rec: Record<string, string> = {};
  /** Beta's matches: alpha's actor of the phone, and of the email. */
  let phoneMatch: Match;
  let emailMatch: Match;

  const create = async (n: TestNode, input: Record<string, unknown>) => {
    const r = await n.gql<{ createRecord: { id: string } }>(CREATE, { input: { kind: 'SELLER', categories: ['COUNTERFEIT'], status: 'SUSPECTED', confidence: 70, ...input } });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!.createRecord.id;
  };
  const matches = async (n: TestNode, filter: Record<string, unknown> = {}) => {
    const r = await n.gql<{ matches: { totalCount: number; edges: Array<{ node: Match }> } }>(MATCHES, { filter }, 'trust');
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!.matches.edges.map((e) => e.node);
  };
  const matchesOf = async (n: TestNode, recordId: string) => matches(n, { recordId });
  const pushed = (from: number) => subscriber.next((m) => m.type === 'next', { from }).then((m: WsMessage) => (m.payload as { data: { matchFound: Match } }).data.matchFound);

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta']);
    for (const m of alliance.members) {
      storage.set(m.id, await memberStorage(kind));
      nodes.set(m.id, await startMember(alliance, m, storage.get(m.id)!));
    }
    await eventually(() => at('alpha').node.exchange!.peers.counts().connected === 1 && at('beta').node.exchange!.peers.counts().connected === 1, 20_000, 'alpha and beta connected');
    subscriber = await WsClient.init(at('beta').node.graphqlUrl, { authorization: `Bearer ${await at('beta').token('trust')}` });
    await subscriber.next((m) => m.type === 'connection_ack');
    subscriber.subscribe('alerts', SUBSCRIPTION);
    await waitForSubscribers(at('beta').node.graphqlUrl, 1);
  }, 90_000);

  afterAll(async () => {
    subscriber?.close();
    for (const n of nodes.values()) await n.stop().catch(() => undefined);
    for (const s of storage.values()) await s.drop?.();
  });

  it('beta refuses a subscriber without a token, with a bad one or an expired one', async () => {
    const expired = await issueToken(await loadOrCreateApiKey(at('beta').member.dataDir), { issuer: DEFAULTS.issuer, audience: DEFAULTS.audience }, { role: 'trust', sub: 'late', ttlSeconds: -60 });
    for (const payload of [{}, { authorization: 'Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln' }, { authorization: `Bearer ${expired}` }]) {
      const c = await WsClient.init(at('beta').node.graphqlUrl, payload);
      expect(await c.whenClosed()).toEqual({ code: 4403, reason: 'Forbidden' });
      expect(c.messages).toEqual([]);
    }
    // A token of the other member's node is not one of beta's.
    const foreign = await WsClient.init(at('beta').node.graphqlUrl, { authorization: `Bearer ${await at('alpha').token('trust')}` });
    expect(await foreign.whenClosed()).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(foreign.messages).toEqual([]);
  });

  it('alpha publishes first, beta writes later: raised at beta by its own write, at alpha by beta\'s batch, pushed to the subscriber', async () => {
    rec.alpha = await create(at('alpha'), {
      name: 'Shenzhen Lucky Trading',
      region: 'CN',
      identifiers: [{ type: 'PHONE', value: '+86 138 0013 8000' }, { type: 'EMAIL', value: 'Lucky.Seller+taobao@gmail.com' }],
      categories: ['TRADEMARK', 'COUNTERFEIT'],
      status: 'CONFIRMED',
      confidence: 85,
    });
    await eventually(async () => (await at('beta').indicatorCount('alpha')) === 2, 20_000, "alpha's indicators at beta");
    const from = subscriber.messages.length;
    rec.beta = await create(at('beta'), { name: 'Lucky store', region: 'CN', identifiers: [{ type: 'PHONE', value: '138-0013-8000' }] });

    const alert = await pushed(from);
    expect(alert).toMatchObject({
      state: 'NEW',
      origin: 'alpha',
      member: { id: 'alpha' },
      recordId: rec.beta,
      record: { id: rec.beta },
      types: ['PHONE'],
      categories: ['COUNTERFEIT', 'TRADEMARK'],
      status: 'CONFIRMED',
      confidence: 85,
    });
    expect(alert.identifiers).toEqual([{ type: 'PHONE', digest: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), epoch: 1 }]);
    expect(await matchesOf(at('beta'), rec.beta)).toEqual([alert]);
    phoneMatch = alert;

    // At alpha the same pair, the other way round: beta's batch met alpha's own indicators.
    await eventually(async () => (await matchesOf(at('alpha'), rec.alpha!)).length === 1, 20_000, 'match at alpha');
    const [atAlpha] = await matchesOf(at('alpha'), rec.alpha!);
    expect(atAlpha).toMatchObject({ state: 'NEW', origin: 'beta', types: ['PHONE'], identifiers: alert.identifiers, status: 'SUSPECTED' });
  });

  it('beta publishes first, alpha writes later: raised at beta by alpha\'s batch, at alpha by its own write', async () => {
    rec.beta2 = await create(at('beta'), { name: 'Outlet', identifiers: [{ type: 'EMAIL', value: 'Fake.Outlet@gmail.com' }] });
    await eventually(async () => (await at('alpha').indicatorCount('beta')) === 2, 20_000, "beta's indicators at alpha");
    const from = subscriber.messages.length;
    rec.alpha2 = await create(at('alpha'), { name: 'Outlet (alpha)', identifiers: [{ type: 'EMAIL', value: 'fakeoutlet+promo@googlemail.com' }] });

    const alert = await pushed(from);
    expect(alert).toMatchObject({ state: 'NEW', origin: 'alpha', recordId: rec.beta2, types: ['EMAIL'] });
    emailMatch = alert;
    await eventually(async () => (await matchesOf(at('alpha'), rec.alpha2!)).length === 1, 20_000, 'match at alpha');
    expect((await matchesOf(at('alpha'), rec.alpha2!))[0]).toMatchObject({ state: 'NEW', origin: 'beta', types: ['EMAIL'] });
  });

  it('decisions are stored and audited with digests only', async () => {
    const confirmed = await at('beta').gql<{ acknowledgeMatch: Match }>(ACK, { id: phoneMatch.id, verdict: 'CONFIRMED', note: 'test buy confirmed, +86 138 0013 8000' }, 'trust');
    expect(confirmed.body.errors).toBeUndefined();
    expect(confirmed.body.data!.acknowledgeMatch).toMatchObject({ state: 'CONFIRMED', decidedBy: 'beta-trust', note: 'test buy confirmed, +86 138 0013 8000' });
    const dismissed = await at('beta').gql<{ acknowledgeMatch: Match }>(ACK, { id: emailMatch.id, verdict: 'DISMISSED', note: 'shared mailbox' }, 'analyst');
    expect(dismissed.body.data!.acknowledgeMatch).toMatchObject({ state: 'DISMISSED', decidedBy: 'beta-analyst' });

    const { rows } = await at('beta').node.db.query<{ digests: string[]; row: string }>(
      "SELECT digests, row_to_json(a)::text AS row FROM audit_log a WHERE action = 'match.decision' ORDER BY id",
    );
    expect(rows.map((r) => r.digests)).toEqual([phoneMatch.identifiers.map((i) => i.digest), emailMatch.identifiers.map((i) => i.digest)]);
    for (const { row } of rows) {
      for (const raw of ['138 0013 8000', '138-0013-8000', '8613800138000', 'Fake.Outlet', 'fakeoutlet', 'test buy', 'shared mailbox']) expect(row).not.toContain(raw);
    }
  });

  it('a decision stays when more identifiers come to match', async () => {
    const r = await at('beta').gql(UPDATE, {
      id: rec.beta,
      input: { identifiers: [{ type: 'PHONE', value: '138-0013-8000' }, { type: 'EMAIL', value: 'luckyseller@googlemail.com' }] },
    });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    await eventually(async () => (await matchesOf(at('beta'), rec.beta!))[0]!.types.length === 2, 20_000, 'email added to the match');
    expect((await matchesOf(at('beta'), rec.beta!))[0]).toMatchObject({ id: phoneMatch.id, state: 'CONFIRMED', types: ['EMAIL', 'PHONE'], decidedBy: 'beta-trust' });
  });

  it("alpha clearing its record retracts beta's match; the identifier stops matching; reopening raises it again", async () => {
    expect((await at('alpha').gql(SET_STATUS, { id: rec.alpha, status: 'CLEARED' })).body.errors).toBeUndefined();
    await eventually(async () => (await matchesOf(at('beta'), rec.beta!))[0]!.state === 'RETRACTED', 20_000, 'retraction at beta');
    // At alpha, its own CLEARED record closes its side.
    await eventually(async () => (await matchesOf(at('alpha'), rec.alpha!))[0]!.state === 'RETRACTED', 20_000, 'retraction at alpha');
    const conflict = await at('beta').gql(ACK, { id: phoneMatch.id, verdict: 'DISMISSED' }, 'trust');
    expect(conflict.body.errors![0]!.extensions!.code).toBe('CONFLICT');

    // A new record at beta with the same phone raises nothing now.
    const ownBefore = await at('beta').indicatorCount('beta');
    rec.beta3 = await create(at('beta'), { name: 'Lucky again', identifiers: [{ type: 'PHONE', value: '+8613800138000' }] });
    await eventually(async () => (await at('beta').indicatorCount('beta')) === ownBefore + 1, 20_000, "beta's new indicator");
    expect(await matchesOf(at('beta'), rec.beta3)).toEqual([]);

    const from = subscriber.messages.length;
    expect((await at('alpha').gql(SET_STATUS, { id: rec.alpha, status: 'SUSPECTED' })).body.errors).toBeUndefined();
    const again = [await pushed(from)];
    again.push(await subscriber.next((m) => m.type === 'next' && !again.some((a) => a.id === (m.payload as { data: { matchFound: Match } }).data.matchFound.id), { from }).then((m) => (m.payload as { data: { matchFound: Match } }).data.matchFound));
    expect(again.map((m) => m.recordId).sort()).toEqual([rec.beta, rec.beta3].sort());
    expect(again.find((m) => m.recordId === rec.beta)).toMatchObject({ id: phoneMatch.id, state: 'NEW', status: 'SUSPECTED', decidedBy: null, note: null });
  });

  it('expiry of the indicators retracts a match', async () => {
    await at('beta').node.db.query("UPDATE indicators SET expires_at = now() - interval '1 minute' WHERE origin = 'alpha' AND ref = $1", [emailMatch.ref]);
    expect(await at('beta').node.batches.expire()).toBe(1);
    expect((await matchesOf(at('beta'), rec.beta2!))[0]).toMatchObject({ id: emailMatch.id, state: 'RETRACTED' });
  });

  it('deleting a record deletes its matches; transitions are counted without identifiers', async () => {
    expect((await at('beta').gql(DELETE, { id: rec.beta3 })).body.errors).toBeUndefined();
    expect(await matchesOf(at('beta'), rec.beta3!)).toEqual([]);
    const text = await (await fetch(at('beta').node.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    const count = (state: string) => Number(new RegExp(`^alliance_matches_total\\{state="${state}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    // NEW: phone, email, then phone again and the new record's; RETRACTED: phone (cleared), email (expired).
    expect(count('NEW')).toBe(4);
    expect(count('RETRACTED')).toBe(2);
    expect(count('CONFIRMED')).toBe(1);
    expect(count('DISMISSED')).toBe(1);
    expect(text).not.toMatch(/alliance_matches_total\{[^}]*(digest|ref|record)/);
  });
});
