import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/cli.ts';
import type { Report } from '../../../scripts/bench/report.ts';

describe('alliance bench', () => {
  const { dir, remove } = tempDir('alliance-bench-');
  afterAll(remove);

  it('runs the chosen benchmarks, prints each figure beside its baseline and goal, and writes them as JSON', async () => {
    const out = path.join(dir, 'figures.json');
    const r = await runCli(['bench', '--quick', '--only', 'derive', '--out', out], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/figure\s+value\s+baseline \(same run\)\s+goal\s+met/);
    expect(r.stdout).toMatch(/normalise\+digest phone .*identifiers\/s .*raw HMAC-SHA256/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report & { startedAt: string; figures: Array<Report['figures'][number] & { bench: string }> };
    expect(report.quick).toBe(true);
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(report.startedAt))).toBe(false);
    expect(report.figures.length).toBeGreaterThanOrEqual(12);
    for (const f of report.figures) {
      expect(f.bench).toBe('derive');
      expect(f.value).toBeGreaterThan(0);
      expect(f.unit).not.toBe('');
      expect(f.baseline?.value).toBeGreaterThan(0);
      // `met` is exactly what the goal says of the value.
      if (f.goal === null) expect(f.met).toBeNull();
      else expect(f.met).toBe(f.goal.op === '>=' ? f.value >= f.goal.value : f.value <= f.goal.value);
    }
    expect(report.figures.filter((f) => f.goal !== null).map((f) => f.name)).toContain('normalise+digest phone');
  }, 150_000);

  it('refuses an unknown benchmark or flag with exit 2 and runs nothing', async () => {
    const unknown = await runCli(['bench', '--only', 'nosuch', '--out', path.join(dir, 'x.json')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no bench named nosuch; benches: import, derive, ingest, lookup, propagation, catchup, footprint');
    expect(fs.existsSync(path.join(dir, 'x.json'))).toBe(false);
    const flag = await runCli(['bench', '--bogus']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--bogus'");
    const empty = await runCli(['bench', '--out', '']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--out needs a file name');
  });
});
