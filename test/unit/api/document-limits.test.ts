/**
 * No document stalls the node: every check run on a document (tokens, shape, validation, depth,
 * aliases, cost) takes time linear in its size, so the worst documents the token and body limits
 * let through are answered without holding the event loop for more than 50 ms, over HTTP and over
 * the WebSocket, and /readyz is answered meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, parse } from 'graphql';
import { checkDocument, DOCUMENT_SHAPE, operationCost } from '../../../node/api/limits.ts';
import { loadSchemaSdl } from '../../../node/api/schema.ts';
import { startTestApi, type TestApi } from '../../helpers/api.ts';
import { fragmentDoubling, worstDocuments } from '../../helpers/worst-documents.ts';
import { WsClient } from '../../helpers/ws-client.ts';
import { busyFor, leastStall, longestStall } from '../../helpers/event-loop.ts';

const STALL_MS = 50;

describe('document checks are linear', () => {
  const schema = buildSchema(loadSchemaSdl());

  it('the cost of fragments spread twice per level is computed, not walked: 2^60 selections in microseconds', () => {
    const doc = parse(fragmentDoubling(60));
    const started = performance.now();
    expect(operationCost(schema, doc, {})).toBe(2 ** 61);
    expect(performance.now() - started).toBeLessThan(20);
    expect(operationCost(schema, parse(fragmentDoubling(3)), {})).toBe(16);
  });

  it('costs only the operation that runs (none when graphql-js would refuse to pick one)', () => {
    const doc = parse('query A { viewer { subject } } query B { a: viewer { subject } b: viewer { subject } }');
    expect(operationCost(schema, doc, {}, 'A')).toBe(2);
    expect(operationCost(schema, doc, {}, 'B')).toBe(4);
    expect(operationCost(schema, doc, {})).toBe(0);
    expect(operationCost(schema, doc, {}, 'C')).toBe(0);
  });

  it('refuses the shapes that make validation quadratic, and passes what real documents do', () => {
    /** undefined if the document passes; else the error's code, or its message for a parse error (which has none). */
    const refused = (q: string) => {
      try {
        checkDocument(q, { tokens: 5000, documentChars: 256 * 1024, queryDepth: 10 });
        return undefined;
      } catch (err) {
        return (err as { extensions?: { code?: string } }).extensions?.code ?? (err as Error).message;
      }
    };
    expect(refused(fragmentDoubling(24))).toBe('QUERY_TOO_COMPLEX');
    expect(refused(`{ ${'viewer { subject } '.repeat(70)}}`)).toBe('QUERY_TOO_COMPLEX');
    expect(refused(`{ ${'viewer { subject } '.repeat(40)}}`)).toBeUndefined();
    const fragments = (n: number) => `{ viewer { ...V0 } }\n${Array.from({ length: n }, (_, i) => `fragment V${i} on Viewer { subject${i + 1 < n ? ` ...V${i + 1}` : ''} }`).join('\n')}`;
    expect(refused(fragments(DOCUMENT_SHAPE.fragments + 1))).toBe('QUERY_TOO_COMPLEX');
    // A console-like document: an id in three fragments, a page of records.
    expect(refused(`query { records(first: 50) { edges { node { id ...A ...B ...C } } } }
      fragment A on Record { id name } fragment B on Record { id status } fragment C on Record { id identifiers { type value } }`)).toBeUndefined();
    // Not GraphQL: the parse error, never a JSON document tree.
    expect(refused('{"kind":"Document","definitions":[]}')).toMatch(/^Syntax Error/);
  });
});

describe('the worst documents do not stall the node', () => {
  let t: TestApi;
  let token: string;
  const worst = worstDocuments();

  beforeAll(async () => {
    t = await startTestApi({ storage: 'pg' });
    token = await t.token('trust');
    // Warm: the first request of a process compiles the code every later one runs.
    for (let i = 0; i < 3; i++) await t.gql('{ viewer { subject } }', {}, token);
    await t.gql(worst.fragmentChains!.query, {}, token);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the measure sees a stall (a loop held 80 ms is reported as such, every try)', async () => {
    expect((await longestStall(async () => busyFor(80))).stallMs).toBeGreaterThanOrEqual(70);
    expect((await leastStall(async () => busyFor(80), STALL_MS)).stallMs).toBeGreaterThanOrEqual(70);
  });

  it.each(Object.keys(worst))('%s over HTTP: answered as expected, no stall over 50 ms, /readyz meanwhile', async (name) => {
    const doc = worst[name]!;
    const { result: [r, ready], stallMs } = await leastStall(() => Promise.all([t.gql(doc.query, doc.variables ?? {}, token), t.fetch('/readyz')]), STALL_MS);
    const code = r.body.errors?.[0]?.extensions?.code ?? (r.body.data ? 'data' : 'none');
    expect(code, JSON.stringify(r.body.errors?.[0]?.message)).toBe(doc.expect);
    expect(ready.status).toBe(200);
    expect(stallMs, `${name}: longest event-loop delay`).toBeLessThan(STALL_MS);
  });

  it('fragment doubling over the WebSocket: refused, no stall, the socket stays usable', async () => {
    const c = await WsClient.init(t.graphqlUrl, { authorization: `Bearer ${token}` });
    try {
      await c.next((m) => m.type === 'connection_ack');
      let n = 0;
      const { result: answer, stallMs } = await leastStall(() => {
        const id = `worst-${++n}`;
        c.subscribe(id, fragmentDoubling(24, 'Subscription', 'matchFound { id }'));
        return c.next((m) => m.id === id);
      }, STALL_MS);
      expect(answer.type).toBe('error');
      expect(JSON.stringify(answer.payload)).toContain('QUERY_TOO_COMPLEX');
      expect(stallMs).toBeLessThan(STALL_MS);
      c.subscribe('fine', 'subscription { matchFound { id } }');
      await new Promise((r) => setTimeout(r, 100));
      expect(c.messages.filter((m) => m.id === 'fine' && m.type === 'error')).toEqual([]);
      expect(c.closed).toBeUndefined();
    } finally {
      c.close();
    }
  });
});
