/**
 * Readers of the command's output that go away (`alliance start | head`, a closed terminal): the lost
 * output must not stop a node uncleanly, keep it from stopping, or print a stack.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pgliteLockPath, spawnCli, tempDir, waitForExit } from '../../helpers/cli.ts';
import { freePort } from '../../../scripts/lib/net.ts';

/** Resolves once `url` answers 200; rejects if `child` exits first, or after `timeoutMs`. */
async function answering(child: ChildProcess, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the node exited (code ${child.exitCode}, signal ${child.signalCode}) before answering`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('output readers that go away', () => {
  const tmp = tempDir('alliance-stdio-');
  afterAll(() => tmp.remove());

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`a node whose stdout and stderr readers are gone keeps serving and stops cleanly on ${signal}`, async () => {
      const port = await freePort();
      const dataDir = path.join(tmp.dir, signal);
      // Info logs: the node writes to stderr after its reader is gone, as well as the ready line to stdout.
      const child = spawnCli(['start', '--data-dir', dataDir, '--http', `127.0.0.1:${port}`], { env: { ALLIANCE_LOG_LEVEL: 'info' } });
      child.stdin!.end();
      child.stdout!.destroy();
      child.stderr!.destroy();
      try {
        await answering(child, `http://127.0.0.1:${port}/healthz`);
        // The ready line is written right after the port opens: give its failed write time to land.
        await new Promise((r) => setTimeout(r, 1500));
        expect(child.exitCode, 'the node exited on its own').toBeNull();
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
        child.kill(signal);
        expect(await waitForExit(child, 30_000)).toEqual({ code: 0, signal: null });
        // Stopped cleanly: the embedded database's lock is released, not left for a takeover.
        expect(fs.existsSync(pgliteLockPath(dataDir))).toBe(false);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }, 90_000);
  }

  it('a one-shot command whose stdout reader is gone prints no stack and keeps its exit status', async () => {
    const child = spawnCli(['normalize', '--type', 'ip', '192.0.2.1', '198.51.100.7']);
    child.stdin!.end();
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    expect(await closed).toEqual({ code: 0, signal: null });
    expect(stderr).toBe('');
  });
});
