/**
 * One rule for text a client sends (no NUL, no unpaired surrogate), applied to every argument and
 * variable before any resolver runs: BAD_USER_INPUT naming where, never a 500 or an error-level log
 * line. And a `query` that is a JSON literal is a parse failure, not a document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logCollector, startTestApi, type TestApi } from '../../helpers/api.ts';
import { STORAGES } from '../../helpers/storage.ts';
import { WsClient } from '../../helpers/ws-client.ts';

const BAD = { nul: 'a\u0000b', lone: 'x\uD800y', lowAlone: '\uDC00' };

describe.each(STORAGES)('text in arguments and variables (%s)', (kind) => {
  let t: TestApi;
  let admin: string;
  const logs = logCollector('info');
  const errorLines = () => logs.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);

  beforeAll(async () => {
    t = await startTestApi({ storage: kind, logger: logs.logger });
    admin = await t.token('admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  const cases: Array<[string, string, (v: string) => Record<string, unknown>]> = [
    ['records.filter.text', 'query ($v: String) { records(filter: { text: $v }) { totalCount } }', (v) => ({ v })],
    ['matches.filter.origin', 'query ($v: String) { matches(filter: { origin: $v }) { totalCount } }', (v) => ({ v })],
    ['auditLog.filter.subject', 'query ($v: String) { auditLog(filter: { subject: $v }) { totalCount } }', (v) => ({ v })],
    ['auditLog.filter.action', 'query ($v: String!) { auditLog(filter: { action: [$v] }) { totalCount } }', (v) => ({ v })],
    ['auditLog.filter.digest', 'query ($v: String) { auditLog(filter: { digest: $v }) { totalCount } }', (v) => ({ v })],
    ['createRecord.input.name', 'mutation ($v: String!) { createRecord(input: { kind: SELLER, name: $v }) { id } }', (v) => ({ v })],
  ];

  it.each(cases)('%s: NUL and unpaired surrogates in a variable are BAD_USER_INPUT naming the variable', async (_name, query, vars) => {
    for (const bad of Object.values(BAD)) {
      const r = await t.gql(query, vars(bad), admin);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.body.errors?.[0]?.message).toMatch(/^variables\.v holds a NUL character or an unpaired surrogate/);
    }
    expect(errorLines()).toEqual([]);
  });

  it('the same in a string literal of the document, and in a key of the variables', async () => {
    const literal = await t.gql(`{ records(filter: { text: "a\\u0000b" }) { totalCount } }`, {}, admin);
    expect(literal.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('a string in the document holds') });
    const key = await t.gql('query ($v: String) { records(filter: { text: $v }) { totalCount } }', { v: 'ok', ['k\u0000']: 1 }, admin);
    expect(key.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // Over GET too.
    const get = await t.fetch(`/graphql?query=${encodeURIComponent('query ($v: String) { records(filter: { text: $v }) { totalCount } }')}&variables=${encodeURIComponent(JSON.stringify({ v: BAD.nul }))}`, {
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    });
    expect(((await get.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    expect(errorLines()).toEqual([]);
  });

  it('well-formed text with emoji, CJK and combining marks passes', async () => {
    const r = await t.gql('query ($v: String) { records(filter: { text: $v }) { totalCount } }', { v: '假货 👟 é' }, admin);
    expect(r.body.errors).toBeUndefined();
  });

  it('over the WebSocket: a subscription with such a variable is refused the same way', async () => {
    const c = await WsClient.init(t.graphqlUrl, { authorization: `Bearer ${admin}` });
    try {
      await c.next((m) => m.type === 'connection_ack');
      c.subscribe('s', 'subscription ($v: String) { matchFound { id } }', { v: BAD.lone });
      const answer = await c.next((m) => m.id === 's');
      expect(answer).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    } finally {
      c.close();
    }
  });

  it.each(['null', 'true', 'false', '0', '"x"', '[]', '{}'])('a query of JSON %s is GRAPHQL_PARSE_FAILED, not a 500', async (json) => {
    const r = await t.gql(json, {}, admin);
    expect(r.body.errors?.[0]?.extensions?.code, JSON.stringify(r.body)).toBe('GRAPHQL_PARSE_FAILED');
    expect(r.status).toBe(400);
    expect(errorLines()).toEqual([]);
  });
});
