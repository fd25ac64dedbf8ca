import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/cli.ts';
import type { MembershipRequest } from '../../../node/membership/types.ts';

const dirs: Array<() => void> = [];
function dataDir(): string {
  const t = tempDir('alliance-init-');
  dirs.push(t.remove);
  return path.join(t.dir, 'data');
}
afterEach(() => {
  while (dirs.length) dirs.pop()!();
});

describe('alliance init', () => {
  it('creates owner-only keys and prints the public membership request', async () => {
    const dir = dataDir();
    const r = await runCli([
      'init', '--member-id', 'acme.cn', '--name', 'Acme Marketplace', '--kind', 'PLATFORM', '--country', 'CN',
      '--addr', '/dns4/node.acme.example/tcp/4001', '--addr', '/ip4/203.0.113.5/tcp/4001', '--data-dir', dir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const req = JSON.parse(r.stdout) as MembershipRequest;
    expect(Object.keys(req).sort()).toEqual(['addrs', 'country', 'encryptionKey', 'id', 'kind', 'name', 'peerId', 'signingKeys']);
    expect(req).toMatchObject({
      id: 'acme.cn',
      name: 'Acme Marketplace',
      kind: 'PLATFORM',
      country: 'CN',
      addrs: ['/dns4/node.acme.example/tcp/4001', '/ip4/203.0.113.5/tcp/4001'],
      peerId: expect.stringMatching(/^12D3KooW/),
      signingKeys: [{ kid: expect.any(String), jwk: { kty: 'OKP', crv: 'Ed25519', x: expect.any(String) }, validFrom: expect.any(String) }],
      encryptionKey: { kid: expect.any(String), jwk: { kty: 'OKP', crv: 'X25519', x: expect.any(String) } },
    });
    expect(req.signingKeys[0]!.kid).toBe(await calculateJwkThumbprint(req.signingKeys[0]!.jwk));
    expect(req.encryptionKey.kid).toBe(await calculateJwkThumbprint(req.encryptionKey.jwk));
    expect(r.stdout).not.toContain('"d"');
    expect(r.stderr).toContain('member.json');

    const file = path.join(dir, 'keys', 'member.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, 'keys')).mode & 0o777).toBe(0o700);

    // --print shows the same request again.
    const again = await runCli(['init', '--print', '--data-dir', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(req);
  });

  it('uses ALLIANCE_DATA_DIR and defaults kind OTHER, country ZZ', async () => {
    const dir = dataDir();
    const r = await runCli(['init', '--member-id', 'm', '--name', 'M'], { env: { ALLIANCE_DATA_DIR: dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'OTHER', country: 'ZZ', addrs: [] });
    expect(fs.existsSync(path.join(dir, 'keys', 'member.json'))).toBe(true);
  });

  it('refuses a second init on the same data directory (exit 1) and keeps the identity', async () => {
    const dir = dataDir();
    expect((await runCli(['init', '--member-id', 'm', '--name', 'M', '--data-dir', dir])).code).toBe(0);
    const before = fs.readFileSync(path.join(dir, 'keys', 'member.json'), 'utf8');
    const r = await runCli(['init', '--member-id', 'other', '--name', 'Other', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/already exists .*never overwritten.*\[IDENTITY_EXISTS\]/);
    expect(fs.readFileSync(path.join(dir, 'keys', 'member.json'), 'utf8')).toBe(before);
  });

  it.each([
    [['--member-id', 'has space', '--name', 'N'], 'member id'],
    [['--member-id', 'm', '--name', 'N', '--kind', 'BRAND'], 'member kind'],
    [['--member-id', 'm', '--name', 'N', '--country', 'XX'], 'ISO 3166-1'],
    [['--member-id', 'm', '--name', ''], 'member name'],
    [['--member-id', 'm', '--name', 'N', '--addr', 'tcp://1.2.3.4:4001'], 'not a multiaddr'],
    [['--name', 'N'], '--member-id is required'],
    [['--member-id', 'm'], '--name is required'],
  ])('bad flags %j exit 2 and create nothing', async (args, message) => {
    const dir = dataDir();
    const r = await runCli(['init', ...args, '--data-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Usage: alliance init');
    expect(r.stdout).toBe('');
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('--print without an identity exits 1 and says how to create one', async () => {
    const dir = dataDir();
    const r = await runCli(['init', '--print', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no member identity .*alliance init.*\[IDENTITY_MISSING\]/);
  });

  it('--help prints the usage', async () => {
    const r = await runCli(['init', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: alliance init --member-id ID --name NAME/);
    expect(r.stdout).toContain('Options:');
  });
});
