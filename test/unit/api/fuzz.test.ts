/**
 * No request of any shape reaches a 500: bodies, documents, variables and WebSocket messages made
 * at random (with NUL, unpaired surrogates, JSON literals, deep nesting and pieces of real
 * documents) are answered with a client error or a result, never an internal error, and the node
 * logs nothing at error level.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logCollector, startTestApi, type TestApi } from '../../helpers/api.ts';
import { WsClient } from '../../helpers/ws-client.ts';

const oddText = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.constantFrom('\u0000', '\uD800', '\uDFFF', '"', '\\', '{', '}', '$', '[', ']', '\n') },
  ),
  maxLength: 40,
});
const PIECES = [
  '{', '}', '(', ')', '[', ']', ':', '!', '$v', '...', '"', '"\\u0000"', '"\\uD800"', '#', '\n', '@include(if: true)', 'on', 'fragment F', 'query', 'mutation',
  'subscription', 'records', 'record(id: "x")', 'matches', 'auditLog', 'lookup(identifiers: [{type: EMAIL, value: "a@b.c"}])', 'normalize', 'viewer', 'subject',
  'edges', 'node', 'id', 'name', 'identifiers', 'value', 'first: 500', 'first: -1', 'first: 99999999999', 'filter: { text: $v }', 'createRecord(input: { kind: SELLER, name: $v })',
  'null', 'true', '0', '1e400', 'matchFound',
];
const documentish = fc.array(fc.oneof(fc.constantFrom(...PIECES), oddText), { maxLength: 30 }).map((parts) => parts.join(' '));
const badJson = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, oddText, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(oddText, tie('value'), { maxKeys: 5 })),
})).value;
// Real documents whose variables are made at random: what reaches resolvers and SQL.
const TEMPLATES = [
  'query ($v: String) { records(filter: { text: $v }) { totalCount } }',
  'query ($v: String) { matches(filter: { origin: $v }) { totalCount } }',
  'query ($v: String) { auditLog(filter: { subject: $v, digest: $v }) { totalCount } }',
  'query ($v: [String!]) { auditLog(filter: { action: $v }) { totalCount } }',
  'query ($v: ID!) { record(id: $v) { id } }',
  'query ($v: Int) { records(first: $v) { totalCount } }',
  'query ($v: String) { records(after: $v) { totalCount } }',
  'query ($v: [IdentifierInput!]!) { lookup(identifiers: $v) { hitCount } }',
  'query ($v: [IdentifierInput!]!) { normalize(identifiers: $v) { canonical error } }',
  'mutation ($v: RecordInput!) { createRecord(input: $v) { id } }',
  'mutation ($v: ID!) { acknowledgeMatch(id: $v, verdict: CONFIRMED) { id } }',
];
const templated = fc.record({
  query: fc.constantFrom(...TEMPLATES),
  variables: fc.record({ v: fc.oneof(oddText, badJson, fc.array(fc.record({ type: fc.constantFrom('EMAIL', 'PHONE', 'URL', 'x'), value: oddText }), { maxLength: 3 })) }),
});
const body = fc.oneof(
  { weight: 2, arbitrary: templated },
  fc.record(
    {
      query: fc.oneof(documentish, oddText, fc.constantFrom('null', 'true', 'false', '0', '[]', '{}', '"x"'), badJson),
      variables: fc.oneof(badJson, fc.dictionary(fc.constantFrom('v', 'ids', 'input', 'id'), badJson)),
      operationName: fc.oneof(oddText, fc.integer(), fc.constant(null)),
      extensions: badJson,
    },
    { requiredKeys: [] },
  ),
  badJson,
);

describe('fuzzing the entry points', () => {
  let t: TestApi;
  let token: string;
  const logs = logCollector('info');
  const errorLines = () => logs.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
  const internal = (text: string) => text.includes('INTERNAL_SERVER_ERROR');

  beforeAll(async () => {
    t = await startTestApi({ storage: 'pg', logger: logs.logger });
    token = await t.token('admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('real documents with variables made at random', async () => {
    await fc.assert(
      fc.asyncProperty(templated, async (b) => {
        const r = await t.gql(b.query, b.variables as Record<string, unknown>, token);
        expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
        expect(internal(JSON.stringify(r.body)), JSON.stringify(r.body)).toBe(false);
      }),
      { numRuns: 300 },
    );
    expect(errorLines()).toEqual([]);
  }, 120_000);

  it('POST bodies of any shape and content type', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('application/json', 'application/graphql', 'text/plain', 'application/json; charset=utf-16'), async (b, type) => {
        const res = await t.fetch('/graphql', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: JSON.stringify(b) ?? 'undefined' });
        const text = await res.text();
        expect(res.status, text).toBeLessThan(500);
        expect(internal(text), text).toBe(false);
      }),
      { numRuns: 400 },
    );
    expect(errorLines()).toEqual([]);
  }, 120_000);

  it('raw bytes and truncated JSON as the body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)), body.map((b) => (JSON.stringify(b) ?? '').slice(0, -1))), async (raw) => {
        const res = await t.fetch('/graphql', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: raw });
        const text = await res.text();
        expect(res.status, text).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
    expect(errorLines()).toEqual([]);
  }, 120_000);

  it('GET requests with any parameters', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('query', 'variables', 'operationName', 'extensions', 'x'), fc.oneof(documentish, oddText, badJson.map((v) => JSON.stringify(v) ?? '')), { maxKeys: 4 }), async (params) => {
        // URLSearchParams cannot carry unpaired surrogates: they are sent as the replacement character.
        const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
        const res = await t.fetch(`/graphql?${qs}`, { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
        const text = await res.text();
        expect(res.status, text).toBeLessThan(500);
        expect(internal(text), text).toBe(false);
      }),
      { numRuns: 200 },
    );
    expect(errorLines()).toEqual([]);
  }, 120_000);

  it('WebSocket messages of any shape: never an internal error, and the node keeps serving', async () => {
    const message = fc.oneof(
      oddText,
      badJson.map((v) => JSON.stringify(v) ?? ''),
      fc.record({ type: fc.constantFrom('subscribe', 'complete', 'ping', 'pong', 'connection_init', 'x'), id: fc.oneof(oddText, fc.integer()), payload: fc.oneof(badJson, fc.record({ query: fc.oneof(documentish, badJson), variables: badJson }, { requiredKeys: [] })) }, { requiredKeys: [] }).map((m) => JSON.stringify(m)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 5 }), async (messages) => {
        const c = await WsClient.init(t.graphqlUrl, { authorization: `Bearer ${token}` });
        await c.next((m) => m.type === 'connection_ack');
        for (const m of messages) c.sendRaw(m);
        c.sendRaw(JSON.stringify({ type: 'ping' }));
        // Either the protocol closed the socket (4400, 4409, ...) or it answered the ping.
        await Promise.race([c.next((m) => m.type === 'pong').catch(() => undefined), c.whenClosed(5000)]);
        if (c.closed) expect([4500, 1011]).not.toContain(c.closed.code);
        const internalError = c.messages.some((m) => JSON.stringify(m).includes('INTERNAL_SERVER_ERROR'));
        expect(internalError, JSON.stringify(c.messages)).toBe(false);
        c.close();
      }),
      { numRuns: 100 },
    );
    expect((await t.fetch('/healthz')).status).toBe(200);
    expect(errorLines()).toEqual([]);
  }, 120_000);
});
