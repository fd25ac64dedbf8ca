import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

describe('alliance normalize', () => {
  it('prints one canonical form per value', async () => {
    const r = await runCli(['normalize', '--type', 'ip', '192.0.2.1', '  198.51.100.7 ']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('192.0.2.1\n198.51.100.7\n');
  });

  it('with --json prints one object per line and exits 1 when a value is invalid', async () => {
    const r = await runCli(['normalize', '--type', 'ip', '--json', '192.0.2.1', '999.0.0.1']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines[0]).toEqual({ type: 'ip', input: '192.0.2.1', canonical: '192.0.2.1' });
    expect(lines[1]).toMatchObject({ type: 'ip', input: '999.0.0.1', error: expect.any(String), reason: expect.stringMatching(/^ip\./) });
    expect(lines[1]).not.toHaveProperty('canonical');
  });

  it('reports an invalid value on stderr with its reason, and still prints the valid ones', async () => {
    const r = await runCli(['normalize', '--type', 'email', 'no-at-sign', 'Seller@Example.COM']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('seller@example.com\n');
    expect(r.stderr).toMatch(/"no-at-sign" is not a valid email: .+ \[email\.[a-z_]+\]/);
  });

  it('reads values from standard input when none are given, and uses --region', async () => {
    const r = await runCli(['normalize', '--type', 'phone', '--region', 'CN'], { input: '138 0013 8000\n\n+86 138-0013-8000\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('+8613800138000\n+8613800138000\n');
  });

  it('refuses a missing or unknown type, and a bad region, with exit status 2', async () => {
    expect((await runCli(['normalize', 'x'])).code).toBe(2);
    const bad = await runCli(['normalize', '--type', 'fax', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--type must be one of email, phone/);
    expect((await runCli(['normalize', '--type', 'phone', '--region', 'CHN', '1'])).code).toBe(2);
  });
});
