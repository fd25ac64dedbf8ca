import fs from 'node:fs';
import { StorageError } from './database.ts';

/**
 * An exclusive lock on a data directory, held by this process for as long as it runs. PGlite is a
 * single-process database: a second process opening the same files would corrupt them, so the second
 * one gets STORAGE_LOCKED instead. A lock left by a process that died (kill -9) is taken over.
 */
export class DirLock {
  readonly path: string;
  #released = false;

  private constructor(lockPath: string) {
    this.path = lockPath;
  }

  static acquire(lockPath: string): DirLock {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(lockPath, 'wx', 0o600);
        fs.writeSync(fd, `${process.pid}\n`);
        fs.closeSync(fd);
        return new DirLock(lockPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readPid(lockPath);
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw new StorageError('STORAGE_LOCKED', `data directory is in use by another process (pid ${holder}); stop it first, or use --url to talk to it`, {
          lock: lockPath,
          pid: holder,
        });
      }
      if (holder === process.pid) {
        throw new StorageError('STORAGE_LOCKED', 'data directory is already open in this process', { lock: lockPath });
      }
      // Stale: the holder is gone. Remove and retry; `wx` keeps two racing takers from both winning.
      fs.rmSync(lockPath, { force: true });
    }
    throw new StorageError('STORAGE_LOCKED', 'could not take the data directory lock', { lock: lockPath });
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (readPid(this.path) === process.pid) fs.rmSync(this.path, { force: true });
  }
}

function readPid(lockPath: string): number | undefined {
  try {
    const n = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
