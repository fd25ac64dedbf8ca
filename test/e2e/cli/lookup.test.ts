import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../node/config.ts';
import { issueToken, loadOrCreateApiKey } from '../../../node/api/tokens.ts';
import { graphql, REPO_ROOT, runCli, startNodeProcess, tempDir, type StartedNode } from '../../helpers/cli.ts';
import { freePort } from '../../../scripts/lib/net.ts';
import { npmEnv } from '../../helpers/npm.ts';
import { lookupCli } from '../../../node/demo/summary.ts';

const CREATE = `mutation ($input: RecordInput!) { createRecord(input: $input) { id } }`;
const AUDIT = `{ auditLog(first: 20) { edges { node { action subject role identifierCount digests hitCount } } } }`;

describe('alliance lookup', () => {
  const { dir: dataDir, remove } = tempDir();
  let node: StartedNode;
  let recordId: string;
  let port: string;
  const token = async (role: 'trust' | 'analyst' | 'admin', sub = `cli-test-${role}`) =>
    issueToken(await loadOrCreateApiKey(dataDir), loadConfig({}, {}).auth, { role, sub, ttlSeconds: 600 });

  beforeAll(async () => {
    node = await startNodeProcess(['--data-dir', dataDir]);
    port = new URL(node.url).port;
    const r = await graphql<{ createRecord: { id: string } }>(node.url, node.bootstrapToken, CREATE, {
      input: {
        kind: 'SHOP',
        name: 'Lucky Store',
        region: 'CN',
        identifiers: [
          { type: 'PHONE', value: '138 0013 8000' },
          { type: 'EMAIL', value: 'lucky.store@gmail.com' },
          { type: 'EMAIL', value: 'service@lucky-store.cn' },
        ],
        status: 'CONFIRMED',
        confidence: 70,
      },
    });
    expect(r.body.errors).toBeUndefined();
    recordId = r.body.data!.createRecord.id;
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    remove();
  });

  it('asks the node at --url with --token, and exits 0 whether or not a value is found', async () => {
    const r = await runCli(['lookup', '--type', 'phone', '--region', 'CN', '--url', node.url, '--token', await token('trust'), '+86 138-0013-8000', '139 0000 0000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('#1 phone +8613800138000\n');
    expect(r.stdout).toContain(`  own record ${recordId} "Lucky Store": CONFIRMED, confidence 70`);
    expect(r.stdout).toContain('#2 phone +8613900000000\n  no match\n');
  });

  it('takes the token from ALLIANCE_TOKEN and the node base URL, and prints JSON lines', async () => {
    const base = node.url.replace(/\/graphql$/, '');
    const r = await runCli(['lookup', '--type', 'email', '--json', '--url', base, 'Lucky.Store+x@googlemail.com', 'lucky@'], { env: { ALLIANCE_TOKEN: await token('admin') } });
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ type: 'email', input: 'Lucky.Store+x@googlemail.com', canonical: 'luckystore@gmail.com', matches: [], ownRecords: [{ id: recordId, name: 'Lucky Store' }] });
    expect(lines[1]).toEqual({ type: 'email', input: 'lucky@', error: expect.any(String), reason: 'email.empty_domain' });
    expect(lines[2]).toEqual({ subjects: [expect.objectContaining({ own: true, recordId, identifiers: [0], count: 1 })] });
  });

  it('without --url asks the node of --data-dir with a token of its own, audited under --sub; values from stdin', async () => {
    const r = await runCli(['lookup', '--type', 'email', '--data-dir', dataDir, '--http', `127.0.0.1:${port}`, '--sub', 'desk-7'], { input: 'l.u.c.k.y.store@gmail.com\n\nService@Lucky-Store.CN\n' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('#1 email luckystore@gmail.com\n');
    expect(r.stdout).toContain('#2 email service@lucky-store.cn\n');
    expect(r.stdout).toMatch(new RegExp(`own record ${recordId}: 2 identifiers \\(#1, #2\\), CONFIRMED`));
    const audit = await graphql<{ auditLog: { edges: Array<{ node: { action: string; subject: string; role: string; identifierCount: number; hitCount: number } }> } }>(node.url, await token('admin'), AUDIT);
    expect(audit.body.data!.auditLog.edges[0]!.node).toMatchObject({ action: 'lookup', subject: 'desk-7', role: 'trust', identifierCount: 2, hitCount: 2 });
  });

  it('prints an invalid value\'s refusal in its place, exit status 1, still answering the others', async () => {
    const r = await runCli(['lookup', '--type', 'phone', '--url', node.url, '--token', await token('trust'), '+86 12', '+8613800138000']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^#1 ! "\+86 12" is not a valid phone: .+ \[phone\.too_short\]\n#2 phone \+8613800138000\n/);
    expect(r.stderr).toBe('alliance lookup: 1 of 2 values invalid, marked "!" in the output\n');
  });

  it('finds the node running on --data-dir wherever it listens, without --http', async () => {
    const r = await runCli(['lookup', '--type', 'ip', '--data-dir', dataDir, '192.0.2.1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('#1 ip 192.0.2.1\n  no match\n');
    // --http still wins: the user named the address.
    const closed = await freePort();
    const there = await runCli(['lookup', '--type', 'ip', '--data-dir', dataDir, '--http', `127.0.0.1:${closed}`, '192.0.2.1']);
    expect(there.code).toBe(3);
    expect(there.stderr).toContain(`cannot reach the node at http://127.0.0.1:${closed}/graphql`);
  });

  it('reads the token from standard input with --token -, values after it; never prints a token back', async () => {
    const t = await token('trust');
    const r = await runCli(['lookup', '--type', 'ip', '--url', node.url, '--token', '-'], { input: `${t}\n192.0.2.1\n198.51.100.7\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('#1 ip 192.0.2.1\n  no match\n#2 ip 198.51.100.7\n  no match\n');
    const none = await runCli(['lookup', '--type', 'ip', '--url', node.url, '--token', '-', '192.0.2.1'], { input: '\n' });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--token - reads the token from standard input: its first line is empty');
    // A token the node refuses is named as refused, not shown.
    const forged = `${t.slice(0, -4)}AAAA`;
    const refused = await runCli(['lookup', '--type', 'ip', '--url', node.url, '--token', forged, '192.0.2.1']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).not.toContain(forged.split('.')[2]);
  });

  it('the lookup command the demo prints echoes no token when pasted, and answers', async () => {
    const t = await token('trust');
    const line = lookupCli(node.url, t, 'ip', '192.0.2.1');
    expect(line).not.toMatch(/--token\s/);
    const { execFileSync } = await import('node:child_process');
    let out: string;
    try {
      out = execFileSync('sh', ['-c', `${line} 2>&1`], { cwd: REPO_ROOT, env: npmEnv(), encoding: 'utf8', timeout: 60_000 });
    } catch (err) {
      throw new Error(`${line}\n${(err as { stdout?: string }).stdout ?? ''}`);
    }
    expect(out).toContain('#1 ip 192.0.2.1\n  no match\n');
    expect(out).not.toContain(t.split('.')[2]);
  });

  it('--help leads to ALLIANCE_TOKEN or standard input for the token', async () => {
    const help = await runCli(['lookup', '--help']);
    expect(help.stdout).toContain('--token -');
    expect(help.stdout).toContain('ALLIANCE_TOKEN');
    expect(help.stdout).not.toMatch(/--token JWT/);
  });

  it('exits 3 when the node cannot be reached or refuses the token', async () => {
    const closed = await freePort();
    const down = await runCli(['lookup', '--type', 'ip', '--url', `http://127.0.0.1:${closed}/graphql`, '--token', 'x.y.z', '192.0.2.1']);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain(`cannot reach the node at http://127.0.0.1:${closed}/graphql: ECONNREFUSED`);
    const bad = await runCli(['lookup', '--type', 'ip', '--url', node.url, '--token', 'not-a-jwt', '192.0.2.1']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/\[UNAUTHENTICATED\]/);
    const analyst = await runCli(['lookup', '--type', 'ip', '--url', node.url, '--token', await token('analyst'), '192.0.2.1']);
    expect(analyst.code).toBe(3);
    expect(analyst.stderr).toMatch(/\[FORBIDDEN\]/);
  });

  it('exits 2 on wrong usage, 0 with --help', async () => {
    const help = await runCli(['lookup', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: alliance lookup --type TYPE/);
    expect(help.stdout).toMatch(/Exit status: 0 every value answered/);
    for (const args of [
      ['lookup', '192.0.2.1'],
      ['lookup', '--type', 'fax', '1'],
      ['lookup', '--type', 'phone', '--region', 'CHN', '1'],
      ['lookup', '--type', 'ip', '--url', node.url, '192.0.2.1'],
      ['lookup', '--type', 'ip', '--token', 'x', '192.0.2.1'],
      ['lookup', '--type', 'ip', '--url', 'ftp://x', '--token', 'x', '192.0.2.1'],
      ['lookup', '--type', 'ip', '--data-dir', `${dataDir}/nowhere`, '192.0.2.1'],
    ]) {
      const r = await runCli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
    }
  });

  it('once the node has stopped, --data-dir says no node runs there (exit 3) rather than asking another port', async () => {
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    const r = await runCli(['lookup', '--type', 'ip', '--data-dir', dataDir, '192.0.2.1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`alliance lookup: no node is running on ${dataDir}: start it (alliance start --data-dir ${dataDir}), or give --http HOST:PORT or --url\n`);
  });
});
