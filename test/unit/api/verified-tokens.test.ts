import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { AuthError, createTokenVerifier, VERIFIED_TOKEN_TTL_MS, type TokenVerifier } from '../../../node/api/auth.ts';
import { issueToken, loadOrCreateApiKey, type ApiKey } from '../../../node/api/tokens.ts';
import { loadConfig } from '../../../node/config.ts';

/** Verified tokens are remembered for a minute, never past their expiry. */
describe('token verifier, verified tokens', () => {
  const config = loadConfig({}, {});
  let dir: string;
  let key: ApiKey;
  let now: number;
  let verify: TokenVerifier;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-verified-'));
    key = await loadOrCreateApiKey(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const fresh = () => {
    now = Date.now();
    verify = createTokenVerifier(config.auth, key.publicKey, { now: () => now });
  };

  it('refuses a token once it has expired, though it was accepted (and remembered) before', async () => {
    fresh();
    const token = await issueToken(key, config.auth, { role: 'trust', sub: 'short-lived', ttlSeconds: 1 });
    expect(await verify(token)).toEqual({ sub: 'short-lived', roles: ['trust'], issuer: 'local' });
    await new Promise((r) => setTimeout(r, 1600));
    now = Date.now();
    const err = await verify(token).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'expired' } });
  });

  it('answers a remembered token from memory: only the exact token, and never past its exp on its own clock', async () => {
    fresh();
    const token = await issueToken(key, config.auth, { role: 'analyst', sub: 'remembered', ttlSeconds: 1 });
    expect(await verify(token)).toEqual({ sub: 'remembered', roles: ['analyst'], issuer: 'local' });
    // The real clock passes exp; this verifier's clock does not: the remembered answer stands, where a
    // fresh signature check (against the real clock) would refuse the token.
    await new Promise((r) => setTimeout(r, 1600));
    expect(await verify(token)).toEqual({ sub: 'remembered', roles: ['analyst'], issuer: 'local' });
    // A token with the same claims signed by another key is not the remembered one: refused.
    const other = await loadOrCreateApiKey(fs.mkdtempSync(path.join(dir, 'other-')));
    const forged = await issueToken(other, config.auth, { role: 'analyst', sub: 'remembered', ttlSeconds: 3600 });
    await expect(verify(forged)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'signature' } });
    // Once this verifier's clock reaches exp, the token is checked again, and refused.
    now += 1000;
    await expect(verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'expired' } });
  });

  it('checks a remembered token again after a minute, even before its exp', async () => {
    // This verifier's clock runs two minutes behind: exp is far ahead of it.
    now = Date.now() - 120_000;
    verify = createTokenVerifier(config.auth, key.publicKey, { now: () => now });
    const token = await issueToken(key, config.auth, { role: 'analyst', sub: 'minute', ttlSeconds: 1 });
    await verify(token);
    await new Promise((r) => setTimeout(r, 1600));
    now += VERIFIED_TOKEN_TTL_MS - 1000;
    expect(await verify(token)).toEqual({ sub: 'minute', roles: ['analyst'], issuer: 'local' });
    // Past the minute: verified again (against the real clock, past exp): refused.
    now += 2000;
    await expect(verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'expired' } });
  });

  it('hands out a copy of the principal: changing one does not change what the next request gets', async () => {
    fresh();
    const token = await issueToken(key, config.auth, { role: 'trust', sub: 'copied', ttlSeconds: 600 });
    const first = await verify(token);
    first.roles.push('admin');
    first.sub = 'someone-else';
    expect(await verify(token)).toEqual({ sub: 'copied', roles: ['trust'], issuer: 'local' });
  });

  it('does not remember a token without exp (it is refused)', async () => {
    fresh();
    const token = await new SignJWT({ role: 'trust' })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer(config.auth.issuer)
      .setAudience(config.auth.audience)
      .setSubject('no-exp')
      .sign(key.privateKey);
    await expect(verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
