import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import type { AuthConfig } from '../config.ts';
import { AllianceError } from '../errors.ts';

export const ROLES = ['analyst', 'trust', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type AuthErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'KEY_INVALID' | 'TTL_INVALID' | 'ROLE_INVALID' | 'SUBJECT_INVALID';

export class AuthError extends AllianceError {
  declare readonly code: AuthErrorCode;
  constructor(code: AuthErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** Who is calling, as established by a verified token. */
export interface Principal {
  sub: string;
  roles: Role[];
  /** `local` for tokens this node issued, else the external issuer. */
  issuer: string;
}

export type TokenVerifier = (token: string) => Promise<Principal>;

/**
 * Verifies bearer tokens. Each accepted issuer has its own pinned key source and algorithms: this
 * node's own Ed25519 key (EdDSA only), and optionally an external identity provider's JWKS. The
 * issuer claim only picks which of the two to try; the verification itself pins it again.
 */
export function createTokenVerifier(auth: AuthConfig, localKey: CryptoKey, opts: { now?: () => number } = {}): TokenVerifier {
  const remote = auth.jwksUrl !== undefined ? createRemoteJWKSet(new URL(auth.jwksUrl), { cooldownDuration: 30_000, timeoutDuration: 5000 }) : undefined;
  const verified = new VerifiedTokens(opts.now ?? Date.now);

  return async (token: string): Promise<Principal> => {
    const known = verified.get(token);
    if (known !== undefined) return known;
    const principal = await verify(token);
    verified.add(token, principal);
    return principal;
  };

  async function verify(token: string): Promise<Principal> {
    let claims: JWTPayload;
    try {
      decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw new AuthError('UNAUTHENTICATED', 'the bearer token is not a JWT');
    }
    try {
      if (claims.iss === auth.issuer) {
        const { payload } = await jwtVerify(token, localKey, {
          algorithms: ['EdDSA'],
          issuer: auth.issuer,
          audience: auth.audience,
          requiredClaims: ['exp', 'sub'],
        });
        return { sub: payload.sub!, roles: rolesOf(payload, 'role'), issuer: 'local' };
      }
      if (remote && claims.iss === auth.jwksIssuer) {
        const { payload } = await jwtVerify(token, remote, {
          algorithms: auth.jwksAlgorithms,
          issuer: auth.jwksIssuer,
          audience: auth.audience,
          requiredClaims: ['exp', 'sub'],
        });
        return { sub: payload.sub!, roles: rolesOf(payload, auth.jwksRoleClaim), issuer: auth.jwksIssuer! };
      }
    } catch (err) {
      throw new AuthError('UNAUTHENTICATED', describeJoseError(err), { reason: reasonOf(err) });
    }
    throw new AuthError('UNAUTHENTICATED', 'the token was issued by an issuer this node does not accept', { reason: 'issuer' });
  }
}

/** How long a verified token is taken without verifying its signature again. */
export const VERIFIED_TOKEN_TTL_MS = 60_000;
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Tokens verified in the last minute, so a client sending the same bearer token with every request
 * costs one signature check per minute instead of one per request (an Ed25519 verification costs more
 * than the rest of a lookup's work in this process). An entry never outlives the token's `exp`, so
 * an expired token is refused exactly as before; a JWKS key the provider withdraws stops being
 * accepted within the minute. Tokens are kept whole as keys (they are already in memory with every
 * request); the oldest entries go first once the map is full.
 */
class VerifiedTokens {
  readonly #now: () => number;
  readonly #entries = new Map<string, { principal: Principal; until: number }>();

  constructor(now: () => number) {
    this.#now = now;
  }

  get(token: string): Principal | undefined {
    const e = this.#entries.get(token);
    if (e === undefined) return undefined;
    if (e.until <= this.#now()) {
      this.#entries.delete(token);
      return undefined;
    }
    // A copy: callers may treat the principal as their own.
    return { ...e.principal, roles: [...e.principal.roles] };
  }

  add(token: string, principal: Principal): void {
    const exp = decodeJwt(token).exp;
    const until = Math.min(this.#now() + VERIFIED_TOKEN_TTL_MS, typeof exp === 'number' ? exp * 1000 : 0);
    if (until <= this.#now()) return;
    if (this.#entries.size >= VERIFIED_TOKENS_MAX) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, { principal: { ...principal, roles: [...principal.roles] }, until });
  }
}

function rolesOf(payload: JWTPayload, claim: string): Role[] {
  const raw = payload[claim] ?? payload.role;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[\s,]+/) : [];
  const roles = list.filter((r): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r));
  if (roles.length === 0) throw new AuthError('UNAUTHENTICATED', `the token carries no role (${ROLES.join(', ')})`, { reason: 'role' });
  return roles;
}

function reasonOf(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return err.claim;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'key';
  if (err instanceof AuthError) return String(err.details?.reason ?? 'invalid');
  return 'invalid';
}

function describeJoseError(err: unknown): string {
  if (err instanceof AuthError) return err.message;
  switch (reasonOf(err)) {
    case 'expired':
      return 'the token has expired';
    case 'aud':
      return 'the token is for another audience';
    case 'iss':
      return 'the token is from another issuer';
    case 'algorithm':
      return 'the token is signed with an algorithm this node does not accept';
    case 'signature':
      return 'the token signature is not valid';
    case 'key':
      return 'the token is signed with a key the identity provider does not publish';
    case 'nbf':
      return 'the token is not valid yet';
    default:
      return 'the token is not valid';
  }
}

/** Admin may do everything; other roles only what the field lists. */
export function allowed(principal: Principal, required: readonly Role[]): boolean {
  return principal.roles.includes('admin') || principal.roles.some((r) => required.includes(r));
}
