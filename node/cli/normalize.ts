import readline from 'node:readline';
import type { Command } from './command.ts';
import { UsageError } from './errors.ts';
import { IDENTIFIER_TYPES, type IdentifierType } from '../identifiers/vocabulary.ts';

export const normalizeCommand: Command = {
  summary: 'show the canonical form of identifiers (why things match)',
  usage: `Usage: alliance normalize --type TYPE [--region CC] [--json] VALUE...

Prints the canonical form of each VALUE, one line per VALUE in order (rules: schema/identifiers.md).
With no VALUE, reads one value per line from standard input, and writes one line per input line: a
blank input line gives a blank output line, so the output lines up with the input. An invalid
value's refusal is printed in its place, on a line starting with "! " (no canonical form does):
! "no-at-sign" is not a valid email: has no "@" between mailbox and domain [email.no_at]
and the exit status is 1; stderr then says how many values were invalid. With --json, one object per
value instead: {"type","input","canonical"} or {"type","input","error","reason"}.

Options:
  --type TYPE     ${IDENTIFIER_TYPES.join(' ')}
  --region CC     region for national phone numbers and ids (env ALLIANCE_DEFAULT_REGION)
  --json          one JSON object per line: {"type","input","canonical"} or {"type","input","error","reason"}
`,
  options: { type: { type: 'string' }, region: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(values, positionals) {
    const type = (values.type as string | undefined)?.toLowerCase();
    if (!type) throw new UsageError('--type is required');
    if (!(IDENTIFIER_TYPES as readonly string[]).includes(type)) throw new UsageError(`--type must be one of ${IDENTIFIER_TYPES.join(', ')} (got "${type}")`);
    const region = (values.region as string | undefined) ?? (process.env.ALLIANCE_DEFAULT_REGION || undefined);
    if (region !== undefined && !/^[A-Za-z]{2}$/.test(region)) throw new UsageError(`--region must be a two-letter country code such as CN (got "${region}")`);
    const { tryNormalize } = await import('../identifiers/normalize.ts');

    let inputs: AsyncIterable<string> | string[] = positionals;
    if (positionals.length === 0) {
      if (process.stdin.isTTY) throw new UsageError('give at least one VALUE, or values on standard input');
      inputs = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    }
    let invalid = 0;
    let count = 0;
    for await (const input of inputs) {
      if (positionals.length === 0 && input.trim() === '') {
        // Not a value; in text output a blank line keeps the lines aligned with the input's.
        if (!values.json) process.stdout.write('\n');
        continue;
      }
      count++;
      const r = tryNormalize(type as IdentifierType, input, { region });
      if ('error' in r) invalid++;
      if (values.json) {
        process.stdout.write(`${JSON.stringify('canonical' in r ? { type, input, canonical: r.canonical } : { type, input, error: r.error, reason: r.reason })}\n`);
      } else if ('canonical' in r) {
        process.stdout.write(`${r.canonical}\n`);
      } else {
        // In its place: stdout keeps one line per input.
        process.stdout.write(`! ${JSON.stringify(input)} is not a valid ${type}: ${r.error} [${r.reason}]\n`);
      }
    }
    if (count === 0) throw new UsageError('no values given');
    if (invalid > 0 && !values.json) process.stderr.write(`alliance normalize: ${invalid} of ${count} value${count === 1 ? '' : 's'} invalid, marked "!" in the output\n`);
    return invalid > 0 ? 1 : 0;
  },
};
