import fs from 'node:fs';
import readline from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { AllianceError } from '../errors.ts';
import type { Database } from '../storage/database.ts';
import type { Actor, RawRecordInput, RecordFields } from './model.ts';
import { IDENTIFIER_TYPES } from './model.ts';
import { IMPORT_CHUNK, validateRow, type ImportRowError } from './import.ts';
import { insertRecords } from './store.ts';

export type ImportFormat = 'csv' | 'jsonl';

export class ImportFileError extends AllianceError {
  constructor(code: 'IMPORT_FORMAT' | 'IMPORT_FILE', message: string) {
    super(code, message);
  }
}

/** A parsed row before validation, with where it came from for error messages. */
export interface SourceRow {
  row: number;
  line: number;
  input: RawRecordInput | undefined;
  /** Set when the row could not even be parsed. */
  error?: { field: string; message: string };
  /** Maps a validation field path (e.g. `identifiers[2].value`) to the CSV column it came from. */
  columnOf?: (field: string) => string;
}

/** Cells holding several values separate them with this character. */
export const CSV_LIST_SEPARATOR = '|';

const CSV_FIELDS = new Map<string, keyof RawRecordInput | 'external_id'>([
  ['kind', 'kind'],
  ['name', 'name'],
  ['status', 'status'],
  ['confidence', 'confidence'],
  ['categories', 'categories'],
  ['brands', 'brands'],
  ['notes', 'notes'],
  ['evidence', 'evidence'],
  ['external_id', 'externalId'],
  ['externalid', 'externalId'],
]);
const LIST_FIELDS = new Set(['categories', 'brands', 'evidence']);

export function formatOf(file: string, given?: string): ImportFormat {
  const f = given ?? (/\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : /\.csv$/i.test(file) ? 'csv' : undefined);
  if (f !== 'csv' && f !== 'jsonl') {
    throw new ImportFileError('IMPORT_FORMAT', `cannot tell the format of ${file}: name it .csv or .jsonl, or pass --format csv|jsonl`);
  }
  return f;
}

/** Reads JSON Lines: one record object per line; blank lines are skipped. */
export async function* readJsonLines(stream: NodeJS.ReadableStream): AsyncGenerator<SourceRow> {
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  let row = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    row++;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        yield { row, line, input: undefined, error: { field: 'line', message: 'is not a JSON object' } };
      } else {
        yield { row, line, input: value as RawRecordInput };
      }
    } catch (err) {
      yield { row, line, input: undefined, error: { field: 'line', message: `is not valid JSON (${(err as Error).message})` } };
    }
  }
}

/**
 * Reads CSV with a header row. Columns: kind, name, status, confidence, categories, brands, notes,
 * evidence, external_id, and one column per identifier type (email, phone, url, ...). List cells
 * separate values with `|`.
 */
export async function* readCsv(stream: NodeJS.ReadableStream): AsyncGenerator<SourceRow> {
  const parser = stream.pipe(
    parseCsv({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }),
  ) as AsyncIterable<{ record: string[]; info: { lines: number } }>;
  let header: string[] | undefined;
  let row = 0;
  try {
    for await (const { record, info } of parser) {
      if (!header) {
        header = record.map((h) => h.trim().toLowerCase());
        const unknown = header.filter((h) => !CSV_FIELDS.has(h) && !(IDENTIFIER_TYPES as readonly string[]).includes(h));
        if (unknown.length) {
          throw new ImportFileError(
            'IMPORT_FORMAT',
            `CSV header: unknown column(s) ${unknown.join(', ')}; known: ${[...CSV_FIELDS.keys()].join(', ')}, ${IDENTIFIER_TYPES.join(', ')}`,
          );
        }
        if (!header.includes('name') || !header.includes('kind')) throw new ImportFileError('IMPORT_FORMAT', 'CSV header: columns kind and name are required');
        continue;
      }
      row++;
      if (record.length !== header.length) {
        yield { row, line: info.lines, input: undefined, error: { field: 'row', message: `has ${record.length} columns; the header has ${header.length}` } };
        continue;
      }
      const input: RawRecordInput = {};
      const identifiers: { type: string; value: string }[] = [];
      const identColumns: string[] = [];
      header.forEach((col, i) => {
        const cell = record[i]!;
        const field = CSV_FIELDS.get(col);
        if (field) {
          if (cell === '') return;
          if (LIST_FIELDS.has(field)) input[field] = splitList(cell);
          else if (field === 'confidence') input[field] = /^\d+$/.test(cell) ? Number(cell) : cell;
          else input[field] = cell;
        } else {
          for (const value of splitList(cell)) {
            identifiers.push({ type: col, value });
            identColumns.push(col);
          }
        }
      });
      if (identifiers.length) input.identifiers = identifiers;
      const columnOf = (field: string): string => {
        const m = /^identifiers\[(\d+)\]/.exec(field);
        if (m) return identColumns[Number(m[1])] ?? 'identifiers';
        const base = field.replace(/\[\d+\]$/, '');
        return base === 'externalId' ? 'external_id' : base;
      };
      yield { row, line: info.lines, input, columnOf };
    }
  } catch (err) {
    if (err instanceof ImportFileError) throw err;
    const e = err as Error & { lines?: number };
    throw new ImportFileError('IMPORT_FORMAT', `CSV is malformed near line ${e.lines ?? '?'}: ${e.message}`);
  }
}

function splitList(cell: string): string[] {
  return cell
    .split(CSV_LIST_SEPARATOR)
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface FileImportResult {
  imported: number;
  rows: number;
  /** Problems found; when non-empty nothing was stored. At most `maxErrors` are kept. */
  errors: Array<ImportRowError & { line: number }>;
  errorCount: number;
}

export interface FileImportOptions {
  format?: ImportFormat | undefined;
  actor: Actor;
  /** Called after each stored chunk with the running count. */
  onProgress?: (rows: number) => void;
  maxErrors?: number;
}

/**
 * Streams a CSV or JSON Lines file into the records, in one transaction: either every row is stored,
 * or (if any row is invalid, or the process dies) none is. Rows go in chunks of IMPORT_CHUNK.
 */
export async function importFile(db: Database, file: string, opts: FileImportOptions): Promise<FileImportResult> {
  const format = formatOf(file, opts.format);
  let stream: fs.ReadStream;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    stream = fs.createReadStream(file);
  } catch (err) {
    throw new ImportFileError('IMPORT_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const maxErrors = opts.maxErrors ?? 100;
  const errors: FileImportResult['errors'] = [];
  let errorCount = 0;
  let rows = 0;
  let imported = 0;

  class Rollback extends Error {}
  try {
    await db.transaction(async (tx) => {
      let chunk: RecordFields[] = [];
      const flush = async () => {
        if (chunk.length === 0 || errorCount > 0) return;
        await insertRecords(tx, chunk, opts.actor, 'import');
        imported += chunk.length;
        chunk = [];
        opts.onProgress?.(imported);
      };
      const source = format === 'csv' ? readCsv(stream) : readJsonLines(stream);
      for await (const src of source) {
        rows++;
        const rowErrors: ImportRowError[] = [];
        if (src.error) rowErrors.push({ row: src.row, ...src.error });
        const fields = src.input ? validateRow(src.input, src.row, rowErrors) : undefined;
        if (rowErrors.length) {
          errorCount += rowErrors.length;
          for (const e of rowErrors) {
            if (errors.length < maxErrors) errors.push({ ...e, field: src.columnOf ? src.columnOf(e.field) : e.field, line: src.line });
          }
          chunk = [];
          continue;
        }
        if (errorCount === 0 && fields) {
          chunk.push(fields);
          if (chunk.length >= IMPORT_CHUNK) await flush();
        }
      }
      await flush();
      if (errorCount > 0) throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
    imported = 0;
  } finally {
    stream.destroy();
  }
  return { imported, rows, errors, errorCount };
}
