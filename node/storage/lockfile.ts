import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StorageError } from './database.ts';

/** Lock files held by this process (absolute paths), to tell "open here already" from a stale lock of a previous process with our pid. */
const held = new Set<string>();

/**
 * An exclusive lock on a data directory, held by this process for as long as it runs. PGlite is a
 * single-process database: a second process opening the same files would corrupt them, so the second
 * one gets STORAGE_LOCKED instead. A lock left by a process that died (kill -9) is taken over.
 *
 * The lock file holds the holder's pid. It is created complete (written aside, then hard-linked into
 * place), so a reader never sees a half-written lock and mistakes it for a stale one.
 */
export class DirLock {
  readonly path: string;
  #released = false;

  private constructor(lockPath: string) {
    this.path = lockPath;
  }

  static acquire(lockPath: string): DirLock {
    const abs = path.resolve(lockPath);
    if (held.has(abs)) {
      throw new StorageError('STORAGE_LOCKED', 'data directory is already open in this process', { lock: abs, pid: process.pid });
    }
    for (let attempt = 0; attempt < 100; attempt++) {
      if (tryCreate(abs)) {
        held.add(abs);
        return new DirLock(abs);
      }
      const content = readContent(abs);
      if (content === undefined) continue; // released meanwhile: try again
      const holder = parsePid(content);
      // Our own pid without our own lock is a previous process that had the same pid (a container
      // restarted after kill -9 often gets the same pid again): stale, like a dead one.
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw new StorageError('STORAGE_LOCKED', `data directory is in use by another process (pid ${holder}); stop it first (with embedded storage only one process may open the data directory)`, {
          lock: abs,
          pid: holder,
        });
      }
      if (!removeStale(abs, content)) pause(10);
    }
    throw new StorageError('STORAGE_LOCKED', 'could not take the data directory lock', { lock: abs });
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    held.delete(this.path);
    const content = readContent(this.path);
    if (content !== undefined && parsePid(content) === process.pid) fs.rmSync(this.path, { force: true });
  }
}

/**
 * Creates the lock file with our pid in it, atomically; false if it exists already. Like
 * writeFileExclusive (node/atomic-file.ts, which says why neither is write-file-atomic), but a lock is
 * not data: it is not flushed, and file systems without hard links get an exclusive create instead.
 */
function tryCreate(lockPath: string): boolean {
  const tmp = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600 });
  try {
    fs.linkSync(tmp, lockPath);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  // File systems without hard links: exclusive create, then write.
  try {
    const fd = fs.openSync(lockPath, 'wx', 0o600);
    try {
      fs.writeSync(fd, `${process.pid}\n`);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Removes a stale lock whose content we read as `stale`. Several processes may find the same stale
 * lock at once; re-reading it and removing it happens under a short-lived guard file, so a process that
 * read the stale lock earlier cannot remove a fresh lock another process has just created. False if
 * another process is taking over right now (try again shortly).
 */
function removeStale(lockPath: string, stale: string): boolean {
  const guard = `${lockPath}.takeover`;
  if (!tryCreate(guard)) {
    // A guard left by a process that died while taking over (a window of microseconds) is removed.
    const content = readContent(guard);
    const taker = content === undefined ? undefined : parsePid(content);
    if (content !== undefined && !(taker !== undefined && taker !== process.pid && isAlive(taker))) fs.rmSync(guard, { force: true });
    return false;
  }
  try {
    if (readContent(lockPath) === stale) fs.rmSync(lockPath, { force: true });
  } finally {
    fs.rmSync(guard, { force: true });
  }
  return true;
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readContent(lockPath: string): string | undefined {
  try {
    return fs.readFileSync(lockPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parsePid(content: string): number | undefined {
  const text = content.trim();
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
