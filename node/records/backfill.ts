import type { Database } from '../storage/database.ts';
import type { IdentifierType } from '../identifiers/vocabulary.ts';
import { normalize, NormalizeError } from '../identifiers/normalize.ts';

const CHUNK = 1000;

export interface BackfillResult {
  /** Identifiers given their canonical form. */
  filled: number;
  /** Identifiers that cannot be normalised under today's rules; they stay without one (and never match). */
  invalid: number;
}

/**
 * Gives identifiers stored before normalisation existed (canonical NULL) their canonical form. Runs
 * at start; walks the table once in key order, so invalid values are passed over, not retried.
 */
export async function backfillCanonical(db: Database, defaultRegion?: string): Promise<BackfillResult> {
  let filled = 0;
  let invalid = 0;
  let after: { id: string; pos: number } = { id: '00000000-0000-0000-0000-000000000000', pos: -1 };
  for (;;) {
    const { rows } = await db.query<{ record_id: string; position: number; type: IdentifierType; value: string; region: string | null }>(
      `SELECT i.record_id, i.position, i.type, i.value, r.region
         FROM record_identifiers i JOIN records r ON r.id = i.record_id
        WHERE i.canonical IS NULL AND (i.record_id, i.position) > ($1::uuid, $2::smallint)
        ORDER BY i.record_id, i.position LIMIT ${CHUNK}`,
      [after.id, after.pos],
    );
    if (rows.length === 0) break;
    const updates: { record_id: string; position: number; canonical: string }[] = [];
    for (const row of rows) {
      try {
        updates.push({ record_id: row.record_id, position: row.position, canonical: normalize(row.type, row.value, { region: row.region ?? defaultRegion }) });
      } catch (err) {
        if (!(err instanceof NormalizeError)) throw err;
        invalid++;
      }
    }
    if (updates.length) {
      await db.query(
        `UPDATE record_identifiers i SET canonical = x.canonical
           FROM jsonb_to_recordset($1::jsonb) AS x(record_id uuid, position smallint, canonical text)
          WHERE i.record_id = x.record_id AND i.position = x.position`,
        [JSON.stringify(updates)],
      );
      filled += updates.length;
    }
    const last = rows.at(-1)!;
    after = { id: last.record_id, pos: last.position };
  }
  return { filled, invalid };
}
