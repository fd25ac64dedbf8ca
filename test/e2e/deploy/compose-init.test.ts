/**
 * The Docker Compose deployment without Docker: scripts/deploy/init-compose.ts writes the keys and
 * roster log of the three-member alliance; the three members then run as real `alliance start`
 * processes from exactly those data directories and that genesis, each on its own fresh PostgreSQL
 * database, as the compose file runs them. Only the addresses differ: the script's --addr gives the
 * roster loopback addresses instead of /dns4/node-a/tcp/4001, which resolve on the compose network
 * only. docker-compose.yml and the Dockerfile are checked as text against the script and the config.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, REPO_ROOT, runCli, startNodeProcess, tempDir, waitForExit, type StartedNode } from '../../helpers/cli.ts';
import { eventually, FAST_EXCHANGE_ENV } from '../../helpers/alliance.ts';
import { freePort } from '../../../scripts/lib/net.ts';
import { createPgDatabase } from '../../helpers/storage.ts';
import { gqlAt } from '../../helpers/api.ts';
import { replay, type RosterState } from '../../../node/membership/roster.ts';
import { COMPOSE_MEMBERS, CONTAINER_P2P_PORT, GENESIS_FILE, OUTPUT_ENTRIES, SWARM_KEY_FILE } from '../../../scripts/deploy/init-compose.ts';

const SCRIPT = path.join(REPO_ROOT, 'scripts/deploy/init-compose.ts');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the init script with the Node that runs the tests (24), in a clean environment. */
async function runInit(args: string[], timeoutMs = 200_000): Promise<Result> {
  const child = spawn(process.execPath, [SCRIPT, ...args], { cwd: REPO_ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const { code } = await waitForExit(child, timeoutMs);
  return { code, stdout, stderr };
}

function rosterOf(out: string): Promise<RosterState> {
  return replay(fs.readFileSync(path.join(out, GENESIS_FILE), 'utf8').split('\n').filter((l) => l !== ''));
}

function snapshot(out: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else files[path.relative(out, p)] = fs.readFileSync(p, 'utf8');
    }
  };
  walk(out);
  return files;
}

const LOOKUP = /* GraphQL */ `
  query ($ids: [IdentifierInput!]!) {
    lookup(identifiers: $ids) { results { canonical matches { member { id name kind } status confidence } } }
  }
`;
const CREATE = /* GraphQL */ `mutation ($input: RecordInput!) { createRecord(input: $input) { id } }`;
const NETWORK = /* GraphQL */ `{ network { peers { memberId connected } } }`;

describe('init-compose.ts: the compose alliance, run as three processes on loopback PostgreSQL', () => {
  let root: { dir: string; remove: () => void };
  let out: string;
  const p2pPorts = new Map<string, number>();
  const nodes = new Map<string, StartedNode>();
  const databases: Array<{ url: string; drop: () => Promise<void> }> = [];
  let init: Result;

  beforeAll(async () => {
    root = tempDir('alliance-compose-');
    out = path.join(root.dir, 'deploy');
    for (const m of COMPOSE_MEMBERS) p2pPorts.set(m.service, await freePort());
    init = await runInit(['--out', out, '--swarm-key', ...COMPOSE_MEMBERS.flatMap((m) => ['--addr', `${m.service}=/ip4/127.0.0.1/tcp/${p2pPorts.get(m.service)}`])]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((n) => n.stop().catch(() => undefined)));
    for (const db of databases) await db.drop().catch(() => undefined);
    root?.remove();
  });

  it('writes the layout docker-compose.yml mounts: admin/, alliance/genesis.jsonl, one data directory per member', async () => {
    expect(init.code, init.stderr).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual([...OUTPUT_ENTRIES].sort());
    for (const m of COMPOSE_MEMBERS) {
      const identity = path.join(out, m.service, 'keys', 'member.json');
      expect(fs.statSync(identity).mode & 0o777).toBe(0o600);
      expect(init.stdout).toContain(`${m.id}: peer 12D3KooW`);
    }
    expect(fs.statSync(path.join(out, 'admin', 'admin.key')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(out, SWARM_KEY_FILE), 'utf8')).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n?$/);

    const roster = await rosterOf(out);
    expect(roster).toMatchObject({ alliance: 'compose-alliance', name: 'Compose Alliance', seq: 4, quorum: 1, epoch: 1, rekeyNeeded: false });
    const adminPublic = JSON.parse(fs.readFileSync(path.join(out, 'admin', 'admin.pub.json'), 'utf8')) as { kid: string };
    expect(roster.admins.map((a) => a.kid)).toEqual([adminPublic.kid]);
    expect(roster.members.map((m) => [m.id, m.name, m.kind, m.status, m.addrs])).toEqual(
      COMPOSE_MEMBERS.map((m) => [m.id, m.name, m.kind, 'ACTIVE', [`/ip4/127.0.0.1/tcp/${p2pPorts.get(m.service)}`]]),
    );
    expect(Object.keys(roster.epochKeys).sort()).toEqual(COMPOSE_MEMBERS.map((m) => m.id).sort());
    // The staging directory is gone.
    expect(fs.readdirSync(out).filter((e) => e.startsWith('.'))).toEqual([]);
  });

  it('the members start from their data directories and the genesis, connect and find each other\'s records', async () => {
    expect(init.code, init.stderr).toBe(0);
    for (const m of COMPOSE_MEMBERS) {
      const db = await createPgDatabase();
      databases.push(db);
      const node = await startNodeProcess(['--data-dir', path.join(out, m.service), '--genesis', path.join(out, GENESIS_FILE)], {
        env: {
          ...FAST_EXCHANGE_ENV,
          DATABASE_URL: db.url,
          ALLIANCE_P2P: `/ip4/127.0.0.1/tcp/${p2pPorts.get(m.service)}`,
          ALLIANCE_P2P_PSK: path.join(out, SWARM_KEY_FILE),
        },
        timeoutMs: 60_000,
      });
      nodes.set(m.service, node);
      expect(node.stdout).toContain('storage: PostgreSQL');
      expect(node.stdout).toMatch(new RegExp(`alliance compose-alliance, member ${m.id}\\b.*epoch 1`));
    }
    const token = async (service: string, role: string) => {
      const r = await runCli(['token', '--role', role, '--data-dir', path.join(out, service)]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const [a, b, c] = COMPOSE_MEMBERS.map((m) => nodes.get(m.service)!);
    const trustB = await token('node-b', 'trust');
    const trustC = await token('node-c', 'trust');

    // Every member dials the others at the addresses the script put in the roster.
    await eventually(async () => {
      const r = await gqlAt<{ network: { peers: Array<{ memberId: string; connected: boolean }> } }>(b!.url, NETWORK, {}, trustB);
      return r.body.data?.network.peers.filter((p) => p.connected).length === 2;
    }, 30_000, 'node-b connected to both other members');

    const created = await gqlAt(a!.url, CREATE, {
      input: {
        kind: 'SELLER',
        name: 'Harbour Street Outlet',
        identifiers: [{ type: 'PHONE', value: '+1 202 555 0142' }, { type: 'EMAIL', value: 'outlet.seller@example.com' }],
        categories: ['COUNTERFEIT'],
        status: 'CONFIRMED',
        confidence: 90,
      },
    }, await token('node-a', 'analyst'));
    expect(created.body.errors, JSON.stringify(created.body.errors)).toBeUndefined();

    const ids = [{ type: 'PHONE', value: '+12025550142' }, { type: 'EMAIL', value: 'Outlet.Seller@example.com' }];
    type Lookup = { lookup: { results: Array<{ matches: Array<{ member: { id: string; name: string; kind: string }; status: string; confidence: number }> }> } };
    for (const [node, trust] of [[b!, trustB], [c!, trustC]] as const) {
      let last: Lookup | null | undefined;
      await eventually(async () => {
        last = (await gqlAt<Lookup>(node.url, LOOKUP, { ids }, trust)).body.data;
        return last?.lookup.results.every((r) => r.matches.length > 0) ?? false;
      }, 30_000, "platform-a's indicators at another member");
      for (const r of last!.lookup.results) {
        expect(r.matches).toEqual([{ member: { id: 'platform-a', name: 'Platform A', kind: 'PLATFORM' }, status: 'CONFIRMED', confidence: 90 }]);
      }
    }
  }, 240_000);

  it("the image's HEALTHCHECK command passes against a ready node and fails without one", async () => {
    const node = nodes.get('node-a');
    expect(node, 'node-a runs (previous test)').toBeDefined();
    const script = healthcheckScript();
    const port = new URL(node!.url).port;
    const check = (http: string) => {
      const child = spawn(process.execPath, ['-e', script], { env: cliEnv({ ALLIANCE_HTTP: http }), stdio: 'ignore' });
      return waitForExit(child, 20_000);
    };
    expect(await check(`0.0.0.0:${port}`)).toEqual({ code: 0, signal: null });
    expect(await check(`0.0.0.0:${await freePort()}`)).toEqual({ code: 1, signal: null });
  }, 60_000);

  it('refuses to overwrite an initialised output without --force, and leaves it as it was', async () => {
    expect(init.code, init.stderr).toBe(0);
    const before = snapshot(out);
    const r = await runInit(['--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already holds a compose alliance \(admin, alliance, node-a, node-b, node-c; member keys in .*node-a\/keys\/member\.json.*keys are never overwritten.*--force.*\[DEPLOY_EXISTS\]/s);
    expect(snapshot(out)).toEqual(before);
  }, 60_000);

  it('a --force run whose step the CLI refuses fails (exit 1, STEP_FAILED with the reason) and keeps the alliance it was to replace', async () => {
    expect(init.code, init.stderr).toBe(0);
    const before = snapshot(out);
    const r = await runInit(['--out', out, '--force', '--alliance', 'not an id!']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"alliance admin genesis .*" failed \(exit status 2\):\nalliance admin genesis: --alliance "not an id!" must be 1-128 letters.*\[STEP_FAILED\]/s);
    expect(snapshot(out)).toEqual(before);
    expect(fs.readdirSync(out).filter((e) => e.startsWith('.'))).toEqual([]);
  }, 120_000);

  it('--force replaces it with a new alliance whose members the compose network dials by service name', async () => {
    const old = await rosterOf(out);
    const r = await runInit(['--out', out, '--force']);
    expect(r.code, r.stderr).toBe(0);
    const roster = await rosterOf(out);
    expect(roster.members.map((m) => [m.id, m.addrs])).toEqual(COMPOSE_MEMBERS.map((m) => [m.id, [`/dns4/${m.service}/tcp/${CONTAINER_P2P_PORT}`]]));
    for (const m of roster.members) expect(m.peerId).not.toBe(old.members.find((o) => o.id === m.id)!.peerId);
    expect(roster.head).not.toBe(old.head);
    // Without --swarm-key this time: the old key went with the old alliance.
    expect(fs.existsSync(path.join(out, SWARM_KEY_FILE))).toBe(false);
  }, 240_000);
});

describe('init-compose.ts: bad input', () => {
  let root: { dir: string; remove: () => void };
  beforeAll(() => {
    root = tempDir('alliance-compose-bad-');
  });
  afterAll(() => root.remove());

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['stray'], /Unexpected argument 'stray'|does not take positional arguments/],
    [['--addr', 'node-x=/ip4/127.0.0.1/tcp/4001'], /--addr "node-x=\/ip4\/127\.0\.0\.1\/tcp\/4001": expected SERVICE=MULTIADDR with SERVICE one of node-a, node-b, node-c/],
    [['--addr', '/dns4/node-a/tcp/4001'], /expected SERVICE=MULTIADDR/],
    [['--addr', 'node-a=nonsense'], /--addr node-a: "nonsense" is not a usable multiaddr/],
    [['--addr', 'node-a=/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWKeQ1FHWECx2wMANGnhfAVD6kUjMwM52aG7B9cyqvrxab'], /without \/p2p\/<peer id>/],
    [['--addr', 'node-a=/ip4/127.0.0.1/tcp/1', '--addr', 'node-a=/ip4/127.0.0.1/tcp/2'], /--addr given twice for node-a/],
    [['--chown', 'node'], /--chown "node" is not UID:GID/],
    [['--out', ''], /--out needs a directory/],
  ])('%j is a usage error (exit 2) that writes nothing', async (args, message) => {
    const out = path.join(root.dir, 'deploy');
    const r = await runInit(args.includes('--out') ? args : ['--out', out, ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: node scripts/deploy/init-compose.ts');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await runInit(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: node scripts\/deploy\/init-compose\.ts/);
    expect(r.stdout).toContain('node-a (platform-a, PLATFORM)');
  });
});

/** The JavaScript the Dockerfile's HEALTHCHECK runs with `node -e`. */
function healthcheckScript(): string {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, '');
  const m = /^HEALTHCHECK .*CMD (\[.*\])$/m.exec(dockerfile);
  expect(m, 'HEALTHCHECK ... CMD [exec form]').not.toBeNull();
  const cmd = JSON.parse(m![1]!) as string[];
  expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
  expect(cmd[2]).toContain('/readyz');
  return cmd[2]!;
}
