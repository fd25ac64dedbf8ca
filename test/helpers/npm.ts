import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { cliEnv, REPO_ROOT } from './cli.ts';

/**
 * The environment a person's shell gives npm: the caller's (minus the node's own settings, as for
 * the CLI), without node_modules/.bin on PATH, so `npm` and `npx` run on the machine's own Node as
 * they do after `git clone` (the project's Node 24 is what npm then puts on the PATH of scripts),
 * and without the variables of an npm that may be running the tests.
 */
export function npmEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env = cliEnv();
  env.PATH = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !dir.split(path.sep).includes('node_modules'))
    .join(path.delimiter);
  for (const k of Object.keys(env)) if (/^npm_/i.test(k)) delete env[k];
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** `npm ARGS` (or `npx` with `bin: 'npx'`) in `cwd` (default: the repository), as a person runs it. */
export function spawnNpm(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; bin?: 'npm' | 'npx' } = {}): ChildProcess {
  return spawn(opts.bin ?? 'npm', args, { cwd: opts.cwd ?? REPO_ROOT, env: npmEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Whether a process with this pid exists (it may belong to anyone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resolves once `check` holds, or rejects after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
