import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../node/config.ts';
import { issueToken, loadOrCreateApiKey } from '../../../node/api/tokens.ts';
import { graphql, runCli, startNodeProcess, tempDir, type StartedNode } from '../../helpers/cli.ts';

const IMPORT = `mutation ($records: [RecordInput!]!) { importRecords(records: $records) { ids } }`;
const AUDIT = `{ auditLog(first: 20, filter: { action: ["record.export"] }) { edges { node { subject role identifierCount hitCount digests } } } }`;

const RECORDS = Array.from({ length: 620 }, (_, i) => ({
  kind: i % 2 ? 'SHOP' : 'SELLER',
  name: `Seller ${i}`,
  status: i % 3 === 0 ? 'CONFIRMED' : 'SUSPECTED',
  identifiers: [{ type: 'EMAIL', value: `Seller.${i}@Example.com` }],
  externalId: `CASE-${i}`,
}));

describe('alliance export', () => {
  const { dir, remove } = tempDir();
  const dataDir = path.join(dir, 'node');
  let node: StartedNode;
  const token = async (role: 'trust' | 'analyst' | 'admin') => issueToken(await loadOrCreateApiKey(dataDir), loadConfig({}, {}).auth, { role, sub: `export-test-${role}`, ttlSeconds: 600 });

  beforeAll(async () => {
    fs.mkdirSync(dataDir);
    node = await startNodeProcess(['--data-dir', dataDir]);
    // In calls of at most 500 records, the per-call limit.
    for (let i = 0; i < RECORDS.length; i += 500) {
      const r = await graphql(node.url, node.bootstrapToken, IMPORT, { records: RECORDS.slice(i, i + 500) });
      expect(r.body.errors).toBeUndefined();
    }
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    remove();
  });

  it('writes every record across pages to --out, and the file imports into another node unchanged', async () => {
    const out = path.join(dir, 'export.jsonl');
    const port = new URL(node.url).port;
    const r = await runCli(['export', '--data-dir', dataDir, '--http', `127.0.0.1:${port}`, '--sub', 'backup-job', '--out', out]);
    expect(r.stderr).toBe(`alliance export: ${RECORDS.length} record(s) written to ${out}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const rows = fs.readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { name: string; identifiers: Array<{ type: string; value: string }> });
    expect(rows.map((x) => x.name)).toEqual(RECORDS.map((x) => x.name));
    expect(rows[7]!.identifiers).toEqual([{ type: 'email', value: 'Seller.7@Example.com' }]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // Two pages of 500 and 120, each audited under the token's subject.
    const audit = await graphql<{ auditLog: { edges: Array<{ node: { subject: string; role: string; identifierCount: number; hitCount: number } }> } }>(node.url, await token('admin'), AUDIT);
    const mine = audit.body.data!.auditLog.edges.map((e) => e.node).filter((e) => e.subject === 'backup-job');
    expect(mine.map((e) => [e.role, e.hitCount, e.identifierCount])).toEqual([
      ['trust', 120, 120],
      ['trust', 500, 500],
    ]);

    const other = path.join(dir, 'other');
    const imp = await runCli(['import', out, '--data-dir', other]);
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toContain(`${RECORDS.length}`);
  }, 60_000);

  it('finds the node running on --data-dir wherever it listens, without --http', async () => {
    const r = await runCli(['export', '--data-dir', dataDir, '--status', 'CONFIRMED']);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(RECORDS.filter((x) => x.status === 'CONFIRMED').length);
  });

  it('reads the token from standard input with --token -', async () => {
    const r = await runCli(['export', '--url', node.url, '--token', '-', '--kind', 'SHOP'], { input: `${await token('trust')}\n` });
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(RECORDS.filter((x) => x.kind === 'SHOP').length);
    const help = await runCli(['export', '--help']);
    expect(help.stdout).toContain('--token -');
    expect(help.stdout).not.toMatch(/--token JWT/);
  });

  it('filters and writes to standard output with --url and a token', async () => {
    const r = await runCli(['export', '--url', node.url, '--token', await token('trust'), '--status', 'confirmed', '--kind', 'SELLER,SHOP']);
    expect(r.code).toBe(0);
    const names = r.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { name: string }).name);
    expect(names).toEqual(RECORDS.filter((x) => x.status === 'CONFIRMED').map((x) => x.name));
  });

  it('exits 3 and leaves no file when the node refuses the token or cannot be reached', async () => {
    const out = path.join(dir, 'refused.jsonl');
    const refused = await runCli(['export', '--url', node.url, '--token', await token('analyst'), '--out', out]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/alliance export: the node refused the request: .*\[FORBIDDEN\]/);
    const down = await runCli(['export', '--url', 'http://127.0.0.1:1/graphql', '--token', 'x.y.z', '--out', out]);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('cannot reach the node at http://127.0.0.1:1/graphql');
    expect(fs.readdirSync(dir).filter((f) => f.includes('refused'))).toEqual([]);
  });

  it('exits 1 with EXPORT_FILE, not a stack, when --out cannot be written', async () => {
    const r = await runCli(['export', '--url', node.url, '--token', await token('trust'), '--out', path.join(dir, 'no-such-dir', 'x.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^alliance export: cannot write .*no-such-dir.*x\.jsonl: ENOENT \[EXPORT_FILE\]\n$/);
  });

  it('refuses wrong usage with exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--status', 'BOGUS', '--url', node.url, '--token', 'x'], /--status must be one of SUSPECTED, CONFIRMED, DISPUTED, CLEARED \(got "BOGUS"\)/],
      [['--updated-since', 'yesterday', '--url', node.url, '--token', 'x'], /--updated-since must be an ISO 8601 time/],
      [['--token', 'x'], /--token goes with --url/],
      [['--url', node.url, '--data-dir', dataDir], /--url asks that node with --token/],
      [['--url', 'ftp://x', '--token', 'x'], /--url must be an http\(s\) URL/],
      [['--out', dir, '--url', node.url, '--token', 'x'], /is not a file name/],
      [['--data-dir', path.join(dir, 'nothing-here')], /no node in .*nothing-here/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['export', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
