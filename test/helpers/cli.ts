import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_NODE_FLAGS } from './node-flags.ts';
import { pgliteTemplate } from './storage.ts';

/** The repository root: the CLI runs from here, as `npx alliance` would. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = 'node/cli/bin.ts';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to (and overriding) a clean environment; a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  /** Killed with SIGKILL after this many ms (the test then fails on the null exit code). */
  timeoutMs?: number;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
}

/**
 * The environment children get: the caller's, minus the node's own settings, so a developer's
 * DATABASE_URL or ALLIANCE_* never leaks into a test. Logs are kept quiet unless a test asks.
 */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'DATABASE_URL' || k.startsWith('ALLIANCE_') || k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  env.ALLIANCE_LOG_LEVEL = 'warn';
  // Many nodes run at once: each takes a free loopback port unless a test names one.
  env.ALLIANCE_P2P = '/ip4/127.0.0.1/tcp/0';
  const template = pgliteTemplate();
  if (template !== undefined) env.ALLIANCE_PGLITE_TEMPLATE = template;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}


/** Spawns the real CLI (`node node/cli/bin.ts ...args`) with the Node that runs the tests (24). */
export function spawnCli(args: string[], opts: Pick<CliOptions, 'env'> = {}): ChildProcess {
  return spawn(process.execPath, [...TEST_NODE_FLAGS, BIN, ...args], { cwd: REPO_ROOT, env: cliEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs the CLI to completion and collects its output and exit status. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, opts);
  return collect(child, opts);
}

function collect(child: ChildProcess, opts: CliOptions): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stderr += `\n[test helper: killed after ${opts.timeoutMs ?? 20_000} ms]\n`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Resolves when `child` exits, with its status and whatever it wrote meanwhile. */
export function waitForExit(child: ChildProcess, timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Resolves once `text` (accumulated from `stream`) satisfies `test`; rejects on exit or timeout. */
export function waitForOutput(child: ChildProcess, stream: 'stdout' | 'stderr', test: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    let other = '';
    const s = child[stream]!;
    const o = child[stream === 'stdout' ? 'stderr' : 'stdout']!;
    const onOther = (d: Buffer | string) => (other += d.toString());
    const done = (fn: () => void) => {
      clearTimeout(timer);
      s.off('data', onData);
      o.off('data', onOther);
      child.off('exit', onExit);
      fn();
    };
    const onData = (d: Buffer | string) => {
      text += d.toString();
      if (test(text)) done(() => resolve(text));
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(() => reject(new Error(`process exited (code ${code}, signal ${signal}) before the expected ${stream} output; ${stream}: ${text}\nother: ${other}`)));
    const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${stream} output; got: ${text}\nother: ${other}`))), timeoutMs);
    s.on('data', onData);
    o.on('data', onOther);
    child.on('exit', onExit);
  });
}

export interface StartedNode {
  child: ChildProcess;
  /** http://127.0.0.1:PORT/graphql, as printed on the ready line. */
  url: string;
  /** The bootstrap admin token printed on a fresh data directory, else undefined. */
  bootstrapToken: string | undefined;
  /** Everything written to stdout up to and including the ready line (and the token, if any). */
  stdout: string;
  /** Everything the child has written to stderr so far (kept up to date). */
  stderr(): string;
  /** Everything the child has written to stdout so far (kept up to date). */
  allStdout(): string;
  /** Sends SIGTERM and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const READY = /alliance-node ready: GraphQL at (http:\/\/\S+\/graphql)/;
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/m;

/**
 * Starts `alliance start --http 127.0.0.1:0 ...args` in the background and waits for its ready line
 * (and, on a fresh data directory, the admin token printed after it).
 */
export async function startNodeProcess(args: string[], opts: Pick<CliOptions, 'env' | 'timeoutMs'> = {}): Promise<StartedNode> {
  const child = spawnCli(['start', '--http', '127.0.0.1:0', ...args], opts);
  child.stdin!.end();
  let stderr = '';
  let stdoutAll = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdoutAll += d));
  let stdout: string;
  try {
    stdout = await waitForOutput(
      child,
      'stdout',
      (text) => {
        const ready = READY.exec(text);
        if (!ready) return false;
        const after = text.slice(ready.index + ready[0].length);
        // `start` writes the ready line and the token block (if any) in one write; wait for all of it.
        if (/New data directory/.test(after)) return JWT.test(after) && after.endsWith('\n');
        return after.includes('\n');
      },
      opts.timeoutMs ?? 30_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\nstderr: ${stderr}`);
  }
  const url = READY.exec(stdout)![1]!;
  const after = stdout.slice(stdout.indexOf(url));
  const token = /New data directory/.test(after) ? JWT.exec(after)?.[0] : undefined;
  return {
    child,
    url,
    bootstrapToken: token,
    stdout,
    stderr: () => stderr,
    allStdout: () => stdoutAll,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return waitForExit(child);
    },
  };
}

/** POSTs one GraphQL operation to a running node over real HTTP. */
export async function graphql<T = Record<string, unknown>>(
  url: string,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ status: number; body: { data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

/** A fresh temporary directory, and a function that removes it. */
export function tempDir(prefix = 'alliance-cli-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Lock file of the embedded database of a data directory (see node/storage/pglite.ts). */
export function pgliteLockPath(dataDir: string): string {
  return path.join(dataDir, 'pgdata.lock');
}
