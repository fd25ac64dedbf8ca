import { ValidationError } from '../errors.ts';

// Cursors are opaque to clients; the version prefix lets the encoding change without misreading old ones.
const PREFIX = 'r1:';

export function encodeCursor(seq: string): string {
  return Buffer.from(PREFIX + seq, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, field: string): string {
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const seq = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  if (!/^\d{1,18}$/.test(seq)) {
    throw new ValidationError([{ field, message: 'is not a cursor returned by this API' }]);
  }
  return seq;
}
