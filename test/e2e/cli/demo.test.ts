/**
 * `alliance demo` end to end, as a newcomer runs it: the real CLI as a child process founds a
 * three-member alliance on embedded storage, seeds it, waits for the exchange, and prints (and writes
 * to demo.json) tokens and example lookups; the lookups are run over HTTP at their member and must
 * find the other members. Then Ctrl-C, a rerun over the same directory, and --fresh.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql, runCli, spawnCli, tempDir, waitForExit, waitForOutput } from '../../helpers/cli.ts';
import { freePort } from '../../../scripts/lib/net.ts';
import { isPortFree } from '../../../node/ports.ts';
import type { DemoSummary } from '../../../node/demo/summary.ts';

const RECORDS = 60;
const READY = 'All of this as JSON';
const READY_TIMEOUT = 240_000;

/** A base port with BASE..BASE+2 (HTTP) and BASE+10..BASE+12 (P2P) free. */
async function freeBase(): Promise<number> {
  for (;;) {
    const base = await freePort();
    const all = [0, 1, 2, 10, 11, 12].map((d) => base + d);
    if ((await Promise.all(all.map((p) => isPortFree(p)))).every(Boolean)) return base;
  }
}

interface Demo {
  child: ChildProcess;
  stdout: string;
  stderr: () => string;
  summary: DemoSummary;
}

async function startDemo(args: string[]): Promise<Demo> {
  const child = spawnCli(['demo', ...args]);
  child.stdin!.end();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let stdout: string;
  try {
    stdout = await waitForOutput(child, 'stdout', (t) => t.includes(READY) && t.endsWith('\n'), READY_TIMEOUT);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\nstderr: ${stderr}`);
  }
  const dir = args[args.indexOf('--dir') + 1]!;
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'demo.json'), 'utf8')) as DemoSummary;
  return { child, stdout, stderr: () => stderr, summary };
}

type LookupData = { lookup: { results: Array<{ canonical: string | null; matches: Array<{ member: { id: string } }>; ownRecords: Array<{ name: string }> }> } };

async function recordTotals(summary: DemoSummary): Promise<number[]> {
  const out: number[] = [];
  for (const m of summary.members) {
    const r = await graphql<{ records: { totalCount: number } }>(m.graphqlUrl, m.tokens.analyst, '{ records(first: 1) { totalCount } }');
    expect(r.body.errors).toBeUndefined();
    out.push(r.body.data!.records.totalCount);
  }
  return out;
}

describe('alliance demo', () => {
  let root: string;
  let dir: string;
  let remove: () => void;
  let base: number;
  let first: DemoSummary;
  let roster: string;

  beforeAll(async () => {
    ({ dir: root, remove } = tempDir('alliance-demo-'));
    dir = path.join(root, 'demo');
    base = await freeBase();
  });
  afterAll(() => remove());

  it('refuses bad options with exit status 2 and says which', async () => {
    const cases: Array<[string[], string]> = [
      [['--records', 'abc'], '--records must be an integer from 1 to 100000 (got "abc")'],
      [['--records', '0'], '--records must be an integer from 1 to 100000 (got "0")'],
      [['--http-port', '70000'], '--http-port must be an integer from 1 to 65515 (got "70000")'],
      [['--log-level', 'loud'], '--log-level must be one of'],
      [['--colour'], "Unknown option '--colour'"],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(['demo', '--dir', path.join(root, 'unused'), ...args], { timeoutMs: 60_000 })));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(cases[i]![1]);
      expect(r.stderr).toContain('Usage: alliance demo');
    });
    expect(fs.existsSync(path.join(root, 'unused'))).toBe(false);
    const help = await runCli(['demo', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: alliance demo \[--dir DIR\] \[--records N\]/);
  });

  it('says which port is taken and exits 1', async () => {
    const busyBase = await freeBase();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(busyBase + 1, '127.0.0.1', resolve));
    try {
      const r = await runCli(['demo', '--dir', path.join(root, 'busy'), '--http-port', String(busyBase)], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`HTTP port ${busyBase + 1} (marketnest) is in use: pass --http-port BASE`);
      expect(r.stderr).toContain('[PORT_IN_USE]');
    } finally {
      server.close();
    }
  });

  it(
    'founds and seeds three members whose example lookups find each other; a second demo in the directory is refused; Ctrl-C stops it',
    async () => {
      const demo = await startDemo(['--dir', dir, '--records', String(RECORDS), '--http-port', String(base)]);
      first = demo.summary;
      roster = fs.readFileSync(path.join(dir, 'roster.jsonl'), 'utf8');
      try {
        expect(demo.stdout).toContain(`3 members, ${RECORDS} records each, exchange converged`);
        expect(first.members.map((m) => [m.id, m.kind, m.graphqlUrl])).toEqual([
          ['bazaarly', 'PLATFORM', `http://127.0.0.1:${base}/graphql`],
          ['marketnest', 'PLATFORM', `http://127.0.0.1:${base + 1}/graphql`],
          ['aurelia', 'RIGHTS_HOLDER', `http://127.0.0.1:${base + 2}/graphql`],
        ]);
        expect(first.seeded).toBe(true);
        for (const m of first.members) {
          expect(fs.existsSync(path.join(dir, m.id, 'keys', 'member.json'))).toBe(true);
          expect(demo.stdout).toContain(m.tokens.trust);
        }
        // The founding: genesis signed by both admins, three member.add, one epoch.new.
        expect(roster.trim().split('\n')).toHaveLength(5);

        expect(first.examples.length).toBe(4);
        for (const e of first.examples) {
          const at = first.members.find((m) => m.id === e.member)!;
          expect(e.curl).toContain(at.graphqlUrl);
          // The token in the environment: pasted, the command echoes no token back.
          expect(e.cli).toContain(`ALLIANCE_TOKEN=${at.tokens.trust} npx alliance lookup --url ${at.graphqlUrl} --type ${e.type} `);
          expect(e.cli).not.toContain('--token');
          const r = await graphql<LookupData>(at.graphqlUrl, at.tokens.trust, 'query($ids: [IdentifierInput!]!) { lookup(identifiers: $ids) { results { canonical matches { member { id } } ownRecords { name } } } }', {
            ids: [{ type: e.type.toUpperCase(), value: e.value }],
          });
          expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
          const result = r.body.data!.lookup.results[0]!;
          expect(result.canonical).not.toBeNull();
          expect(result.ownRecords).toHaveLength(1);
          expect([...new Set(result.matches.map((x) => x.member.id))].sort(), `${e.type} at ${e.member}`).toEqual([...e.expect].sort());
        }

        // The printed curl works as it is.
        const viaCurl = JSON.parse(execFileSync('sh', ['-c', first.examples[0]!.curl], { encoding: 'utf8' })) as { data: LookupData };
        expect(viaCurl.data.lookup.results[0]!.matches.map((x) => x.member.id).sort()).toEqual([...first.examples[0]!.expect].sort());

        // Match alerts were raised at every member.
        for (const m of first.members) {
          const r = await graphql<{ matches: { totalCount: number; edges: Array<{ node: { state: string; member: { id: string } } }> } }>(
            m.graphqlUrl,
            m.tokens.analyst,
            '{ matches(first: 50) { totalCount edges { node { state member { id } } } } }',
          );
          expect(r.body.errors).toBeUndefined();
          expect(r.body.data!.matches.totalCount, m.id).toBeGreaterThan(0);
          expect(r.body.data!.matches.totalCount).toBe(m.matches);
          expect(r.body.data!.matches.edges.every((x) => x.node.state === 'NEW' && x.node.member.id !== m.id)).toBe(true);
        }
        expect(await recordTotals(first)).toEqual([RECORDS, RECORDS, RECORDS]);

        // The printed match query, pasted, gives what acknowledging a match needs: its id.
        const printed = first.matches[0]!;
        expect(demo.stdout).toContain(printed.curl);
        const listed = JSON.parse(execFileSync('sh', ['-c', printed.curl], { encoding: 'utf8' })) as {
          data: { matches: { edges: Array<{ node: { id: string; state: string } }> } };
        };
        const match = listed.data.matches.edges[0]!.node;
        expect(match.id).toEqual(expect.any(String));
        const at = first.members.find((m) => m.id === printed.member)!;
        const ack = await graphql<{ acknowledgeMatch: { id: string; state: string } }>(
          at.graphqlUrl,
          at.tokens.analyst,
          'mutation($id: ID!) { acknowledgeMatch(id: $id, verdict: CONFIRMED, note: "from the printed query") { id state } }',
          { id: match.id },
        );
        expect(ack.body.errors).toBeUndefined();
        expect(ack.body.data!.acknowledgeMatch).toEqual({ id: match.id, state: 'CONFIRMED' });

        // A second demo over the same directory is refused, and --fresh does not delete a running demo.
        const again = await runCli(['demo', '--dir', dir, '--fresh', '--http-port', String(base + 100)], { timeoutMs: 60_000 });
        expect(again.code, again.stderr).toBe(1);
        expect(again.stderr).toMatch(/a demo is already running in .* \(pid \d+\): stop it first \(Ctrl-C\), or pass another --dir \[DEMO_RUNNING\]/);
        expect(fs.existsSync(path.join(dir, 'roster.jsonl'))).toBe(true);
      } finally {
        demo.child.kill('SIGINT');
      }
      const exit = await waitForExit(demo.child, 60_000);
      expect(exit, demo.stderr()).toEqual({ code: 0, signal: null });
      const ports = [0, 1, 2, 10, 11, 12].map((d) => base + d);
      expect(await Promise.all(ports.map((p) => isPortFree(p)))).toEqual(ports.map(() => true));
      expect(fs.existsSync(path.join(dir, 'demo.lock'))).toBe(false);
    },
    READY_TIMEOUT + 90_000,
  );

  it(
    'runs the same alliance again without reseeding, with fresh tokens; SIGTERM stops it',
    async () => {
      const demo = await startDemo(['--dir', dir, '--http-port', String(base)]);
      try {
        expect(demo.stdout).toContain('(reused from an earlier run)');
        expect(demo.summary.seeded).toBe(false);
        expect(demo.summary.members.map((m) => m.id)).toEqual(first.members.map((m) => m.id));
        expect(demo.summary.members[0]!.tokens.trust).not.toBe(first.members[0]!.tokens.trust);
        expect(fs.readFileSync(path.join(dir, 'roster.jsonl'), 'utf8')).toBe(roster);
        expect(await recordTotals(demo.summary)).toEqual([RECORDS, RECORDS, RECORDS]);
        expect(demo.summary.members.map((m) => m.matches)).toEqual(first.members.map((m) => m.matches));
        expect(demo.summary.examples.map((e) => [e.member, e.type, e.value])).toEqual(first.examples.map((e) => [e.member, e.type, e.value]));
      } finally {
        demo.child.kill('SIGTERM');
      }
      expect(await waitForExit(demo.child, 60_000)).toEqual({ code: 0, signal: null });
    },
    READY_TIMEOUT + 60_000,
  );

  it(
    'starts over with --fresh: a new alliance, seeded once',
    async () => {
      const demo = await startDemo(['--dir', dir, '--http-port', String(base), '--records', String(RECORDS), '--fresh']);
      try {
        expect(demo.summary.seeded).toBe(true);
        expect(demo.stderr()).toContain('--fresh: removing the demo in');
        // New member identities and admins: a different roster.
        expect(fs.readFileSync(path.join(dir, 'roster.jsonl'), 'utf8')).not.toBe(roster);
        expect(await recordTotals(demo.summary)).toEqual([RECORDS, RECORDS, RECORDS]);
      } finally {
        demo.child.kill('SIGINT');
      }
      expect(await waitForExit(demo.child, 60_000)).toEqual({ code: 0, signal: null });
    },
    READY_TIMEOUT + 60_000,
  );
});
