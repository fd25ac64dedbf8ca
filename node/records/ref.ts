import { randomBytes } from 'node:crypto';

/**
 * A record's ref: the random 128-bit handle its indicators carry, so other members can group the
 * indicators of one actor without learning anything about it. One form everywhere, in code, in the
 * database and on the wire: unpadded base64url, 22 characters.
 */
export function newRef(): string {
  return randomBytes(16).toString('base64url');
}
