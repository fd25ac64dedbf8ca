import type { Database } from '../storage/database.ts';
import type { Actor, RawRecordInput, RecordFields, ValidateOptions } from './model.ts';
import { validateRecordInput } from './model.ts';
import { ValidationError } from '../errors.ts';
import { insertRecords } from './store.ts';

/** One problem of one import row; `row` counts from 1 (data rows, not counting a CSV header). */
export interface ImportRowError {
  row: number;
  field: string;
  message: string;
  /** For an identifier that cannot be normalised, the normaliser's reason code. */
  reason?: string;
}

/** What to do with invalid rows: refuse the whole import (the default), or store the valid rows only. */
export type OnInvalid = 'reject' | 'skip';

export interface ImportOptions extends ValidateOptions {
  onInvalid?: OnInvalid;
}

/** `skipped` lists the problems of every row left out (onInvalid 'skip'); `ok: false` means nothing was stored. */
export type ImportOutcome = { ok: true; ids: string[]; skipped: ImportRowError[] } | { ok: false; errors: ImportRowError[] };

/** Rows per INSERT statement: large enough to amortise round trips, small enough for modest memory. */
export const IMPORT_CHUNK = 1000;

/** Validates one row; collects its problems under its row number instead of throwing. */
export function validateRow(raw: RawRecordInput, row: number, errors: ImportRowError[], opts: ValidateOptions = {}): RecordFields | undefined {
  try {
    return validateRecordInput(raw, opts);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    for (const p of err.problems) errors.push({ row, ...p });
    return undefined;
  }
}

/**
 * Imports records in one transaction. With onInvalid 'reject' nothing is written unless every record
 * is valid; with 'skip' the valid ones are written and the others reported.
 */
export async function importRecords(db: Database, rows: RawRecordInput[], actor: Actor, opts: ImportOptions = {}): Promise<ImportOutcome> {
  const errors: ImportRowError[] = [];
  const valid = rows.map((r, i) => validateRow(r, i + 1, errors, opts));
  if (errors.length && opts.onInvalid !== 'skip') return { ok: false, errors };
  const fields = valid.filter((f): f is RecordFields => f !== undefined);
  const ids = await db.transaction(async (tx) => {
    const out: string[] = [];
    for (let i = 0; i < fields.length; i += IMPORT_CHUNK) out.push(...(await insertRecords(tx, fields.slice(i, i + IMPORT_CHUNK), actor, 'import')));
    return out;
  });
  return { ok: true, ids, skipped: errors };
}

