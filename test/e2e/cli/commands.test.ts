import fs from 'node:fs';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql, runCli, startNodeProcess, tempDir, type StartedNode } from '../../helpers/cli.ts';
import { createPgDatabase } from '../../helpers/storage.ts';
import { loadMigrations } from '../../../node/storage/migrate.ts';

const COMMANDS = ['start', 'migrate', 'token', 'import', 'rotate-keys'];

describe('alliance help and usage errors', () => {
  it('alliance --help lists every command and exits 0', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: alliance <command>/);
      for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
      expect(r.stderr).toBe('');
    }
  });

  it('alliance without a command prints the help and exits 2', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage: alliance <command>');
  });

  it.each(COMMANDS)('alliance %s --help prints its usage and exits 0', async (command) => {
    const r = await runCli([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: alliance ${command}`));
    expect(r.stdout).toContain('Options:');
    expect(r.stderr).toBe('');
  });

  it('an unknown command exits 2 naming it', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(r.stdout).toBe('');
  });

  it('an unknown flag exits 2 naming it, with the command usage', async () => {
    for (const command of COMMANDS) {
      const r = await runCli([command, '--no-such-flag']);
      expect(r.code, `${command}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('--no-such-flag');
      expect(r.stderr).toContain(`Usage: alliance ${command}`);
    }
  });

  it('a missing or extra positional argument exits 2', async () => {
    const none = await runCli(['import']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give exactly one FILE');
    const extra = await runCli(['migrate', 'surplus']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('surplus');
  });

  it('an invalid setting exits 1 naming the setting', async () => {
    const { dir, remove } = tempDir();
    try {
      const http = await runCli(['start', '--data-dir', dir, '--http', 'nowhere:port']);
      expect(http.code).toBe(1);
      expect(http.stderr).toContain('invalid setting --http');
      expect(http.stderr).toContain('CONFIG_INVALID');
      const level = await runCli(['migrate', '--data-dir', dir], { env: { ALLIANCE_LOG_LEVEL: 'loud' } });
      expect(level.code).toBe(1);
      expect(level.stderr).toContain('invalid setting ALLIANCE_LOG_LEVEL');
      const flag = await runCli(['migrate', '--data-dir', dir, '--database-url', 'mysql://x@y/z']);
      expect(flag.code).toBe(1);
      expect(flag.stderr).toContain('invalid setting --database-url');
      const url = await runCli(['migrate', '--data-dir', dir], { env: { DATABASE_URL: 'not a url' } });
      expect(url.code).toBe(1);
      expect(url.stderr).toContain('invalid setting DATABASE_URL');
      // Nothing was created by the refused commands.
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      remove();
    }
  });
});

describe('alliance token', () => {
  const tmp = tempDir();
  const dataDir = path.join(tmp.dir, 'data');
  let node: StartedNode;

  beforeAll(async () => {
    node = await startNodeProcess(['--data-dir', dataDir]);
  });
  afterAll(async () => {
    await node?.stop();
    tmp.remove();
  });

  it('prints a JWT the running node accepts with the analyst role', async () => {
    const r = await runCli(['token', '--role', 'analyst', '--sub', 'jane@brand.example', '--ttl', '30m', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ role: 'analyst', sub: 'jane@brand.example', iss: 'alliance-node', aud: 'alliance-api' });
    expect(claims.exp! - claims.iat!).toBe(30 * 60);

    const viewer = await graphql<{ viewer: { subject: string; roles: string[] } }>(node.url, token, '{ viewer { subject roles } }');
    expect(viewer.status).toBe(200);
    expect(viewer.body.data!.viewer).toEqual({ subject: 'jane@brand.example', roles: ['ANALYST'] });
    // An analyst writes records; the change is recorded under the token's subject.
    const created = await graphql<{ createRecord: { createdBy: string } }>(
      node.url,
      token,
      'mutation { createRecord(input: { kind: SHOP, name: "Cheap Kicks" }) { createdBy } }',
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.createRecord.createdBy).toBe('jane@brand.example');
  });

  it('a trust token is refused what only analysts may do', async () => {
    const r = await runCli(['token', '--role', 'trust', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    const res = await graphql(node.url, r.stdout.trim(), 'mutation { createRecord(input: { kind: SHOP, name: "X" }) { id } }');
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('a token from another data directory is refused', async () => {
    const other = tempDir();
    try {
      // A second node's key: started once, then stopped.
      const n = await startNodeProcess(['--data-dir', other.dir]);
      await n.stop();
      const r = await runCli(['token', '--role', 'admin', '--data-dir', other.dir]);
      expect(r.code).toBe(0);
      const res = await graphql(node.url, r.stdout.trim(), '{ viewer { subject } }');
      expect(res.status).toBe(401);
    } finally {
      other.remove();
    }
  });

  it('--role boss exits 2, listing the roles', async () => {
    const r = await runCli(['token', '--role', 'boss', '--data-dir', dataDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--role must be one of analyst, trust, admin (got "boss")');
    expect(r.stdout).toBe('');
    const missing = await runCli(['token', '--data-dir', dataDir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--role is required');
  });

  it('--ttl 5y (and beyond 90d) exits 1 with a message', async () => {
    const r = await runCli(['token', '--role', 'analyst', '--ttl', '5y', '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"5y" is not a lifetime such as 30m, 8h or 7d');
    expect(r.stderr).toContain('TTL_INVALID');
    expect(r.stdout).toBe('');
    const long = await runCli(['token', '--role', 'analyst', '--ttl', '91d', '--data-dir', dataDir]);
    expect(long.code).toBe(1);
    expect(long.stderr).toContain('longer than the limit of 90d');
  });

  it('a data dir without a key exits 1 with a message, and creates nothing', async () => {
    const empty = tempDir();
    try {
      const r = await runCli(['token', '--role', 'analyst', '--data-dir', empty.dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`no API key in ${empty.dir}`);
      expect(r.stderr).toContain('KEY_INVALID');
      expect(r.stdout).toBe('');
      expect(fs.readdirSync(empty.dir)).toEqual([]);
      // ALLIANCE_DATA_DIR is honoured the same way.
      const viaEnv = await runCli(['token', '--role', 'analyst'], { env: { ALLIANCE_DATA_DIR: empty.dir } });
      expect(viaEnv.code).toBe(1);
      expect(viaEnv.stderr).toContain(`no API key in ${empty.dir}`);
    } finally {
      empty.remove();
    }
  });
});

describe('alliance migrate', () => {
  const latest = Math.max(...loadMigrations().map((m) => m.version));
  const all = loadMigrations()
    .map((m) => m.version)
    .join(', ');

  it('on a PGlite data dir: applies, then says up to date; refused while a node runs there', async () => {
    const { dir, remove } = tempDir();
    try {
      const first = await runCli(['migrate', '--data-dir', dir]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toBe(`applied migrations ${all}; schema at ${latest}\n`);
      const second = await runCli(['migrate', '--data-dir', dir]);
      expect(second.code).toBe(0);
      expect(second.stdout).toBe(`schema up to date at ${latest}\n`);
      expect(fs.existsSync(path.join(dir, 'pgdata.lock'))).toBe(false);

      const node = await startNodeProcess(['--data-dir', dir]);
      try {
        const locked = await runCli(['migrate', '--data-dir', dir]);
        expect(locked.code).toBe(1);
        expect(locked.stderr).toContain('STORAGE_LOCKED');
        expect(locked.stderr).toContain(`pid ${node.child.pid}`);
      } finally {
        expect(await node.stop()).toEqual({ code: 0, signal: null });
      }
    } finally {
      remove();
    }
  });

  it('on PostgreSQL (DATABASE_URL, then --database-url): applies, then says up to date', async () => {
    const database = await createPgDatabase();
    const { dir, remove } = tempDir();
    try {
      const first = await runCli(['migrate', '--data-dir', dir], { env: { DATABASE_URL: database.url } });
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toBe(`applied migrations ${all}; schema at ${latest}\n`);
      const second = await runCli(['migrate', '--database-url', database.url, '--data-dir', dir]);
      expect(second.code).toBe(0);
      expect(second.stdout).toBe(`schema up to date at ${latest}\n`);
      // Two at once: each migration is applied once.
      const again = await Promise.all([runCli(['migrate'], { env: { DATABASE_URL: database.url } }), runCli(['migrate'], { env: { DATABASE_URL: database.url } })]);
      for (const r of again) expect(r.stdout).toBe(`schema up to date at ${latest}\n`);
      // No embedded database was made.
      expect(fs.existsSync(path.join(dir, 'pgdata'))).toBe(false);
    } finally {
      remove();
      await database.drop();
    }
  });

  it('two migrations at once against a fresh PostgreSQL database apply each migration exactly once', async () => {
    const database = await createPgDatabase();
    try {
      const env = { DATABASE_URL: database.url };
      const [a, b] = await Promise.all([runCli(['migrate'], { env }), runCli(['migrate'], { env })]);
      expect([a.code, b.code]).toEqual([0, 0]);
      const outs = [a.stdout, b.stdout].sort();
      expect(outs).toEqual([`applied migrations ${all}; schema at ${latest}\n`, `schema up to date at ${latest}\n`]);
    } finally {
      await database.drop();
    }
  });
});
