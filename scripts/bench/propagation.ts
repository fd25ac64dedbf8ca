/**
 * Propagation benchmark: how fast a record change at one member reaches every other member of a
 * ten-node alliance, over real libp2p on loopback with every node in its own process over its own
 * PostgreSQL database (as a member runs it: one node process, one database).
 *
 * (a) One record written through GraphQL `createRecord` at one node (the writers take turns), until
 *     every other node holds the indicators (the gossiped batch is verified and committed there):
 *     p50 and p95. Goal: p95 under 500 ms. Baseline, same writes: the origin's own time from the
 *     write to its batch signed, stored and handed to gossip; and the first peer to hold it.
 * (b) 2,500 records with 4 identifiers each (10,000 indicators) imported at once through
 *     `importRecords` at one node, until every other node holds all 10,000. Goal: under 5 s.
 *     Baseline: the origin's own time from the import to its last batch derived, signed, stored
 *     and handed to gossip.
 *
 * Every node runs with the settings a real node uses (publish window ALLIANCE_PUBLISH_WINDOW_MS
 * 100 ms, heads every 30 s, gossipsub heartbeat 1 s); only the database pool is smaller (4), so ten
 * nodes fit the server's connection limit. A node's arrival time is taken in its own process when
 * gossipsub delivers the batch, which it does only after the topic validator has stored it.
 *
 *   npm run bench:propagation -- [--quick] [--json] [--nodes N] [--writes N] [--import-records N]
 *
 * Needs a PostgreSQL server: ALLIANCE_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres)
 * must allow CREATE DATABASE; fresh databases are created for the run and dropped after.
 * ALLIANCE_BENCH_LOG (default error) sets the nodes' log level (their logs go to stderr).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createBenchDatabase } from './lib/database.ts';
import { figure, emit, type Figure } from './report.ts';
import { wallNow } from './lib/clock.ts';

export const GOAL_P95_MS = 500;
export const GOAL_BULK_MS = 5000;

/** What the coordinator hands a node process (in ALLIANCE_BENCH_NODE). */
interface NodeSpec {
  memberId: string;
  dataDir: string;
  p2p: string;
  rosterFile: string;
  databaseUrl: string;
  env: Record<string, string>;
}

/** Messages from a node process. */
type FromNode =
  | { type: 'ready'; graphqlUrl: string; token: string }
  | { type: 'status'; connected: number; subscribers: number; mesh: number; detail: string }
  | { type: 'arrived'; origin: string; seq: number; at: number }
  | { type: 'error'; message: string };

if (process.env.ALLIANCE_BENCH_NODE !== undefined) await runNode(JSON.parse(process.env.ALLIANCE_BENCH_NODE) as NodeSpec);
else await main();

// ---------------------------------------------------------------------------------------------
// Node process

async function runNode(spec: NodeSpec): Promise<void> {
  const { loadConfig } = await import('../../node/config.ts');
  const { startNode } = await import('../../node/node.ts');
  const { createLogger } = await import('../../node/log.ts');
  const { issueToken, loadOrCreateApiKey } = await import('../../node/api/tokens.ts');
  const { batchesTopic } = await import('../../node/p2p/protocols.ts');
  const send = (m: FromNode) => process.send?.(m);
  try {
    const config = loadConfig({ dataDir: spec.dataDir, http: '127.0.0.1:0', p2p: spec.p2p, genesis: spec.rosterFile, databaseUrl: spec.databaseUrl }, spec.env);
    const level = (process.env.ALLIANCE_BENCH_LOG ?? 'error') as 'error';
    const node = await startNode(config, createLogger(level));
    const exchange = node.exchange!;
    const topic = batchesTopic(node.roster.state!.alliance);
    const pubsub = exchange.host.services.pubsub;
    // Delivered messages have passed the topic validator, which stores the batch before accepting it.
    pubsub.addEventListener('message', (e) => {
      if (e.detail.topic !== topic) return;
      const at = wallNow();
      const head = batchHeader(e.detail.data);
      if (head !== undefined) send({ type: 'arrived', origin: head.origin, seq: head.seq, at });
    });
    const stop = async () => {
      await node.stop().catch(() => undefined);
      process.exit(0);
    };
    process.on('message', (m: { type: string }) => {
      if (m.type === 'status') {
        const peers = exchange.peers.status();
        const subscribers = new Set(pubsub.getSubscribers(topic).map(String));
        const gossipPeers = new Set(pubsub.getPeers().map(String));
        // Which connected members this node does not see on the topic, and whether gossipsub knows them at all.
        const detail = peers
          .filter((p) => !subscribers.has(p.peerId))
          .map((p) => `${p.memberId}(connected ${p.connected}, gossip peer ${gossipPeers.has(p.peerId)})`)
          .join(' ');
        send({ type: 'status', connected: peers.filter((p) => p.connected).length, subscribers: subscribers.size, mesh: pubsub.getMeshPeers(topic).length, detail });
      } else if (m.type === 'stop') void stop();
    });
    process.on('disconnect', () => void stop());
    const key = await loadOrCreateApiKey(spec.dataDir);
    const token = await issueToken(key, config.auth, { role: 'analyst', sub: `bench-${spec.memberId}`, ttlSeconds: 3600 });
    send({ type: 'ready', graphqlUrl: node.graphqlUrl, token });
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
    process.exit(1);
  }
}

/**
 * Origin and seq of a compact JWS batch, without decoding a 1000-item payload whole: its members come
 * in canonical (sorted) order, so `origin` and `seq` follow `items`, near the payload's end.
 */
function batchHeader(data: Uint8Array): { origin: string; seq: number } | undefined {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const first = buf.indexOf(0x2e);
  const second = first < 0 ? -1 : buf.indexOf(0x2e, first + 1);
  if (second < 0) return undefined;
  const payloadStart = first + 1;
  // A tail of the base64url payload that starts on a 4-character boundary decodes on its own.
  const from = payloadStart + Math.max(0, Math.floor((second - payloadStart - 1024) / 4) * 4);
  const tail = Buffer.from(buf.toString('latin1', from, second), 'base64url').toString('latin1');
  const origin = /"origin":"([^"]+)"/.exec(tail)?.[1];
  const seq = /"seq":(\d+)/.exec(tail)?.[1];
  return origin === undefined || seq === undefined ? undefined : { origin, seq: Number(seq) };
}

// ---------------------------------------------------------------------------------------------
// Coordinator

interface RunningNode {
  id: string;
  proc: ChildProcess;
  graphqlUrl: string;
  token: string;
  db: pg.Pool;
  databaseUrl: string;
  drop: () => Promise<void>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      nodes: { type: 'string' },
      writes: { type: 'string' },
      'import-records': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('Usage: node scripts/bench/propagation.ts [--quick] [--json] [--nodes N] [--writes N] [--import-records N]\n');
    return;
  }
  const count = (name: string, raw: string | undefined, def: number, min: number): number => {
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`--${name} must be a whole number of at least ${min} (got ${raw})\n`);
      process.exit(2);
    }
    return n;
  };
  const quick = values.quick;
  const NODES = count('nodes', values.nodes, 10, 2);
  const WRITES = count('writes', values.writes, quick ? 10 : 50, 1);
  const IMPORT_RECORDS = count('import-records', values['import-records'], 2500, 1);
  const IDS_PER_RECORD = 4;
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const { foundBenchAlliance } = await import('./lib/alliance.ts');
  const { freePort } = await import('../lib/net.ts');
  const { DEFAULTS } = await import('../../node/config.ts');

  log(`founding an alliance of ${NODES} members ...`);
  const ids = Array.from({ length: NODES }, (_, i) => `m${String(i).padStart(2, '0')}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-propagation-'));
  const listen = new Map(await Promise.all(ids.map(async (id) => [id, `/ip4/127.0.0.1/tcp/${await freePort()}`] as const)));
  const alliance = await foundBenchAlliance(root, ids.map((id) => ({ id, addrs: [listen.get(id)!] })), { alliance: 'propagation-bench' });
  const nodes: RunningNode[] = [];
  const drops: Array<() => Promise<void>> = [];
  /** Arrival time of (receiver, origin, seq). */
  const arrivals = new Map<string, number>();
  const arrivalWaiters = new Set<() => void>();
  const key = (node: string, origin: string, seq: number) => `${node} ${origin} ${seq}`;

  try {
    log('starting the nodes (one process and one PostgreSQL database each) ...');
    const startedAt = performance.now();
    const started = await Promise.all(
      alliance.members.map(async (m) => {
        const database = await createBenchDatabase();
        drops.push(database.drop);
        const spec: NodeSpec = {
          memberId: m.id,
          dataDir: m.dataDir,
          p2p: listen.get(m.id)!,
          rosterFile: alliance.rosterFile,
          databaseUrl: database.url,
          // The real node's exchange timings, stated so that no test default can slip in.
          env: {
            ALLIANCE_PUBLISH_WINDOW_MS: String(DEFAULTS.publishWindowMs),
            ALLIANCE_HEADS_INTERVAL_MS: String(DEFAULTS.headsIntervalMs),
            ALLIANCE_BATCH_ITEMS: String(DEFAULTS.batchItems),
            ALLIANCE_DB_POOL: '4',
            // The 10k import is one request, past the API's per-request bounds for interactive use.
            ALLIANCE_MAX_IMPORT: String(Math.max(5000, IMPORT_RECORDS)),
            ALLIANCE_MAX_VARIABLE_VALUES: String(100 * Math.max(5000, IMPORT_RECORDS)),
            ALLIANCE_MAX_BODY_BYTES: String(64 * 1024 * 1024),
          },
        };
        // ALLIANCE_BENCH_CPU_PROF=DIR: each node writes a V8 CPU profile there when it stops.
        const prof = process.env.ALLIANCE_BENCH_CPU_PROF;
        const proc = fork(fileURLToPath(import.meta.url), [], {
          execArgv: prof ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${m.id}.cpuprofile`] : process.execArgv,
          env: { ...process.env, ALLIANCE_BENCH_NODE: JSON.stringify(spec) },
          stdio: ['ignore', 2, 2, 'ipc'],
        });
        const statusWaiters: Array<(s: Extract<FromNode, { type: 'status' }>) => void> = [];
        const ready = new Promise<Extract<FromNode, { type: 'ready' }>>((resolve, reject) => {
          proc.on('message', (raw) => {
            const msg = raw as FromNode;
            if (msg.type === 'ready') resolve(msg);
            else if (msg.type === 'error') reject(new Error(`node ${m.id}: ${msg.message}`));
            else if (msg.type === 'status') statusWaiters.shift()?.(msg);
            else if (msg.type === 'arrived') {
              const k = key(m.id, msg.origin, msg.seq);
              if (!arrivals.has(k)) arrivals.set(k, msg.at);
              for (const w of arrivalWaiters) w();
            }
          });
          proc.once('exit', (code) => reject(new Error(`node ${m.id} exited (${code}) before it was ready`)));
        });
        const r = await ready;
        const db = new pg.Pool({ connectionString: database.url, max: 1 });
        const node: RunningNode & { status(): Promise<Extract<FromNode, { type: 'status' }>> } = {
          id: m.id,
          proc,
          graphqlUrl: r.graphqlUrl,
          token: r.token,
          db,
          databaseUrl: database.url,
          drop: database.drop,
          status: () =>
            new Promise((resolve) => {
              statusWaiters.push(resolve);
              proc.send({ type: 'status' });
            }),
        };
        return node;
      }),
    );
    nodes.push(...started);
    log(`nodes ready after ${Math.round(performance.now() - startedAt)} ms`);

    log('waiting for every node to be connected to all others and in the gossip mesh ...');
    const meshSince = performance.now();
    for (;;) {
      const st = await Promise.all(started.map((n) => n.status()));
      const ok = st.every((s) => s.connected === NODES - 1 && s.subscribers === NODES - 1 && s.mesh >= Math.min(4, NODES - 1));
      if (ok) break;
      if (performance.now() - meshSince > 60_000) throw new Error(`the mesh did not form in 60 s:\n${st.map((x, i) => `${nodes[i]?.id ?? started[i]!.id}: ${JSON.stringify(x)}`).join('\n')}`);
      await sleep(200);
    }
    log(`mesh formed after ${Math.round(performance.now() - meshSince)} ms`);

    /** Next seq each origin will publish (nothing else publishes during the run). */
    const nextSeq = new Map(nodes.map((n) => [n.id, 1]));

    /** Waits until every node but the origin reports `seq` of `origin`; falls back to the database after `timeoutMs` (a batch fetched by sync). */
    async function arrivalsOf(origin: string, seqs: number[], timeoutMs: number): Promise<{ times: Map<string, number>; viaSync: number }> {
      const receivers = nodes.filter((n) => n.id !== origin);
      const wanted = receivers.flatMap((n) => seqs.map((s) => key(n.id, origin, s)));
      const done = () => wanted.every((k) => arrivals.has(k));
      if (!done()) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(finish, timeoutMs);
          function finish() {
            clearTimeout(t);
            arrivalWaiters.delete(check);
            resolve();
          }
          function check() {
            if (done()) finish();
          }
          arrivalWaiters.add(check);
        });
      }
      let viaSync = 0;
      for (const n of receivers) {
        for (const s of seqs) {
          const k = key(n.id, origin, s);
          if (arrivals.has(k)) continue;
          const at = await stored(n, origin, s, 30_000);
          arrivals.set(k, at);
          viaSync++;
        }
      }
      const times = new Map<string, number>();
      for (const n of receivers) times.set(n.id, Math.max(...seqs.map((s) => arrivals.get(key(n.id, origin, s))!)));
      return { times, viaSync };
    }

    async function publishedAt(origin: RunningNode, seq: number, timeoutMs = 30_000): Promise<number> {
      const until = performance.now() + timeoutMs;
      for (;;) {
        const { rows } = await origin.db.query<{ at: Date | null }>('SELECT published_at AS at FROM batches WHERE origin = $1 AND seq = $2', [origin.id, seq]);
        if (rows[0]?.at) return rows[0].at.getTime();
        if (performance.now() > until) throw new Error(`${origin.id} did not publish batch ${seq} in ${timeoutMs} ms`);
        await sleep(20);
      }
    }

    const CREATE = 'mutation ($input: RecordInput!) { createRecord(input: $input) { id } }';
    let tag = 0;
    /** A record with `ids` identifiers, all of them new to the alliance. */
    const record = (i: number, ids: number) => {
      const t = `${randomBytes(3).toString('hex')}-${i}`;
      return {
        kind: 'SELLER',
        name: `Outlet ${t}`,
        identifiers: [
          { type: 'EMAIL', value: `seller.${t}@example.com` },
          { type: 'DOMAIN', value: `fake-outlet-${t}.shop` },
          { type: 'URL', value: `https://www.fake-outlet-${t}.shop/item/${i}` },
          { type: 'PAYMENT_ACCOUNT', value: `paypal:seller.${t}@example.com` },
        ].slice(0, ids),
        categories: ['COUNTERFEIT'],
        status: 'CONFIRMED',
        confidence: 80,
      };
    };

    async function write(writer: RunningNode): Promise<{ all: number; firstHop: number; publish: number; viaSync: number }> {
      const seq = nextSeq.get(writer.id)!;
      nextSeq.set(writer.id, seq + 1);
      const t0 = wallNow();
      await gql(writer, CREATE, { input: record(tag++, 2) });
      const { times, viaSync } = await arrivalsOf(writer.id, [seq], 10_000);
      const publish = (await publishedAt(writer, seq)) - t0;
      const ts = [...times.values()];
      return { all: Math.max(...ts) - t0, firstHop: Math.min(...ts) - t0, publish, viaSync };
    }

    const warmups = quick ? 3 : NODES;
    log(`warming up (${warmups} writes) ...`);
    for (let i = 0; i < warmups; i++) {
      await write(nodes[i % NODES]!);
      await sleep(50);
    }

    log(`(a) ${WRITES} single-record writes, writers taking turns ...`);
    const results: Array<Awaited<ReturnType<typeof write>>> = [];
    for (let i = 0; i < WRITES; i++) {
      results.push(await write(nodes[i % NODES]!));
      // A random pause, so writes land at every phase of the publishers' windows.
      await sleep(50 + Math.random() * 100);
    }
    const all = results.map((r) => r.all);
    const publish = results.map((r) => r.publish);
    const firstHop = results.map((r) => r.firstHop);
    const viaSyncA = results.reduce((n, r) => n + r.viaSync, 0);
    log(`   every node: p50 ${pct(all, 50).toFixed(1)} ms, p95 ${pct(all, 95).toFixed(1)} ms, max ${Math.max(...all).toFixed(1)} ms`);
    log(`   origin published: p50 ${pct(publish, 50).toFixed(1)} ms, p95 ${pct(publish, 95).toFixed(1)} ms; first peer: p50 ${pct(firstHop, 50).toFixed(1)} ms, p95 ${pct(firstHop, 95).toFixed(1)} ms`);

    log(`(b) ${IMPORT_RECORDS} records × ${IDS_PER_RECORD} identifiers imported at once ...`);
    const importer = nodes[0]!;
    const records = Array.from({ length: IMPORT_RECORDS }, () => record(tag++, IDS_PER_RECORD));
    const IMPORT = 'mutation ($records: [RecordInput!]!) { importRecords(records: $records) { imported } }';
    const { rows: before } = await importer.db.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM batches WHERE origin = $1', [importer.id]);
    const firstSeq = Number(before[0]?.seq ?? 0) + 1;
    const tImport = wallNow();
    await gql(importer, IMPORT, { records });
    const t0 = wallNow();
    const expected = IMPORT_RECORDS * IDS_PER_RECORD;
    // The importer's batches: wait until its chain holds all of the import's indicators.
    let lastSeq = firstSeq - 1;
    for (const until = performance.now() + 60_000; ; ) {
      const { rows } = await importer.db.query<{ seq: string | null; items: string | null }>(
        'SELECT max(seq)::text AS seq, sum(item_count)::text AS items FROM batches WHERE origin = $1 AND seq >= $2',
        [importer.id, firstSeq],
      );
      if (Number(rows[0]?.items ?? 0) >= expected) {
        lastSeq = Number(rows[0]!.seq);
        break;
      }
      if (performance.now() > until) throw new Error(`the importer published ${rows[0]?.items ?? 0} of ${expected} indicators in 60 s`);
      await sleep(20);
    }
    const seqs = Array.from({ length: lastSeq - firstSeq + 1 }, (_, i) => firstSeq + i);
    const originDone = Math.max(...(await Promise.all(seqs.map((s) => publishedAt(importer, s))))) - t0;
    const bulk = await arrivalsOf(importer.id, seqs, 60_000);
    const bulkAll = Math.max(...bulk.times.values()) - t0;
    log(`   import call ${Math.round(t0 - tImport)} ms; origin published all ${seqs.length} batches after ${originDone.toFixed(0)} ms; every node held them after ${bulkAll.toFixed(0)} ms`);

    // Every node holds exactly what each origin holds of itself.
    for (const origin of nodes) {
      const own = await indicatorCount(origin, origin.id);
      for (const n of nodes) {
        if (n === origin) continue;
        const held = await indicatorCount(n, origin.id);
        if (held !== own) throw new Error(`${n.id} holds ${held} indicators of ${origin.id}, which holds ${own}`);
      }
    }

    const note = `${NODES} nodes, one process and one PostgreSQL database each (pool 4), libp2p TCP on loopback, publish window ${DEFAULTS.publishWindowMs} ms, gossipsub defaults`;
    const figures: Figure[] = [
      figure('record write → held at every other node, p50', pct(all, 50), 'ms', {
        baseline: { name: 'write → signed, stored, gossiped at the origin, p50', value: pct(publish, 50), unit: 'ms' },
        note: `${WRITES} writes of 2 identifiers, writers taking turns; first peer p50 ${pct(firstHop, 50).toFixed(0)} ms${viaSyncA ? `; ${viaSyncA} arrivals by sync` : ''}; ${note}`,
      }),
      figure('record write → held at every other node, p95', pct(all, 95), 'ms', {
        baseline: { name: 'write → signed, stored, gossiped at the origin, p95', value: pct(publish, 95), unit: 'ms' },
        goal: { op: '<=', value: GOAL_P95_MS },
        note: `first peer p95 ${pct(firstHop, 95).toFixed(0)} ms`,
      }),
      figure(`${expected.toLocaleString('en-US')} indicators imported at once → held at every other node`, bulkAll, 'ms', {
        baseline: { name: 'import → derived, signed, stored, gossiped at the origin', value: originDone, unit: 'ms' },
        goal: { op: '<=', value: GOAL_BULK_MS },
        note: `${IMPORT_RECORDS} records × ${IDS_PER_RECORD} identifiers in one importRecords, ${seqs.length} batches, from the import's commit${bulk.viaSync ? `; ${bulk.viaSync} arrivals by sync` : ''}`,
      }),
    ];
    emit(figures, { json: values.json, quick, title: 'propagation across a 10-node alliance' });
    if (figures.some((f) => f.met === false)) process.exitCode = 1;
  } finally {
    await Promise.all(
      nodes.map(async (n) => {
        const exited = new Promise<void>((resolve) => (n.proc.exitCode !== null ? resolve() : n.proc.once('exit', () => resolve())));
        if (n.proc.connected) n.proc.send({ type: 'stop' });
        const t = setTimeout(() => n.proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
        await n.db.end().catch(() => undefined);
      }),
    );
    for (const drop of drops) await drop().catch((err: unknown) => log(`could not drop a database: ${(err as Error).message}`));
    fs.rmSync(root, { recursive: true, force: true });
  }

  async function gql(n: RunningNode, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await fetch(n.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${n.token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    if (body.errors !== undefined) throw new Error(`GraphQL at ${n.id}: ${JSON.stringify(body.errors).slice(0, 500)}`);
    return body.data!;
  }
}

async function stored(n: RunningNode, origin: string, seq: number, timeoutMs: number): Promise<number> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const { rows } = await n.db.query<{ at: Date }>('SELECT received_at AS at FROM batches WHERE origin = $1 AND seq = $2', [origin, seq]);
    if (rows[0] !== undefined) return rows[0].at.getTime();
    if (performance.now() > until) throw new Error(`${n.id} did not get batch ${seq} of ${origin} in time`);
    await sleep(50);
  }
}

async function indicatorCount(n: RunningNode, origin: string): Promise<number> {
  const { rows } = await n.db.query<{ n: string }>('SELECT count(*)::text AS n FROM indicators WHERE origin = $1', [origin]);
  return Number(rows[0]!.n);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
