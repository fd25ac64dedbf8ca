import fs from 'node:fs';
import path from 'node:path';
import type { Command } from './command.ts';
import { EXIT, UsageError } from './errors.ts';
import { AllianceError } from '../errors.ts';
import { DEFAULTS } from '../config.ts';
import { askNode, NoAnswer, targetOf } from './node-client.ts';
import { CATEGORIES, STATUSES, SUBJECT_KINDS } from '../identifiers/vocabulary.ts';

const EXPORT_QUERY = `query Export($filter: RecordFilter, $after: String) {
  exportRecords(filter: $filter, first: 500, after: $after) { rows endCursor hasNextPage }
}`;

/** The export file could not be written (exit 1). */
class ExportFileError extends AllianceError {
  constructor(message: string) {
    super('EXPORT_FILE', message);
  }
}

interface ExportPage {
  rows: string[];
  endCursor: string | null;
  hasNextPage: boolean;
}

/** `--status a,b --status c` → [A, B, C], each checked against `allowed`. */
function listOption(values: Record<string, unknown>, flag: string, allowed: readonly string[]): string[] | undefined {
  const given = values[flag] as string[] | undefined;
  if (given === undefined) return undefined;
  const out = given.flatMap((v) => v.split(',')).map((v) => v.trim().toUpperCase()).filter((v) => v !== '');
  for (const v of out) if (!allowed.includes(v)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got "${v}")`);
  return out;
}

export const exportCommand: Command = {
  summary: "export this member's records as JSON Lines (audited)",
  usage: `Usage: alliance export [--out FILE] [--status S] [--category C] [--kind K] [--updated-since TIME]
                      [--url URL | --data-dir DIR]

Exports the member's own records from a running node, in the order they were added, as JSON Lines
in import format: the file reads back with "alliance import FILE". Every page of 500 records is
written to the node's audit log (action record.export: who, when, how many records, the digests of
their identifiers, never the values). Needs the trust or admin role.

Options:
  --out FILE            write to FILE (written whole or not at all: a temporary file is renamed at the
                        end); default standard output
  --status S            only records of these statuses: ${STATUSES.join(' ')} (repeat or comma-separate)
  --category C          only records of these categories: ${CATEGORIES.join(' ')}
  --kind K              only records of these kinds: ${SUBJECT_KINDS.join(' ')}
  --updated-since TIME  only records changed at or after TIME (ISO 8601, e.g. 2026-11-01T00:00:00Z)
  --url URL             the node's GraphQL URL, with a token of role trust or admin from env
                        ALLIANCE_TOKEN (ALLIANCE_TOKEN=$(alliance token --role trust) ...)
  --token -             read that token from the first line of standard input instead. (A token
                        written on the command line itself is accepted, but shows in the process
                        list, shell history and npm's echo of the command: prefer the two ways above.)
  --data-dir DIR        without --url: the node running on this data directory (env ALLIANCE_DATA_DIR,
                        default ${DEFAULTS.dataDir}), found where it recorded its address (DIR/listen.json), with a
                        5-minute trust token signed by the node's API key
  --http HOST:PORT      that node's HTTP address, if not the one it recorded (env ALLIANCE_HTTP)
  --sub NAME            subject of that token, as the audit log shows it (default cli-<user name>)

Exit status: 0 exported; 1 the file cannot be written (EXPORT_FILE); 2 wrong usage; 3 no answer from
the node (not running, unreachable, token refused, or an error of the node); nothing is left at
--out then.
`,
  options: {
    out: { type: 'string' },
    status: { type: 'string', multiple: true },
    category: { type: 'string', multiple: true },
    kind: { type: 'string', multiple: true },
    'updated-since': { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    'data-dir': { type: 'string' },
    http: { type: 'string' },
    sub: { type: 'string' },
  },
  async run(values) {
    const since = values['updated-since'] as string | undefined;
    if (since !== undefined && (!/^\d{4}-\d{2}-\d{2}/.test(since) || Number.isNaN(Date.parse(since)))) {
      throw new UsageError(`--updated-since must be an ISO 8601 time such as 2026-11-01T00:00:00Z (got "${since}")`);
    }
    const filter = {
      status: listOption(values, 'status', STATUSES),
      category: listOption(values, 'category', CATEGORIES),
      kind: listOption(values, 'kind', SUBJECT_KINDS),
      ...(since === undefined ? {} : { updatedSince: new Date(since).toISOString() }),
    };
    const out = values.out as string | undefined;
    if (out !== undefined && (out === '' || (fs.existsSync(out) && fs.statSync(out).isDirectory()))) throw new UsageError(`--out "${out}" is not a file name`);
    let target;
    try {
      target = await targetOf(values, 'trust');
    } catch (err) {
      if (err instanceof NoAnswer) {
        process.stderr.write(`alliance export: ${err.message}\n`);
        return EXIT.unavailable;
      }
      throw err;
    }

    // Pages are streamed into a temporary file beside --out, flushed and renamed once complete: not
    // node/atomic-file.ts, which takes the whole content at once (an export may be every record).
    const tmp = out === undefined ? undefined : path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.${process.pid}.tmp`);
    let fd = 1;
    if (tmp !== undefined) {
      try {
        fd = fs.openSync(tmp, 'w', 0o600);
      } catch (err) {
        throw new ExportFileError(`cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    let count = 0;
    try {
      let after: string | null = null;
      for (;;) {
        const page: ExportPage = await askNode<ExportPage>(target, EXPORT_QUERY, { filter, after }, 'exportRecords');
        if (page.rows.length > 0) fs.writeSync(fd, `${page.rows.join('\n')}\n`);
        count += page.rows.length;
        if (!page.hasNextPage || page.endCursor === null) break;
        after = page.endCursor;
      }
      if (tmp !== undefined) {
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.renameSync(tmp, out!);
      }
    } catch (err) {
      if (tmp !== undefined) {
        fs.closeSync(fd);
        fs.rmSync(tmp, { force: true });
      }
      if (!(err instanceof NoAnswer) && (err as NodeJS.ErrnoException).syscall !== undefined) {
        // Disk full, a vanished directory: say so rather than print a stack.
        throw new ExportFileError(`cannot write ${out ?? 'standard output'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      if (err instanceof NoAnswer) {
        process.stderr.write(`alliance export: ${err.message}${count > 0 ? ` (after ${count} records)` : ''}\n`);
        return EXIT.unavailable;
      }
      throw err;
    }
    process.stderr.write(`alliance export: ${count} record(s)${out === undefined ? '' : ` written to ${out}`}\n`);
    return EXIT.ok;
  },
};
