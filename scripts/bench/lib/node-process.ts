/**
 * A real node for benchmarks: `alliance start` as a child process (the command users run), so what
 * is measured (throughput, RSS) is the node's own process and not the bench script's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken, loadOrCreateApiKey } from '../../../node/api/tokens.ts';
import { loadConfig } from '../../../node/config.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface NodeProcessOptions {
  dataDir: string;
  /** PostgreSQL URL (DATABASE_URL); the node migrates it at start. */
  databaseUrl: string;
  /** Roster log to found the node's roster from (`--genesis`). */
  genesis: string;
  /** libp2p listen multiaddr; default a free port on loopback. */
  p2p?: string;
  /** Extra environment (ALLIANCE_*). ALLIANCE_LOG_LEVEL defaults to the node's default (info). */
  env?: Record<string, string>;
  /** Where the node's stderr (its JSON logs) goes; default `<dataDir>/node.log`. */
  logFile?: string;
  /** How long to wait for the ready line, ms (default 120 s: a first start migrates and matches). */
  readyTimeoutMs?: number;
}

export interface MemoryStatus {
  /** Resident set now, bytes (VmRSS). */
  rss: number;
  /** Highest resident set so far, bytes (VmHWM). */
  peak: number;
}

export interface NodeProcess {
  pid: number;
  /** e.g. http://127.0.0.1:40123/graphql */
  graphqlUrl: string;
  /** e.g. http://127.0.0.1:40123 */
  baseUrl: string;
  logFile: string;
  /** A token of this node (`alliance token`), for subject `sub`. */
  token(role: 'analyst' | 'trust' | 'admin', sub: string, ttlSeconds?: number): Promise<string>;
  memory(): MemoryStatus;
  /** SIGTERM, then waits for the exit (SIGKILL after 20 s). */
  stop(): Promise<void>;
}

/** RSS and its high-water mark of process `pid`, from /proc (Linux). */
export function processMemory(pid: number): MemoryStatus {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function startNodeProcess(opts: NodeProcessOptions): Promise<NodeProcess> {
  const logFile = opts.logFile ?? path.join(opts.dataDir, 'node.log');
  const env = { ...process.env, DATABASE_URL: opts.databaseUrl, ...opts.env };
  // The node's API key: made now if the data directory has none, so tokens can be issued here.
  const config = loadConfig({ dataDir: opts.dataDir }, env);
  const apiKey = await loadOrCreateApiKey(opts.dataDir);
  const log = fs.openSync(logFile, 'a');
  // ALLIANCE_BENCH_CPU_PROF=DIR: the node writes a V8 CPU profile there when it stops (where its time goes).
  const prof = process.env.ALLIANCE_BENCH_CPU_PROF;
  const args = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), path.join(REPO_ROOT, 'node/cli/bin.ts'), 'start', '--data-dir', opts.dataDir, '--http', '127.0.0.1:0', '--p2p', opts.p2p ?? '/ip4/127.0.0.1/tcp/0', '--genesis', opts.genesis];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  const graphqlUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(`no ready line within ${(opts.readyTimeoutMs ?? 120_000) / 1000} s`), opts.readyTimeoutMs ?? 120_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`alliance start: ${why}\n${tail(logFile)}`));
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const m = /ready: GraphQL at (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exit.then(() => fail(`exited (${exited?.code ?? exited?.signal}) before it was ready`));
  });
  // Keep draining stdout (it prints little after the ready line).
  child.stdout!.resume();
  const pid = child.pid!;
  return {
    pid,
    graphqlUrl,
    baseUrl: graphqlUrl.replace(/\/graphql$/, ''),
    logFile,
    token: (role, sub, ttlSeconds = 3600) => issueToken(apiKey, config.auth, { role, sub, ttlSeconds }),
    memory: () => processMemory(pid),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Sum of a Prometheus counter's samples (all label sets) in a /metrics text. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
