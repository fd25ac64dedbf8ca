import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/cli.ts';

describe('alliance (the bin)', () => {
  const tmp = tempDir('alliance-bin-');
  afterAll(() => tmp.remove());

  it('keeps compiled modules in the temporary directory, and runs the same with the cache turned off', async () => {
    const first = await runCli(['--help'], { env: { TMPDIR: tmp.dir } });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Usage: alliance <command>/);
    const cache = path.join(tmp.dir, 'node-compile-cache');
    expect(fs.existsSync(cache)).toBe(true);
    const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [e.name]));
    expect(files(cache).length).toBeGreaterThan(0);
    const off = await runCli(['--help'], { env: { TMPDIR: path.join(tmp.dir, 'off'), NODE_DISABLE_COMPILE_CACHE: '1' } });
    expect(off.stdout).toBe(first.stdout);
    expect(fs.existsSync(path.join(tmp.dir, 'off', 'node-compile-cache'))).toBe(false);
  });
});
