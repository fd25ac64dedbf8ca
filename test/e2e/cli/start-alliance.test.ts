import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEntry, type RosterState } from '../../../node/membership/roster.ts';
import { epochKeyPath, loadEpochKeys } from '../../../node/membership/epoch-keys.ts';
import { graphql, runCli, startNodeProcess, tempDir, type StartedNode } from '../../helpers/cli.ts';
import { createPgDatabase, STORAGES } from '../../helpers/storage.ts';
import type { MembershipRequest } from '../../../node/membership/types.ts';
import { epochBody, genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin } from '../../helpers/roster.ts';

/** Every node started here listens for libp2p on a free loopback port, never the default 4001. */
const P2P = ['--p2p', '/ip4/127.0.0.1/tcp/0'];

const ALLIANCE = '{ alliance { id name epoch quorum admins { kid } members { id kind status } rosterHead { seq } } }';
type AllianceData = { alliance: { id: string; name: string; epoch: number; quorum: number; admins: unknown[]; members: Array<{ id: string; kind: string; status: string }>; rosterHead: { seq: number } } };

describe('alliance start without --genesis: the development alliance', () => {
  const tmp = tempDir();
  const dataDir = path.join(tmp.dir, 'data');
  let node: StartedNode | undefined;
  let allianceId = '';

  afterAll(async () => {
    await node?.stop('SIGKILL');
    tmp.remove();
  });

  it('a fresh data dir founds a single-member alliance: one ACTIVE member, epoch 1, its epoch key on disk', async () => {
    node = await startNodeProcess(['--data-dir', dataDir, ...P2P]);
    const line = /^alliance (dev-[0-9a-f]{8}) \(development, single member\)$/m.exec(node.stdout);
    expect(line, node.stdout).not.toBeNull();
    allianceId = line![1]!;
    const r = await graphql<AllianceData>(node.url, node.bootstrapToken, ALLIANCE);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.alliance).toMatchObject({ id: allianceId, epoch: 1, quorum: 1, rosterHead: { seq: 2 } });
    expect(r.body.data!.alliance.admins).toHaveLength(1);
    expect(r.body.data!.alliance.members).toEqual([{ id: 'dev-member', kind: 'OTHER', status: 'ACTIVE' }]);
    expect(fs.existsSync(path.join(dataDir, 'keys', 'member.json'))).toBe(true);
    expect(fs.statSync(path.join(dataDir, 'keys', 'dev-admin.jwk')).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(epochKeyPath(dataDir, 1))).toBe(true);
    expect(loadEpochKeys(dataDir).map((k) => [k.alliance, k.epoch])).toEqual([[allianceId, 1]]);
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    node = undefined;
  });

  it('a restart keeps the same alliance (no second founding)', async () => {
    node = await startNodeProcess(['--data-dir', dataDir, ...P2P]);
    expect(node.stdout).toContain(`alliance ${allianceId} (development, single member)\n`);
    const token = (await runCli(['token', '--role', 'analyst', '--data-dir', dataDir])).stdout.trim();
    const r = await graphql<AllianceData>(node.url, token, ALLIANCE);
    expect(r.body.data!.alliance).toMatchObject({ id: allianceId, epoch: 1, rosterHead: { seq: 2 } });
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    node = undefined;
  });

  it('--genesis of another alliance on this data dir is refused: GENESIS_MISMATCH', async () => {
    const admin = await newTestAdmin('solo');
    const genesis = path.join(tmp.dir, 'other-genesis.json');
    fs.writeFileSync(genesis, `${await genesisText('other-alliance', [admin], 1)}\n`);
    const r = await runCli(['start', '--data-dir', dataDir, ...P2P, '--http', '127.0.0.1:0', '--genesis', genesis]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('GENESIS_MISMATCH');
    expect(r.stdout).not.toContain('ready');
  });
});

describe('alliance start --genesis FILE', () => {
  const tmp = tempDir();
  const dataDir = path.join(tmp.dir, 'data');
  let node: StartedNode | undefined;
  let A: TestAdmin[];
  const chain: string[] = [];
  let state: RosterState;
  let logFile = '';

  beforeAll(async () => {
    A = [await newTestAdmin('one'), await newTestAdmin('two')];
    const acme = await newTestMember('acme', dataDir);
    chain.push(await genesisText('real-alliance', A, 2));
    state = await applyEntry(null, chain[0]!);
    for (const p of [
      { type: 'member.add', body: acme.request },
      { type: 'epoch.new', body: await epochBody('real-alliance', 1, [acme.request]) },
    ] as const) {
      const text = await nextText(state, p, A);
      chain.push(text);
      state = await applyEntry(state, text);
    }
    logFile = path.join(tmp.dir, 'roster.jsonl');
    fs.writeFileSync(logFile, chain.map((c) => `${c}\n`).join(''));
  });
  afterAll(async () => {
    await node?.stop('SIGKILL');
    tmp.remove();
  });

  it('founds the roster from a roster log file and names the alliance, member and epoch', async () => {
    node = await startNodeProcess(['--data-dir', dataDir, ...P2P, '--genesis', logFile]);
    expect(node.stdout).toContain('alliance real-alliance, member acme, epoch 1\n');
    expect(fs.existsSync(path.join(dataDir, 'keys', 'dev-admin.jwk'))).toBe(false);
    expect(loadEpochKeys(dataDir).map((k) => [k.alliance, k.epoch])).toEqual([['real-alliance', 1]]);
    const r = await graphql<AllianceData>(node.url, node.bootstrapToken, ALLIANCE);
    expect(r.body.data!.alliance).toMatchObject({ id: 'real-alliance', quorum: 2, epoch: 1, members: [{ id: 'acme', status: 'ACTIVE' }] });
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    node = undefined;
  });

  it('restarts with only the genesis entry (same alliance), and without --genesis', async () => {
    const genesisOnly = path.join(tmp.dir, 'genesis.json');
    fs.writeFileSync(genesisOnly, `${chain[0]}\n`);
    for (const args of [['--genesis', genesisOnly], []]) {
      node = await startNodeProcess(['--data-dir', dataDir, ...P2P, ...args]);
      expect(node.stdout).toContain('alliance real-alliance, member acme, epoch 1\n');
      expect(await node.stop()).toEqual({ code: 0, signal: null });
      node = undefined;
    }
  });

  it('refuses a genesis file whose first entry is not a genesis, or that does not exist', async () => {
    const notGenesis = path.join(tmp.dir, 'not-genesis.json');
    fs.writeFileSync(notGenesis, `${chain[1]}\n`);
    const fresh = path.join(tmp.dir, 'fresh');
    const r = await runCli(['start', '--data-dir', fresh, ...P2P, '--http', '127.0.0.1:0', '--genesis', notGenesis]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('GENESIS_INVALID');
    const missing = await runCli(['start', '--data-dir', fresh, ...P2P, '--http', '127.0.0.1:0', '--genesis', path.join(tmp.dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ROSTER_FILE_INVALID');
    // Neither touched the storage.
    expect(fs.existsSync(path.join(fresh, 'pgdata'))).toBe(false);
  });
});

describe.each(STORAGES)('alliance start without --genesis beside an "alliance init" identity (%s)', (storage) => {
  const tmp = tempDir();
  const dataDir = path.join(tmp.dir, 'data');
  let storageFlags: string[] = [];
  let dropDb: (() => Promise<void>) | undefined;
  let node: StartedNode | undefined;

  beforeAll(async () => {
    if (storage === 'pg') {
      const pg = await createPgDatabase();
      dropDb = pg.drop;
      storageFlags = ['--database-url', pg.url];
    }
  });
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await dropDb?.();
    tmp.remove();
  });

  it('refuses with GENESIS_REQUIRED instead of founding a development alliance around the member', async () => {
    const init = await runCli(['init', '--member-id', 'acme', '--name', 'Acme', '--kind', 'PLATFORM', '--data-dir', dataDir]);
    expect(init.code, init.stderr).toBe(0);
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['start', '--data-dir', dataDir, ...storageFlags, ...P2P, '--http', '127.0.0.1:0']);
      expect(r.code).toBe(1);
      expect(r.stdout).not.toContain('ready');
      expect(r.stderr).toMatch(/holds the identity of member acme \(alliance init\) and no roster yet: start it with --genesis FILE.*\[GENESIS_REQUIRED\]/);
    }
    // Nothing of a development alliance was made.
    expect(fs.existsSync(path.join(dataDir, 'keys', 'dev-admin.jwk'))).toBe(false);
    expect(loadEpochKeys(dataDir)).toEqual([]);
    const exported = await runCli(['admin', 'export', '--data-dir', dataDir, ...storageFlags]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe('');
    expect(exported.stderr).toContain('the roster is empty');
  });

  it('the same data directory then joins its real alliance with --genesis', async () => {
    const request = JSON.parse((await runCli(['init', '--print', '--data-dir', dataDir])).stdout) as MembershipRequest;
    const A = [await newTestAdmin('one')];
    const chain = [await genesisText('acme-alliance', A, 1)];
    let state = await applyEntry(null, chain[0]!);
    for (const p of [
      { type: 'member.add', body: request },
      { type: 'epoch.new', body: await epochBody('acme-alliance', 1, [request]) },
    ] as const) {
      const text = await nextText(state, p, A);
      chain.push(text);
      state = await applyEntry(state, text);
    }
    const logFile = path.join(tmp.dir, 'roster.jsonl');
    fs.writeFileSync(logFile, chain.map((c) => `${c}\n`).join(''));
    node = await startNodeProcess(['--data-dir', dataDir, ...storageFlags, ...P2P, '--genesis', logFile]);
    expect(node.stdout).toContain('alliance acme-alliance, member acme, epoch 1\n');
    expect(loadEpochKeys(dataDir).map((k) => [k.alliance, k.epoch])).toEqual([['acme-alliance', 1]]);
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    node = undefined;
    // And it keeps starting without --genesis: the roster is there now.
    node = await startNodeProcess(['--data-dir', dataDir, ...storageFlags, ...P2P]);
    expect(node.stdout).toContain('alliance acme-alliance, member acme, epoch 1\n');
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    node = undefined;
  }, 60_000);
});
