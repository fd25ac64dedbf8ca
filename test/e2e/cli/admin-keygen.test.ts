import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/cli.ts';
import { loadAdminKey } from '../../../node/membership/keys.ts';
import type { AdminKey } from '../../../node/membership/types.ts';

const dirs: Array<() => void> = [];
function dir(): string {
  const t = tempDir('alliance-admin-');
  dirs.push(t.remove);
  return t.dir;
}
afterEach(() => {
  while (dirs.length) dirs.pop()!();
});

describe('alliance admin keygen', () => {
  it('writes an owner-only private key file and prints the public AdminKey', async () => {
    const file = path.join(dir(), 'keys', 'alice.jwk');
    const r = await runCli(['admin', 'keygen', '--out', file, '--name', 'Alice']);
    expect(r.code, r.stderr).toBe(0);
    const pub = JSON.parse(r.stdout) as AdminKey;
    expect(pub).toEqual({ kid: expect.any(String), jwk: { kty: 'OKP', crv: 'Ed25519', x: expect.any(String) }, name: 'Alice' });
    expect(pub.kid).toBe(await calculateJwkThumbprint(pub.jwk));
    expect(r.stdout).not.toContain('"d"');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(stored).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: pub.jwk.x, d: expect.any(String), kid: pub.kid, alg: 'EdDSA' });
    expect((await loadAdminKey(file)).public).toEqual(pub);
  });

  it('without --name prints no name', async () => {
    const file = path.join(dir(), 'k.jwk');
    const r = await runCli(['admin', 'keygen', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout)).sort()).toEqual(['jwk', 'kid']);
  });

  it('refuses to overwrite an existing file (exit 1)', async () => {
    const file = path.join(dir(), 'k.jwk');
    fs.writeFileSync(file, 'precious');
    const r = await runCli(['admin', 'keygen', '--out', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/already exists.*\[ADMIN_KEY_EXISTS\]/);
    expect(fs.readFileSync(file, 'utf8')).toBe('precious');
  });

  it('--show prints the public key of an existing key file again, and only reads it', async () => {
    const d = dir();
    const file = path.join(d, 'bob.jwk');
    const created = await runCli(['admin', 'keygen', '--out', file, '--name', 'Bob (legal)']);
    expect(created.code, created.stderr).toBe(0);
    const before = fs.readFileSync(file, 'utf8');
    const shown = await runCli(['admin', 'keygen', '--show', file]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(JSON.parse(created.stdout));
    expect(shown.stdout).not.toContain('"d"');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);

    // Missing, not a key, a public key (no private part): exit 1 with the key error code.
    const missing = await runCli(['admin', 'keygen', '--show', path.join(d, 'nope.jwk')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no admin key file .*nope\.jwk \[ADMIN_KEY_MISSING\]/);
    fs.writeFileSync(path.join(d, 'bob.pub.json'), created.stdout);
    fs.writeFileSync(path.join(d, 'text.jwk'), 'hello');
    for (const f of ['bob.pub.json', 'text.jwk']) {
      const r = await runCli(['admin', 'keygen', '--show', path.join(d, f)]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/is not an admin key file: .*\[ADMIN_KEY_INVALID\]/);
    }
    // --show with creation flags is a usage error.
    const both = await runCli(['admin', 'keygen', '--show', file, '--out', path.join(d, 'x.jwk')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--show takes no --out or --name');
    expect(fs.existsSync(path.join(d, 'x.jwk'))).toBe(false);
  });

  it('usage errors exit 2', async () => {
    const missing = await runCli(['admin', 'keygen']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--out is required');
    expect(missing.stderr).toContain('Usage: alliance admin keygen');
    const badName = await runCli(['admin', 'keygen', '--out', path.join(dir(), 'k.jwk'), '--name', ' ']);
    expect(badName.code).toBe(2);
    const unknown = await runCli(['admin', 'keygen', '--no-such-flag']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--no-such-flag');
  });

  it('alliance admin lists its subcommands; unknown subcommands exit 2; --help works', async () => {
    const help = await runCli(['admin', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: alliance admin <subcommand>/);
    expect(help.stdout).toMatch(/^  keygen /m);
    const none = await runCli(['admin']);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('Usage: alliance admin');
    const unknown = await runCli(['admin', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown subcommand "frobnicate"');
    const sub = await runCli(['admin', 'keygen', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/^Usage: alliance admin keygen --out FILE/);
    expect(sub.stdout).toContain('Options:');
    const main = await runCli(['--help']);
    expect(main.stdout).toMatch(/^  init /m);
    expect(main.stdout).toMatch(/^  admin /m);
  });
});
