/**
 * The records' outbox (table `indicator_outbox`, migrations 005 and 010): the refs of records whose
 * indicators must be derived and published again. Record writes fill it through triggers, in their
 * own transaction, so a change committed is a change that will be published; the publisher takes
 * from it here and never reads the records tables itself.
 */
import type { Database, Queryable } from '../storage/database.ts';
import type { Category, IdentifierType, RecordStatus } from '../identifiers/vocabulary.ts';

/** A queued record as the publisher derives it: its state now, or null fields once it is deleted. */
export interface QueuedRecord {
  ref: string;
  /** Null: the record is gone (its indicators are to be retracted). */
  status: RecordStatus | null;
  categories: Category[] | null;
  confidence: number | null;
  createdAt: Date | null;
  /** Identifiers with a canonical form, in the record's order. */
  identifiers: Array<{ type: IdentifierType; canonical: string }>;
}

interface Row {
  ref: string;
  status: RecordStatus | null;
  categories: Category[] | null;
  confidence: number | null;
  created_at: Date | string | null;
  identifiers: Array<{ type: IdentifierType; canonical: string }> | string;
}

export class RecordOutbox {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Queues every record (a new epoch key: everything is derived again under it); how many. */
  async queueAll(q: Queryable = this.#db): Promise<number> {
    const { rowCount } = await q.query('INSERT INTO indicator_outbox (ref) SELECT ref FROM records ON CONFLICT DO NOTHING');
    return rowCount;
  }

  /** Queues `refs` (records or gone ones: a gone ref retracts what it published); how many were new. */
  async queue(refs: readonly string[], q: Queryable = this.#db): Promise<number> {
    if (refs.length === 0) return 0;
    const { rowCount } = await q.query('INSERT INTO indicator_outbox (ref) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING', [[...refs]]);
    return rowCount;
  }

  async isEmpty(q: Queryable = this.#db): Promise<boolean> {
    const { rows } = await q.query<{ queued: boolean }>('SELECT EXISTS (SELECT 1 FROM indicator_outbox) AS queued');
    return rows[0]?.queued !== true;
  }

  /** Refs queued now. */
  async size(q: Queryable = this.#db): Promise<number> {
    const { rows } = await q.query<{ n: string }>('SELECT count(*) AS n FROM indicator_outbox');
    return Number(rows[0]!.n);
  }

  /**
   * Takes up to `limit` queued refs out of the outbox in `tx`, with their records as they are once
   * every write in flight on them has committed. Every record write locks its `records` row before
   * its trigger queues the ref, and queueing a ref already queued does nothing: a write in flight on
   * one of these records must commit before its state is read, or this would take the ref with the
   * state before the write, and the write, finding the ref queued, would never be published. A share
   * lock on the records (before the outbox rows, the writers' order) waits for such writes; the
   * statement after it reads with a snapshot that includes them. Rolled back with `tx`, the refs are
   * queued again.
   */
  async take(tx: Queryable, limit: number): Promise<{ taken: number; records: QueuedRecord[] }> {
    const { rows: queued } = await tx.query<{ ref: string }>('SELECT ref FROM indicator_outbox LIMIT $1', [limit]);
    if (queued.length === 0) return { taken: 0, records: [] };
    const refs = queued.map((q) => q.ref);
    await tx.query('SELECT 1 FROM records WHERE ref = ANY($1::text[]) ORDER BY ref FOR SHARE', [refs]);
    const { rows } = await tx.query<Row>(
      `WITH q AS (DELETE FROM indicator_outbox WHERE ref = ANY($1::text[]) RETURNING ref)
       SELECT q.ref, r.status, r.categories, r.confidence, r.created_at,
              (SELECT COALESCE(json_agg(json_build_object('type', i.type, 'canonical', i.canonical) ORDER BY i.position), '[]'::json)
                 FROM record_identifiers i WHERE i.record_id = r.id AND i.canonical IS NOT NULL) AS identifiers
         FROM q LEFT JOIN records r ON r.ref = q.ref`,
      [refs],
    );
    return {
      taken: queued.length,
      records: rows.map((r) => ({
        ref: r.ref,
        status: r.status,
        categories: r.categories,
        confidence: r.confidence,
        createdAt: r.created_at === null ? null : new Date(r.created_at),
        identifiers: typeof r.identifiers === 'string' ? (JSON.parse(r.identifiers) as QueuedRecord['identifiers']) : r.identifiers,
      })),
    };
  }
}
