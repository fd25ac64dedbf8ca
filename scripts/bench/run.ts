/**
 * Runs every benchmark in scripts/bench/ one after the other, passing the arguments on
 * (e.g. `npm run bench -- --json`). Each prints its own figures beside its baseline and goal.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const benches = fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts').sort();
let failed = 0;
for (const file of benches) {
  process.stderr.write(`\n== ${file}\n`);
  const r = spawnSync(process.execPath, [path.join(dir, file), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
