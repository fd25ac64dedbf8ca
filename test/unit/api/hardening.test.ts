import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_RECORD, logCollector, startTestApi, type GqlResponse, type TestApi } from '../../helpers/api.ts';

const LIMITS = { queryDepth: 4, aliases: 3, tokens: 300, cost: 300, bodyBytes: 16 * 1024 };
const GRAPHQL_RESPONSE = 'application/graphql-response+json';

type Body = GqlResponse['body'];

describe('GraphQL hardening', () => {
  let t: TestApi;
  let logs: ReturnType<typeof logCollector>;
  let analyst: string;

  /** A raw request to /graphql with full control over method, headers and body. */
  async function raw(init: { method?: string; headers?: Record<string, string>; body?: string; query?: string; token?: string | null } = {}) {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? analyst}`;
    const res = await t.fetch(`/graphql${init.query ?? ''}`, { method: init.method ?? 'POST', headers, body: init.body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Body };
  }
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    raw({ headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const countRecords = async () => (await t.gql<{ records: { totalCount: number } }>('{ records { totalCount } }', undefined, analyst)).body.data!.records.totalCount;

  function expectRequestError(res: { status: number; body: Body; headers: Headers }, code: string, message: RegExp, status: number) {
    expect(res.body.errors, JSON.stringify(res.body)).toHaveLength(1);
    const err = res.body.errors![0]!;
    expect(err.extensions?.code, JSON.stringify(res.body)).toBe(code);
    expect(err.message).toMatch(message);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    // Failed before execution: no data entry at all.
    expect('data' in res.body).toBe(false);
    expect(err.extensions?.requestId).toBe(res.headers.get('x-request-id'));
  }

  beforeAll(async () => {
    logs = logCollector();
    t = await startTestApi({ limits: LIMITS, logger: logs.logger });
    analyst = await t.token('analyst');
  });
  afterAll(() => t?.close());

  describe('document limits', () => {
    const cases: [string, string, Record<string, unknown> | undefined, RegExp][] = [
      ['depth', '{ records { edges { node { history { actor } } } } }', undefined, /Depth limit of 4 exceeded: the document is 5 levels deep/],
      ['aliases', '{ a: viewer { subject } b: viewer { subject } c: viewer { subject } d: viewer { subject } }', undefined, /Aliases limit of 3 exceeded, found 4/],
      ['tokens', `{ viewer { ${'subject '.repeat(300)}} }`, undefined, /Token limit of 300 exceeded/],
      ['cost (literal page size)', '{ records(first: 100) { edges { node { id name } } } }', undefined, /Cost limit of 300 exceeded: the operation may resolve 401 field values/],
      ['cost (page size in a variable)', 'query($n: Int) { records(first: $n) { edges { node { id name } } } }', { n: 100 }, /Cost limit of 300 exceeded: the operation may resolve 401/],
      ['cost (spread over aliases)', '{ a: records { edges { node { id } } } b: records { edges { node { id } } } }', undefined, /Cost limit of 300 exceeded: the operation may resolve 302/],
    ];

    it.each(cases)('%s over the limit: QUERY_TOO_COMPLEX with a clear message, nothing executed', async (_name, query, variables, message) => {
      // application/graphql-response+json: a request error is a 4xx.
      const strict = await t.gql(query, variables, analyst);
      expectRequestError(strict, 'QUERY_TOO_COMPLEX', message, 400);
      expect(strict.headers.get('content-type')).toContain(GRAPHQL_RESPONSE);
      // Legacy application/json: 200 with the same error (GraphQL over HTTP).
      const legacy = await post({ query, variables }, { accept: 'application/json' });
      expectRequestError(legacy, 'QUERY_TOO_COMPLEX', message, 200);
      expect(legacy.headers.get('content-type')).toMatch(/^application\/json/);
    });

    it('queries within every limit run', async () => {
      const res = await t.gql<{ a: unknown; b: unknown; c: unknown; records: { edges: unknown[] } }>(
        'query($n: Int) { a: viewer { subject } b: viewer { subject } c: viewer { subject } records(first: $n) { edges { node { id name } } } }',
        { n: 10 },
        analyst,
      );
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.records.edges).toEqual([]);
    });
  });

  describe('error masking', () => {
    it('a database error reaches the client as INTERNAL_SERVER_ERROR with the request id, and no SQL or stack', async () => {
      const created = await t.gql<{ createRecord: { id: string } }>(CREATE_RECORD, { input: { kind: 'SHOP', name: 'Masking Probe' } }, analyst);
      expect(created.body.errors).toBeUndefined();
      await t.db.exec('ALTER TABLE record_changes RENAME TO record_changes_hidden');
      try {
        for (const [query, variables] of [
          ['query($id: ID!) { record(id: $id) { id history { actor at } } }', { id: created.body.data!.createRecord.id }],
          [CREATE_RECORD, { input: { kind: 'SHOP', name: 'Never Stored' } }],
        ] as const) {
          const res = await raw({ headers: { 'content-type': 'application/json', 'x-request-id': 'trace-42.ab_C' }, body: JSON.stringify({ query, variables }) });
          expect(res.status).toBe(200);
          expect(res.headers.get('x-request-id')).toBe('trace-42.ab_C');
          const err = res.body.errors![0]!;
          expect(err.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId: 'trace-42.ab_C' });
          expect(err.message).toBe('internal error; quote request id trace-42.ab_C to the node operator');
          for (const leak of ['record_changes', 'relation', 'SELECT', 'INSERT', 'does not exist', 'stack', '.ts:', 'node_modules', '42P01']) {
            expect(res.text, leak).not.toContain(leak);
          }
        }
        // The operator's log has the real cause under the same request id.
        const logged = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.requestId === 'trace-42.ab_C' && l.level === 50);
        expect(logged.length).toBeGreaterThanOrEqual(2);
        expect(JSON.stringify(logged[0]!.err)).toContain('record_changes');
      } finally {
        await t.db.exec('ALTER TABLE record_changes_hidden RENAME TO record_changes');
      }
      const after = await t.gql<{ records: { edges: { node: { name: string } }[] } }>('{ records { edges { node { name } } } }', undefined, analyst);
      expect(after.body.data!.records.edges.map((e) => e.node.name)).toEqual(['Masking Probe']);
    });

    it('an unusable x-request-id is replaced by a fresh id', async () => {
      const res = await raw({ headers: { 'content-type': 'application/json', 'x-request-id': 'has spaces and; semicolons' }, body: JSON.stringify({ query: '{ nope }' }) });
      const id = res.headers.get('x-request-id')!;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body.errors![0]!.extensions?.requestId).toBe(id);
    });
  });

  describe('malformed requests get 400 BAD_REQUEST with a clear message', () => {
    it.each([
      ['malformed JSON', '{"query": "{ viewer { subject } }"', /not valid JSON/],
      ['a JSON string', '"{ viewer { subject } }"', /must be a JSON object/],
      ['no query', '{}', /no "query" string/],
      ['a number as query', '{"query": 42}', /no "query" string/],
      ['an empty query', '{"query": "  "}', /no "query" string/],
      ['variables as a list', '{"query": "{ viewer { subject } }", "variables": [1]}', /"variables" must be a JSON object/],
      ['extensions as a string', '{"query": "{ viewer { subject } }", "extensions": "x"}', /"extensions" must be a JSON object/],
      ['operationName as a number', '{"query": "{ viewer { subject } }", "operationName": 1}', /"operationName" must be a string/],
      ['a batch', '[{"query": "{ viewer { subject } }"}, {"query": "{ viewer { subject } }"}]', /batched requests are not accepted/],
      ['an empty batch', '[]', /batched requests are not accepted/],
    ])('%s', async (_name, body, message) => {
      expectRequestError(await post(body), 'BAD_REQUEST', message, 400);
    });

    it('a body over the size limit: 413', async () => {
      expectRequestError(await post({ query: `{ viewer { subject } } # ${'x'.repeat(20 * 1024)}` }), 'BAD_REQUEST', /too large/i, 413);
    });

    it('a content type the server does not read: 415', async () => {
      const res = await raw({ headers: { 'content-type': 'application/xml', 'mercurius-require-preflight': 'true' }, body: '<query/>' });
      expectRequestError(res, 'BAD_REQUEST', /Unsupported Media Type/i, 415);
    });

    it('`"extensions": null` and `"operationName": null` are accepted', async () => {
      const res = await post('{"query": "{ viewer { subject } }", "variables": null, "operationName": null, "extensions": null}');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ data: { viewer: { subject: 'test-analyst' } } });
      const withObject = await post({ query: '{ viewer { subject } }', extensions: {} });
      expect(withObject.body.data).toEqual({ viewer: { subject: 'test-analyst' } });
    });

    it('application/graphql bodies are read as the query', async () => {
      const res = await raw({ headers: { 'content-type': 'application/graphql' }, body: '{ viewer { subject } }' });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ viewer: { subject: 'test-analyst' } });
    });
  });

  describe('invalid documents and variables', () => {
    it('unknown field: GRAPHQL_VALIDATION_FAILED naming it', async () => {
      const strict = await t.gql('{ viewer { subject } secretTables }', undefined, analyst);
      expectRequestError(strict, 'GRAPHQL_VALIDATION_FAILED', /Cannot query field "secretTables" on type "Query"/, 400);
      expectRequestError(await post({ query: '{ records { edges { node { password } } } }' }), 'GRAPHQL_VALIDATION_FAILED', /Cannot query field "password" on type "Record"/, 200);
    });

    it('syntax error: GRAPHQL_PARSE_FAILED', async () => {
      expectRequestError(await t.gql('{ viewer { subject }', undefined, analyst), 'GRAPHQL_PARSE_FAILED', /^Syntax Error: Expected Name, found <EOF>/, 400);
    });

    it('unknown enum value in variables: BAD_USER_INPUT naming the variable and the value', async () => {
      const res = await t.gql('query($s: [RecordStatus!]) { records(filter: { status: $s }) { totalCount } }', { s: ['SUSPECTED', 'WHATEVER'] }, analyst);
      expectRequestError(res, 'BAD_USER_INPUT', /Variable "\$s" got invalid value "WHATEVER" at "s\[1\]"; Value "WHATEVER" does not exist in "RecordStatus" enum/, 400);
      const input = await t.gql(CREATE_RECORD, { input: { kind: 'ROBOT', name: 'x' } }, analyst);
      expectRequestError(input, 'BAD_USER_INPUT', /Variable "\$input" got invalid value "ROBOT" at "input.kind"; Value "ROBOT" does not exist in "SubjectKind" enum/, 400);
      // The same in the document itself is a validation error.
      expectRequestError(await t.gql('{ records(filter: { status: [WHATEVER] }) { totalCount } }', undefined, analyst), 'GRAPHQL_VALIDATION_FAILED', /WHATEVER/, 400);
    });

    it('missing or mistyped variables and invalid DateTime: BAD_USER_INPUT', async () => {
      expectRequestError(await t.gql(CREATE_RECORD, {}, analyst), 'BAD_USER_INPUT', /Variable "\$input" of required type "RecordInput!" was not provided/, 400);
      expectRequestError(await t.gql('query($n: Int) { records(first: $n) { totalCount } }', { n: 'ten' }, analyst), 'BAD_USER_INPUT', /Variable "\$n" got invalid value "ten"/, 400);
      const date = await t.gql('query($d: DateTime) { records(filter: { updatedSince: $d }) { totalCount } }', { d: 'yesterday' }, analyst);
      expectRequestError(date, 'BAD_USER_INPUT', /Variable "\$d" got invalid value "yesterday".*ISO 8601/, 400);
    });

    it('an unknown operationName is refused', async () => {
      expectRequestError(await post({ query: 'query A { viewer { subject } }', operationName: 'B' }, { accept: GRAPHQL_RESPONSE }), 'GRAPHQL_VALIDATION_FAILED', /Unknown operation named "B"/, 400);
    });

    it('invalid arguments are BAD_USER_INPUT with the field named (and nothing internal)', async () => {
      const res = await t.gql('{ records(after: "not-a-cursor") { totalCount } }', undefined, analyst);
      expect(res.status).toBe(200);
      expect(res.body.data).toBeNull();
      expect(res.body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
      expect(res.body.errors![0]!.message).toMatch(/after|cursor/);
      const page = await t.gql('{ records(first: 501) { totalCount } }', undefined, analyst);
      expect(page.body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    });
  });

  describe('CSRF prevention', () => {
    it('refuses a simple POST (text/plain) without running it', async () => {
      const before = await countRecords();
      const body = JSON.stringify({ query: CREATE_RECORD, variables: { input: { kind: 'SHOP', name: 'CSRF Plant' } } });
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain; charset=utf-8']) {
        const res = await raw({ headers: { 'content-type': type }, body });
        expectRequestError(res, 'BAD_REQUEST', /Cross-Site Request Forgery/, 400);
      }
      const noType = await raw({ body });
      expectRequestError(noType, 'BAD_REQUEST', /Cross-Site Request Forgery/, 400);
      expect(await countRecords()).toBe(before);
    });

    it('refuses a GET without a preflight header, runs it with one', async () => {
      const q = `?query=${encodeURIComponent('{ viewer { subject } }')}`;
      expectRequestError(await raw({ method: 'GET', query: q }), 'BAD_REQUEST', /Cross-Site Request Forgery/, 400);
      expectRequestError(await raw({ method: 'GET', query: q, headers: { 'apollo-require-preflight': 'true' } }), 'BAD_REQUEST', /Cross-Site Request Forgery/, 400);
      for (const header of ['mercurius-require-preflight', 'x-mercurius-operation-name']) {
        const ok = await raw({ method: 'GET', query: q, headers: { [header]: 'true' } });
        expect(ok.status).toBe(200);
        expect(ok.body).toEqual({ data: { viewer: { subject: 'test-analyst' } } });
      }
    });

    it('a mutation over GET is refused with 405 and not run', async () => {
      const before = await countRecords();
      const q = `?query=${encodeURIComponent('mutation { createRecord(input: { kind: SHOP, name: "Via GET" }) { id } }')}`;
      const res = await raw({ method: 'GET', query: q, headers: { 'mercurius-require-preflight': 'true' } });
      expectRequestError(res, 'BAD_REQUEST', /GET request may only run a query/, 405);
      expect(await countRecords()).toBe(before);
    });

    it('GET variables that are not JSON: 400', async () => {
      const q = `?query=${encodeURIComponent('query($n: Int) { records(first: $n) { totalCount } }')}&variables=${encodeURIComponent('{n: 1')}`;
      expectRequestError(await raw({ method: 'GET', query: q, headers: { 'mercurius-require-preflight': 'true' } }), 'BAD_REQUEST', /not valid JSON/, 400);
    });
  });
});
