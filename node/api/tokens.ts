import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, calculateJwkThumbprint, type JWK, type CryptoKey } from 'jose';
import type { AuthConfig } from '../config.ts';
import { writeFileExclusive } from '../atomic-file.ts';
import { AuthError, ROLES, type Role } from './auth.ts';

/** The node's own token-signing key: Ed25519, created in the data directory on first use. */
export interface ApiKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export function apiKeyPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'api-signing-key.jwk');
}

/** Loads the API key, creating it (owner-only file) if the data directory has none yet. */
export async function loadOrCreateApiKey(dataDir: string): Promise<ApiKey & { created: boolean }> {
  const file = apiKeyPath(dataDir);
  let created = false;
  if (!fs.existsSync(file)) {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.kid = await calculateJwkThumbprint(jwk);
    jwk.alg = 'EdDSA';
    // Whole or not at all, 0600 in a 0700 directory; if another process created the key meanwhile, keep theirs.
    created = writeFileExclusive(file, `${JSON.stringify(jwk, null, 2)}\n`);
  }
  return { ...(await readApiKey(file)), created };
}

async function readApiKey(file: string): Promise<ApiKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(fs.readFileSync(file, 'utf8')) as JWK;
  } catch (err) {
    throw new AuthError('KEY_INVALID', `cannot read the API key ${file}: ${(err as Error).message}`);
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') {
    throw new AuthError('KEY_INVALID', `${file} is not an Ed25519 private JWK with a kid`);
  }
  const { d: _d, ...pub } = jwk;
  return {
    kid: jwk.kid,
    privateKey: (await importJWK(jwk, 'EdDSA')) as CryptoKey,
    publicKey: (await importJWK(pub, 'EdDSA')) as CryptoKey,
    publicJwk: pub,
  };
}

/** Parses a lifetime such as `90s`, `30m`, `8h` or `7d` into seconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d{1,6})([smhd])$/.exec(ttl.trim());
  if (!m) throw new AuthError('TTL_INVALID', `"${ttl}" is not a lifetime such as 30m, 8h or 7d`);
  const seconds = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (seconds < 1) throw new AuthError('TTL_INVALID', 'a token must live at least one second');
  if (seconds > MAX_TOKEN_TTL_SECONDS) throw new AuthError('TTL_INVALID', `${ttl} is longer than the limit of 90d`);
  return seconds;
}

export const MAX_TOKEN_TTL_SECONDS = 90 * 86400;

export interface IssueOptions {
  role: Role;
  sub: string;
  ttlSeconds: number;
}

export async function issueToken(key: ApiKey, auth: Pick<AuthConfig, 'issuer' | 'audience'>, opts: IssueOptions): Promise<string> {
  if (!ROLES.includes(opts.role)) throw new AuthError('ROLE_INVALID', `role must be one of ${ROLES.join(', ')}`);
  if (!/^[\w.@:-]{1,128}$/.test(opts.sub)) {
    throw new AuthError('SUBJECT_INVALID', 'subject must be 1-128 letters, digits or . _ @ : -');
  }
  return new SignJWT({ role: opts.role })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
    .setIssuer(auth.issuer)
    .setAudience(auth.audience)
    .setSubject(opts.sub)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + opts.ttlSeconds)
    .sign(key.privateKey);
}
