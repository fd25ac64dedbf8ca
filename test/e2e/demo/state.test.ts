import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearDemoDir, readState, writeState, LOCK_FILE, STATE_FILE } from '../../../node/demo/state.ts';
import { DemoError } from '../../../node/demo/errors.ts';
import { shellQuote } from '../../../node/demo/summary.ts';
import { tempDir } from '../../helpers/cli.ts';

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((remove) => remove()));
function scratch(): string {
  const { dir, remove } = tempDir('alliance-demo-state-');
  dirs.push(remove);
  return dir;
}

describe('demo directory', () => {
  it('keeps the state and reads it back', () => {
    const dir = scratch();
    expect(readState(dir)).toBeUndefined();
    const state = { v: 1 as const, alliance: 'demo-alliance', records: 60, seed: 's', members: [{ id: 'bazaarly', p2pPort: 4111 }], foundedAt: '2026-01-01T00:00:00Z' };
    writeState(dir, state);
    expect(readState(dir)).toEqual(state);
    expect(fs.readdirSync(dir)).toEqual([STATE_FILE]);
  });

  it('refuses a state file it cannot read, saying to start over', () => {
    const dir = scratch();
    fs.writeFileSync(path.join(dir, STATE_FILE), '{"v":1,"alliance":"x","records":"many"}');
    expect(() => readState(dir)).toThrow(DemoError);
    expect(() => readState(dir)).toThrow(/--fresh/);
  });

  it('clears what the demo made but keeps the lock', () => {
    const dir = scratch();
    // Temporary files of atomic writes a killed run left: both spellings (node/atomic-file.ts).
    const leftovers = ['.demo.json.123.ab.tmp', `${STATE_FILE}.2836483012`, 'roster.jsonl.17'];
    for (const f of [STATE_FILE, 'demo.json', 'roster.jsonl', 'genesis.json', LOCK_FILE, ...leftovers]) fs.writeFileSync(path.join(dir, f), 'x');
    fs.mkdirSync(path.join(dir, 'bazaarly', 'pgdata'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'admins'));
    clearDemoDir(dir, ['bazaarly']);
    expect(fs.readdirSync(dir)).toEqual([LOCK_FILE]);
  });

  it('leaves a directory with files it did not make alone', () => {
    const dir = scratch();
    fs.writeFileSync(path.join(dir, STATE_FILE), 'x');
    fs.writeFileSync(path.join(dir, 'thesis.tex'), 'precious');
    // Numbered like a temporary file, but not of a file the demo writes.
    fs.writeFileSync(path.join(dir, 'thesis.tex.2'), 'precious too');
    let err: unknown;
    try {
      clearDemoDir(dir, ['bazaarly']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DemoError);
    expect((err as DemoError).code).toBe('DEMO_DIR_INVALID');
    expect((err as DemoError).message).toContain('thesis.tex');
    expect(fs.readdirSync(dir).sort()).toEqual([STATE_FILE, 'thesis.tex', 'thesis.tex.2']);
  });
});

describe('shellQuote', () => {
  it('makes one shell word of any text', () => {
    for (const text of ['+1 202-555-0100', "it's", 'IBAN: gb26 nwbk', '{"query":"{ a }"}', 'plain']) {
      expect(execFileSync('sh', ['-c', `printf %s ${shellQuote(text)}`], { encoding: 'utf8' })).toBe(text);
    }
  });
});
