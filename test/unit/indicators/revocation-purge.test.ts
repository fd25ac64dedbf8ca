/**
 * Dropping a revoked member's indicators (node/indicators/revocation-purge.ts), over real storage
 * and a real roster store: an origin's rows go once, when its revocation applies; later roster
 * changes do not purge it again; a start purges what a revocation left. And a node without a member
 * identity, which runs no exchange, purges as well.
 *
 * Indicator rows are written directly, as ingest would have left them: a revoked origin's batches
 * are refused, so rows left behind after its revocation cannot be made any other way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../node/config.ts';
import { createLogger, type Logger } from '../../../node/log.ts';
import { startNode } from '../../../node/node.ts';
import { BatchStore } from '../../../node/indicators/batch-store.ts';
import { RevocationPurge } from '../../../node/indicators/revocation-purge.ts';
import { RosterStore } from '../../../node/membership/roster-store.ts';
import type { Database } from '../../../node/storage/database.ts';
import { TestAlliance, eventually, memberStorage } from '../../helpers/alliance.ts';
import { STORAGES, openTestDb, pgliteTemplate, type TestDb } from '../../helpers/storage.ts';

const DROPPED = 'indicators of a revoked member dropped';

/** A logger whose lines are kept, parsed. */
function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, logger: createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }) };
}

/** The purges logged: origin and rows dropped. */
const purges = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.msg === DROPPED).map((l) => ({ origin: l.origin, indicators: l.indicators }));

/** Writes `n` live indicator rows of `origin`. */
async function putRows(db: Database, origin: string, n: number, tag = 'a'): Promise<void> {
  for (let i = 0; i < n; i++) {
    const digest = createHash('sha256').update(`${origin}-${tag}-${i}`).digest('base64url');
    const ref = Buffer.alloc(16, i + 1).toString('base64url');
    await db.query(
      `INSERT INTO indicators (origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq)
       VALUES ($1, 'phone', $2, $3, 1, ARRAY['COUNTERFEIT'], 'CONFIRMED', 90, '2026-05-01', '2099-01-01T00:00:00Z', 1)`,
      [origin, digest, ref],
    );
  }
}

async function count(db: Database, origin: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM indicators WHERE origin = $1', [origin]);
  return Number(rows[0]!.n);
}

describe.each(STORAGES)('the revocation purge (%s)', (kind) => {
  let alliance: TestAlliance;
  let t: TestDb;
  let roster: RosterStore;
  let store: BatchStore;

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta', 'gamma']);
    t = await openTestDb(kind);
    roster = await RosterStore.open(t.db);
    for (const e of alliance.entries) await roster.submit(e);
    store = new BatchStore(t.db, { roster: () => roster.state, graceMs: 7 * 86_400_000 });
  });

  afterAll(async () => {
    await t?.close();
    if (alliance !== undefined) fs.rmSync(path.dirname(alliance.rosterFile), { recursive: true, force: true });
  });

  it("drops a revoked origin's indicators once, when the revocation applies, and what is left at the next start", async () => {
    await putRows(t.db, 'alpha', 2);
    await putRows(t.db, 'gamma', 3);
    const { logger, lines } = capture();
    const purge = new RevocationPurge({ store, roster, logger });
    await purge.start();
    expect(await count(t.db, 'gamma')).toBe(3);

    await roster.submit(await alliance.next({ type: 'member.revoke', body: { id: 'gamma', reason: 'left the alliance' } }));
    await eventually(async () => (await count(t.db, 'gamma')) === 0, 10_000, "gamma's indicators dropped");
    expect(await count(t.db, 'alpha')).toBe(2);
    expect(purges(lines)).toEqual([{ origin: 'gamma', indicators: 3 }]);

    // Rows of the revoked origin again (as a batch verified just before the revocation and committed
    // just after the purge would leave them): the roster changes that follow do not purge it again.
    await putRows(t.db, 'gamma', 1, 'late');
    await roster.submit(await alliance.next({ type: 'member.suspend', body: { id: 'beta', reason: 'audit' } }));
    await roster.submit(await alliance.next({ type: 'member.reinstate', body: { id: 'beta' } }));
    // Stopping waits for any purge those changes queued.
    await purge.stop();
    expect(await count(t.db, 'gamma')).toBe(1);
    expect(purges(lines)).toHaveLength(1);

    // The next start purges what the revocation left, and only that.
    const restarted = new RevocationPurge({ store, roster, logger });
    await restarted.start();
    expect(await count(t.db, 'gamma')).toBe(0);
    expect(await count(t.db, 'alpha')).toBe(2);
    expect(purges(lines)).toEqual([
      { origin: 'gamma', indicators: 3 },
      { origin: 'gamma', indicators: 1 },
    ]);
    await restarted.stop();
  });
});

describe.each(STORAGES)('a node without a member identity (%s)', (kind) => {
  let alliance: TestAlliance;
  let dataDir: string;

  beforeAll(async () => {
    alliance = await TestAlliance.found(['alpha', 'beta']);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-observer-'));
  });

  afterAll(() => {
    if (alliance !== undefined) fs.rmSync(path.dirname(alliance.rosterFile), { recursive: true, force: true });
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("drops a revoked member's indicators too, though it runs no exchange", async () => {
    const storage = await memberStorage(kind);
    const config = loadConfig(
      { dataDir, http: '127.0.0.1:0', p2p: '/ip4/127.0.0.1/tcp/0', genesis: alliance.rosterFile, databaseUrl: storage.url },
      { ALLIANCE_PGLITE_TEMPLATE: pgliteTemplate() } as Record<string, string | undefined>,
    );
    const { logger, lines } = capture();
    const node = await startNode(config, logger);
    try {
      expect(node.exchange).toBeUndefined();
      await putRows(node.db, 'alpha', 2);
      await putRows(node.db, 'beta', 1);
      await node.roster.submit(await alliance.next({ type: 'member.revoke', body: { id: 'alpha', reason: 'left the alliance' } }));
      await eventually(async () => (await count(node.db, 'alpha')) === 0, 10_000, "alpha's indicators dropped");
      expect(await count(node.db, 'beta')).toBe(1);
      expect(purges(lines)).toEqual([{ origin: 'alpha', indicators: 2 }]);
    } finally {
      await node.stop();
      await storage.drop?.();
    }
  });
});
