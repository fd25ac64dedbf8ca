/**
 * A second process for lock-file tests: `node lock-child.ts LOCKFILE [wait]`. With `wait` it first
 * waits for a line on stdin (so several children can race). It then takes the lock and reports
 * `{"ok":true}` or `{"ok":false,"code":...,"pid":...}` on stdout, holds the lock until stdin ends,
 * releases it and reports `{"released":true}`.
 */
import readline from 'node:readline';
import { DirLock } from '../../node/storage/lockfile.ts';

const [lockPath, wait] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (wait === 'wait') await lines.next();
let lock: DirLock | undefined;
try {
  lock = DirLock.acquire(lockPath!);
  say({ ok: true });
} catch (err) {
  const e = err as Error & { code?: string; details?: { pid?: number } };
  say({ ok: false, code: e.code, pid: e.details?.pid, message: e.message });
}
while (!(await lines.next()).done);
lock?.release();
say({ released: true });
