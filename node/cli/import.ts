import os from 'node:os';
import type { Command } from './command.ts';
import { UsageError } from './errors.ts';
import { configFrom, STORAGE_OPTIONS, STORAGE_USAGE } from './options.ts';
import { CSV_LIST_SEPARATOR } from '../identifiers/vocabulary.ts';
import type { ImportFormat } from '../records/import-file.ts';

export const importCommand: Command = {
  summary: 'import records from a CSV or JSON Lines file (all or nothing, or skipping invalid rows)',
  usage: `Usage: alliance import FILE [options]

Streams FILE into this node's records in one transaction: every row is stored, or none is. Invalid
rows (including identifiers that cannot be normalised, see alliance normalize) are listed with row,
line and column, and nothing is imported; with --on-invalid skip the valid rows are imported and every
skipped row is listed. Talks to the storage directly; with
embedded storage, stop the node first (or use the GraphQL importRecords mutation).

CSV: a header row with kind, name and any of status, confidence, categories, brands, notes,
evidence, external_id, region, and one column per identifier type (email, phone, url, domain, shop,
business_id, payment_account, bank_account, ip, device_id, address; the name column is the record's
name, so name identifiers need JSON Lines). Cells with several values separate them with "${CSV_LIST_SEPARATOR}";
quote cells holding commas or line breaks. JSON Lines: one RecordInput object per line. A file with
no records is refused. Importing a file twice stores its records twice.

Options:
${STORAGE_USAGE}  --format csv|jsonl     default: from the file extension (.csv, .jsonl, .ndjson)
  --actor NAME           recorded as who made the change (default cli:<user>)
  --on-invalid MODE      reject (default): any invalid row imports nothing; skip: leave invalid rows out
  --region CC            region for rows without one (national phone numbers, ids)
                         (env ALLIANCE_DEFAULT_REGION)
  --progress             print progress lines even when stderr is not a terminal
`,
  options: {
    ...STORAGE_OPTIONS,
    format: { type: 'string' },
    actor: { type: 'string' },
    progress: { type: 'boolean' },
    'on-invalid': { type: 'string' },
    region: { type: 'string' },
  },
  allowPositionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('give exactly one FILE');
    const format = values.format as string | undefined;
    if (format !== undefined && format !== 'csv' && format !== 'jsonl') throw new UsageError('--format must be csv or jsonl');
    const onInvalid = (values['on-invalid'] as string | undefined) ?? 'reject';
    if (onInvalid !== 'reject' && onInvalid !== 'skip') throw new UsageError('--on-invalid must be reject or skip');
    const config = configFrom(values);
    // The file first: a typo in its name must not create (or lock) a data directory.
    const { importFile, openImportFile } = await import('../records/import-file.ts');
    const source = await openImportFile(positionals[0]!, format as ImportFormat | undefined);
    const { openStorage } = await import('../storage/open.ts');
    let db;
    try {
      db = await openStorage(config);
    } catch (err) {
      source.stream.destroy();
      throw err;
    }
    const tty = process.stderr.isTTY;
    const showProgress = tty || values.progress === true;
    const started = performance.now();
    let progressShown = false;
    try {
      const result = await importFile(db, source, {
        onInvalid,
        defaultRegion: config.defaultRegion,
        actor: { sub: (values.actor as string | undefined) ?? `cli:${os.userInfo().username}`, role: 'cli' },
        onProgress: showProgress
          ? (n) => {
              progressShown = true;
              const rate = Math.round(n / ((performance.now() - started) / 1000));
              process.stderr.write(tty ? `\rimporting: ${n} records (${rate}/s)` : `importing: ${n} records (${rate}/s)\n`);
            }
          : undefined,
      });
      if (tty && progressShown) process.stderr.write('\n');
      if (result.errorCount > 0) {
        // A problem of a whole row (wrong column count, not JSON) names no column.
        const where = result.format === 'csv' ? 'column' : 'field';
        for (const e of result.errors) {
          const whole = e.field === 'row' || e.field === 'line';
          process.stderr.write(`row ${e.row} (line ${e.line})${whole ? '' : `, ${where} ${e.field}`}: ${e.message}\n`);
        }
        if (result.errorCount > result.errors.length) process.stderr.write(`... and ${result.errorCount - result.errors.length} more problems\n`);
        if (onInvalid === 'reject') {
          process.stderr.write(`alliance import: ${result.errorCount} problem(s) in ${result.rows} rows; nothing was imported [IMPORT_INVALID]\n`);
          return 1;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const skipped = onInvalid === 'skip' ? `, skipped ${result.skippedRows} invalid rows` : '';
      process.stdout.write(`imported ${result.imported} records${skipped} in ${seconds.toFixed(2)} s (${Math.round(result.imported / seconds)}/s)\n`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
