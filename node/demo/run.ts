/**
 * Runs the demo alliance in this process: founds it on the first run (found.ts), starts the three
 * member nodes over embedded storage with the roster log as their genesis, seeds each member's
 * records through the record import on the first run, waits until the exchange has converged, and
 * hands back what the user needs (summary.ts). Later runs start the same alliance again from the
 * demo directory, unseeded records excepted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config, type LogLevel } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { startNode } from '../node.ts';
import { issueToken, loadOrCreateApiKey } from '../api/tokens.ts';
import { importRecords } from '../records/import.ts';
import { DirLock } from '../storage/lockfile.ts';
import { isAllianceError } from '../errors.ts';
import { DEMO_MEMBERS, type DemoMember } from './members.ts';
import { DEFAULT_SEED, demoExamples, generateDemoData, type DemoData } from './data.ts';
import { adminKeyFile, DEMO_ALLIANCE_ID, DEMO_ALLIANCE_NAME, demoLayout, foundDemoAlliance, isFounded, memberDataDir } from './found.ts';
import { clearDemoDir, isEmptyDemoDir, LOCK_FILE, readState, SUMMARY_FILE, writeState, type DemoState } from './state.ts';
import { waitForConvergence, type MemberNode } from './convergence.ts';
import { DemoError } from './errors.ts';
import { writeFileAtomic } from './files.ts';
import { prepareMemberStorage } from './storage.ts';
import { DEMO_DEFAULTS } from './defaults.ts';
import { inUseFailure, isPortFree, requireListenable } from '../ports.ts';
import { formatSummary, lookupCli, lookupCurl, matchesCurl, summaryJson, type DemoSummary } from './summary.ts';

export interface DemoOptions {
  dir: string;
  records: number;
  httpPort: number;
  fresh: boolean;
  logLevel: LogLevel;
  /** How long to wait for the exchange to converge. */
  convergeTimeoutMs?: number;
}

export interface DemoHooks {
  /** Aborting stops the demo: during start-up once the current step is done. */
  signal?: AbortSignal;
  /** One line of progress for a person (stderr). */
  progress?: (line: string) => void;
}

export interface RunningDemo {
  summary: DemoSummary;
  /** The text printed when ready. */
  text: string;
  stop(): Promise<void>;
}

/** Settings a demo node never takes from the environment: it has its own storage, addresses, genesis. */
const NODE_ENV_OWN = ['DATABASE_URL', 'ALLIANCE_DATA_DIR', 'ALLIANCE_HTTP', 'ALLIANCE_P2P', 'ALLIANCE_GENESIS', 'ALLIANCE_ADMIN_KEY'];

/** Faster than a production node's defaults, so a fresh demo converges in seconds. */
const DEMO_EXCHANGE_ENV: Record<string, string> = {
  ALLIANCE_PUBLISH_WINDOW_MS: '50',
  ALLIANCE_HEADS_INTERVAL_MS: '2000',
};

const SEED_ACTOR = { sub: 'demo-seed', role: 'analyst' };

/** Starts the demo; undefined if `hooks.signal` aborted it during start-up (everything is stopped again). */
export async function runDemo(opts: DemoOptions, hooks: DemoHooks = {}): Promise<RunningDemo | undefined> {
  const started = Date.now();
  const progress = hooks.progress ?? (() => undefined);
  const dir = path.resolve(opts.dir);
  const memberIds = DEMO_MEMBERS.map((m) => m.id);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = acquireDemoLock(dir);
  const nodes: MemberNode[] = [];
  const stopAll = async () => {
    // In reverse: the last one started is the one most likely to be mid-way.
    const errors: unknown[] = [];
    for (const n of [...nodes].reverse()) await n.node.stop().catch((err: unknown) => errors.push(err));
    nodes.length = 0;
    lock.release();
    if (errors.length > 0) throw errors[0];
  };
  try {
    let state = readState(dir);
    if (opts.fresh) {
      progress(`--fresh: removing the demo in ${dir}`);
      clearDemoDir(dir, memberIds);
      state = undefined;
    } else if (state === undefined && !isEmptyDemoDir(dir)) {
      // An earlier first run stopped before the founding was recorded: it is made again.
      clearDemoDir(dir, memberIds);
      progress(`the demo in ${dir} was interrupted while being set up: starting it over`);
    }
    if (state !== undefined && !isFounded(dir, state.members.map((m) => m.id))) {
      throw new DemoError('DEMO_DIR_INVALID', `the demo in ${dir} is incomplete (member keys or roster missing): start over with --fresh`, { dir });
    }

    const httpPorts = DEMO_MEMBERS.map((_, i) => opts.httpPort + i);
    await requireFree(httpPorts.map((port, i) => ({ port, what: `HTTP port ${port} (${DEMO_MEMBERS[i]!.id})`, fix: 'pass --http-port BASE to use BASE, BASE+1 and BASE+2' })));
    let p2pPorts: number[];
    if (state === undefined) {
      p2pPorts = await newP2pPorts(opts.httpPort + DEMO_DEFAULTS.p2pOffset, DEMO_MEMBERS.length, httpPorts);
      progress(`founding the alliance ${DEMO_ALLIANCE_ID}: admin keys, member identities, genesis signed by 2 admins, members admitted, first epoch key`);
      await foundDemoAlliance(
        dir,
        DEMO_MEMBERS.map((m, i) => ({ ...m, p2pPort: p2pPorts[i]! })),
      );
      progress('creating the embedded databases');
      await prepareMemberStorage(memberIds.map((id) => memberDataDir(dir, id)), loadConfig({}).pgliteTemplate);
      state = {
        v: 1,
        alliance: DEMO_ALLIANCE_ID,
        records: opts.records,
        seed: DEFAULT_SEED,
        members: DEMO_MEMBERS.map((m, i) => ({ id: m.id, p2pPort: p2pPorts[i]! })),
        foundedAt: new Date().toISOString(),
      };
      writeState(dir, state);
    } else {
      const s = state;
      p2pPorts = DEMO_MEMBERS.map((m) => {
        const p = s.members.find((x) => x.id === m.id)?.p2pPort;
        if (p === undefined) throw new DemoError('DEMO_DIR_INVALID', `${dir} has no member ${m.id}: start over with --fresh`, { dir });
        return p;
      });
      await requireFree(p2pPorts.map((port, i) => ({ port, what: `P2P port ${port} (${DEMO_MEMBERS[i]!.id}, listed in the alliance roster)`, fix: 'stop whatever listens there, or start over with --fresh' })));
    }
    if (hooks.signal?.aborted) return void (await stopAll());

    const logger = createLogger(opts.logLevel);
    // All at once: opening embedded storage is mostly waiting, and each node dials the others as soon
    // as it listens.
    const starting = DEMO_MEMBERS.map(async (member, i) => {
      progress(`starting ${member.id} (${member.kind}): GraphQL on 127.0.0.1:${httpPorts[i]}, P2P on 127.0.0.1:${p2pPorts[i]}`);
      const node = await startNode(nodeConfig(dir, member, httpPorts[i]!, p2pPorts[i]!, opts.logLevel), logger.child({ member: member.id }));
      nodes.push({ id: member.id, node });
    });
    const outcomes = await Promise.allSettled(starting);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw startFailure(failed.reason);
    nodes.sort((a, b) => memberIds.indexOf(a.id) - memberIds.indexOf(b.id));
    if (hooks.signal?.aborted) return void (await stopAll());

    const seeded = await seed(nodes, state, opts, progress);
    if (hooks.signal?.aborted) return void (await stopAll());

    progress('waiting for the members to exchange their indicators');
    const timeoutMs = opts.convergeTimeoutMs ?? Math.max(120_000, state.records * 60);
    const problems = await waitForConvergence(nodes, { timeoutMs, signal: hooks.signal });
    if (hooks.signal?.aborted) return void (await stopAll());
    if (problems.length > 0) {
      throw new DemoError('DEMO_FAILED', `the exchange did not converge within ${Math.round(timeoutMs / 1000)} s: ${problems.join('; ')}`);
    }

    const summary = await summarize(nodes, dir, seeded, (Date.now() - started) / 1000, logger);
    const summaryFile = path.join(dir, SUMMARY_FILE);
    writeFileAtomic(summaryFile, summaryJson(summary));
    const shown = path.relative(process.cwd(), summaryFile);
    return { summary, text: formatSummary(summary, shown.startsWith('..') ? summaryFile : shown), stop: stopAll };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

/** A node that could not start; a port taken meanwhile (HTTP or P2P) is named as such. */
function startFailure(err: unknown): unknown {
  if (inUseFailure(err) === undefined) return err;
  return new DemoError('PORT_IN_USE', `a port the demo needs was taken while it started (${(err as Error).message.split('\n')[0]}): try again, or pass --http-port BASE`);
}

function acquireDemoLock(dir: string): DirLock {
  try {
    return DirLock.acquire(path.join(dir, LOCK_FILE));
  } catch (err) {
    if (isAllianceError(err) && err.code === 'STORAGE_LOCKED') {
      const pid = err.details?.pid;
      throw new DemoError('DEMO_RUNNING', `a demo is already running in ${dir}${typeof pid === 'number' ? ` (pid ${pid})` : ''}: stop it first (Ctrl-C), or pass another --dir`, { dir });
    }
    throw err;
  }
}

function nodeConfig(dir: string, member: DemoMember, httpPort: number, p2pPort: number, logLevel: LogLevel): Config {
  const env: Record<string, string | undefined> = { ...process.env, ...DEMO_EXCHANGE_ENV };
  for (const k of Object.keys(DEMO_EXCHANGE_ENV)) if (process.env[k]) env[k] = process.env[k];
  for (const k of NODE_ENV_OWN) delete env[k];
  // The admins' keys sit with the members that employ them, so their nodes can sign roster proposals
  // approved over GraphQL (approveRosterProposal), as a real admin's node would.
  const adminKey = adminKeyFile(dir, member.id);
  if (adminKey !== undefined) env.ALLIANCE_ADMIN_KEY = adminKey;
  return loadConfig(
    {
      dataDir: memberDataDir(dir, member.id),
      http: `127.0.0.1:${httpPort}`,
      p2p: `/ip4/127.0.0.1/tcp/${p2pPort}`,
      genesis: demoLayout(dir).rosterFile,
      logLevel,
    },
    env,
  );
}

/** Imports each member's records if its node holds none yet; true if any member was seeded. */
async function seed(nodes: MemberNode[], state: DemoState, opts: DemoOptions, progress: (line: string) => void): Promise<boolean> {
  let data: DemoData | undefined;
  let seeded = false;
  for (const n of nodes) {
    const held = await recordCount(n);
    if (held > 0) continue;
    data ??= generateDemoData({ recordsPerMember: state.records, seed: state.seed });
    const rows = data.records.get(n.id)!;
    progress(`seeding ${rows.length.toLocaleString('en-US')} records at ${n.id}`);
    const outcome = await importRecords(n.node.db, rows as unknown as Array<Record<string, unknown>>, SEED_ACTOR);
    if (!outcome.ok) {
      const first = outcome.errors[0]!;
      throw new DemoError('DEMO_FAILED', `the synthetic records of ${n.id} were refused: row ${first.row}, ${first.field}: ${first.message}`);
    }
    seeded = true;
  }
  if (!seeded && opts.records !== state.records) {
    progress(`note: this demo was seeded with ${state.records.toLocaleString('en-US')} records per member; --records applies to a new demo (--fresh)`);
  }
  return seeded;
}

async function recordCount(n: MemberNode): Promise<number> {
  return n.node.records.count();
}

async function summarize(nodes: MemberNode[], dir: string, seeded: boolean, seconds: number, logger: Logger): Promise<DemoSummary> {
  const members: DemoSummary['members'] = [];
  const urls = new Map<string, { url: string; trust: string; analyst: string }>();
  for (const n of nodes) {
    const member = DEMO_MEMBERS.find((m) => m.id === n.id)!;
    const config = nodeConfig(dir, member, 0, 0, 'silent');
    const key = await loadOrCreateApiKey(config.dataDir);
    const token = (role: 'analyst' | 'trust' | 'admin') => issueToken(key, config.auth, { role, sub: `demo-${role}`, ttlSeconds: DEMO_DEFAULTS.tokenTtlSeconds });
    const tokens = { analyst: await token('analyst'), trust: await token('trust'), admin: await token('admin') };
    members.push({ id: n.id, name: member.name, kind: member.kind, graphqlUrl: n.node.graphqlUrl, records: await recordCount(n), matches: await n.node.matches.count(), tokens });
    urls.set(n.id, { url: n.node.graphqlUrl, trust: tokens.trust, analyst: tokens.analyst });
  }
  const state = readState(dir)!;
  const examples = demoExamples({ recordsPerMember: state.records, seed: state.seed }).map((e) => {
    const at = urls.get(e.member)!;
    return { member: e.member, type: e.type, value: e.value, expect: e.expect, curl: lookupCurl(at.url, at.trust, e.type, e.value), cli: lookupCli(at.url, at.trust, e.type, e.value) };
  });
  logger.info({ members: members.map((m) => ({ id: m.id, records: m.records, matches: m.matches })) }, 'demo ready');
  const epoch = nodes[0]!.node.alliance.epoch;
  return {
    alliance: { id: nodes[0]!.node.alliance.id, name: DEMO_ALLIANCE_NAME, epoch },
    dir,
    readyInSeconds: seconds,
    seeded,
    tokenTtl: DEMO_DEFAULTS.tokenTtl,
    members,
    examples,
    matches: members.map((m) => ({ member: m.id, curl: matchesCurl(m.graphqlUrl, urls.get(m.id)!.analyst) })),
  };
}

/** PORT_IN_USE naming the first port of `ports` that something listens on (the same check as `alliance start`). */
function requireFree(ports: Array<{ port: number; what: string; fix: string }>): Promise<void> {
  return requireListenable(ports.map((p) => ({ ...p, host: '127.0.0.1' })));
}

/** `count` free ports from `from` on, skipping `taken`. */
async function newP2pPorts(from: number, count: number, taken: number[]): Promise<number[]> {
  const out: number[] = [];
  for (let port = from; out.length < count; port++) {
    if (port > 65535) throw new DemoError('PORT_IN_USE', `no free P2P ports from ${from} on: pass a lower --http-port`);
    if (!taken.includes(port) && (await isPortFree(port))) out.push(port);
  }
  return out;
}
