/**
 * Standard input read line by line, shared by whoever needs it in one command: `--token -` takes its
 * first line, and `alliance lookup` then reads its values from the lines after it.
 */
import readline from 'node:readline';

let lines: AsyncIterator<string> | undefined;

function reader(): AsyncIterator<string> {
  lines ??= readline.createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
  return lines;
}

/** The next line of standard input, or undefined at its end. */
export async function nextLine(): Promise<string | undefined> {
  const r = await reader().next();
  return r.done ? undefined : r.value;
}

/** The lines of standard input not read yet. */
export async function* remainingLines(): AsyncGenerator<string> {
  for (let line = await nextLine(); line !== undefined; line = await nextLine()) yield line;
}
