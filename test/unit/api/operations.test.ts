import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../node/config.ts';
import { startNode } from '../../../node/node.ts';
import { CREATE_RECORD, gqlAt, logCollector, startTestApi, type TestApi } from '../../helpers/api.ts';
import { createPgDatabase, pgliteTemplate, STORAGES } from '../../helpers/storage.ts';

/** Sum of the samples of `name` whose labels include `labels`, from Prometheus text format. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe.each(STORAGES)('operations over %s', (kind) => {
  let t: TestApi;
  let logs: ReturnType<typeof logCollector>;
  let analyst: string;

  const scrape = async () => {
    const res = await t.fetch('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  const totalCount = async () => (await t.gql<{ records: { totalCount: number } }>('{ records { totalCount } }', undefined, analyst)).body.data!.records.totalCount;

  beforeAll(async () => {
    logs = logCollector();
    t = await startTestApi({ storage: kind, logger: logs.logger });
    analyst = await t.token('analyst', { sub: 'ops-analyst' });
  });
  afterAll(() => t?.close());

  it('/healthz answers 200 without a token', async () => {
    const res = await t.fetch('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 with the storage kind while the database answers', async () => {
    const res = await t.fetch('/readyz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', storage: kind });
  });

  it('/metrics counts requests, operations, errors by code, and records', async () => {
    const before = await scrape();
    const trust = await t.token('trust');

    await t.gql('{ viewer { subject } }', undefined, analyst);
    const a = await t.gql<{ createRecord: { id: string } }>(CREATE_RECORD, { input: { kind: 'SELLER', name: 'Metric One' } }, analyst);
    await t.gql(CREATE_RECORD, { input: { kind: 'SELLER', name: 'Metric Two' } }, analyst);
    await t.gql('{ nope }', undefined, analyst); // validation error, not executed
    await t.gql('{ nope }', undefined, analyst);
    await t.gql(CREATE_RECORD, { input: { kind: 'SELLER', name: 'Forbidden' } }, trust); // executed, FORBIDDEN
    await t.gql('{ viewer { subject } }'); // 401, no token

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => metric(after, name, labels) - metric(before, name, labels);
    expect(delta('alliance_http_requests_total', { method: 'POST', route: '/graphql', status_code: '200' })).toBe(4);
    expect(delta('alliance_http_requests_total', { method: 'POST', route: '/graphql', status_code: '400' })).toBe(2);
    expect(delta('alliance_http_requests_total', { method: 'POST', route: '/graphql', status_code: '401' })).toBe(1);
    expect(delta('alliance_http_requests_total', { method: 'GET', route: '/metrics', status_code: '200' })).toBe(1);
    expect(delta('alliance_graphql_operations_total', { operation: 'query' })).toBe(1);
    expect(delta('alliance_graphql_operations_total', { operation: 'mutation' })).toBe(3);
    expect(delta('alliance_graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(2);
    expect(delta('alliance_graphql_errors_total', { code: 'FORBIDDEN' })).toBe(1);
    expect(metric(after, 'alliance_http_request_duration_seconds_count', { route: '/graphql' })).toBeGreaterThanOrEqual(7);

    // The records gauge is the real count, read at scrape time.
    expect(metric(after, 'alliance_records')).toBe(await totalCount());
    expect(metric(after, 'alliance_records') - metric(before, 'alliance_records')).toBe(2);
    await t.gql('mutation($id: ID!) { deleteRecord(id: $id) { id } }', { id: a.body.data!.createRecord.id }, analyst);
    const afterDelete = await scrape();
    expect(metric(afterDelete, 'alliance_records')).toBe(metric(after, 'alliance_records') - 1);
    expect(metric(afterDelete, 'alliance_records')).toBe(await totalCount());
    // Labels never carry record contents.
    expect(afterDelete).not.toContain('Metric One');
  });

  it('logs are JSON with request ids and without record contents, identifiers or query strings', async () => {
    const secretName = 'Quokkafeather Emporium 7731';
    const secretEmail = 'quokka.leak.7731@example.org';
    const secretNotes = 'notes-secret-zx7731';
    const secretQuery = 'getsecretzx7731';
    const secretField = 'fieldsecretzx7731';
    const ids: string[] = [];

    const created = await t.gql<{ createRecord: { id: string } }>(
      CREATE_RECORD,
      { input: { kind: 'SHOP', name: secretName, notes: secretNotes, identifiers: [{ type: 'EMAIL', value: secretEmail }] } },
      analyst,
    );
    expect(created.body.errors).toBeUndefined();
    ids.push(created.headers.get('x-request-id')!);

    const get = await t.fetch(`/graphql?query=${encodeURIComponent(`{ records(filter: { text: "${secretQuery}" }) { totalCount } }`)}`, {
      headers: { authorization: `Bearer ${analyst}`, 'mercurius-require-preflight': 'true' },
    });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { records: { totalCount: 0 } } });
    ids.push(get.headers.get('x-request-id')!);

    const invalid = await t.gql(`{ ${secretField} }`, undefined, analyst);
    expect(invalid.body.errors![0]!.message).toContain(secretField); // the client is told...
    ids.push(invalid.headers.get('x-request-id')!);

    const badInput = await t.gql(CREATE_RECORD, { input: { kind: 'SHOP', name: '', identifiers: [{ type: 'EMAIL', value: secretEmail.replace('@', '') }] } }, analyst);
    expect(badInput.body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    ids.push(badInput.headers.get('x-request-id')!);

    await waitFor(() => ids.every((id) => logs.lines.some((l) => l.includes(id))), 'request ids in the log');
    const text = logs.lines.join('\n');
    // ...the log is not.
    for (const secret of [secretName, secretEmail, secretNotes, secretQuery, secretField, 'quokka', encodeURIComponent(secretName), 'Quokkafeather']) {
      expect(text.toLowerCase(), secret).not.toContain(secret.toLowerCase());
    }
    for (const line of logs.lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(entry).toMatchObject({ service: 'alliance-node' });
      expect(typeof entry.level).toBe('number');
      expect(typeof entry.time).toBe('string');
    }
    // Requests are logged with their id, method and path (no query string).
    const incoming = logs.lines.map((l) => JSON.parse(l) as { reqId?: string; req?: { method: string; path: string } }).filter((l) => l.reqId === ids[1] && l.req);
    expect(incoming[0]!.req).toMatchObject({ method: 'GET', path: '/graphql' });
  });

  it('after the database closes: /readyz 503, /healthz still 200, GraphQL masked INTERNAL_SERVER_ERROR', async () => {
    await t.db.close();
    const ready = await t.fetch('/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', storage: kind });
    expect((await t.fetch('/healthz')).status).toBe(200);
    const res = await t.gql('{ records { totalCount } }', undefined, analyst);
    expect(res.status).toBe(200);
    expect(res.body.data).toBeNull();
    expect(res.body.errors![0]!.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId: res.headers.get('x-request-id') });
    expect(JSON.stringify(res.body)).not.toMatch(/closed|storage|STORAGE/);
    // The metrics endpoint keeps answering; the records count is unknown rather than failing the scrape.
    const metrics = await t.fetch('/metrics');
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(metric(text, 'alliance_http_requests_total', { route: '/readyz', status_code: '503' })).toBe(1);
    expect(text).toMatch(/^alliance_records nan$/im); // prom-client writes "Nan"; Prometheus reads NaN in any case
  });

  it('node.stop() lets a request in flight finish, then closes storage', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-stop-'));
    const pgDb = kind === 'pg' ? await createPgDatabase() : undefined;
    const nodeLogs = logCollector('debug');
    const node = await startNode(loadConfig({ dataDir, http: '127.0.0.1:0', p2p: '/ip4/127.0.0.1/tcp/0', databaseUrl: pgDb?.url }, { ALLIANCE_PGLITE_TEMPLATE: pgliteTemplate() }), nodeLogs.logger);
    try {
      expect(node.db.kind).toBe(kind);
      expect(node.bootstrapToken).toBeTruthy();
      const token = node.bootstrapToken!;

      // Hold the records table so the request waits inside the database.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = node.db.transaction(async (tx) => {
        await tx.query('LOCK TABLE records IN ACCESS EXCLUSIVE MODE');
        locked();
        await gate;
      });
      await isLocked;

      const inFlight = gqlAt<{ records: { totalCount: number } }>(node.graphqlUrl, '{ records { totalCount } }', undefined, token);
      await waitFor(() => nodeLogs.lines.some((l) => l.includes('incoming request') && l.includes('/graphql')), 'the request to arrive');
      await sleep(50);

      let stopped = false;
      const stopping = node.stop().then(() => {
        stopped = true;
      });
      await sleep(200);
      expect(stopped).toBe(false);
      // No new work is taken while stopping: a new connection is refused (or answered 503).
      const late = await fetch(node.graphqlUrl.replace('/graphql', '/healthz')).then(
        (r) => r.status,
        () => 'refused',
      );
      expect([503, 'refused']).toContain(late);

      release();
      await holder;
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ data: { records: { totalCount: 0 } } });
      // Promptly: not after the keep-alive timeout of the connection the request came on.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        stopping,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('stop() still waiting 5 s after the last request finished')), 5000))),
      ]).finally(() => clearTimeout(timer));
      expect(stopped).toBe(true);
      await expect(node.db.query('SELECT 1')).rejects.toThrow(/closed/);
    } finally {
      await node.stop();
      await pgDb?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('/metrics behind a bearer token (ALLIANCE_METRICS_TOKEN)', () => {
  const secret = 'm'.repeat(20) + 'etrics-token-0123456789';
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ metricsToken: secret });
  });
  afterAll(() => t?.close());

  it('answers 401 without the token or with another, the text with it', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${secret}x` }, { authorization: secret }]) {
      const res = await t.fetch('/metrics', { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.text()).not.toContain('alliance_http_requests_total');
    }
    const ok = await t.fetch('/metrics', { headers: { authorization: `Bearer ${secret}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('alliance_http_requests_total');
    // /healthz and /readyz stay open to probes.
    expect((await t.fetch('/healthz')).status).toBe(200);
    expect((await t.fetch('/readyz')).status).toBe(200);
  });

  it('a token too short or with spaces is refused at start, naming the setting', () => {
    for (const bad of ['short', 'x'.repeat(31), `${'x'.repeat(20)} ${'y'.repeat(20)}`]) {
      expect(() => loadConfig({}, { ALLIANCE_METRICS_TOKEN: bad })).toThrow(/ALLIANCE_METRICS_TOKEN/);
    }
  });
});
