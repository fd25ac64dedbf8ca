/**
 * Catch-up benchmark: a node that was offline while another member published 1,000,000 indicators
 * (1,000 batches of 1,000) starts and fetches them over libp2p (heads, then the sync protocol) from
 * that member's node, verifying and storing them into its PostgreSQL database. Figure: indicators per
 * second from the receiver's first connection to the origin until it holds the origin's head.
 * Goal: at least 30,000 indicators/s. Baseline, same run: `BatchStore.ingestMany` of the same batches
 * into a fresh database of the same server, in the pages a sync response carries, without any network
 * (the receiver's ingest ceiling).
 *
 * The origin's chain is written straight into its database through `BatchStore.appendOwn` (what its
 * publisher does in each flush) and marked published, which is the state an origin that published
 * them holds, without deriving them from a million records first. Both nodes are real `startNode`
 * nodes in their own processes with the default settings (the receiver's BatchStore, matcher and
 * sync, the origin's heads and sync responders).
 *
 *   npm run bench:catchup -- [--quick] [--json] [--indicators N]
 *
 * --quick: 100,000 indicators. Needs a PostgreSQL server: ALLIANCE_BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres) must allow CREATE DATABASE; fresh databases are
 * created for the run and dropped after. ALLIANCE_BENCH_LOG (default error) sets the nodes' log level.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure, emit } from './report.ts';
import { wallNow } from './lib/clock.ts';

export const GOAL_INDICATORS_PER_SECOND = 30_000;

/** What the coordinator hands a node process (in ALLIANCE_BENCH_NODE). */
interface NodeSpec {
  memberId: string;
  dataDir: string;
  p2p: string;
  rosterFile: string;
  databaseUrl: string;
  /** For the receiver: report when it holds `seq` of `origin`. */
  watch?: { origin: string; seq: number };
}

type FromNode =
  | { type: 'ready' }
  | { type: 'connected'; at: number }
  | { type: 'head'; at: number; requests: number }
  | { type: 'error'; message: string };

if (process.env.ALLIANCE_BENCH_NODE !== undefined) await runNode(JSON.parse(process.env.ALLIANCE_BENCH_NODE) as NodeSpec);
else await main();

// ---------------------------------------------------------------------------------------------
// Node process

async function runNode(spec: NodeSpec): Promise<void> {
  const { loadConfig } = await import('../../node/config.ts');
  const { startNode } = await import('../../node/node.ts');
  const { createLogger } = await import('../../node/log.ts');
  const send = (m: FromNode) => process.send?.(m);
  try {
    const config = loadConfig({ dataDir: spec.dataDir, http: '127.0.0.1:0', p2p: spec.p2p, genesis: spec.rosterFile, databaseUrl: spec.databaseUrl }, {});
    const node = await startNode(config, createLogger((process.env.ALLIANCE_BENCH_LOG ?? 'error') as 'error'));
    const host = node.exchange!.host;
    let connected = false;
    const onConnect = () => {
      if (connected) return;
      connected = true;
      send({ type: 'connected', at: wallNow() });
    };
    host.addEventListener('peer:connect', onConnect);
    if (host.getConnections().length > 0) onConnect();
    const stop = async () => {
      await node.stop().catch(() => undefined);
      process.exit(0);
    };
    process.on('message', (m: { type: string }) => {
      if (m.type === 'stop') void stop();
    });
    process.on('disconnect', () => void stop());
    send({ type: 'ready' });
    const watch = spec.watch;
    if (watch !== undefined) {
      for (;;) {
        const head = await node.batches.head(watch.origin);
        if ((head?.seq ?? 0) >= watch.seq) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const at = wallNow();
      const { values } = await node.exchange!.metrics.syncRequests.get();
      const requests = values.filter((v) => v.labels.direction === 'out' && v.labels.kind === 'batches').reduce((n, v) => n + v.value, 0);
      send({ type: 'head', at, requests });
    }
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------
// Coordinator

async function main(): Promise<void> {
  const { benchArgs, intFlag, progress } = await import('./lib/cli.ts');
  const { createBenchDatabase } = await import('./lib/database.ts');
  const { foundBenchAlliance } = await import('./lib/alliance.ts');
  const { BenchBatchSigner, benchIndicator, ITEMS_PER_BATCH } = await import('./lib/indicators.ts');
  const { freePort } = await import('../lib/net.ts');
  const { BatchStore, lockOrigins } = await import('../../node/indicators/batch-store.ts');
  const { batchHash } = await import('../../node/indicators/batch.ts');
  const { toWireTime } = await import('../../node/encoding/time.ts');
  const { Matcher } = await import('../../node/matching/matcher.ts');
  const { migrate } = await import('../../node/storage/migrate.ts');
  const { openPg } = await import('../../node/storage/pg.ts');
  const { DEFAULT_EXCHANGE_LIMITS } = await import('../../node/p2p/protocols.ts');
  const { DEFAULTS } = await import('../../node/config.ts');

  const USAGE = 'Usage: node scripts/bench/catchup.ts [--quick] [--json] [--indicators N]';
  const args = benchArgs(USAGE, { indicators: { type: 'string' } });
  const N = intFlag('indicators', args.indicators, args.quick ? 100_000 : 1_000_000, ITEMS_PER_BATCH);
  const batches = Math.floor(N / ITEMS_PER_BATCH);
  const total = batches * ITEMS_PER_BATCH;

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-bench-catchup-'));
  const originAddr = `/ip4/127.0.0.1/tcp/${await freePort()}`;
  const receiverAddr = `/ip4/127.0.0.1/tcp/${await freePort()}`;
  const alliance = await foundBenchAlliance(root, [
    { id: 'origin', addrs: [originAddr] },
    { id: 'receiver', addrs: [receiverAddr] },
  ]);
  const origin = alliance.member('origin');
  const receiver = alliance.member('receiver');
  const graceMs = DEFAULTS.epochGraceDays * 86_400_000;
  const databases = await Promise.all([createBenchDatabase(), createBenchDatabase(), createBenchDatabase()]);
  const [originDb, receiverDb, baselineDb] = databases as [(typeof databases)[0], (typeof databases)[0], (typeof databases)[0]];
  const procs: ChildProcess[] = [];

  try {
    progress(`signing ${batches} batches of ${ITEMS_PER_BATCH} indicators ...`);
    const signer = new BenchBatchSigner(origin);
    const createdAt = toWireTime(new Date());
    const at = { firstSeen: createdAt.slice(0, 10), expiresAt: toWireTime(new Date(Date.now() + 365 * 86_400_000)) };
    const chain: Array<{ jws: string; hash: string; seq: number }> = [];
    let prev: string | null = null;
    for (let seq = 1; seq <= batches; seq++) {
      const items = Array.from({ length: ITEMS_PER_BATCH }, (_, k) => {
        const j = (seq - 1) * ITEMS_PER_BATCH + k;
        return benchIndicator(alliance.epochKey, 'origin', j, j, at);
      });
      const jws = await signer.sign({ v: 1, alliance: alliance.id, origin: 'origin', epoch: 1, seq, prev, createdAt, items });
      prev = batchHash(jws);
      chain.push({ jws, hash: prev, seq });
    }

    progress(`writing the origin's chain into its database (appendOwn, as its publisher does) ...`);
    {
      const db = await openPg({ connectionString: originDb.url, max: 2 });
      try {
        await migrate(db);
        const store = new BatchStore(db, { roster: () => alliance.state, graceMs });
        for (let i = 0; i < chain.length; i += 20) {
          const part = chain.slice(i, i + 20);
          await db.transaction(async (tx) => {
            await lockOrigins(tx, ['origin']);
            for (const b of part) {
              const batch = JSON.parse(Buffer.from(b.jws.split('.')[1]!, 'base64url').toString('utf8'));
              await store.appendOwn(tx, b.jws, batch, b.hash);
            }
          });
          await store.markPublished('origin', part.map((b) => b.seq));
        }
        // As after a real run: statistics current, so the origin's range reads plan as they would.
        await db.query('ANALYZE batches');
        await db.query('ANALYZE indicators');
      } finally {
        await db.close();
      }
    }

    // The pages a sync response carries: at most maxFrames batches and responseBytes bytes.
    const pages: string[][] = [];
    {
      let page: string[] = [];
      let bytes = 0;
      for (const b of chain) {
        if (page.length > 0 && (page.length >= DEFAULT_EXCHANGE_LIMITS.maxFrames || bytes + b.jws.length > DEFAULT_EXCHANGE_LIMITS.responseBytes)) {
          pages.push(page);
          page = [];
          bytes = 0;
        }
        page.push(b.jws);
        bytes += b.jws.length;
      }
      if (page.length > 0) pages.push(page);
    }

    progress(`baseline: ingestMany of the same ${batches} batches into an empty database, no network (${pages.length} pages) ...`);
    let baselineSeconds: number;
    {
      const db = await openPg({ connectionString: baselineDb.url, max: 4 });
      try {
        await migrate(db);
        // The receiver node's ingest path: BatchStore over the matcher's database, matching in every transaction.
        let store!: InstanceType<typeof BatchStore>;
        const matcher = new Matcher(db, { self: () => 'receiver', roster: () => alliance.state, liveEpochs: () => store.liveEpochs(), notify: true });
        store = new BatchStore(matcher.database, { roster: () => alliance.state, graceMs, onIndicators: matcher.onIndicators });
        const t0 = performance.now();
        for (const page of pages) {
          const outcomes = await store.ingestMany(page);
          const bad = outcomes.find((o) => o.status !== 'stored');
          if (bad) throw new Error(`baseline ingest: ${JSON.stringify(bad)}`);
        }
        baselineSeconds = (performance.now() - t0) / 1000;
        const held = Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM indicators WHERE origin = 'origin'")).rows[0]!.n);
        if (held !== total) throw new Error(`baseline: ${held} indicators held, expected ${total}`);
      } finally {
        await db.close();
      }
    }
    const baselineRate = total / baselineSeconds;
    progress(`   ${Math.round(baselineRate)} indicators/s (${baselineSeconds.toFixed(1)} s)`);

    const start = (spec: NodeSpec) => {
      // ALLIANCE_BENCH_CPU_PROF=DIR: each node writes a V8 CPU profile there when it stops.
      const prof = process.env.ALLIANCE_BENCH_CPU_PROF;
      const proc = fork(fileURLToPath(import.meta.url), [], {
        execArgv: prof ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${spec.memberId}.cpuprofile`] : process.execArgv,
        env: { ...process.env, ALLIANCE_BENCH_NODE: JSON.stringify(spec) },
        stdio: ['ignore', 2, 2, 'ipc'],
      });
      procs.push(proc);
      const messages: FromNode[] = [];
      const waiters = new Set<() => void>();
      proc.on('message', (m) => {
        messages.push(m as FromNode);
        for (const w of waiters) w();
      });
      proc.on('exit', () => {
        for (const w of waiters) w();
      });
      const next = <T extends FromNode['type']>(type: T, timeoutMs: number): Promise<Extract<FromNode, { type: T }>> =>
        new Promise((resolve, reject) => {
          const check = () => {
            const err = messages.find((m) => m.type === 'error');
            if (err) return done(new Error(`node ${spec.memberId}: ${(err as { message: string }).message}`));
            const m = messages.find((x) => x.type === type);
            if (m) return done(undefined, m as Extract<FromNode, { type: T }>);
            if (proc.exitCode !== null) return done(new Error(`node ${spec.memberId} exited (${proc.exitCode})`));
          };
          const t = setTimeout(() => done(new Error(`node ${spec.memberId}: no ${type} within ${timeoutMs} ms`)), timeoutMs);
          function done(err?: Error, m?: Extract<FromNode, { type: T }>) {
            clearTimeout(t);
            waiters.delete(check);
            if (err) reject(err);
            else resolve(m!);
          }
          waiters.add(check);
          check();
        });
      return { proc, next };
    };

    progress('starting the origin node over its chain ...');
    const originNode = start({ memberId: 'origin', dataDir: origin.dataDir, p2p: originAddr, rosterFile: alliance.rosterFile, databaseUrl: originDb.url });
    await originNode.next('ready', 120_000);
    progress('starting the receiver node (empty database) and waiting for it to hold the origin\'s head ...');
    const receiverNode = start({ memberId: 'receiver', dataDir: receiver.dataDir, p2p: receiverAddr, rosterFile: alliance.rosterFile, databaseUrl: receiverDb.url, watch: { origin: 'origin', seq: batches } });
    await receiverNode.next('ready', 120_000);
    const connected = await receiverNode.next('connected', 60_000);
    const head = await receiverNode.next('head', Math.max(600_000, (total / 5000) * 1000));
    const seconds = (head.at - connected.at) / 1000;
    const rate = total / seconds;
    progress(`   ${Math.round(rate)} indicators/s (${seconds.toFixed(1)} s, ${head.requests} sync requests)`);

    {
      const db = await openPg({ connectionString: receiverDb.url, max: 1 });
      try {
        const held = Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM indicators WHERE origin = 'origin'")).rows[0]!.n);
        if (held !== total) throw new Error(`the receiver holds ${held} indicators of the origin, expected ${total}`);
      } finally {
        await db.close();
      }
    }

    const figures = [
      figure(`catch-up of ${total.toLocaleString('en-US')} missed indicators over libp2p into PostgreSQL`, rate, 'indicators/s', {
        baseline: { name: 'ingestMany of the same batches, no network', value: baselineRate, unit: 'indicators/s' },
        goal: { op: '>=', value: GOAL_INDICATORS_PER_SECOND },
        note: `${batches} batches of ${ITEMS_PER_BATCH}, from the receiver's first connection to the origin's head held; ${head.requests} sync requests of up to ${DEFAULT_EXCHANGE_LIMITS.maxFrames} batches / ${DEFAULT_EXCHANGE_LIMITS.responseBytes / 2 ** 20} MiB; two node processes, one PostgreSQL database each, default settings`,
      }),
    ];
    emit(figures, { json: args.json, quick: args.quick, title: 'catch-up over libp2p' });
    if (figures.some((f) => f.met === false)) process.exitCode = 1;
  } finally {
    await Promise.all(
      procs.map(async (proc) => {
        const exited = new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));
        if (proc.connected) proc.send({ type: 'stop' });
        const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      }),
    );
    for (const d of databases) await d.drop().catch((err: unknown) => process.stderr.write(`could not drop ${d.name}: ${(err as Error).message}\n`));
    fs.rmSync(root, { recursive: true, force: true });
  }
}
