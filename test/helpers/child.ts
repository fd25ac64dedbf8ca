import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TEST_NODE_FLAGS } from './node-flags.ts';

/** The project root: child scripts run from here so `node_modules` resolves. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A child Node process speaking JSON lines on stdout (see the helper scripts next to this file). */
export interface Child {
  readonly pid: number;
  /** The next JSON line the child wrote; rejects if it exits first or stays silent for `timeoutMs`. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Writes one line to the child's stdin. */
  send(line: string): void;
  /** Closes the child's stdin (the helpers take that as "finish"). */
  end(): void;
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the child wrote on stderr so far (for failure messages). */
  stderr(): string;
}

/**
 * Starts `script` (a .ts file, relative to test/helpers or absolute) with the Node running vitest —
 * Node 24, which runs TypeScript directly.
 */
export function startChild(script: string, args: string[]): Child {
  const file = script.startsWith('/') ? script : fileURLToPath(new URL(script, import.meta.url));
  const proc: ChildProcessWithoutNullStreams = spawn(process.execPath, [...TEST_NODE_FLAGS, file, ...args], { cwd: ROOT, stdio: 'pipe' });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let err = '';
  let done = false;
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  readline.createInterface({ input: proc.stdout }).on('line', (l) => {
    lines.push(l);
    waiters.splice(0).forEach((w) => w());
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('close', (code, signal) => {
      done = true;
      waiters.splice(0).forEach((w) => w());
      resolve({ code, signal });
    });
  });
  // Writing to a child that has exited must not crash the test process.
  proc.stdin.on('error', () => {});
  return {
    pid: proc.pid!,
    exited,
    stderr: () => err,
    send: (line) => void proc.stdin.write(`${line}\n`),
    end: () => proc.stdin.end(),
    kill: (signal = 'SIGKILL') => void proc.kill(signal),
    async next(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (lines.length === 0) {
        if (done) throw new Error(`child ${script} exited without output; stderr: ${err}`);
        if (Date.now() > deadline) throw new Error(`child ${script} said nothing for ${timeoutMs} ms; stderr: ${err}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return JSON.parse(lines.shift()!) as Record<string, unknown>;
    },
  };
}

/** The pid of a process that has certainly exited. */
export async function deadPid(): Promise<number> {
  const proc = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = proc.pid!;
  await new Promise((resolve) => proc.on('close', resolve));
  return pid;
}
