import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCursor } from '../../../node/encoding/cursor.ts';
import { ValidationError } from '../../../node/errors.ts';

const t1 = makeCursor('t1:');
const t2 = makeCursor('t2:');

/** The problems of the ValidationError `fn` throws; fails if it returns. */
function problems(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).problems;
  }
  throw new Error('no ValidationError');
}

describe('makeCursor', () => {
  it('round-trips every key of 1 to 18 digits, in at most 64 base64url characters', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }), (n) => {
        const c = t1.encode(String(n));
        expect(c).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
        expect(t1.decode(c)).toBe(String(n));
      }),
    );
  });

  it('keeps the cursors already handed out: base64url of the prefix and the key', () => {
    // What records, matches and the audit log have always returned, e.g. r1:42.
    expect(t1.encode('42')).toBe(Buffer.from('t1:42').toString('base64url'));
    expect(t1.decode(Buffer.from('t1:42').toString('base64url'))).toBe('42');
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['without a prefix', Buffer.from('42').toString('base64url')],
    ['of another list', t2.encode('42')],
    ['not a number', Buffer.from('t1:abc').toString('base64url')],
    ['negative', Buffer.from('t1:-5').toString('base64url')],
    ['past 18 digits', Buffer.from(`t1:${'9'.repeat(19)}`).toString('base64url')],
    ['followed by more text', Buffer.from('t1:5 OR 1=1').toString('base64url')],
    ['longer than 64 characters', 'A'.repeat(65)],
  ])('refuses a cursor %s, naming the field (after unless told)', (_, cursor) => {
    expect(problems(() => t1.decode(cursor))).toEqual([{ field: 'after', message: 'is not a cursor returned by this API' }]);
    expect(problems(() => t1.decode(cursor, 'before'))).toEqual([{ field: 'before', message: 'is not a cursor returned by this API' }]);
  });

  it('gives each prefix out once, in one form', () => {
    expect(() => makeCursor('t1:')).toThrow(/taken/);
    expect(() => makeCursor('T1:')).toThrow(RangeError);
    expect(() => makeCursor('t1')).toThrow(RangeError);
    expect(() => makeCursor('')).toThrow(RangeError);
  });
});
