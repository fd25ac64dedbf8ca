/**
 * Files written whole or not at all: a reader, or the next start after a crash or power loss, sees
 * the old content or the new, never half of either. Every file the node and its commands write this
 * way goes through here: keys, epoch keys, swarm keys, the API key, the listen record, proposal
 * files and the roster export, embedded database templates, the demo's files.
 *
 * `writeFileAtomic` / `writeFileAtomicSync` are `write-file-atomic` (npm's own, the one npm and
 * many tools write their files with): a temporary file beside the target, written, flushed
 * (fsync), given its mode, then renamed over the target; on failure, or a signal mid-write, the
 * temporary file is removed. Here the directory is flushed too once the rename is done, so the new
 * name survives a power loss, and missing parent directories can be made with a mode of their own.
 *
 * Where it does not fit, and why:
 * - `writeFileExclusive` (keys, epoch keys, swarm keys, the API key, proposal files: "never
 *   overwritten"): a rename replaces whatever is there, so the flushed temporary file is
 *   hard-linked to the target instead, which fails if the target exists. The temporary file is
 *   created 0600 from the start (not chmod-ed later), so a key is never readable by others, even
 *   for a moment.
 * - The lock file (node/storage/lockfile.ts) is created exclusively the same way, with a fallback
 *   for file systems without hard links; it is a lock, not data, so it is not flushed.
 * - `alliance export` (node/cli/export.ts) streams pages of unbounded size into its temporary file
 *   as they arrive; write-file-atomic takes the whole content at once, which would hold every
 *   record of the export in memory.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import writeFileAtomicLib from 'write-file-atomic';

export interface AtomicWriteOptions {
  /**
   * The file's mode, exactly (the umask does not apply), e.g. 0o600 for anything secret. Without
   * it, a new file gets 0666 less the umask and a file replaced keeps its mode and owner.
   */
  mode?: number | undefined;
  /** Creates missing parent directories with this mode; without it, the directory must exist. */
  dirMode?: number | undefined;
}

/** Replaces (or creates) `file` with `data`, atomically and durably. */
export async function writeFileAtomic(file: string, data: string | Buffer, opts: AtomicWriteOptions = {}): Promise<void> {
  if (opts.dirMode !== undefined) await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: opts.dirMode });
  await writeFileAtomicLib(file, data, { fsync: true, ...(opts.mode === undefined ? {} : { mode: opts.mode }) });
  await syncDirectoryAsync(path.dirname(path.resolve(file)));
}

/** `writeFileAtomic`, blocking: for commands and start-up, where nothing else waits on the event loop. */
export function writeFileAtomicSync(file: string, data: string | Buffer, opts: AtomicWriteOptions = {}): void {
  if (opts.dirMode !== undefined) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: opts.dirMode });
  writeFileAtomicLib.sync(file, data, { fsync: true, ...(opts.mode === undefined ? {} : { mode: opts.mode }) });
  syncDirectory(path.dirname(path.resolve(file)));
}

export interface ExclusiveWriteOptions {
  /** Mode the file is created with (less the umask). Default 0o600: most files written this way are keys. */
  mode?: number | undefined;
  /** Mode of missing parent directories. Default 0o700. */
  dirMode?: number | undefined;
}

/**
 * Writes `data` to `file` only if `file` does not exist, atomically: a temporary file in the same
 * directory is written and flushed, then hard-linked to `file` (which fails with EEXIST if it
 * exists), then removed. Returns false if `file` existed (it is left as it was). Creates missing
 * parent directories.
 */
export function writeFileExclusive(file: string, data: string, opts: ExclusiveWriteOptions = {}): boolean {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true, mode: opts.dirMode ?? 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o600);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    syncDirectory(dir);
    return true;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * The name of the file a temporary file of this module's was for, or undefined if `name` is not one:
 * a process killed mid-write leaves `.<name>.<pid>.<hex>.tmp` (exclusive writes) or `<name>.<number>`
 * (write-file-atomic) beside the target. For commands that tidy a directory of theirs.
 */
export function temporaryFileTarget(name: string): string | undefined {
  return (/^\.(.+)\.\d+\.[0-9a-f]+\.tmp$/.exec(name) ?? /^(.+)\.\d{1,10}$/.exec(name))?.[1];
}

/**
 * Flushes a directory, so that a name just created or renamed in it survives a power loss. Some
 * file systems refuse to flush a directory; the file itself is written and flushed by then, so that
 * only costs durability there, and is not an error.
 */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // See above.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function syncDirectoryAsync(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    // As in syncDirectory.
  } finally {
    await handle?.close();
  }
}
