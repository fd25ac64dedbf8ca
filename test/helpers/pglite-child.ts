/**
 * A second process for PGlite data-directory tests, run as `node pglite-child.ts MODE DIR [N]`. It
 * reports on stdout, one JSON object per line:
 * - `open`: opens DIR and closes it again; `{"ok":true}` or `{"ok":false,"code":...,"message":...}`.
 * - `import`: opens and migrates DIR, inserts N records in one transaction and reports
 *   `{"inTransaction":true}` before committing; it waits for a line on stdin, then commits, reports
 *   `{"committed":true}` and keeps the database open until stdin ends. Meant to be killed with SIGKILL.
 */
import readline from 'node:readline';
import { openPglite } from '../../node/storage/pglite.ts';
import { migrate } from '../../node/storage/migrate.ts';
import { insertRecords } from '../../node/records/store.ts';
import type { RecordFields } from '../../node/records/model.ts';

const [mode, dir, n] = process.argv.slice(2);
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const stdinEnd = async () => {
  while (!(await lines.next()).done);
};

if (!dir || !['open', 'import'].includes(mode ?? '')) {
  say({ ok: false, code: 'USAGE', message: 'usage: pglite-child.ts open|import DIR [N]' });
  process.exit(2);
}

let db;
try {
  db = await openPglite({ dataDir: dir });
} catch (err) {
  const e = err as Error & { code?: string; details?: unknown };
  say({ ok: false, code: e.code, message: e.message, details: e.details });
  process.exit(0);
}

if (mode === 'open') {
  await db.close();
  say({ ok: true });
  process.exit(0); // stdin is still being read
} else {
  await migrate(db);
  const count = Number(n ?? 100);
  const rows: RecordFields[] = Array.from({ length: count }, (_, i) => ({
    kind: 'SHOP',
    name: `child import ${i}`,
    identifiers: [{ type: 'email', value: `child-${i}@example.com`, canonical: `child-${i}@example.com` }],
    categories: ['COUNTERFEIT'],
    status: 'SUSPECTED',
    confidence: 50,
    brands: [],
    region: null,
    notes: null,
    evidence: [],
    externalId: null,
  }));
  await db.transaction(async (tx) => {
    await insertRecords(tx, rows, { sub: 'child', role: 'analyst' }, 'import');
    say({ inTransaction: true });
    await lines.next();
  });
  say({ committed: true });
  await stdinEnd();
  await db.close();
}
