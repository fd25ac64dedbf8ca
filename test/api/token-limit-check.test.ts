import { describe, expect, it } from 'vitest';
import { tokenLimitCheck } from '../../node/api/limits.ts';

describe('tokenLimitCheck', () => {
  const small = '{ viewer { subject } }';
  const big = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: viewer { subject }`).join(' ')} }`;

  it('passes a document within the limit, again and again', () => {
    const check = tokenLimitCheck(50);
    for (let i = 0; i < 3; i++) expect(() => check(small)).not.toThrow();
  });

  it('refuses a document over the limit every time (a refusal is never remembered as a pass)', () => {
    const check = tokenLimitCheck(50);
    for (let i = 0; i < 3; i++) expect(() => check(big)).toThrow(expect.objectContaining({ extensions: { code: 'QUERY_TOO_COMPLEX' } }));
  });

  it('keeps at most `size` passed documents: an evicted one is counted again and still passes', () => {
    const check = tokenLimitCheck(50, 2);
    const docs = ['{ a }', '{ b }', '{ c }', '{ a }'];
    for (const d of docs) expect(() => check(d)).not.toThrow();
  });
});
