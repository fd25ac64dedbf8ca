import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.ts';

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

  it('prints one stdout line per value, in order, the refusal of an invalid one in its place', async () => {
    const r = await runCli(['normalize', '--type', 'email', 'no-at-sign', 'Seller@Example.COM', 'a@b@c.com', 'Li.Wei+x@Gmail.com']);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^! "no-at-sign" is not a valid email: .+ \[email\.no_at\]$/);
    expect(lines[1]).toBe('seller@example.com');
    expect(lines[2]).toMatch(/^! "a@b@c\.com" is not a valid email: .+ \[email\.multiple_at\]$/);
    expect(lines[3]).toBe('liwei@gmail.com');
    // stderr says how many, once: the details are in their place on stdout.
    expect(r.stderr).toBe('alliance normalize: 2 of 4 values invalid, marked "!" in the output\n');
  });

  it('keeps lines aligned with standard input: a blank input line gives a blank output line', async () => {
    const input = 'Seller@Example.COM\n\nnot an email\nx@example.org\n';
    const r = await runCli(['normalize', '--type', 'email'], { input });
    expect(r.code).toBe(1);
    const out = r.stdout.split('\n').slice(0, -1);
    expect(out).toHaveLength(input.split('\n').length - 1);
    expect(out[0]).toBe('seller@example.com');
    expect(out[1]).toBe('');
    expect(out[2]).toMatch(/^! "not an email" is not a valid email: /);
    expect(out[3]).toBe('x@example.org');
  });

  it('--help says where refusals go', async () => {
    const r = await runCli(['normalize', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('one line per VALUE');
    expect(r.stdout).toContain('in its place');
  });

  it('refuses a missing or unknown type, and a bad region, with exit status 2', async () => {
    expect((await runCli(['normalize', 'x'])).code).toBe(2);
    const bad = await runCli(['normalize', '--type', 'fax', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--type must be one of email, phone/);
    expect((await runCli(['normalize', '--type', 'phone', '--region', 'CHN', '1'])).code).toBe(2);
  });
});
