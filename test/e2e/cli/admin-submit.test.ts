import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEntry, type RosterState } from '../../../node/membership/roster.ts';
import { epochKeyPath } from '../../../node/membership/epoch-keys.ts';
import { runCli, tempDir } from '../../helpers/cli.ts';
import { createPgDatabase } from '../../helpers/storage.ts';
import { epochBody, genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin, type TestMember } from '../../helpers/roster.ts';

const tmp = tempDir();
const dataDir = path.join(tmp.dir, 'data');
const file = (name: string, text: string) => {
  const f = path.join(tmp.dir, name);
  fs.writeFileSync(f, text);
  return f;
};

let A: TestAdmin[];
let acme: TestMember;
let other: TestMember;
const chain: string[] = [];
let state: RosterState;

beforeAll(async () => {
  A = [await newTestAdmin('one'), await newTestAdmin('two'), await newTestAdmin('three')];
  // The node's own member identity is in the data directory: its epoch key gets installed.
  acme = await newTestMember('acme', dataDir);
  other = await newTestMember('other');
  chain.push(await genesisText('cli-alliance', A, 2));
  state = await applyEntry(null, chain[0]!);
  for (const p of [
    { type: 'member.add', body: acme.request },
    { type: 'epoch.new', body: await epochBody('cli-alliance', 1, [acme.request]) },
  ] as const) {
    const text = await nextText(state, p, [A[0]!, A[2]!]);
    chain.push(text);
    state = await applyEntry(state, text);
  }
});

afterAll(() => {
  tmp.remove();
  fs.rmSync(other.dataDir, { recursive: true, force: true });
});

describe('alliance admin submit / export (embedded storage)', () => {
  it('submits a signed genesis file (pretty-printed) and says it was applied', async () => {
    const genesis = file('genesis.json', `${JSON.stringify(JSON.parse(chain[0]!), null, 2)}\n`);
    const r = await runCli(['admin', 'submit', genesis, '--data-dir', dataDir]);
    expect(r.stderr).not.toContain('unexpected');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`seq 0 genesis ${state.hashes[0]}: applied\n`);
  });

  it('submits a roster log file: entries already there are skipped, new ones applied, the epoch key installed', async () => {
    const log = file('roster.jsonl', chain.map((c) => `${c}\n`).join(''));
    const r = await runCli(['admin', 'submit', log, '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `seq 0 genesis ${state.hashes[0]}: already present`,
      `seq 1 member.add ${state.hashes[1]}: applied`,
      `seq 2 epoch.new ${state.hashes[2]}: applied`,
    ]);
    expect(r.stderr).toContain('epoch 1: key for this member installed');
    expect(fs.existsSync(epochKeyPath(dataDir, 1))).toBe(true);
    // Submitting it all again changes nothing.
    const again = await runCli(['admin', 'submit', log, '--data-dir', dataDir]);
    expect(again.code).toBe(0);
    expect(again.stdout.match(/already present/g)).toHaveLength(3);
  });

  it('a refused entry exits 1 with its reason and stores nothing', async () => {
    const weak = file('weak.json', `${await nextText(state, { type: 'member.add', body: other.request }, [A[1]!])}\n`);
    const r = await runCli(['admin', 'submit', weak, '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('seq 3 member.add: refused: insufficient_signatures\n');
    expect(r.stderr).toContain('insufficient_signatures');

    const forkFile = file('fork.json', await nextText({ alliance: 'cli-alliance', seq: 0, head: state.hashes[0]! }, { type: 'member.add', body: other.request }, [A[0]!, A[1]!]));
    const f = await runCli(['admin', 'submit', forkFile, '--data-dir', dataDir]);
    expect(f.code).toBe(1);
    expect(f.stdout).toContain('refused: fork');
    expect(f.stderr).toContain('alarm');

    const bad = file('bad.jsonl', 'this is not a roster entry\n');
    const b = await runCli(['admin', 'submit', bad, '--data-dir', dataDir]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('ROSTER_FILE_INVALID');
    const missing = await runCli(['admin', 'submit', path.join(tmp.dir, 'nope.json'), '--data-dir', dataDir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read roster file');
    expect((await runCli(['admin', 'submit', '--data-dir', dataDir])).code).toBe(2);
  });

  it('export writes the roster log file (stdout or --out), which submits cleanly elsewhere', async () => {
    const r = await runCli(['admin', 'export', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(chain.map((c) => `${c}\n`).join(''));
    expect(r.stderr).toContain('3 entries of alliance cli-alliance');
    const out = path.join(tmp.dir, 'export', 'roster.jsonl');
    const w = await runCli(['admin', 'export', '--data-dir', dataDir, '--out', out]);
    expect(w.code).toBe(0);
    expect(w.stdout).toBe('');
    expect(fs.readFileSync(out, 'utf8')).toBe(r.stdout);
    // Another node's empty storage takes the whole log.
    const second = path.join(tmp.dir, 'second');
    const s = await runCli(['admin', 'submit', out, '--data-dir', second]);
    expect(s.code).toBe(0);
    expect(s.stdout.match(/: applied/g)).toHaveLength(3);
    expect(s.stderr).not.toContain('installed'); // no member identity there
  });

  it('admin --help lists submit and export', async () => {
    const r = await runCli(['admin', '--help']);
    expect(r.stdout).toMatch(/submit\s/);
    expect(r.stdout).toMatch(/export\s/);
  });
});

describe('alliance admin submit / export (PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof createPgDatabase>>;
  beforeAll(async () => {
    database = await createPgDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('submits and exports through DATABASE_URL', async () => {
    const log = file('pg-roster.jsonl', chain.map((c) => `${c}\n`).join(''));
    const env = { DATABASE_URL: database.url };
    const pgData = path.join(tmp.dir, 'pg-data');
    const r = await runCli(['admin', 'submit', log, '--data-dir', pgData], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/: applied/g)).toHaveLength(3);
    const e = await runCli(['admin', 'export', '--data-dir', pgData], { env });
    expect(e.code).toBe(0);
    expect(e.stdout).toBe(chain.map((c) => `${c}\n`).join(''));
    expect(fs.existsSync(path.join(pgData, 'pgdata'))).toBe(false);
  });
});
