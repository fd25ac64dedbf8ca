import { describe, expect, it } from 'vitest';
import { checkDocument, documentCheck, type DocumentLimits } from '../../../node/api/limits.ts';

const LIMITS: DocumentLimits = { tokens: 50, documentChars: 256 * 1024, queryDepth: 10 };

describe('documentCheck', () => {
  const small = '{ viewer { subject } }';
  const big = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: viewer { subject }`).join(' ')} }`;
  /** The real count, with how many times it ran. */
  const counted = () => {
    const seen: string[] = [];
    return { seen, count: (source: string, limits: DocumentLimits) => (seen.push(source), checkDocument(source, limits)) };
  };

  it('counts a passed document once, however often it comes again', () => {
    const c = counted();
    const check = documentCheck(LIMITS, 1024, c.count);
    for (let i = 0; i < 3; i++) expect(() => check(small)).not.toThrow();
    expect(c.seen).toEqual([small]);
  });

  it('refuses a document over the limit every time, counting it each time (a refusal is never remembered)', () => {
    const c = counted();
    const check = documentCheck(LIMITS, 1024, c.count);
    for (let i = 0; i < 3; i++) expect(() => check(big)).toThrow(expect.objectContaining({ extensions: { code: 'QUERY_TOO_COMPLEX' } }));
    expect(c.seen).toHaveLength(3);
  });

  it('keeps at most `size` documents: the oldest is evicted and counted again', () => {
    const c = counted();
    const check = documentCheck(LIMITS, 2, c.count);
    for (const d of ['{ a }', '{ b }', '{ b }', '{ c }', '{ a }', '{ c }']) expect(() => check(d)).not.toThrow();
    expect(c.seen).toEqual(['{ a }', '{ b }', '{ c }', '{ a }']);
  });

  it('does not remember a long document (few tokens can be a long string)', () => {
    const c = counted();
    const check = documentCheck(LIMITS, 1024, c.count);
    const long = `{ viewer(x: "${'y'.repeat(20_000)}") { subject } }`;
    check(long);
    check(long);
    expect(c.seen).toHaveLength(2);
  });
});
