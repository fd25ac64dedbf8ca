#!/usr/bin/env node
/**
 * Creates what the three-member alliance of docker-compose.yml starts from, with the project's own
 * CLI, the way the admins and members of a real alliance would do it by hand (README "Deploying with
 * Docker Compose"):
 *
 *   alliance admin keygen        one admin key (quorum 1)
 *   alliance init  (x3)          each member's identity in its data directory, with the address the
 *                                others dial: /dns4/<compose service>/tcp/4001
 *   alliance admin genesis/propose/sign
 *                                genesis, member.add for each member, then epoch.new: the roster log
 *                                every node is started with (--genesis)
 *   alliance admin swarm-key     (with --swarm-key) the private-network key
 *
 * Output layout under --out (default ./deploy), matching the compose file's mounts:
 *
 *   admin/            admin key (private), its public key, the requests and signed proposals; never mounted
 *   alliance/         genesis.jsonl (+ swarm.key): mounted read-only into every node at /alliance
 *   node-a/ node-b/ node-c/   each member's data directory (keys/member.json): mounted at /data
 *
 * Everything is made in a staging directory inside --out and moved into place at the end, so a failed
 * run leaves nothing behind. Existing output is never overwritten without --force.
 *
 * Run with Node 24: `npx node scripts/deploy/init-compose.ts` in a checkout after `npm ci`, or in the
 * image: `docker run --rm --entrypoint node -v "$PWD/deploy:/deploy" alliance-node scripts/deploy/init-compose.ts --out /deploy`.
 * Exit status: 0 done, 1 failure (e.g. DEPLOY_EXISTS), 2 usage.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { multiaddr } from '@multiformats/multiaddr';
import { AllianceError } from '../../node/errors.ts';
import { EXIT, UsageError } from '../../node/cli/errors.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(REPO_ROOT, 'node/cli/bin.ts');

/** The members of the compose alliance: compose service name (= host name on its network) and roster profile. */
export const COMPOSE_MEMBERS = [
  { service: 'node-a', id: 'platform-a', name: 'Platform A', kind: 'PLATFORM' },
  { service: 'node-b', id: 'brand-b', name: 'Brand B', kind: 'RIGHTS_HOLDER' },
  { service: 'node-c', id: 'agency-c', name: 'Agency C', kind: 'ENFORCEMENT' },
] as const;

/** The libp2p port every node listens on inside its container (ALLIANCE_P2P in the image). */
export const CONTAINER_P2P_PORT = 4001;

/** The user the image runs as (the official Node image's "node" user), unless ALLIANCE_UID says otherwise. */
export const CONTAINER_UID = 1000;

/** Entries of --out this script creates; any of them existing means the alliance was initialised. */
export const OUTPUT_ENTRIES = ['admin', 'alliance', ...COMPOSE_MEMBERS.map((m) => m.service)] as const;

/** The roster log file every node starts with, relative to --out. */
export const GENESIS_FILE = 'alliance/genesis.jsonl';
export const SWARM_KEY_FILE = 'alliance/swarm.key';

export type DeployErrorCode = 'DEPLOY_EXISTS' | 'STEP_FAILED' | 'CHOWN_FAILED';

/** A refusal or failure of the init script: exit status 1. */
export class DeployError extends AllianceError {
  declare readonly code: DeployErrorCode;
  constructor(code: DeployErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

const USAGE = `Usage: node scripts/deploy/init-compose.ts [--out DIR] [--alliance ID] [--name NAME]
                                      [--addr SERVICE=MULTIADDR ...] [--swarm-key]
                                      [--chown UID:GID] [--force]

Creates the admin key, the three member identities and the roster log (genesis, member.add x3,
epoch.new) that docker-compose.yml starts its nodes with. Members: ${COMPOSE_MEMBERS.map((m) => `${m.service} (${m.id}, ${m.kind})`).join(', ')}.

Options:
  --out DIR                 output directory (default ./deploy; docker-compose.yml reads
                            \${ALLIANCE_DEPLOY_DIR:-./deploy})
  --alliance ID             alliance id (default compose-alliance)
  --name NAME               alliance display name (default "Compose Alliance")
  --addr SERVICE=MULTIADDR  the address the other members dial for SERVICE, instead of
                            /dns4/SERVICE/tcp/${CONTAINER_P2P_PORT} (repeatable, one per service)
  --swarm-key               also create alliance/swarm.key (start nodes with ALLIANCE_P2P_PSK)
  --chown UID:GID           hand the node directories and alliance/ to this owner (the containers'
                            user, 1000:1000 by default); needs root
  --force                   replace an existing output (a new alliance: remove the old databases
                            too, docker-compose down -v)
`;

export interface InitOptions {
  out: string;
  alliance: string;
  name: string;
  addrs: Record<string, string>;
  swarmKey: boolean;
  chown: { uid: number; gid: number } | undefined;
  force: boolean;
}

export function parseOptions(argv: string[]): InitOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        alliance: { type: 'string' },
        name: { type: 'string' },
        addr: { type: 'string', multiple: true },
        'swarm-key': { type: 'boolean' },
        chown: { type: 'string' },
        force: { type: 'boolean' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.out === '') throw new UsageError('--out needs a directory');
  const addrs: Record<string, string> = Object.fromEntries(COMPOSE_MEMBERS.map((m) => [m.service, `/dns4/${m.service}/tcp/${CONTAINER_P2P_PORT}`]));
  const overridden = new Set<string>();
  for (const item of v.addr ?? []) {
    const eq = item.indexOf('=');
    const service = eq < 0 ? '' : item.slice(0, eq);
    const addr = eq < 0 ? '' : item.slice(eq + 1);
    if (!Object.hasOwn(addrs, service)) {
      throw new UsageError(`--addr ${JSON.stringify(item)}: expected SERVICE=MULTIADDR with SERVICE one of ${COMPOSE_MEMBERS.map((m) => m.service).join(', ')}`);
    }
    if (overridden.has(service)) throw new UsageError(`--addr given twice for ${service}`);
    try {
      const ma = multiaddr(addr);
      if (ma.getComponents().some((c) => c.name === 'p2p')) throw new Error('without /p2p/<peer id>: the roster adds it');
    } catch (err) {
      throw new UsageError(`--addr ${service}: ${JSON.stringify(addr)} is not a usable multiaddr (${(err as Error).message})`);
    }
    overridden.add(service);
    addrs[service] = addr;
  }
  let chown: InitOptions['chown'];
  if (v.chown !== undefined) {
    const m = /^(\d{1,10}):(\d{1,10})$/.exec(v.chown);
    if (!m) throw new UsageError(`--chown ${JSON.stringify(v.chown)} is not UID:GID (numbers, e.g. 1000:1000)`);
    chown = { uid: Number(m[1]), gid: Number(m[2]) };
  }
  return {
    out: path.resolve(v.out ?? 'deploy'),
    alliance: v.alliance ?? 'compose-alliance',
    name: v.name ?? 'Compose Alliance',
    addrs,
    swarmKey: v['swarm-key'] ?? false,
    chown,
    force: v.force ?? false,
  };
}

/**
 * Where the `alliance` commands share Node's compile cache: a dozen of them load the same modules,
 * and the cache saves about a third of each one's start-up. Set by initCompose, inside its staging
 * directory, so that it goes with it.
 */
let compileCache: string | undefined;

/** Runs one `alliance` command; its stdout, or STEP_FAILED with what it printed on stderr. */
function alliance(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = compileCache === undefined || process.env.NODE_COMPILE_CACHE ? process.env : { ...process.env, NODE_COMPILE_CACHE: compileCache };
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new DeployError('STEP_FAILED', `"alliance ${args.join(' ')}" failed (exit status ${code}):\n${stderr.trim()}`, { step: args.slice(0, 2).join(' ') }));
    });
  });
}

/** Appends a fully signed proposal file to the roster log, as a node applying it would. */
function append(log: string, proposal: string): void {
  fs.appendFileSync(log, fs.readFileSync(proposal, 'utf8'));
}

async function proposeAndSign(stage: string, seq: number, label: string, args: string[]): Promise<void> {
  const log = path.join(stage, GENESIS_FILE);
  const file = path.join(stage, 'admin', 'proposals', `${seq}-${label}.json`);
  await alliance(['admin', 'propose', '--roster', log, ...args, '--out', file]);
  await alliance(['admin', 'sign', file, '--key', path.join(stage, 'admin', 'admin.key'), '--roster', log]);
  append(log, file);
}

/** Builds the whole output in `stage` (a fresh directory). */
async function build(stage: string, opts: InitOptions): Promise<Array<{ service: string; id: string; peerId: string; addr: string }>> {
  const admin = (f: string) => path.join(stage, 'admin', f);
  fs.mkdirSync(path.join(stage, 'admin', 'requests'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(stage, 'admin', 'proposals'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(stage, 'alliance'), { recursive: true, mode: 0o755 });

  // The admin key and the members' identities do not depend on each other.
  const [adminPublic, ...requests] = await Promise.all([
    alliance(['admin', 'keygen', '--out', admin('admin.key'), '--name', `${opts.name} admin`]),
    ...COMPOSE_MEMBERS.map((m) =>
      alliance(['init', '--member-id', m.id, '--name', m.name, '--kind', m.kind, '--addr', opts.addrs[m.service]!, '--data-dir', path.join(stage, m.service)]),
    ),
  ]);
  fs.writeFileSync(admin('admin.pub.json'), adminPublic);
  const members = COMPOSE_MEMBERS.map((m, i) => {
    fs.writeFileSync(admin(`requests/${m.id}.json`), requests[i]!);
    const request = JSON.parse(requests[i]!) as { peerId: string };
    return { service: m.service, id: m.id, peerId: request.peerId, addr: opts.addrs[m.service]! };
  });

  const genesis = admin('proposals/0-genesis.json');
  await alliance(['admin', 'genesis', '--alliance', opts.alliance, '--name', opts.name, '--admin', admin('admin.pub.json'), '--quorum', '1', '--out', genesis]);
  await alliance(['admin', 'sign', genesis, '--key', admin('admin.key')]);
  fs.writeFileSync(path.join(stage, GENESIS_FILE), '');
  append(path.join(stage, GENESIS_FILE), genesis);
  let seq = 1;
  for (const m of COMPOSE_MEMBERS) {
    await proposeAndSign(stage, seq++, `member.add-${m.id}`, ['--type', 'member.add', '--request', admin(`requests/${m.id}.json`)]);
  }
  await proposeAndSign(stage, seq++, 'epoch.new', ['--type', 'epoch.new', '--reason', 'first epoch key of the compose alliance']);
  if (opts.swarmKey) await alliance(['admin', 'swarm-key', '--out', path.join(stage, SWARM_KEY_FILE)]);
  return members;
}

function chownTree(target: string, uid: number, gid: number): void {
  fs.chownSync(target, uid, gid);
  if (!fs.statSync(target).isDirectory()) return;
  for (const name of fs.readdirSync(target)) chownTree(path.join(target, name), uid, gid);
}

export async function initCompose(opts: InitOptions): Promise<string> {
  const existing = OUTPUT_ENTRIES.filter((e) => fs.existsSync(path.join(opts.out, e)));
  if (existing.length > 0 && !opts.force) {
    const keys = COMPOSE_MEMBERS.map((m) => path.join(opts.out, m.service, 'keys', 'member.json')).filter((f) => fs.existsSync(f));
    throw new DeployError(
      'DEPLOY_EXISTS',
      `${opts.out} already holds a compose alliance (${existing.join(', ')}${keys.length ? `; member keys in ${keys.join(', ')}` : ''}): ` +
        'keys are never overwritten. Keep it, or pass --force to replace it with a new alliance ' +
        '(then also remove the old databases: docker-compose down -v).',
      { existing },
    );
  }
  fs.mkdirSync(opts.out, { recursive: true });
  const stage = path.join(opts.out, `.init-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(stage, { mode: 0o700 });
  let members;
  try {
    compileCache = path.join(stage, '.compile-cache');
    members = await build(stage, opts);
    if (opts.chown) {
      const { uid, gid } = opts.chown;
      try {
        for (const e of ['alliance', ...COMPOSE_MEMBERS.map((m) => m.service)]) chownTree(path.join(stage, e), uid, gid);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new DeployError('CHOWN_FAILED', `--chown ${uid}:${gid}: ${code === 'EPERM' ? 'not permitted (run as root, or leave --chown out and see the hint below)' : (err as Error).message}`);
      }
    }
    // Only now is anything of an old alliance removed: a failed --force run keeps it.
    for (const e of existing) fs.rmSync(path.join(opts.out, e), { recursive: true, force: true });
    for (const e of OUTPUT_ENTRIES) fs.renameSync(path.join(stage, e), path.join(opts.out, e));
  } finally {
    compileCache = undefined;
    fs.rmSync(stage, { recursive: true, force: true });
  }
  return summary(opts, members);
}

function summary(opts: InitOptions, members: Array<{ service: string; id: string; peerId: string; addr: string }>): string {
  const rel = path.relative(process.cwd(), opts.out);
  // Relative to where the operator is when that is shorter, as they would type it.
  const shown = rel === '' ? '.' : rel.startsWith('..') ? opts.out : rel;
  const files: Array<[string, string]> = [
    [`${shown}/${GENESIS_FILE}`, `roster log (genesis, ${members.length} members, epoch 1): every node's --genesis`],
    [`${shown}/admin/admin.key`, 'the admin key: keep it off the nodes, back it up'],
    ...members.map((m): [string, string] => [`${shown}/${m.service}/`, `${m.id}: peer ${m.peerId}, dialed at ${m.addr}`]),
  ];
  if (opts.swarmKey) files.push([`${shown}/${SWARM_KEY_FILE}`, 'private-network key: set ALLIANCE_P2P_PSK=/alliance/swarm.key (e.g. in .env)']);
  const width = Math.max(...files.map(([f]) => f.length));
  const lines = [`Compose alliance ${opts.alliance} written to ${shown}/:`, ...files.map(([f, what]) => `  ${f.padEnd(width)}  ${what}`)];
  lines.push('Back up the node directories: keys/member.json is each member\'s identity and cannot be recreated.');
  const owner = opts.chown?.uid ?? process.getuid?.();
  if (owner !== undefined && owner !== CONTAINER_UID) {
    const dirs = [...members.map((m) => `${shown}/${m.service}`), `${shown}/alliance`].join(' ');
    const handOver = `chown -R ${CONTAINER_UID}:${CONTAINER_UID} ${dirs}`;
    lines.push(
      owner === 0
        ? `These files belong to root; the containers run as uid ${CONTAINER_UID}: ${handOver} (or run this script with --chown ${CONTAINER_UID}:${CONTAINER_UID})`
        : `These files belong to uid ${owner}; the containers run as uid ${CONTAINER_UID} unless told otherwise: put ALLIANCE_UID=${owner} and ALLIANCE_GID=${opts.chown?.gid ?? process.getgid?.()} ` +
            `in .env next to docker-compose.yml, or hand them over: sudo ${handOver}`,
    );
  }
  lines.push('Next: docker-compose up -d');
  return `${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    process.stdout.write(await initCompose(parseOptions(argv)));
    return EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`init-compose: ${err.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (err instanceof AllianceError) {
      process.stderr.write(`init-compose: ${err.message} [${err.code}]\n`);
      return EXIT.failure;
    }
    process.stderr.write(`init-compose: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.failure;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
