/**
 * Flags every bench script takes, so `npm run bench` can run them alike: `--quick` (small sizes,
 * short runs) and `--json` (the report on stdout, nothing else there; progress goes to stderr).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const COMMON_OPTIONS = {
  quick: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses the common flags plus `extra`; prints `usage` and exits on --help, exits 2 on a bad flag. */
export function benchArgs<O extends Options>(usage: string, extra: O) {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ options: { ...COMMON_OPTIONS, ...extra }, strict: true, allowPositionals: false }).values as Record<string, unknown>;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values as { quick: boolean; json: boolean; help: boolean } & { [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };
}

/** Progress for humans: always stderr, so stdout stays the report. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A whole number flag, or exit 2 naming it. */
export function intFlag(name: string, raw: string | undefined, def: number, min = 1): number {
  if (raw === undefined) return def;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be a whole number of at least ${min} (got ${raw})\n`);
    process.exit(2);
  }
  return n;
}
