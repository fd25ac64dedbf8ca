const B64URL = /^[A-Za-z0-9_-]*$/;
const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether `s` is unpadded base64url in its one canonical spelling: only the 64 base64url
 * characters, a length that encodes whole bytes (not 1 mod 4), and zero unused low bits in the last
 * character (otherwise several strings would name the same bytes, RFC 4648 §3.5). With `bytes`, also
 * that it encodes exactly that many bytes.
 */
export function isCanonicalBase64url(s: string, bytes?: number): boolean {
  if (bytes !== undefined && s.length !== Math.ceil((bytes * 4) / 3)) return false;
  const rest = s.length % 4;
  if (rest === 1 || !B64URL.test(s)) return false;
  if (rest === 0) return true;
  const last = B64URL_ALPHABET.indexOf(s[s.length - 1]!);
  return (last & (rest === 2 ? 0b1111 : 0b11)) === 0;
}

/** A 32-byte value (SHA-256, HMAC-SHA256) in canonical base64url: 43 characters. */
export function isHash(s: unknown): s is string {
  return typeof s === 'string' && isCanonicalBase64url(s, 32);
}

