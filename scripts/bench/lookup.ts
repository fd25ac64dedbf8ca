/**
 * Lookup benchmark: what a trust team gets from a node holding 1 million other members' indicators
 * on PostgreSQL. Requests per second and p50/p99 latency of GraphQL `lookup` under concurrent load,
 * beside a bare Fastify route running the same database query for the same identifiers (no GraphQL,
 * token, quota, audit row or request log) in the same run.
 *
 *   npm run bench:lookup -- [--quick] [--json] [--indicators N] [--connections C] [--seconds S]
 *
 * Each request looks up 3 identifiers, 2 stored (one in ten also held by a second member) and 1
 * that no member holds, with the token of one of 32 trust subjects in turn (the node's default
 * per-subject quota applies). The node is `alliance start` in its own process, with a real roster
 * (4 members, epoch 1) and its default settings; the stored indicators are signed chains of three
 * other members (scripts/bench/lib/indicators.ts). Goal: at least 3,000 lookups/s with p99 at most
 * 20 ms. --quick: 100,000 indicators and 3 s runs.
 *
 * Needs a PostgreSQL server: ALLIANCE_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres)
 * must allow CREATE DATABASE; a fresh database is created for the run and dropped after.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrate } from '../../node/storage/migrate.ts';
import { openPg } from '../../node/storage/pg.ts';
import { foundBenchAlliance } from './lib/alliance.ts';
import { benchArgs, intFlag, progress } from './lib/cli.ts';
import { createBenchDatabase } from './lib/database.ts';
import { loadIndicators, type LoadedIndicators } from './lib/indicators.ts';
import { graphqlLookupBody as graphqlBody, lookupInputs } from './lib/lookup-requests.ts';
import { runLoad, type LoadResult } from './lib/load.ts';
import { metricSum, REPO_ROOT, startNodeProcess, type NodeProcess } from './lib/node-process.ts';
import { emit, figure, type Figure } from './report.ts';

export const GOAL_LOOKUPS_PER_SECOND = 3000;
export const GOAL_P99_MS = 20;
const SUBJECTS = 32;
const SELF = 'bench-node';
const ORIGINS = ['member-b', 'member-c', 'member-d'];

const USAGE = 'Usage: npm run bench:lookup -- [--quick] [--json] [--indicators N] [--connections C] [--seconds S]';
const args = benchArgs(USAGE, { indicators: { type: 'string' }, connections: { type: 'string' }, seconds: { type: 'string' } });
const N = intFlag('indicators', args.indicators, args.quick ? 100_000 : 1_000_000, 3000);
const CONNECTIONS = intFlag('connections', args.connections, 32);
const SECONDS = intFlag('seconds', args.seconds, args.quick ? 3 : 10);

/** The bare route's process; resolves once it listens. */
async function startBareRoute(url: string, loadedKey: Buffer): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/bench/lib/bare-lookup-server.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_DATABASE_URL: url, BENCH_EPOCH: '1', BENCH_EPOCH_KEY: loadedKey.toString('hex'), BENCH_ORIGINS: ORIGINS.join(',') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      out += s;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error('the bare lookup route exited before it listened')));
  });
  return {
    url: `http://127.0.0.1:${port}/lookup`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const json = (await res.json()) as unknown;
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** One lookup through each path before the load: stored identifiers must hit, the unknown one must not. */
async function checkAnswers(node: NodeProcess, token: string, bareUrl: string, loaded: LoadedIndicators): Promise<void> {
  const inputs = lookupInputs(loaded);
  const gql = (await post(node.graphqlUrl, graphqlBody(inputs), { authorization: `Bearer ${token}` })) as {
    data?: { lookup: { results: Array<{ matches: unknown[] }> } };
    errors?: unknown;
  };
  const results = gql.data?.lookup.results;
  if (!results || gql.errors) throw new Error(`lookup over GraphQL failed: ${JSON.stringify(gql)}`);
  if (!(results[0]!.matches.length >= 1 && results[1]!.matches.length >= 1 && results[2]!.matches.length === 0)) {
    throw new Error(`lookup over GraphQL: stored identifiers must match and the unknown one not; got ${results.map((r) => r.matches.length).join(', ')} matches`);
  }
  const bare = (await post(bareUrl, JSON.stringify({ identifiers: inputs }))) as { peer: Array<{ idx: number }> };
  const hit = (i: number) => bare.peer.some((p) => p.idx === i);
  if (!(hit(0) && hit(1) && !hit(2))) throw new Error(`bare lookup route: stored identifiers must match and the unknown one not; got ${JSON.stringify(bare.peer.map((p) => p.idx))}`);
}

async function metrics(node: NodeProcess): Promise<string> {
  return (await fetch(`${node.baseUrl}/metrics`)).text();
}

async function main(): Promise<Figure[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-bench-lookup-'));
  const database = await createBenchDatabase();
  let node: NodeProcess | undefined;
  let bare: { url: string; stop: () => Promise<void> } | undefined;
  try {
    progress(`founding a 4-member alliance, loading ${N.toLocaleString('en-US')} indicators of 3 members ...`);
    const alliance = await foundBenchAlliance(dir, [{ id: SELF }, ...ORIGINS.map((id) => ({ id }))]);
    const db = await openPg({ connectionString: database.url, max: 2 });
    await migrate(db);
    await db.close();
    const t0 = performance.now();
    const loaded = await loadIndicators({ url: database.url, alliance, origins: ORIGINS, count: N, onProgress: (n) => progress(`  ${n.toLocaleString('en-US')} indicators`) });
    progress(`  loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    node = await startNodeProcess({ dataDir: alliance.member(SELF).dataDir, databaseUrl: database.url, genesis: alliance.rosterFile });
    const tokens = await Promise.all(Array.from({ length: SUBJECTS }, (_, i) => node!.token('trust', `trust-bench-${i}`)));
    bare = await startBareRoute(database.url, alliance.epochKey.export());
    await checkAnswers(node, tokens[0]!, bare.url, loaded);

    let turn = 0;
    const graphqlLoad = (seconds: number) =>
      runLoad({
        url: node!.graphqlUrl,
        connections: CONNECTIONS,
        seconds,
        request: () => ({ body: graphqlBody(lookupInputs(loaded)), headers: { authorization: `Bearer ${tokens[turn++ % SUBJECTS]}` } }),
      });
    const bareLoad = (seconds: number) => runLoad({ url: bare!.url, connections: CONNECTIONS, seconds, request: () => ({ body: JSON.stringify({ identifiers: lookupInputs(loaded) }) }) });

    progress(`warming up both paths ...`);
    await bareLoad(Math.max(1, Math.round(SECONDS / 3)));
    await graphqlLoad(Math.max(1, Math.round(SECONDS / 3)));

    progress(`bare route: ${CONNECTIONS} connections for ${SECONDS} s ...`);
    const baseline = await bareLoad(SECONDS);
    const before = await metrics(node);
    progress(`GraphQL lookup: ${CONNECTIONS} connections for ${SECONDS} s ...`);
    const measured = await graphqlLoad(SECONDS);
    const after = await metrics(node);
    checkRun('bare route', baseline);
    checkRun('GraphQL lookup', measured);
    const delta = (name: string) => metricSum(after, name) - metricSum(before, name);
    const lookups = delta('alliance_lookups_total');
    const limited = delta('alliance_lookups_rate_limited_total');
    const errors = delta('alliance_graphql_errors_total');
    if (limited > 0 || errors > 0) throw new Error(`GraphQL lookup: ${limited} lookups refused by the quota and ${errors} GraphQL errors during the run`);
    if (lookups < measured.ok) throw new Error(`GraphQL lookup: the node counted ${lookups} lookups for ${measured.ok} answered requests`);

    const unanswered = measured.errors + baseline.errors;
    const note = `${N.toLocaleString('en-US')} indicators, 3 identifiers per lookup, ${CONNECTIONS} connections, ${SECONDS} s${unanswered > 0 ? `; ${measured.errors} GraphQL and ${baseline.errors} bare requests unanswered (errors, timeouts)` : ''}`;
    return [
      figure(`lookup over GraphQL (${N >= 1_000_000 ? `${N / 1_000_000}M` : `${N / 1000}k`} indicators)`, measured.requestsPerSecond, 'lookups/s', {
        baseline: { name: 'bare route, same SQL', value: baseline.requestsPerSecond, unit: 'lookups/s' },
        goal: { op: '>=', value: GOAL_LOOKUPS_PER_SECOND },
        note,
      }),
      figure('lookup p99', measured.p99, 'ms', { baseline: { name: 'bare route p99', value: baseline.p99, unit: 'ms' }, goal: { op: '<=', value: GOAL_P99_MS } }),
      figure('lookup p50', measured.p50, 'ms', { baseline: { name: 'bare route p50', value: baseline.p50, unit: 'ms' } }),
    ];
  } finally {
    await bare?.stop().catch(() => undefined);
    await node?.stop().catch(() => undefined);
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Wrong answers fail the bench; requests without an answer (timeouts under overload) are told in the note. */
function checkRun(what: string, r: LoadResult): void {
  if (r.ok === 0) throw new Error(`${what}: no request answered`);
  if (r.non2xx > 0) throw new Error(`${what}: ${r.non2xx} requests answered with an error status beside ${r.ok} answered`);
}

emit(await main(), { json: args.json, quick: args.quick, title: 'lookup on PostgreSQL' });
