/**
 * Footprint benchmark: memory and disk of one node holding 10 million other members' indicators on
 * PostgreSQL. Goal: the node process stays under 500 MB resident.
 *
 *   npm run bench:footprint -- [--quick] [--json] [--indicators N] [--sync N]
 *
 * The node is `alliance start` in its own process (default settings, a real 6-member roster):
 * 1. started on an empty database and left idle: its RSS is the baseline; stopped;
 * 2. N indicators of three members are written into its database as ingest leaves them
 *    (scripts/bench/lib/indicators.ts: real signed chains, bulk rows checked against ingest);
 * 3. started again, it serves lookups under load for a few seconds, then a fifth member's node comes
 *    up holding a chain of --sync indicators (default 50,000) that this node has not seen: it fetches
 *    and ingests them over libp2p (heads and sync) until its head of that member is caught up;
 * 4. its RSS (VmRSS) and high-water mark (VmHWM) are read from /proc, and the on-disk size of the
 *    indicator and batch tables (pg_total_relation_size: heap, indexes and TOAST) per indicator.
 * --quick: 200,000 indicators and 10,000 synced; the disk size at 10 million is then extrapolated from
 * the bytes per indicator (said so in the figure's note), the RSS is that of the smaller store.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../node/config.ts';
import { createLogger } from '../../node/log.ts';
import { startNode, type RunningNode } from '../../node/node.ts';
import { migrate } from '../../node/storage/migrate.ts';
import { openPg } from '../../node/storage/pg.ts';
import { foundBenchAlliance } from './lib/alliance.ts';
import { benchArgs, intFlag, progress } from './lib/cli.ts';
import { createBenchDatabase, tableBytes, type BenchDatabase } from './lib/database.ts';
import { ITEMS_PER_BATCH, loadIndicators } from './lib/indicators.ts';
import { runLoad } from './lib/load.ts';
import { graphqlLookupBody, lookupInputs } from './lib/lookup-requests.ts';
import { freePort } from '../lib/net.ts';
import { startNodeProcess, type MemoryStatus, type NodeProcess } from './lib/node-process.ts';
import { emit, figure, type Figure } from './report.ts';

export const GOAL_RSS_MB = 500;
export const TARGET_INDICATORS = 10_000_000;
const SELF = 'bench-node';
const ORIGINS = ['member-b', 'member-c', 'member-d'];
const PEER = 'member-e';
const TABLES = ['indicators', 'batches'];
const MB = 1024 * 1024;

const USAGE = 'Usage: npm run bench:footprint -- [--quick] [--json] [--indicators N] [--sync N]';
const args = benchArgs(USAGE, { indicators: { type: 'string' }, sync: { type: 'string' } });
const N = intFlag('indicators', args.indicators, args.quick ? 200_000 : TARGET_INDICATORS, 3000);
const SYNC = intFlag('sync', args.sync, args.quick ? 10_000 : 50_000, ITEMS_PER_BATCH);
const LOAD_SECONDS = args.quick ? 2 : 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

async function headOf(url: string, origin: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM batches WHERE origin = $1', [origin]);
    return Number(rows[0]!.seq ?? 0);
  } finally {
    await c.end();
  }
}

async function main(): Promise<Figure[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-bench-footprint-'));
  const databases: BenchDatabase[] = [];
  let node: NodeProcess | undefined;
  let peer: RunningNode | undefined;
  try {
    const nodeDb = await createBenchDatabase();
    databases.push(nodeDb);
    const peerDb = await createBenchDatabase();
    databases.push(peerDb);
    const peerAddr = `/ip4/127.0.0.1/tcp/${await freePort()}`;
    const alliance = await foundBenchAlliance(dir, [{ id: SELF }, ...ORIGINS.map((id) => ({ id })), { id: PEER, addrs: [peerAddr] }]);
    const self = alliance.member(SELF);
    const start = () => startNodeProcess({ dataDir: self.dataDir, databaseUrl: nodeDb.url, genesis: alliance.rosterFile, env: { ALLIANCE_HEADS_INTERVAL_MS: '1000' } });

    progress('baseline: the node idle on an empty store ...');
    node = await start();
    await sleep(3000);
    const idle: MemoryStatus = node.memory();
    const emptyBytes = [...(await tableBytes(nodeDb.url, TABLES)).values()].reduce((a, b) => a + b, 0);
    await node.stop();
    node = undefined;

    progress(`loading ${N.toLocaleString('en-US')} indicators of ${ORIGINS.length} members ...`);
    const t0 = performance.now();
    const loaded = await loadIndicators({ url: nodeDb.url, alliance, origins: ORIGINS, count: N, onProgress: (n) => progress(`  ${n.toLocaleString('en-US')} indicators`) });
    progress(`  loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    {
      const db = await openPg({ connectionString: peerDb.url, max: 2 });
      await migrate(db);
      await db.close();
    }
    const peerChain = await loadIndicators({ url: peerDb.url, alliance, origins: [PEER], count: SYNC });
    const peerHead = peerChain.batches;

    progress('the node on the loaded store: lookups under load ...');
    node = await start();
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => node!.token('trust', `footprint-${i}`)));
    let turn = 0;
    const load = await runLoad({
      url: node.graphqlUrl,
      connections: 16,
      seconds: LOAD_SECONDS,
      request: () => ({ body: graphqlLookupBody(lookupInputs(loaded)), headers: { authorization: `Bearer ${tokens[turn++ % tokens.length]}` } }),
    });
    if (load.ok === 0 || load.non2xx > 0) throw new Error(`lookups: ${load.ok} answered, ${load.non2xx} with an error status`);

    progress(`a peer comes up with ${SYNC.toLocaleString('en-US')} indicators the node has not seen: sync ...`);
    const peerMember = alliance.member(PEER);
    const config = loadConfig(
      { dataDir: peerMember.dataDir, http: '127.0.0.1:0', p2p: peerAddr, genesis: alliance.rosterFile, databaseUrl: peerDb.url },
      { ALLIANCE_HEADS_INTERVAL_MS: '1000' },
    );
    peer = await startNode(config, createLogger('silent'));
    await waitFor(`the node to catch up with ${PEER}`, 600_000, async () => (await headOf(nodeDb.url, PEER)) >= peerHead);
    await sleep(1000);
    const loadedMem: MemoryStatus = node.memory();
    const bytes = await tableBytes(nodeDb.url, TABLES);
    const total = [...bytes.values()].reduce((a, b) => a + b, 0);
    const held = N + SYNC;
    const perIndicator = total / held;

    const scale = N >= TARGET_INDICATORS ? '' : `, extrapolated from ${held.toLocaleString('en-US')} at ${Math.round(perIndicator)} B/indicator`;
    const size = `${N >= 1_000_000 ? `${N / 1_000_000}M` : `${N / 1000}k`} indicators`;
    const how = `${size} + ${SYNC.toLocaleString('en-US')} synced, after ${load.ok.toLocaleString('en-US')} lookups`;
    return [
      figure(`node RSS (${size})`, loadedMem.rss / MB, 'MB', { baseline: { name: 'idle, empty store', value: idle.rss / MB, unit: 'MB' }, goal: { op: '<=', value: GOAL_RSS_MB }, note: how }),
      figure(`node peak RSS (${size})`, loadedMem.peak / MB, 'MB', { baseline: { name: 'idle, empty store', value: idle.peak / MB, unit: 'MB' }, goal: { op: '<=', value: GOAL_RSS_MB }, note: `VmHWM, ${how}` }),
      figure('disk per indicator (indicators + batches)', perIndicator, 'B', { note: `pg_total_relation_size over ${held.toLocaleString('en-US')} indicators` }),
      figure('disk at 10M indicators (indicators + batches)', (perIndicator * TARGET_INDICATORS) / 2 ** 30, 'GiB', {
        baseline: { name: 'empty store', value: emptyBytes / 2 ** 30, unit: 'GiB' },
        note: `${(bytes.get('indicators')! / total * 100).toFixed(0)}% indicators, ${(bytes.get('batches')! / total * 100).toFixed(0)}% batches${scale}`,
      }),
    ];
  } finally {
    await node?.stop().catch(() => undefined);
    await peer?.stop().catch(() => undefined);
    for (const d of databases) await d.drop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

emit(await main(), { json: args.json, quick: args.quick, title: 'footprint on PostgreSQL' });
