/**
 * The match API over real HTTP and WebSocket, on both storages: `matches` (filter, Relay pages,
 * totalCount), `match`, `acknowledgeMatch` with its errors and audit rows, roles, and the token check
 * of `matchFound` connections. Matches are raised by the real matcher over indicator rows written
 * directly; pushes between members are in alliance-matching.test.ts.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Matcher } from '../../../node/matching/matcher.ts';
import { RecordStore } from '../../../node/records/store.ts';
import type { StoredRecord } from '../../../node/records/model.ts';
import { issueToken } from '../../../node/api/tokens.ts';
import { startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { SELF, buildRosters, digest, peerRef, putIndicators, recordFields, type Rosters } from '../../helpers/matching-fixture.ts';
import { WsClient, waitForSubscribers } from '../../helpers/ws-client.ts';

const MATCHES = /* GraphQL */ `
  query ($filter: MatchFilter, $first: Int, $after: String) {
    matches(filter: $filter, first: $first, after: $after) {
      totalCount
      edges { cursor node { id state origin ref recordId types } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;
const MATCH = /* GraphQL */ `
  query ($id: ID!) {
    match(id: $id) {
      id state origin ref types identifiers { type digest epoch } categories status confidence
      member { id name kind } record { id name identifiers { type value } } createdAt updatedAt decidedAt decidedBy note retractedAt
    }
  }
`;
const ACK = /* GraphQL */ `
  mutation ($id: ID!, $verdict: MatchVerdict!, $note: String) {
    acknowledgeMatch(id: $id, verdict: $verdict, note: $note) { id state decidedAt decidedBy note }
  }
`;
const AUDIT = /* GraphQL */ `
  query { auditLog(filter: { action: ["match.decision"] }) { totalCount edges { node { action subject role identifierCount digests hitCount details } } } }
`;

interface Edge {
  cursor: string;
  node: { id: string; state: string; origin: string; ref: string; recordId: string; types: string[] };
}
interface MatchesData {
  matches: { totalCount: number; edges: Edge[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null } };
}

/** Status of a GET sent with exactly these headers (fetch refuses to send Connection and Upgrade). */
function rawStatus(baseUrl: string, pathAndQuery: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}${pathAndQuery}`, { headers });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

let R: Rosters;
beforeAll(async () => {
  R = await buildRosters('api-alliance');
});
afterAll(() => R.cleanup());

describe.each(STORAGES)('match API (%s)', (kind) => {
  let t: TestApi;
  let matcher: Matcher;
  const recs: StoredRecord[] = [];
  let ids: string[];
  let retractedId: string;

  const ok = async <D>(p: Promise<{ body: { data?: D | null; errors?: unknown[] } }>): Promise<D> => {
    const r = await p;
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!;
  };
  const codeOf = (r: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) => r.body.errors?.[0]?.extensions?.code;

  beforeAll(async () => {
    t = await startTestApi({
      storage: kind,
      lookup: () => ({ self: () => SELF, roster: () => R.base, epochKeys: () => new Map(), liveEpochs: () => [1] }),
    });
    matcher = new Matcher(t.db, { self: () => SELF, roster: () => R.base, liveEpochs: () => [1] });
    const records = new RecordStore(t.db);
    // Five records matching one actor each at peer-a; the first also one at peer-b (six matches).
    for (let i = 0; i < 5; i++) {
      const r = await records.create(
        recordFields(`Seller ${i}`, { identifiers: [{ type: 'email', value: `Seller.${i}+shop@gmail.com`, canonical: `seller${i}@gmail.com` }] }),
        { sub: 'importer', role: 'analyst' },
      );
      recs.push(r);
      await putIndicators(t.db, { origin: SELF, type: 'email', digest: digest(`email-${i}`), ref: r.ref });
      await putIndicators(t.db, { origin: 'peer-a', type: 'email', digest: digest(`email-${i}`), ref: peerRef(i + 1), categories: ['TRADEMARK'], confidence: 60 + i });
      await matcher.match({ ownRefs: [r.ref] });
    }
    await putIndicators(t.db, { origin: 'peer-b', type: 'email', digest: digest('email-0'), ref: peerRef(9) });
    await matcher.match({ peers: [{ origin: 'peer-b', ref: peerRef(9) }] });
    const { rows } = await t.db.query<{ id: string }>('SELECT id::text AS id FROM matches ORDER BY id');
    ids = rows.map((r) => r.id);
    // One retracted: peer-a withdrew its indicator of actor 5.
    await t.db.query('DELETE FROM indicators WHERE origin = $1 AND ref = $2', ['peer-a', peerRef(5)]);
    await matcher.match({ peers: [{ origin: 'peer-a', ref: peerRef(5) }] });
    retractedId = (await t.db.query<{ id: string }>("SELECT id::text AS id FROM matches WHERE state = 'RETRACTED'")).rows[0]!.id;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('pages through matches newest first, with totalCount and filters', async () => {
    expect(ids).toHaveLength(6);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; ; page++) {
      const data: MatchesData = await ok(t.gql<MatchesData>(MATCHES, { first: 2, after }, await t.token('trust')));
      expect(data.matches.totalCount).toBe(6);
      expect(data.matches.pageInfo.hasPreviousPage).toBe(page > 0);
      seen.push(...data.matches.edges.map((e) => e.node.id));
      if (!data.matches.pageInfo.hasNextPage) break;
      after = data.matches.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());

    const analyst = await t.token('analyst');
    const byOrigin = await ok(t.gql<MatchesData>(MATCHES, { filter: { origin: 'peer-b' } }, analyst));
    expect(byOrigin.matches.edges.map((e) => e.node)).toEqual([{ id: ids[5], state: 'NEW', origin: 'peer-b', ref: peerRef(9), recordId: recs[0]!.id, types: ['EMAIL'] }]);
    const byRecord = await ok(t.gql<MatchesData>(MATCHES, { filter: { recordId: recs[0]!.id } }, analyst));
    expect(byRecord.matches.totalCount).toBe(2);
    const byState = await ok(t.gql<MatchesData>(MATCHES, { filter: { state: ['RETRACTED'] } }, analyst));
    expect(byState.matches.edges.map((e) => e.node.id)).toEqual([retractedId]);
    const future = await ok(t.gql<MatchesData>(MATCHES, { filter: { since: '2099-01-01T00:00:00Z' } }, analyst));
    expect(future.matches.totalCount).toBe(0);
    const recent = await ok(t.gql<MatchesData>(MATCHES, { filter: { since: new Date(Date.now() - 3_600_000).toISOString(), state: ['NEW'] } }, analyst));
    expect(recent.matches.totalCount).toBe(5);
  });

  it('shows a match with the member, the record and the digests of what matched', async () => {
    const data = await ok(t.gql<{ match: Record<string, unknown> }>(MATCH, { id: ids[0] }, await t.token('trust')));
    expect(data.match).toMatchObject({
      id: ids[0],
      state: 'NEW',
      origin: 'peer-a',
      ref: peerRef(1),
      types: ['EMAIL'],
      identifiers: [{ type: 'EMAIL', digest: digest('email-0'), epoch: 1 }],
      categories: ['TRADEMARK'],
      status: 'CONFIRMED',
      confidence: 60,
      member: { id: 'peer-a', name: 'Member peer-a', kind: 'PLATFORM' },
      record: { id: recs[0]!.id, name: 'Seller 0', identifiers: [{ type: 'EMAIL', value: 'Seller.0+shop@gmail.com' }] },
      decidedAt: null,
      retractedAt: null,
    });
    expect((await t.gql<{ match: unknown }>(MATCH, { id: '999999' }, await t.token('trust'))).body.data!.match).toBeNull();
  });

  it('every role reads and decides matches; no token is UNAUTHENTICATED', async () => {
    for (const role of ['analyst', 'trust', 'admin'] as const) {
      const data = await ok(t.gql<MatchesData>(MATCHES, { first: 1 }, await t.token(role)));
      expect(data.matches.totalCount).toBe(6);
    }
    const none = await t.gql(MATCHES, { first: 1 });
    expect(none.status).toBe(401);
    expect(codeOf(none)).toBe('UNAUTHENTICATED');
  });

  it('acknowledgeMatch decides (and decides again), audits each decision with digests only', async () => {
    const trust = await t.token('trust', { sub: 'desk-7' });
    const confirmed = await ok(t.gql<{ acknowledgeMatch: Record<string, unknown> }>(ACK, { id: ids[1], verdict: 'CONFIRMED', note: 'Seller.1+shop@gmail.com is the same seller' }, trust));
    expect(confirmed.acknowledgeMatch).toMatchObject({ id: ids[1], state: 'CONFIRMED', decidedBy: 'desk-7', note: 'Seller.1+shop@gmail.com is the same seller' });
    expect(Date.parse(confirmed.acknowledgeMatch.decidedAt as string)).toBeGreaterThan(Date.now() - 60_000);
    const dismissed = await ok(t.gql<{ acknowledgeMatch: Record<string, unknown> }>(ACK, { id: ids[2], verdict: 'DISMISSED' }, await t.token('analyst', { sub: 'alice' })));
    expect(dismissed.acknowledgeMatch).toMatchObject({ state: 'DISMISSED', decidedBy: 'alice', note: null });
    const again = await ok(t.gql<{ acknowledgeMatch: Record<string, unknown> }>(ACK, { id: ids[2], verdict: 'CONFIRMED', note: 'second look' }, trust));
    expect(again.acknowledgeMatch).toMatchObject({ state: 'CONFIRMED', decidedBy: 'desk-7', note: 'second look' });

    const audit = await ok(t.gql<{ auditLog: { totalCount: number; edges: Array<{ node: { action: string; subject: string; role: string; identifierCount: number; digests: string[]; hitCount: number; details: string } }> } }>(AUDIT, undefined, await t.token('admin')));
    expect(audit.auditLog.totalCount).toBe(3);
    const [third, second, first] = audit.auditLog.edges.map((e) => e.node);
    expect(first).toMatchObject({ action: 'match.decision', subject: 'desk-7', role: 'trust', identifierCount: 1, digests: [digest('email-1')], hitCount: 1 });
    expect(JSON.parse(first!.details)).toMatchObject({ match: ids[1], verdict: 'CONFIRMED', previous: 'NEW', origin: 'peer-a', ref: peerRef(2), record: recs[1]!.id, types: ['email'] });
    expect(JSON.parse(second!.details)).toMatchObject({ match: ids[2], verdict: 'DISMISSED', previous: 'NEW' });
    expect(JSON.parse(third!.details)).toMatchObject({ match: ids[2], verdict: 'CONFIRMED', previous: 'DISMISSED' });
    // Neither a raw value, a canonical form nor the note (free text) in any audit row.
    const { rows } = await t.db.query<{ row: string }>("SELECT row_to_json(a)::text AS row FROM audit_log a WHERE action = 'match.decision'");
    expect(rows).toHaveLength(3);
    for (const { row } of rows) {
      for (const s of ['Seller.1+shop@gmail.com', 'seller1@gmail.com', 'seller2@gmail.com', 'same seller', 'second look']) expect(row).not.toContain(s);
    }

    const metrics = await (await t.fetch('/metrics')).text();
    expect(metrics).toMatch(/^alliance_matches_total\{state="CONFIRMED"\} 2$/m);
    expect(metrics).toMatch(/^alliance_matches_total\{state="DISMISSED"\} 1$/m);
  });

  it('refuses an unknown id (NOT_FOUND), a bad id or verdict or note (BAD_USER_INPUT), a RETRACTED match (CONFLICT)', async () => {
    const trust = await t.token('trust');
    const unknown = await t.gql(ACK, { id: '999999', verdict: 'CONFIRMED' }, trust);
    expect(codeOf(unknown)).toBe('NOT_FOUND');
    expect(codeOf(await t.gql(ACK, { id: 'abc', verdict: 'CONFIRMED' }, trust))).toBe('BAD_USER_INPUT');
    for (const verdict of ['MAYBE', 'RETRACTED', 'NEW']) expect(codeOf(await t.gql(ACK, { id: ids[3], verdict }, trust))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(ACK, { id: ids[3], verdict: 'CONFIRMED', note: 'x'.repeat(2001) }, trust))).toBe('BAD_USER_INPUT');
    const conflict = await t.gql(ACK, { id: retractedId, verdict: 'DISMISSED' }, trust);
    expect(codeOf(conflict)).toBe('CONFLICT');
    expect(conflict.body.errors![0]!.extensions!.reason).toBe('retracted');
    expect(codeOf(await t.gql(MATCHES, { filter: { recordId: 'not-a-uuid' } }, trust))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(MATCHES, { after: 'bogus' }, trust))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(MATCHES, { first: 501 }, trust))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(MATCHES, { filter: { state: ['OPEN'] } }, trust))).toBe('BAD_USER_INPUT');
    // Nothing of it changed a match or wrote an audit row.
    const { rows } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE action = 'match.decision'");
    expect(rows[0]!.n).toBe(3);
  });

  it('matchFound: a connection needs a valid token in connection_init', async () => {
    // graphql-transport-ws: a refused connection_init closes the socket with 4403, nothing sent.
    const refuse = async (payload: unknown) => {
      const c = await WsClient.init(t.graphqlUrl, payload);
      expect(await c.whenClosed()).toEqual({ code: 4403, reason: 'Forbidden' });
      expect(c.messages).toEqual([]);
    };
    await refuse(undefined);
    await refuse({});
    await refuse({ authorization: 'Basic dXNlcjpwYXNz' });
    await refuse({ authorization: 'Bearer not-a-jwt' });
    await refuse({ authorization: `Bearer ${await issueToken(t.key, t.config.auth, { role: 'trust', sub: 'late', ttlSeconds: -60 })}` });
    await refuse({ authorization: `Bearer ${(await t.token('trust')).slice(0, -4)}AAAA` });

    // Subscribing without connection_init is refused too (4401).
    const early = await WsClient.open(t.graphqlUrl);
    early.subscribe('1', 'subscription { matchFound { id } }');
    expect(await early.whenClosed()).toEqual({ code: 4401, reason: 'Unauthorized' });
    expect(early.messages).toEqual([]);

    // The upgrade itself is let through without a token, but nothing else is: a query sent with an
    // Upgrade header, or as a malformed upgrade, is never answered.
    const query = '/graphql?query=%7Bviewer%7Bsubject%7D%7D';
    expect(await rawStatus(t.baseUrl, query, { upgrade: 'websocket', 'content-type': 'application/json' })).toBe(401);
    expect(await rawStatus(t.baseUrl, query, { connection: 'Upgrade', upgrade: 'websocket', 'content-type': 'application/json' })).toBe(400);

    for (const payload of [{ authorization: `Bearer ${await t.token('trust')}` }, { headers: { Authorization: `Bearer ${await t.token('analyst')}` } }]) {
      const c = await WsClient.init(t.graphqlUrl, payload);
      await c.next((m) => m.type === 'connection_ack');
      c.subscribe('1', 'subscription { matchFound { id state } }');
      await waitForSubscribers(t.graphqlUrl, 1);
      c.close();
      await c.whenClosed();
      await waitForSubscribers(t.graphqlUrl, 0);
    }
  });

  it('matchFound: subscription documents are validated like queries', async () => {
    const c = await WsClient.init(t.graphqlUrl, { authorization: `Bearer ${await t.token('trust')}` });
    await c.next((m) => m.type === 'connection_ack');
    c.subscribe('unknown', 'subscription { matchFound { id noSuchField } }');
    const unknown = await c.next((m) => m.type === 'error' && m.id === 'unknown');
    expect(JSON.stringify(unknown.payload)).toMatch(/noSuchField/);
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: id`).join(' ');
    c.subscribe('aliases', `subscription { matchFound { ${aliases} } }`);
    const tooMany = await c.next((m) => m.type === 'error' && m.id === 'aliases');
    expect(JSON.stringify(tooMany.payload)).toMatch(/alias/i);
    await waitForSubscribers(t.graphqlUrl, 0);
    c.close();
  });

  it('matchFound: the connection closes when its token expires', async () => {
    const token = await issueToken(t.key, t.config.auth, { role: 'trust', sub: 'short', ttlSeconds: 2 });
    const c = await WsClient.init(t.graphqlUrl, { authorization: `Bearer ${token}` });
    await c.next((m) => m.type === 'connection_ack');
    c.subscribe('1', 'subscription { matchFound { id } }');
    await waitForSubscribers(t.graphqlUrl, 1);
    expect(await c.whenClosed(10_000)).toEqual({ code: 4401, reason: 'token expired' });
    await waitForSubscribers(t.graphqlUrl, 0);
  });
});
