/**
 * `alliance start` with a port that something else listens on: one line naming the port, the flag
 * that changes it and PORT_IN_USE, exit status 1, and nothing written to a fresh data directory (no
 * development alliance founded, no key made) before the port was found taken.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/cli.ts';
import { freePort } from '../../../scripts/lib/net.ts';

/** A real listener on `host:port` for the length of `fn`. */
async function occupied<T>(host: string, port: number, fn: () => Promise<T>): Promise<T> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  try {
    return await fn();
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('alliance start with a port in use', () => {
  const tmp = tempDir('alliance-ports-');
  afterAll(() => tmp.remove());

  it('the HTTP port: one line naming it and --http, PORT_IN_USE, exit 1, the data directory untouched', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp.dir, 'http');
    const r = await occupied('127.0.0.1', port, () => runCli(['start', '--data-dir', dataDir, '--http', `127.0.0.1:${port}`]));
    expect(r.stderr).toBe(`alliance start: HTTP port ${port} (127.0.0.1) is in use: pass --http HOST:PORT (env ALLIANCE_HTTP) to listen elsewhere [PORT_IN_USE]\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('the P2P port, even when taken on another local address than the one asked for: the same, naming --p2p', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp.dir, 'p2p');
    // Held on 127.0.0.1; the node asks for every address (0.0.0.0), which includes it.
    const r = await occupied('127.0.0.1', port, () =>
      runCli(['start', '--data-dir', dataDir, '--http', '127.0.0.1:0'], { env: { ALLIANCE_P2P: `/ip4/0.0.0.0/tcp/${port}` } }),
    );
    expect(r.stderr).toBe(`alliance start: P2P port ${port} (0.0.0.0) is in use: pass --p2p /ip4/HOST/tcp/PORT (env ALLIANCE_P2P) to listen elsewhere [PORT_IN_USE]\n`);
    expect(r.code).toBe(1);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('an address that is not on this machine: one line too, PORT_UNAVAILABLE', async () => {
    const dataDir = path.join(tmp.dir, 'elsewhere');
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine.
    const r = await runCli(['start', '--data-dir', dataDir, '--http', '192.0.2.1:4000']);
    expect(r.stderr).toBe(
      'alliance start: HTTP port 4000 (192.0.2.1) cannot be listened on (EADDRNOTAVAIL: the address is not one of this machine\'s): pass --http HOST:PORT (env ALLIANCE_HTTP) to listen elsewhere [PORT_UNAVAILABLE]\n',
    );
    expect(r.code).toBe(1);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('the same port for HTTP and P2P: refused before anything is written, naming both', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp.dir, 'same');
    const r = await runCli(['start', '--data-dir', dataDir, '--http', `127.0.0.1:${port}`, '--p2p', `/ip4/0.0.0.0/tcp/${port}`]);
    expect(r.stderr).toBe(
      `alliance start: P2P port ${port} (0.0.0.0) is also HTTP port ${port} (127.0.0.1): pass --p2p /ip4/HOST/tcp/PORT (env ALLIANCE_P2P) to listen elsewhere [PORT_IN_USE]\n`,
    );
    expect(r.code).toBe(1);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('--help says so', async () => {
    const r = await runCli(['start', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit status: 0 stopped by SIGINT or SIGTERM; 1 could not start \(a port in use: PORT_IN_USE/);
  });
});
