/**
 * Group commit for audit rows that must be stored before their action's answer is handed out
 * (lookups). A row waits while one insert is running; everything that arrived meanwhile goes into the
 * next insert together: one statement and one commit for all of them, and each caller's promise
 * settles when its row is committed (or with the insert's error: then no caller gets an answer).
 * Under load a busy node writes its audit trail in a few large statements instead of one per request;
 * alone, a row is written at once.
 */
import { statement, type Database } from '../storage/database.ts';
import type { AuditEntryInput } from './audit-log.ts';

/** Most rows in one insert; more waiting go in the next. */
export const AUDIT_GROUP_ROWS = 500;

interface Pending {
  entry: AuditEntryInput;
  resolve: (id: string) => void;
  reject: (err: unknown) => void;
}

// Digests are base64url (no commas), so each row's list travels as one comma-joined string: arrays
// of arrays must be rectangular in PostgreSQL. Ids come from the identity in ORDER BY ord, so they
// rise with the input order whatever order RETURNING gives them in.
const INSERT = statement('alliance_audit_rows', `
INSERT INTO audit_log (action, subject, role, identifier_count, digests, hit_count, details)
SELECT action, subject, role, identifier_count, string_to_array(digests, ','), hit_count, details
  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[], $7::jsonb[])
       WITH ORDINALITY AS u(action, subject, role, identifier_count, digests, hit_count, details, ord)
 ORDER BY ord
RETURNING id`,
  { plan: 'generic' },
);

export class AuditWriter {
  readonly #db: Database;
  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Resolves with the row's id once it is committed. */
  append(entry: AuditEntryInput): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.#queue.push({ entry, resolve, reject });
      this.#draining ??= this.#drain().finally(() => {
        this.#draining = undefined;
      });
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, AUDIT_GROUP_ROWS);
      try {
        const ids = await insertAuditRows(this.#db, group.map((p) => p.entry));
        group.forEach((p, i) => p.resolve(ids[i]!));
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
  }
}

/** Inserts rows in one statement; their ids in the order given. */
async function insertAuditRows(db: Database, entries: readonly AuditEntryInput[]): Promise<string[]> {
  if (entries.length === 0) return [];
  for (const e of entries) {
    for (const d of e.digests) if (d.includes(',') || d === '') throw new RangeError('an audit digest is empty or holds a comma');
  }
  const { rows } = await db.query<{ id: string }>(INSERT, [
    entries.map((e) => e.action),
    entries.map((e) => e.subject),
    entries.map((e) => e.role),
    entries.map((e) => e.identifierCount),
    entries.map((e) => e.digests.join(',')),
    entries.map((e) => e.hitCount),
    entries.map((e) => JSON.stringify(e.details)),
  ]);
  const ids = rows.map((r) => BigInt(r.id));
  ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return ids.map(String);
}
