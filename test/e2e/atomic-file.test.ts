import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { temporaryFileTarget, writeFileAtomic, writeFileAtomicSync, writeFileExclusive } from '../../node/atomic-file.ts';
import { startChild } from '../helpers/child.ts';
import { tempDir } from '../helpers/cli.ts';

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((remove) => remove()));
function scratch(): string {
  const { dir, remove } = tempDir('alliance-atomic-file-');
  dirs.push(remove);
  return dir;
}

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;
const umask = () => {
  // Read without changing it for good: set, then put back at once.
  const m = process.umask(0o022);
  process.umask(m);
  return m;
};

describe('writeFileAtomic', () => {
  it.each([
    ['sync', (f: string, d: string, o?: { mode?: number; dirMode?: number }) => Promise.resolve(writeFileAtomicSync(f, d, o))],
    ['async', (f: string, d: string, o?: { mode?: number; dirMode?: number }) => writeFileAtomic(f, d, o)],
  ])('(%s) gives the mode asked for exactly, else keeps the replaced file\'s', async (_, write) => {
    const dir = scratch();
    const key = path.join(dir, 'keys', 'k.json');
    await write(key, 'secret', { mode: 0o600, dirMode: 0o700 });
    expect(fs.readFileSync(key, 'utf8')).toBe('secret');
    expect(modeOf(key)).toBe(0o600);
    expect(modeOf(path.dirname(key))).toBe(0o700 & ~umask());

    // A key replaced over a file someone made readable is owner-only again.
    fs.chmodSync(key, 0o644);
    await write(key, 'secret 2', { mode: 0o600 });
    expect(modeOf(key)).toBe(0o600);

    // Without a mode: a new file as the umask makes it, a replaced file keeps its mode.
    const plain = path.join(dir, 'plain.txt');
    await write(plain, 'one');
    expect(modeOf(plain)).toBe(0o666 & ~umask());
    fs.chmodSync(plain, 0o640);
    await write(plain, 'two');
    expect([fs.readFileSync(plain, 'utf8'), modeOf(plain)]).toEqual(['two', 0o640]);
    expect(fs.readdirSync(dir).sort()).toEqual(['keys', 'plain.txt']);
  });

  it('leaves the target as it was and no temporary file when the write fails', async () => {
    const dir = scratch();
    // A directory in the way: the rename at the end fails.
    const target = path.join(dir, 'state.json');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'kept');
    expect(() => writeFileAtomicSync(target, 'new', { mode: 0o600 })).toThrow();
    await expect(writeFileAtomic(target, 'new', { mode: 0o600 })).rejects.toThrow();
    expect(fs.readdirSync(dir)).toEqual(['state.json']);
    expect(fs.readFileSync(path.join(target, 'inside'), 'utf8')).toBe('kept');
    // A missing directory without dirMode is an error, not a directory made with some mode.
    expect(() => writeFileAtomicSync(path.join(dir, 'missing', 'f'), 'x')).toThrow(/ENOENT/);
  });

  it('never shows a reader half a file, even when the writer is killed mid-write', async () => {
    const dir = scratch();
    const file = path.join(dir, 'big.json');
    const bytes = 4 * 1024 * 1024;
    fs.writeFileSync(file, 'z'.repeat(bytes), { mode: 0o600 });
    const child = startChild('atomic-writer-child.ts', [file, String(bytes)]);
    try {
      await child.next();
      // Read while it writes: each read sees one whole version.
      for (let i = 0; i < 20; i++) {
        const text = fs.readFileSync(file, 'latin1');
        expect(text.length).toBe(bytes);
        expect(text).toBe(text[0]!.repeat(bytes));
      }
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
    const text = fs.readFileSync(file, 'latin1');
    expect(text).toBe(text[0]!.repeat(bytes));
    expect(modeOf(file)).toBe(0o600);
    // What the kill may have left beside it is recognisably a temporary file of that file.
    for (const name of fs.readdirSync(dir).filter((n) => n !== 'big.json')) expect(temporaryFileTarget(name)).toBe('big.json');
  });
});

describe('writeFileExclusive', () => {
  it('creates a 0600 file in a 0700 directory, whole, and never overwrites one', () => {
    const dir = scratch();
    const file = path.join(dir, 'keys', 'epochs', '1.json');
    expect(writeFileExclusive(file, 'first')).toBe(true);
    expect(modeOf(file)).toBe(0o600 & ~umask());
    expect(modeOf(path.dirname(file))).toBe(0o700 & ~umask());
    expect(writeFileExclusive(file, 'second')).toBe(false);
    expect(fs.readFileSync(file, 'utf8')).toBe('first');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['1.json']);
  });

  it('takes the mode of a file meant to be shared', () => {
    const dir = scratch();
    const file = path.join(dir, 'proposal.json');
    expect(writeFileExclusive(file, '{}', { mode: 0o666 })).toBe(true);
    expect(modeOf(file)).toBe(0o666 & ~umask());
  });
});

describe('temporaryFileTarget', () => {
  it('names the file a leftover temporary file was for, and nothing else', () => {
    expect(temporaryFileTarget('.member.json.1234.0a1b2c.tmp')).toBe('member.json');
    expect(temporaryFileTarget('demo-state.json.2836483012')).toBe('demo-state.json');
    expect(temporaryFileTarget('demo-state.json')).toBeUndefined();
    expect(temporaryFileTarget('notes.tmp')).toBeUndefined();
    expect(temporaryFileTarget('12345')).toBeUndefined();
  });
});
