import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from './command.ts';
import { EXIT, UsageError } from './errors.ts';

const RUNNER = fileURLToPath(new URL('../../scripts/bench/run.ts', import.meta.url));

export const benchCommand: Command = {
  summary: 'run the benchmark suite (scripts/bench/) and print every figure beside its baseline and goal',
  usage: `Usage: alliance bench [--quick] [--out FILE] [--only NAME,...]

Runs the benchmarks of scripts/bench/ one after the other (npm run bench does the same): ingest of
peer batches, lookup under load, propagation across 10 nodes, catch-up, memory and disk per node,
import and derivation. Each figure is printed beside a baseline measured in the same run and its goal.
Needs PostgreSQL (ALLIANCE_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres, allowed
to CREATE DATABASE; every database made for a run is dropped after it).

Options:
  --quick          small sizes: the whole suite in under 2 minutes, for a smoke run
  --out FILE       also write the figures as JSON: {machine, quick, startedAt, figures: [{name, value,
                   unit, baseline, goal, met}]}
  --only NAME,...  only these benchmarks (file names in scripts/bench/ without .ts)

Exit status: 0 every benchmark ran (whether or not its goals were met; missed goals are listed at
the end); 1 a benchmark failed to run; 2 wrong usage.
`,
  options: {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    only: { type: 'string' },
  },
  async run(values) {
    if (values.out === '') throw new UsageError('--out needs a file name');
    if (!fs.existsSync(RUNNER)) {
      // The image carries the node, not the benchmarks and their dev dependencies.
      process.stderr.write(`alliance bench: no benchmarks here (${RUNNER}): run them from a checkout of the project after npm ci\n`);
      return EXIT.failure;
    }
    const args = [RUNNER, ...(values.quick ? ['--quick'] : []), ...(values.out ? ['--out', values.out as string] : []), ...(values.only ? ['--only', values.only as string] : [])];
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    // The suite's own children stop with it: pass Ctrl-C on rather than leave them running.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    process.off('SIGINT', forward).off('SIGTERM', forward);
    return code;
  },
};
