import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql, pgliteLockPath, runCli, startNodeProcess, tempDir, type StartedNode } from '../../helpers/cli.ts';
import { createPgDatabase } from '../../helpers/storage.ts';

const CREATE = `mutation ($input: RecordInput!) { createRecord(input: $input) { id name kind createdBy identifiers { type value } } }`;
const LIST = `{ records(first: 10) { totalCount edges { node { id name status identifiers { type value } } } } }`;

const input = (name: string) => ({
  kind: 'SELLER',
  name,
  identifiers: [
    { type: 'EMAIL', value: `${name.toLowerCase().replace(/\W+/g, '.')}@example.com` },
    { type: 'DOMAIN', value: 'fake-watches.example.com' },
  ],
  categories: ['COUNTERFEIT'],
});

describe('alliance start on an embedded (PGlite) data directory', () => {
  const tmp = tempDir();
  const dataDir = path.join(tmp.dir, 'data');
  let node: StartedNode | undefined;
  let createdId = '';

  afterAll(async () => {
    await node?.stop('SIGKILL');
    tmp.remove();
  });

  it('on a fresh data dir prints the ready line with the real port and an admin token that works over HTTP', async () => {
    node = await startNodeProcess(['--data-dir', dataDir]);
    expect(node.stdout).toMatch(/^alliance-node ready: GraphQL at http:\/\/127\.0\.0\.1:\d+\/graphql \(storage: embedded, /);
    const port = Number(new URL(node.url).port);
    expect(port).toBeGreaterThan(0);
    expect(node.bootstrapToken).toBeDefined();
    expect(node.stdout).toContain('admin token');

    // The printed URL answers; the token is accepted as admin.
    const health = await fetch(new URL('/healthz', node.url));
    expect(health.status).toBe(200);
    const viewer = await graphql<{ viewer: { subject: string; roles: string[] } }>(node.url, node.bootstrapToken, '{ viewer { subject roles } }');
    expect(viewer.body.errors).toBeUndefined();
    expect(viewer.body.data!.viewer).toEqual({ subject: 'bootstrap-admin', roles: ['ADMIN'] });

    const created = await graphql<{ createRecord: { id: string; name: string; createdBy: string; identifiers: unknown[] } }>(node.url, node.bootstrapToken, CREATE, {
      input: input('Acme Fakes Ltd'),
    });
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.createRecord).toMatchObject({ name: 'Acme Fakes Ltd', createdBy: 'bootstrap-admin' });
    createdId = created.body.data!.createRecord.id;

    const listed = await graphql<{ records: { totalCount: number; edges: Array<{ node: { id: string; name: string } }> } }>(node.url, node.bootstrapToken, LIST);
    expect(listed.body.errors).toBeUndefined();
    expect(listed.body.data!.records.totalCount).toBe(1);
    expect(listed.body.data!.records.edges[0]!.node).toMatchObject({ id: createdId, name: 'Acme Fakes Ltd' });

    // Without a token: 401.
    const anon = await graphql(node.url, undefined, LIST);
    expect(anon.status).toBe(401);

    // The data directory holds the key, the embedded database and the lock naming this process.
    expect(fs.existsSync(path.join(dataDir, 'keys', 'api-signing-key.jwk'))).toBe(true);
    expect(fs.readFileSync(pgliteLockPath(dataDir), 'utf8').trim()).toBe(String(node.child.pid));
  });

  it('a second start on the same data dir exits 1 with STORAGE_LOCKED naming the running pid', async () => {
    expect(node?.child.exitCode).toBeNull();
    const second = await runCli(['start', '--data-dir', dataDir, '--http', '127.0.0.1:0']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('STORAGE_LOCKED');
    expect(second.stderr).toContain(`pid ${node!.child.pid}`);
    expect(second.stdout).not.toContain('ready');
    // The first node is unharmed and still serves.
    const listed = await graphql<{ records: { totalCount: number } }>(node!.url, node!.bootstrapToken, LIST);
    expect(listed.body.data!.records.totalCount).toBe(1);
    expect(fs.readFileSync(pgliteLockPath(dataDir), 'utf8').trim()).toBe(String(node!.child.pid));
  });

  it('SIGTERM stops it cleanly: exit 0 and the lock file is gone', async () => {
    const exit = await node!.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(pgliteLockPath(dataDir))).toBe(false);
    // A stop is logged, not an error.
    expect(node!.stderr()).not.toMatch(/"level":(50|60)/);
    node = undefined;
  });

  it('a restart keeps the records and prints no new bootstrap token', async () => {
    node = await startNodeProcess(['--data-dir', dataDir]);
    expect(node.bootstrapToken).toBeUndefined();
    expect(node.stdout).not.toContain('admin token');
    // The old bootstrap token is still valid (same key); ask for a fresh one the documented way.
    const token = await runCli(['token', '--role', 'analyst', '--data-dir', dataDir]);
    expect(token.code).toBe(0);
    const listed = await graphql<{ records: { totalCount: number; edges: Array<{ node: { id: string; identifiers: unknown[] } }> } }>(node.url, token.stdout.trim(), LIST);
    expect(listed.body.errors).toBeUndefined();
    expect(listed.body.data!.records.totalCount).toBe(1);
    expect(listed.body.data!.records.edges[0]!.node.id).toBe(createdId);
    expect(listed.body.data!.records.edges[0]!.node.identifiers).toHaveLength(2);
    // SIGINT (Ctrl-C) stops it cleanly too.
    expect(await node.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(pgliteLockPath(dataDir))).toBe(false);
    node = undefined;
  });

  it('after kill -9 the stale lock is taken over and committed records are there', async () => {
    node = await startNodeProcess(['--data-dir', dataDir]);
    const pid = node.child.pid!;
    const token = (await runCli(['token', '--role', 'analyst', '--data-dir', dataDir])).stdout.trim();
    // A record committed just before the kill must survive it.
    const created = await graphql<{ createRecord: { id: string } }>(node.url, token, CREATE, { input: input('Committed Before Kill') });
    expect(created.body.errors).toBeUndefined();
    expect(await node.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(fs.readFileSync(pgliteLockPath(dataDir), 'utf8').trim()).toBe(String(pid));
    node = await startNodeProcess(['--data-dir', dataDir]);
    expect(fs.readFileSync(pgliteLockPath(dataDir), 'utf8').trim()).toBe(String(node.child.pid));
    const listed = await graphql<{ records: { totalCount: number; edges: Array<{ node: { id: string } }> } }>(node.url, token, LIST);
    expect(listed.body.data!.records.totalCount).toBe(2);
    expect(listed.body.data!.records.edges.map((e) => e.node.id)).toEqual([createdId, created.body.data!.createRecord.id]);
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    node = undefined;
  });
});

describe('alliance start with DATABASE_URL (PostgreSQL)', () => {
  const tmp = tempDir();
  const dataDir = path.join(tmp.dir, 'data');
  let database: Awaited<ReturnType<typeof createPgDatabase>>;
  let node: StartedNode | undefined;

  beforeAll(async () => {
    database = await createPgDatabase();
  });
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await database?.drop();
    tmp.remove();
  });

  it('starts on a fresh database, serves GraphQL with the bootstrap token, stops on SIGTERM, and keeps the records', async () => {
    const env = { DATABASE_URL: database.url };
    node = await startNodeProcess(['--data-dir', dataDir], { env });
    expect(node.stdout).toMatch(/ready: GraphQL at http:\/\/127\.0\.0\.1:\d+\/graphql \(storage: PostgreSQL\)/);
    expect(node.bootstrapToken).toBeDefined();
    const created = await graphql<{ createRecord: { id: string } }>(node.url, node.bootstrapToken, CREATE, { input: input('Bogus Bags') });
    expect(created.body.errors).toBeUndefined();
    const id = created.body.data!.createRecord.id;

    // It really is in PostgreSQL, and no embedded database was created.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT name, created_by FROM records WHERE id = $1', [id]);
      expect(rows).toEqual([{ name: 'Bogus Bags', created_by: 'bootstrap-admin' }]);
      const idents = await client.query('SELECT type, value FROM record_identifiers WHERE record_id = $1 ORDER BY position', [id]);
      expect(idents.rows).toEqual([
        { type: 'email', value: 'bogus.bags@example.com' },
        { type: 'domain', value: 'fake-watches.example.com' },
      ]);
    } finally {
      await client.end();
    }
    expect(fs.existsSync(path.join(dataDir, 'pgdata'))).toBe(false);

    expect(await node.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    node = undefined;

    // Restart: the same records, no new token. Two nodes over one PostgreSQL are allowed (no lock).
    node = await startNodeProcess(['--data-dir', dataDir], { env });
    const other = await startNodeProcess(['--data-dir', dataDir], { env });
    try {
      expect(node.bootstrapToken).toBeUndefined();
      const token = (await runCli(['token', '--role', 'analyst', '--data-dir', dataDir])).stdout.trim();
      for (const url of [node.url, other.url]) {
        const listed = await graphql<{ records: { totalCount: number; edges: Array<{ node: { id: string } }> } }>(url, token, LIST);
        expect(listed.body.errors).toBeUndefined();
        expect(listed.body.data!.records.totalCount).toBe(1);
        expect(listed.body.data!.records.edges[0]!.node.id).toBe(id);
      }
    } finally {
      expect(await other.stop()).toEqual({ code: 0, signal: null });
    }
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    node = undefined;
  });

  it('an unreachable DATABASE_URL exits 1 with a clear message', async () => {
    const r = await runCli(['start', '--data-dir', dataDir, '--http', '127.0.0.1:0'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('STORAGE_UNAVAILABLE');
    expect(r.stderr).toContain('cannot connect to PostgreSQL');
  });
});
