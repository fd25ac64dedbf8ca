/**
 * Prints the operator guide's configuration table, made from the settings table in node/config.ts:
 * `node scripts/docs/settings-table.ts`. With `--write`, puts it in docs/operator.md in place of the table
 * there (test/config.test.ts fails while the two differ).
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { settingsMarkdown } from '../../node/config.ts';
import { writeFileAtomicSync } from '../../node/atomic-file.ts';

const GUIDE = fileURLToPath(new URL('../../docs/operator.md', import.meta.url));
const HEADER = '| setting | flag | environment | default |';

/** `readme` with its configuration table (the header line and the table rows after it) replaced by `table`. */
export function withSettingsTable(readme: string, table: string): string {
  const lines = readme.split('\n');
  const start = lines.indexOf(HEADER);
  if (start === -1) throw new Error(`docs/operator.md has no line ${HEADER}`);
  let end = start;
  while (end < lines.length && lines[end]!.startsWith('|')) end++;
  return [...lines.slice(0, start), table.replace(/\n$/, ''), ...lines.slice(end)].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--write')) {
    writeFileAtomicSync(GUIDE, withSettingsTable(fs.readFileSync(GUIDE, 'utf8'), settingsMarkdown()));
  } else {
    process.stdout.write(settingsMarkdown());
  }
}
