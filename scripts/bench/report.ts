/**
 * The one shape every benchmark reports in, so `npm run bench` can print one table and write one
 * JSON file (`--out FILE`). A bench script run alone prints its own table; with `--json` it prints
 * `{ "machine": ..., "figures": [...] }` on stdout and nothing else there (progress goes to stderr).
 */
import os from 'node:os';

/** A goal a figure must meet: `value op goal`, in the figure's unit. */
export interface Goal {
  op: '>=' | '<=';
  value: number;
}

/** The figure the measured one is compared against, measured in the same run. */
export interface Baseline {
  name: string;
  value: number;
  unit: string;
}

export interface Figure {
  /** What was measured, e.g. "ingest (verify + store), PostgreSQL". */
  name: string;
  value: number;
  unit: string;
  baseline: Baseline | null;
  goal: Goal | null;
  /** Whether `value` meets `goal` (null without a goal). */
  met: boolean | null;
  /** Conditions worth printing beside the figure (sizes, concurrency). */
  note?: string;
}

export interface Machine {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
}

export interface Report {
  machine: Machine;
  quick: boolean;
  figures: Figure[];
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

export function figure(name: string, value: number, unit: string, opts: { baseline?: Baseline | null; goal?: Goal | null; note?: string } = {}): Figure {
  const goal = opts.goal ?? null;
  const met = goal === null ? null : goal.op === '>=' ? value >= goal.value : value <= goal.value;
  return { name, value, unit, baseline: opts.baseline ?? null, goal, met, ...(opts.note === undefined ? {} : { note: opts.note }) };
}

function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** Notes longer than this go on a line of their own under the figure, so the table stays readable. */
const INLINE_NOTE = 40;

/** A fixed-width table: figure, value, baseline, goal, met; a long note on the line under its figure. */
export function formatTable(figures: readonly Figure[]): string {
  const head = ['figure', 'value', 'baseline (same run)', 'goal', 'met'];
  const rows = figures.map((f) => [
    f.note && f.note.length <= INLINE_NOTE ? `${f.name} (${f.note})` : f.name,
    `${num(f.value)} ${f.unit}`,
    f.baseline ? `${num(f.baseline.value)} ${f.baseline.unit} ${f.baseline.name}` : '-',
    f.goal ? `${f.goal.op} ${num(f.goal.value)} ${f.unit}` : '-',
    f.met === null ? '-' : f.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const body = rows.flatMap((r, i) => {
    const note = figures[i]!.note;
    return note && note.length > INLINE_NOTE ? [line(r), `    ${note}`] : [line(r)];
  });
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body].join('\n');
}

/** What a bench script does with its figures: JSON on stdout with `--json`, else a table. */
export function emit(figures: Figure[], opts: { json: boolean; quick: boolean; title: string }): void {
  if (opts.json) {
    const report: Report = { machine: machine(), quick: opts.quick, figures };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const m = machine();
  process.stdout.write(`${opts.title}${opts.quick ? ' (quick)' : ''}: ${m.node}, ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB\n${formatTable(figures)}\n`);
}
