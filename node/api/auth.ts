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
export function createTokenVerifier(auth: AuthConfig, localKey: CryptoKey): TokenVerifier {
  const remote = auth.jwksUrl !== undefined ? createRemoteJWKSet(new URL(auth.jwksUrl), { cooldownDuration: 30_000, timeoutDuration: 5000 }) : undefined;

  return async (token: string): Promise<Principal> => {
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
  };
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
