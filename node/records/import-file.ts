import fs from 'node:fs';
import readline from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { AllianceError } from '../errors.ts';
import type { Database } from '../storage/database.ts';
import type { Actor, RawRecordInput, RecordFields } from './model.ts';
import { IDENTIFIER_TYPES } from '../identifiers/vocabulary.ts';
import { CSV_LIST_SEPARATOR } from '../identifiers/vocabulary.ts';
import { IMPORT_CHUNK, validateRow, type ImportRowError, type OnInvalid } from './import.ts';
import { insertRecords } from './store.ts';

export type ImportFormat = 'csv' | 'jsonl';

export class ImportFileError extends AllianceError {
  constructor(code: 'IMPORT_FORMAT' | 'IMPORT_FILE' | 'IMPORT_EMPTY', message: string) {
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
  ['region', 'region'],
  ['externalid', 'externalId'],
]);
const LIST_FIELDS = new Set(['categories', 'brands', 'evidence']);
/** Identifier columns: every identifier type whose name is not taken by a record field (`name` is the record's name). */
const IDENTIFIER_COLUMNS: readonly string[] = IDENTIFIER_TYPES.filter((t) => !CSV_FIELDS.has(t));

/** Longest JSON line or CSV record accepted; far above what the record limits allow. */
export const MAX_ROW_BYTES = 4 * 1024 * 1024;

const BOM = '\uFEFF';

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
  for await (const raw of rl) {
    line++;
    // A UTF-8 byte order mark (as Windows tools write) is not part of the first record.
    const text = line === 1 && raw.startsWith(BOM) ? raw.slice(1) : raw;
    if (text.trim() === '') continue;
    row++;
    if (text.length > MAX_ROW_BYTES) {
      yield { row, line, input: undefined, error: { field: 'line', message: `is ${text.length} characters long; the limit is ${MAX_ROW_BYTES}` } };
      continue;
    }
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
  const parser = parseCsv({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    info: true,
    raw: true,
    max_record_size: MAX_ROW_BYTES,
  });
  // `pipe` does not pass on a read error (EISDIR, EIO): without this the parser would wait forever.
  stream.on('error', (err) => parser.destroy(err));
  stream.pipe(parser);
  let header: string[] | undefined;
  let row = 0;
  // Line breaks consumed so far. csv-parse's own `info.lines` counts a CRLF inside a quoted cell
  // twice and gives the line a record ends on; users want the line it starts on.
  let breaks = 0;
  try {
    for await (const { record, raw } of parser as AsyncIterable<{ record: string[]; raw: string }>) {
      const leading = /^\s*/.exec(raw)![0];
      const line = breaks + countBreaks(leading) + 1;
      breaks += countBreaks(raw);
      if (!header) {
        header = record.map((h) => h.trim().toLowerCase());
        checkHeader(header);
        continue;
      }
      row++;
      if (record.length !== header.length) {
        const detail =
          record.length < header.length
            ? `missing: ${header.slice(record.length).join(', ')}`
            : `${record.length - header.length} cell(s) after the last column, ${header.at(-1)}`;
        yield { row, line, input: undefined, error: { field: 'row', message: `has ${record.length} columns; the header has ${header.length} (${detail})` } };
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
      yield { row, line, input, columnOf };
    }
  } catch (err) {
    if (err instanceof ImportFileError) throw err;
    const e = err as NodeJS.ErrnoException & { lines?: number };
    if (e.syscall) throw new ImportFileError('IMPORT_FILE', `cannot read the file: ${e.code ?? e.message}`);
    if (e.code === 'CSV_MAX_RECORD_SIZE') {
      throw new ImportFileError('IMPORT_FORMAT', `CSV record ${row + 1} (line ${breaks + 1}) is longer than the limit of ${MAX_ROW_BYTES} characters (an unclosed quote?)`);
    }
    throw new ImportFileError('IMPORT_FORMAT', `CSV is malformed near line ${e.lines ?? breaks + 1}: ${e.message}`);
  } finally {
    parser.destroy();
  }
}

function countBreaks(text: string): number {
  return text.match(/\r\n|\r|\n/g)?.length ?? 0;
}

function checkHeader(header: string[]): void {
  const known = [...CSV_FIELDS.keys(), ...IDENTIFIER_COLUMNS];
  const unknown = header.filter((h) => !known.includes(h));
  if (unknown.length) {
    throw new ImportFileError(
      'IMPORT_FORMAT',
      `CSV header: unknown column(s) ${unknown.map((h) => JSON.stringify(h)).join(', ')}; known columns: ${known.join(', ')}`,
    );
  }
  if (!header.includes('name') || !header.includes('kind')) throw new ImportFileError('IMPORT_FORMAT', 'CSV header: columns kind and name are required');
  // A record field given twice would silently keep the last; identifier columns may repeat.
  const fieldCols = header.map((h) => CSV_FIELDS.get(h)).filter((f) => f !== undefined);
  const twice = fieldCols.filter((f, i) => fieldCols.indexOf(f) !== i);
  if (twice.length) throw new ImportFileError('IMPORT_FORMAT', `CSV header: column(s) ${[...new Set(twice)].join(', ')} given more than once`);
}

function splitList(cell: string): string[] {
  return cell
    .split(CSV_LIST_SEPARATOR)
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface FileImportResult {
  format: ImportFormat;
  imported: number;
  rows: number;
  /**
   * Problems found. Rejecting (the default): when non-empty nothing was stored, and at most `maxErrors`
   * are kept. Skipping: the problems of every skipped row.
   */
  errors: Array<ImportRowError & { line: number }>;
  errorCount: number;
  /** Rows left out because they were invalid (onInvalid 'skip'). */
  skippedRows: number;
}

export interface FileImportOptions {
  format?: ImportFormat | undefined;
  actor: Actor;
  /** Called after each stored chunk with the running count. */
  onProgress?: (rows: number) => void;
  maxErrors?: number;
  /** 'reject' (default): any invalid row stores nothing. 'skip': invalid rows are left out and reported. */
  onInvalid?: OnInvalid | undefined;
  /** Region for identifiers of rows without a `region` (national phone numbers, ids). */
  defaultRegion?: string | undefined;
}

/** A file opened for import, its format settled: open it before opening storage, to fail fast. */
export interface ImportSource {
  file: string;
  format: ImportFormat;
  stream: fs.ReadStream;
}

/** Settles the format and opens the file; a missing, unreadable or directory path is IMPORT_FILE. */
export async function openImportFile(file: string, format?: ImportFormat): Promise<ImportSource> {
  const f = formatOf(file, format);
  let stream: fs.ReadStream;
  try {
    const handle = await fs.promises.open(file, 'r');
    const stat = await handle.stat().catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
    // Pipes are fine (`alliance import <(zcat x.jsonl.gz) --format jsonl`); a directory is not.
    if (stat.isDirectory()) {
      await handle.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    stream = handle.createReadStream({ highWaterMark: 256 * 1024 });
  } catch (err) {
    throw new ImportFileError('IMPORT_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { file, format: f, stream };
}

/**
 * Streams a CSV or JSON Lines file into the records, in one transaction: either every row is stored,
 * or (if any row is invalid, or the process dies) none is. Rows go in chunks of IMPORT_CHUNK.
 * `source` is a path, or a file already opened by openImportFile (which this then closes).
 */
export async function importFile(db: Database, source: string | ImportSource, opts: FileImportOptions): Promise<FileImportResult> {
  const { file, format, stream } = typeof source === 'string' ? await openImportFile(source, opts.format) : source;
  const skip = opts.onInvalid === 'skip';
  // Skipping reports every skipped row; rejecting stops listing after the first hundred problems.
  const maxErrors = opts.maxErrors ?? (skip ? Number.POSITIVE_INFINITY : 100);
  let skippedRows = 0;
  const errors: FileImportResult['errors'] = [];
  let errorCount = 0;
  let rows = 0;
  let imported = 0;

  class Rollback extends Error {}
  try {
    await db.transaction(async (tx) => {
      let chunk: RecordFields[] = [];
      // One chunk is inserted while the next is read and validated: with PostgreSQL the database and
      // this process then work at the same time. At most one insert is in flight (one connection).
      let inFlight: Promise<void> = Promise.resolve();
      let failed: { err: unknown } | undefined;
      const settle = async () => {
        await inFlight;
        if (failed) throw failed.err;
      };
      const flush = async () => {
        await settle();
        if (chunk.length === 0 || (!skip && errorCount > 0)) return;
        const batch = chunk;
        chunk = [];
        inFlight = insertRecords(tx, batch, opts.actor, 'import').then(
          () => {
            imported += batch.length;
            opts.onProgress?.(imported);
          },
          (err: unknown) => {
            failed = { err };
          },
        );
      };
      const source = format === 'csv' ? readCsv(stream) : readJsonLines(stream);
      try {
        for await (const src of source) {
          rows++;
          const rowErrors: ImportRowError[] = [];
          if (src.error) rowErrors.push({ row: src.row, ...src.error });
          const fields = src.input ? validateRow(src.input, src.row, rowErrors, { defaultRegion: opts.defaultRegion }) : undefined;
          if (rowErrors.length) {
            errorCount += rowErrors.length;
            skippedRows++;
            for (const e of rowErrors) {
              if (errors.length < maxErrors) errors.push({ ...e, field: src.columnOf ? src.columnOf(e.field) : e.field, line: src.line });
            }
            // Rejecting: nothing will be stored; stop buffering rows, keep validating to report every problem.
            if (!skip) chunk = [];
            continue;
          }
          if ((skip || errorCount === 0) && fields) {
            chunk.push(fields);
            if (chunk.length >= IMPORT_CHUNK) await flush();
          }
        }
        await flush();
        await settle();
      } catch (err) {
        // The insert in flight must finish before the transaction is rolled back.
        await inFlight;
        throw err;
      }
      if (!skip && errorCount > 0) throw new Rollback();
      if (rows === 0) throw new ImportFileError('IMPORT_EMPTY', `${file} holds no records${format === 'csv' ? ' (an empty file, or a header only)' : ''}: nothing to import`);
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
    imported = 0;
  } finally {
    stream.destroy();
  }
  return { format, imported, rows, errors, errorCount, skippedRows: skip ? skippedRows : 0 };
}
