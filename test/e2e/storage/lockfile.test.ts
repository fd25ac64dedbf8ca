import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirLock } from '../../../node/storage/lockfile.ts';
import { StorageError } from '../../../node/storage/database.ts';
import { deadPid, startChild, type Child } from '../../helpers/child.ts';

let root: string;
let n = 0;
/** A fresh lock path in its own directory, so the tests do not see each other's files. */
function lockPath(): string {
  const dir = path.join(root, `d${++n}`);
  fs.mkdirSync(dir);
  return path.join(dir, 'pgdata.lock');
}
const pidIn = (file: string) => fs.readFileSync(file, 'utf8').trim();

function lockError(fn: () => unknown): StorageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StorageError);
    return err as StorageError;
  }
  throw new Error('expected STORAGE_LOCKED, got the lock');
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-lock-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('DirLock in one process', () => {
  it('writes our pid, refuses a second acquire, and is released once', () => {
    const file = lockPath();
    const lock = DirLock.acquire(file);
    expect(pidIn(file)).toBe(String(process.pid));
    const err = lockError(() => DirLock.acquire(file));
    expect(err.code).toBe('STORAGE_LOCKED');
    expect(err.message).toMatch(/already open in this process/);
    // The refused attempt left the holder's lock alone.
    expect(pidIn(file)).toBe(String(process.pid));
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
    lock.release();
    // Released: it can be taken again, and no temporary files are left next to it.
    DirLock.acquire(file).release();
    expect(fs.readdirSync(path.dirname(file))).toEqual([]);
  });

  it('refuses the same lock through a different spelling of its path', () => {
    const file = lockPath();
    const lock = DirLock.acquire(file);
    try {
      const other = path.join(path.dirname(file), '..', path.basename(path.dirname(file)), '.', 'pgdata.lock');
      expect(lockError(() => DirLock.acquire(other)).code).toBe('STORAGE_LOCKED');
    } finally {
      lock.release();
    }
  });

  it('takes over a stale lock left by a dead process', async () => {
    const file = lockPath();
    fs.writeFileSync(file, `${await deadPid()}\n`);
    const lock = DirLock.acquire(file);
    expect(pidIn(file)).toBe(String(process.pid));
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['garbage', 'not a pid\n'],
    ['zero', '0\n'],
    ['huge', '99999999999999999999\n'],
  ])('takes over a lock file with %s content', (_, content) => {
    const file = lockPath();
    fs.writeFileSync(file, content);
    const lock = DirLock.acquire(file);
    expect(pidIn(file)).toBe(String(process.pid));
    lock.release();
  });

  it('takes over a lock with our own pid that this process does not hold (a previous process with the same pid)', () => {
    // After kill -9 a restarted container often gets the same pid; that lock is stale, not "open here".
    const file = lockPath();
    fs.writeFileSync(file, `${process.pid}\n`);
    const lock = DirLock.acquire(file);
    expect(pidIn(file)).toBe(String(process.pid));
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('on release leaves alone a lock file that now names another process', () => {
    const file = lockPath();
    const lock = DirLock.acquire(file);
    fs.writeFileSync(file, '4242\n');
    lock.release();
    expect(pidIn(file)).toBe('4242');
  });
});

describe('DirLock across processes', () => {
  const children: Child[] = [];
  const start = (args: string[]) => {
    const c = startChild('lock-child.ts', args);
    children.push(c);
    return c;
  };
  afterAll(async () => {
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.exited));
  });

  it('a second process gets STORAGE_LOCKED naming the holder while we hold the lock, and the lock after we release it', async () => {
    const file = lockPath();
    const lock = DirLock.acquire(file);
    const refused = start([file]);
    expect(await refused.next()).toMatchObject({ ok: false, code: 'STORAGE_LOCKED', pid: process.pid });
    refused.end();
    expect(await refused.next()).toEqual({ released: true });
    expect(pidIn(file)).toBe(String(process.pid));
    lock.release();

    const taker = start([file]);
    expect(await taker.next()).toEqual({ ok: true });
    expect(pidIn(file)).toBe(String(taker.pid));
    taker.end();
    expect(await taker.next()).toEqual({ released: true });
    expect((await taker.exited).code).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('we get STORAGE_LOCKED while a live process holds it, and take over once it is killed', async () => {
    const file = lockPath();
    const holder = start([file]);
    expect(await holder.next()).toEqual({ ok: true });
    const err = lockError(() => DirLock.acquire(file));
    expect(err.code).toBe('STORAGE_LOCKED');
    expect(err.details).toMatchObject({ pid: holder.pid });
    expect(err.message).toContain(String(holder.pid));

    holder.kill('SIGKILL');
    await holder.exited;
    expect(pidIn(file)).toBe(String(holder.pid)); // left behind by the dead process
    const lock = DirLock.acquire(file);
    expect(pidIn(file)).toBe(String(process.pid));
    lock.release();
  });

  it.each([
    ['no lock file', false],
    ['a stale lock file', true],
  ])('of processes racing for it with %s, exactly one wins', async (_, stale) => {
    for (let round = 0; round < 3; round++) {
      const file = lockPath();
      if (stale) fs.writeFileSync(file, `${await deadPid()}\n`);
      const racers = Array.from({ length: 6 }, () => start([file, 'wait']));
      // Let them all start up and block on stdin, then let them go together.
      await new Promise((r) => setTimeout(r, 400));
      for (const r of racers) r.send('go');
      const answers = await Promise.all(racers.map((r) => r.next()));
      const winners = racers.filter((_, i) => answers[i]!.ok === true);
      expect(winners).toHaveLength(1);
      for (const a of answers.filter((a) => a.ok !== true)) expect(a).toMatchObject({ code: 'STORAGE_LOCKED', pid: winners[0]!.pid });
      expect(pidIn(file)).toBe(String(winners[0]!.pid));
      for (const r of racers) r.end();
      await Promise.all(racers.map((r) => r.exited));
      expect(fs.readdirSync(path.dirname(file))).toEqual([]);
    }
  });
});
