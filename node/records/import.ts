import type { Database } from '../storage/database.ts';
import type { Actor, RawRecordInput, RecordFields } from './model.ts';
import { RecordValidationError, validateRecordInput } from './model.ts';
import { insertRecords } from './store.ts';

/** One problem of one import row; `row` counts from 1 (data rows, not counting a CSV header). */
export interface ImportRowError {
  row: number;
  field: string;
  message: string;
}

export type ImportOutcome = { ok: true; ids: string[] } | { ok: false; errors: ImportRowError[] };

/** Rows per INSERT statement: large enough to amortise round trips, small enough for modest memory. */
export const IMPORT_CHUNK = 1000;

/** Validates one row; collects its problems under its row number instead of throwing. */
export function validateRow(raw: RawRecordInput, row: number, errors: ImportRowError[]): RecordFields | undefined {
  try {
    return validateRecordInput(raw);
  } catch (err) {
    if (!(err instanceof RecordValidationError)) throw err;
    for (const p of err.problems) errors.push({ row, ...p });
    return undefined;
  }
}

/** Imports records all or nothing: nothing is written unless every record is valid. */
export async function importRecords(db: Database, rows: RawRecordInput[], actor: Actor): Promise<ImportOutcome> {
  const errors: ImportRowError[] = [];
  const valid = rows.map((r, i) => validateRow(r, i + 1, errors));
  if (errors.length) return { ok: false, errors };
  const fields = valid as RecordFields[];
  const ids = await db.transaction(async (tx) => {
    const out: string[] = [];
    for (let i = 0; i < fields.length; i += IMPORT_CHUNK) out.push(...(await insertRecords(tx, fields.slice(i, i + IMPORT_CHUNK), actor, 'import')));
    return out;
  });
  return { ok: true, ids };
}

