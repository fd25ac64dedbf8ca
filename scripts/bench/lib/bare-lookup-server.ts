/**
 * The lookup benchmark's baseline: a bare Fastify route that answers a lookup with the database
 * query the node's `lookup` runs (node/lookup/lookup.ts LOOKUP_STATEMENT, prepared as the node prepares it, with the same digests), and
 * nothing else: no GraphQL, no token, no quota, no audit row, no request log. Run as its own process
 * by scripts/bench/lookup.ts, configured by environment:
 *
 *   BENCH_DATABASE_URL, BENCH_EPOCH (number), BENCH_EPOCH_KEY (hex), BENCH_ORIGINS (comma-separated),
 *   BENCH_DB_POOL (default 10, the node's default pool)
 *
 * POST /lookup {"identifiers":[{"type":"email","value":"..."}]} answers {"peer":[...],"own":[...]}.
 * Prints `listening <port>` on stdout when ready.
 */
import Fastify from 'fastify';
import { deriveDigest } from '../../../node/indicators/derive.ts';
import { epochKey } from '../../../node/membership/epoch-keyring.ts';
import { tryNormalize } from '../../../node/identifiers/normalize.ts';
import { LOOKUP_STATEMENT } from '../../../node/lookup/lookup.ts';
import type { IdentifierType } from '../../../node/identifiers/vocabulary.ts';
import { openPg } from '../../../node/storage/pg.ts';

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const env = (name: string) => {
    const v = process.env[name];
    if (v === undefined || v === '') throw new Error(`${name} is not set`);
    return v;
  };
  const epoch = Number(env('BENCH_EPOCH'));
  const key = epochKey(Buffer.from(env('BENCH_EPOCH_KEY'), 'hex'));
  const origins = env('BENCH_ORIGINS').split(',');
  const db = await openPg({ connectionString: env('BENCH_DATABASE_URL'), max: Number(process.env.BENCH_DB_POOL ?? 10) });
  const app = Fastify({ logger: false });
  app.post('/lookup', async (req) => {
    const { identifiers } = req.body as { identifiers: Array<{ type: IdentifierType; value: string }> };
    const q = { idx: [] as number[], type: [] as string[], digest: [] as string[], epoch: [] as number[] };
    const c = { idx: [] as number[], type: [] as string[], canonical: [] as string[] };
    identifiers.forEach((input, index) => {
      const r = tryNormalize(input.type, input.value, {});
      if (!('canonical' in r)) return;
      c.idx.push(index);
      c.type.push(input.type);
      c.canonical.push(r.canonical);
      q.idx.push(index);
      q.type.push(input.type);
      q.digest.push(deriveDigest(key, input.type, r.canonical));
      q.epoch.push(epoch);
    });
    const { rows } = await db.query<{ peer: unknown; own: unknown }>(LOOKUP_STATEMENT, [q.idx, q.type, q.digest, q.epoch, c.idx, c.type, c.canonical, origins, new Date()]);
    return { peer: rows[0]!.peer, own: rows[0]!.own };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
  const stop = () => {
    void app.close().then(() => db.close()).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
