/**
 * Relay cursors, one encoding for every paginated list of the API (records, matches, audit log):
 * `base64url(prefix + key)`, where `key` is the decimal row key the list is ordered by (a bigint id
 * or seq) and `prefix` names the list and the encoding's version (`r1:`, `m1:`, `a1:`).
 *
 * Cursors are opaque to clients. The prefix lets an encoding change without misreading cursors
 * already handed out, and keeps a cursor of one list from being taken by another. The key is at
 * most 18 digits, so every key accepted fits a PostgreSQL bigint and a cursor is never longer than
 * 64 characters: what is refused is refused before any SQL sees it.
 */
import { ValidationError } from '../errors.ts';

export interface CursorCodec {
  /** The list's prefix, e.g. `r1:`. */
  readonly prefix: string;
  /** The cursor of the row whose key (decimal digits, as the database returns a bigint) is `key`. */
  encode(key: string): string;
  /**
   * The key a cursor of this list stands for. Anything else (another list's cursor, text that is
   * not base64url, a key that is not 1 to 18 digits) is a ValidationError naming `field`.
   */
  decode(cursor: string, field?: string): string;
}

const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,64}$/;
const KEY = /^\d{1,18}$/;
const PREFIX = /^[a-z][a-z0-9]{0,7}:$/;

/** Prefixes in use in this process: two lists sharing one would read each other's cursors. */
const TAKEN = new Set<string>();

/** The cursors of one list. Each prefix may be given out once per process (RangeError otherwise). */
export function makeCursor(prefix: string): CursorCodec {
  if (!PREFIX.test(prefix)) throw new RangeError(`cursor prefix ${JSON.stringify(prefix)} is not a lower-case letter, up to 7 letters or digits, then ":"`);
  if (TAKEN.has(prefix)) throw new RangeError(`cursor prefix ${prefix} is taken by another list`);
  TAKEN.add(prefix);
  return Object.freeze({
    prefix,
    encode: (key: string): string => Buffer.from(prefix + key, 'utf8').toString('base64url'),
    decode(cursor: string, field = 'after'): string {
      const text = CURSOR_TEXT.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
      const key = text.startsWith(prefix) ? text.slice(prefix.length) : '';
      if (!KEY.test(key)) throw new ValidationError([{ field, message: 'is not a cursor returned by this API' }]);
      return key;
    },
  });
}
