import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/cli.ts';
import { readSwarmKey } from '../../../node/p2p/host.ts';

const dirs: Array<() => void> = [];
function dir(): string {
  const t = tempDir('alliance-psk-');
  dirs.push(t.remove);
  return t.dir;
}
afterEach(() => {
  while (dirs.length) dirs.pop()!();
});

describe('alliance admin swarm-key', () => {
  it('writes an owner-only swarm key that the node reads, and never overwrites it', async () => {
    const file = path.join(dir(), 'net', 'swarm.key');
    const r = await runCli(['admin', 'swarm-key', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const content = fs.readFileSync(file, 'utf8');
    expect(content).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/);
    expect(readSwarmKey(file).byteLength).toBeGreaterThan(64);

    const again = await runCli(['admin', 'swarm-key', '--out', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/SWARM_KEY_EXISTS/);
    expect(fs.readFileSync(file, 'utf8')).toBe(content);

    const other = path.join(dir(), 'other.key');
    expect((await runCli(['admin', 'swarm-key', '--out', other])).code).toBe(0);
    expect(fs.readFileSync(other, 'utf8')).not.toBe(content);
  });

  it('refuses a missing --out with exit status 2', async () => {
    const r = await runCli(['admin', 'swarm-key']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out is required/);
  });

  it('a node given a malformed swarm key file refuses to start, naming the file', async () => {
    const d = dir();
    const bad = path.join(d, 'bad.key');
    fs.writeFileSync(bad, '/key/swarm/psk/1.0.0/\n/base64/\nAAAA\n');
    const r = await runCli(['start', '--data-dir', path.join(d, 'data'), '--http', '127.0.0.1:0'], { env: { ALLIANCE_P2P_PSK: bad } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SWARM_KEY_INVALID/);
    expect(r.stderr).toContain(bad);
  });
});
