/**
 * The node started the ways the README gives (`npm start`, `npm run demo`, `npx alliance start`),
 * with the machine's own npm and Node, and stopped the way a supervisor or script stops what it
 * started: SIGTERM to that process. The node must stop with it, cleanly, and free its port and lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { pgliteLockPath, tempDir, waitForExit, waitForOutput } from '../../helpers/cli.ts';
import { freePort } from '../../../scripts/lib/net.ts';
import { isAlive, spawnNpm, until } from '../../helpers/npm.ts';
import { isPortFree } from '../../../node/ports.ts';

const READY = /alliance-node ready: GraphQL at http:\/\/127\.0\.0\.1:(\d+)\/graphql/;

/** The pid a lock file names, once it exists. */
async function lockHolder(file: string, timeoutMs = 120_000): Promise<number> {
  await until(() => fs.existsSync(file), timeoutMs, `lock ${file}`);
  return Number(fs.readFileSync(file, 'utf8').trim());
}

/** Whatever happens, no process of the test outlives it. */
function cleanup(child: ChildProcess, pids: number[]): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

describe('stopping what npm started', () => {
  const tmp = tempDir('alliance-npm-');
  afterAll(() => tmp.remove());

  it('SIGTERM to `npm start` stops the node: npm exits 0 after it, the lock and the port are free', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp.dir, 'start');
    const npm = spawnNpm(['start', '--', '--data-dir', dataDir, '--http', `127.0.0.1:${port}`]);
    npm.stdin!.end();
    const pids: number[] = [];
    try {
      await waitForOutput(npm, 'stdout', (t) => READY.test(t) && /eyJ[\w-]+\.[\w-]+\.[\w-]+\n/.test(t), 120_000);
      const node = await lockHolder(pgliteLockPath(dataDir));
      pids.push(node);
      expect(node).not.toBe(npm.pid);
      npm.kill('SIGTERM');
      expect(await waitForExit(npm, 60_000)).toEqual({ code: 0, signal: null });
      expect(isAlive(node), `node ${node} still running after npm exited`).toBe(false);
      expect(fs.existsSync(pgliteLockPath(dataDir))).toBe(false);
      expect(await isPortFree(port)).toBe(true);
    } finally {
      cleanup(npm, pids);
    }
  });

  it('SIGTERM to `npx alliance start` stops the node too, although npx runs it through a shell', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp.dir, 'npx');
    const npx = spawnNpm(['alliance', 'start', '--data-dir', dataDir, '--http', `127.0.0.1:${port}`], { bin: 'npx' });
    npx.stdin!.end();
    const pids: number[] = [];
    try {
      await waitForOutput(npx, 'stdout', (t) => READY.test(t) && /eyJ[\w-]+\.[\w-]+\.[\w-]+\n/.test(t), 120_000);
      const node = await lockHolder(pgliteLockPath(dataDir));
      pids.push(node);
      npx.kill('SIGTERM');
      await waitForExit(npx, 60_000);
      await until(() => !isAlive(node), 30_000, `node ${node} to stop after npx was stopped`);
      // Stopped, not killed: it released the lock itself.
      expect(fs.existsSync(pgliteLockPath(dataDir))).toBe(false);
      expect(await isPortFree(port)).toBe(true);
    } finally {
      cleanup(npx, pids);
    }
  });

  it(
    'SIGTERM to `npm run demo` stops the three nodes: npm exits 0 after them, the ports and the demo lock are free',
    async () => {
      let base: number;
      const near = (b: number) => [0, 1, 2, 10, 11, 12].map((d) => b + d);
      for (;;) {
        base = await freePort();
        if ((await Promise.all(near(base).map((p) => isPortFree(p)))).every(Boolean)) break;
      }
      const dir = path.join(tmp.dir, 'demo');
      const npm = spawnNpm(['run', 'demo', '--', '--dir', dir, '--records', '20', '--http-port', String(base)]);
      npm.stdin!.end();
      const pids: number[] = [];
      try {
        await waitForOutput(npm, 'stdout', (t) => t.includes('All of this as JSON') && t.endsWith('\n'), 240_000);
        const demo = await lockHolder(path.join(dir, 'demo.lock'));
        pids.push(demo);
        expect(demo).not.toBe(npm.pid);
        npm.kill('SIGTERM');
        expect(await waitForExit(npm, 90_000)).toEqual({ code: 0, signal: null });
        expect(isAlive(demo), `demo ${demo} still running after npm exited`).toBe(false);
        expect(fs.existsSync(path.join(dir, 'demo.lock'))).toBe(false);
        expect(await Promise.all(near(base).map((p) => isPortFree(p)))).toEqual(near(base).map(() => true));
      } finally {
        cleanup(npm, pids);
      }
    },
    360_000,
  );
});
