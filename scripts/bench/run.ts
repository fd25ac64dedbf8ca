/**
 * Runs the benchmark suite: every bench script in scripts/bench/ as its own process with `--json`
 * (and `--quick`), one after the other, then prints one table of all their figures beside their
 * baselines and goals, and the goals missed.
 *
 *   npm run bench -- [--quick] [--out FILE] [--only import,lookup,...] [--json]
 *
 * --quick   small sizes and short runs (the whole suite in about two minutes)
 * --out     also write {machine, quick, startedAt, figures: [...]} as JSON to FILE
 * --only    run only these benches (names without .ts)
 * --json    print the JSON report on stdout instead of the table
 *
 * Exit status 1 if a bench failed to run (no report from it); a missed goal is reported, not a failure.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './lib/cli.ts';
import { formatTable, machine, type Figure, type Goal } from './report.ts';

const dir = path.dirname(fileURLToPath(import.meta.url));

/** Cheap and self-contained first, the slow end-to-end ones last. */
const ORDER = ['import', 'derive', 'ingest', 'lookup', 'propagation', 'catchup', 'catch-up', 'footprint'];
const NOT_BENCHES = new Set(['run', 'report']);

const USAGE = 'Usage: npm run bench -- [--quick] [--out FILE] [--only NAME,NAME] [--json]';
const args = benchArgs(USAGE, { out: { type: 'string' }, only: { type: 'string' } });

function available(): string[] {
  const names = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => e.name.slice(0, -3))
    .filter((n) => !NOT_BENCHES.has(n));
  const known = ORDER.filter((n) => names.includes(n));
  return [...known, ...names.filter((n) => !ORDER.includes(n)).sort()];
}

export interface SuiteFigure extends Figure {
  /** The bench script that measured it. */
  bench: string;
}

/** A bench's figure as run.ts reports it; older report shapes (baseline as a number, goal as text) are read too. */
function toFigure(bench: string, raw: Record<string, unknown>): SuiteFigure {
  const value = Number(raw.value);
  const unit = String(raw.unit ?? '');
  let baseline: Figure['baseline'] = null;
  if (typeof raw.baseline === 'number') baseline = { name: String(raw.baselineName ?? 'baseline'), value: raw.baseline, unit };
  else if (raw.baseline && typeof raw.baseline === 'object') baseline = raw.baseline as Figure['baseline'];
  let goal: Goal | null = null;
  if (raw.goal && typeof raw.goal === 'object') goal = raw.goal as Goal;
  else if (typeof raw.goal === 'number') goal = { op: '>=', value: raw.goal };
  else if (typeof raw.goal === 'string') {
    const m = /^(>=|<=)\s*([\d.]+)/.exec(raw.goal);
    if (m) goal = { op: m[1] as Goal['op'], value: Number(m[2]) };
  }
  const met = typeof raw.met === 'boolean' ? raw.met : typeof raw.pass === 'boolean' ? raw.pass : goal === null ? null : goal.op === '>=' ? value >= goal.value : value <= goal.value;
  const note = typeof raw.note === 'string' ? raw.note : undefined;
  return { bench, name: String(raw.name), value, unit, baseline, goal, met, ...(note === undefined ? {} : { note }) };
}

/** Runs one bench; resolves with its figures, or with the reason it produced no report. */
function runBench(name: string): Promise<{ figures: SuiteFigure[] } | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(dir, `${name}.ts`), '--json', ...(args.quick ? ['--quick'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => (out += s));
    child.once('error', (err) => resolve({ error: err.message }));
    child.once('close', (code, signal) => {
      let report: { figures?: unknown } | undefined;
      try {
        report = JSON.parse(out) as { figures?: unknown };
      } catch {
        report = undefined;
      }
      if (!report || !Array.isArray(report.figures) || report.figures.length === 0) {
        resolve({ error: `no report (exit ${signal ?? code})` });
        return;
      }
      resolve({ figures: (report.figures as Array<Record<string, unknown>>).map((f) => toFigure(name, f)) });
    });
  });
}

async function main(): Promise<number> {
  const all = available();
  let names = all;
  if (args.only !== undefined) {
    const wanted = args.only.split(',').map((s) => s.trim().replace(/\.ts$/, '')).filter(Boolean);
    const unknown = wanted.filter((w) => !all.includes(w));
    if (unknown.length > 0 || wanted.length === 0) {
      process.stderr.write(`--only: no bench named ${unknown.join(', ') || '(none given)'}; benches: ${all.join(', ')}\n`);
      return 2;
    }
    names = all.filter((n) => wanted.includes(n));
  }
  const startedAt = new Date().toISOString();
  const figures: SuiteFigure[] = [];
  const failed: Array<{ bench: string; error: string }> = [];
  for (const name of names) {
    process.stderr.write(`\n== ${name}${args.quick ? ' (quick)' : ''}\n`);
    const t0 = performance.now();
    const r = await runBench(name);
    process.stderr.write(`== ${name}: ${'error' in r ? `FAILED, ${r.error}` : `${r.figures.length} figures`} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    if ('error' in r) failed.push({ bench: name, error: r.error });
    else figures.push(...r.figures);
  }

  const m = machine();
  const report = { machine: m, quick: args.quick, startedAt, figures, ...(failed.length > 0 ? { failed } : {}) };
  if (args.out !== undefined) {
    fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`report written to ${args.out}\n`);
  }
  if (args.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return failed.length > 0 ? 1 : 0;
  }
  process.stdout.write(`\nbenchmarks${args.quick ? ' (quick)' : ''}: ${m.node}, ${m.platform}, ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB\n`);
  if (figures.length > 0) process.stdout.write(`${formatTable(figures)}\n`);
  const missed = figures.filter((f) => f.met === false);
  if (missed.length > 0) {
    process.stdout.write(`\ngoals missed:\n`);
    for (const f of missed) process.stdout.write(`  ${f.bench}: ${f.name}: ${f.value.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${f.unit}, goal ${f.goal!.op} ${f.goal!.value.toLocaleString('en-US')} ${f.unit}\n`);
  }
  for (const f of failed) process.stdout.write(`\nbench ${f.bench} failed to run: ${f.error}\n`);
  return failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
