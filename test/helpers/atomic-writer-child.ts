/**
 * A writer to be killed mid-write, for atomic-file tests: `node atomic-writer-child.ts FILE BYTES`
 * replaces FILE (mode 0600) over and over with BYTES bytes of one letter, the next letter each time,
 * and reports `{"written":n}` after the first write. It writes until it is killed.
 */
import { writeFileAtomicSync } from '../../node/atomic-file.ts';

const [file, bytes] = process.argv.slice(2);
const letters = 'abcdefghijklmnopqrstuvwxyz';
for (let n = 0; ; n++) {
  writeFileAtomicSync(file!, letters[n % letters.length]!.repeat(Number(bytes)), { mode: 0o600 });
  if (n === 0) process.stdout.write(`${JSON.stringify({ written: 1 })}\n`);
}
