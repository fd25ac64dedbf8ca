import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../../node/encoding/token-bucket.ts';

describe('TokenBuckets', () => {
  it('allows a burst, then the refill rate, per key', () => {
    const b = new TokenBuckets({ perSecond: 10, burst: 20 });
    for (let i = 0; i < 20; i++) expect(b.take('p1', 0).ok).toBe(true);
    expect(b.take('p1', 0)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(b.take('p2', 0).ok).toBe(true);
    expect(b.take('p1', 50).ok).toBe(false);
    expect(b.take('p1', 100).ok).toBe(true);
    // A long pause refills to the burst, not beyond it.
    for (let i = 0; i < 20; i++) expect(b.take('p1', 100_000).ok).toBe(true);
    expect(b.take('p1', 100_000).ok).toBe(false);
  });

  it('takes several tokens all or nothing, and says when they will be there', () => {
    const b = new TokenBuckets({ perSecond: 10, burst: 100 });
    expect(b.take('s', 0, 100)).toEqual({ ok: true, retryAfterMs: 0 });
    // 10 a second: 5 more need half a second; a refused take spends nothing.
    expect(b.take('s', 0, 5)).toEqual({ ok: false, retryAfterMs: 500 });
    expect(b.take('s', 0, 50)).toEqual({ ok: false, retryAfterMs: 5000 });
    expect(b.take('s', 5000, 50).ok).toBe(true);
    expect(b.take('s', 5000, 0).ok).toBe(true);
    expect(() => b.take('s', 5000, 101)).toThrow(RangeError);
    expect(() => b.take('s', 5000, Number.NaN)).toThrow(RangeError);
  });

  it('never refills on a clock that seems to go back', () => {
    const b = new TokenBuckets({ perSecond: 1, burst: 1 });
    expect(b.take('k', 10_000).ok).toBe(true);
    expect(b.take('k', 5_000)).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(b.take('k', 5_999).ok).toBe(false);
    expect(b.take('k', 6_000).ok).toBe(true);
  });

  it('keeps retryAfterMs an exact positive integer past large values', () => {
    // One token a century, a huge burst, a clock far from zero.
    const slow = new TokenBuckets({ perSecond: 1 / (100 * 365 * 86_400), burst: 1e12 });
    const t0 = 1.7e15;
    expect(slow.take('k', t0, 1e12).ok).toBe(true);
    const refused = slow.take('k', t0, 1e12);
    expect(refused.ok).toBe(false);
    expect(refused.retryAfterMs).toBe(Number.MAX_SAFE_INTEGER);
    // A rate so high that the wait is a sliver of a millisecond still says 1, never 0.
    const fast = new TokenBuckets({ perSecond: 1e12, burst: 1 });
    expect(fast.take('k', t0).ok).toBe(true);
    expect(fast.take('k', t0)).toEqual({ ok: false, retryAfterMs: 1 });
    // The wait it gives is the wait that works, however long.
    const hourly = new TokenBuckets({ perSecond: 1 / 3600, burst: 2 });
    expect(hourly.take('k', t0, 2).ok).toBe(true);
    const wait = hourly.take('k', t0, 2).retryAfterMs;
    expect(wait).toBe(7_200_000);
    expect(hourly.take('k', t0 + wait - 1000, 2).ok).toBe(false);
    expect(hourly.take('k', t0 + wait, 2).ok).toBe(true);
  });

  it('forgets full buckets when many keys come, which changes nothing for them', () => {
    const b = new TokenBuckets({ perSecond: 1, burst: 2, sweepAbove: 10 });
    for (let i = 0; i < 10; i++) b.take(`k${i}`, 0);
    expect(b.size).toBe(10);
    // A spent bucket is kept through a sweep; the full ones go.
    b.take('spent', 0, 2);
    expect(b.size).toBe(11);
    b.take('new', 1000);
    expect(b.size).toBe(2);
    expect(b.take('spent', 1000, 2).ok).toBe(false);
    expect(b.take('k0', 1000, 2).ok).toBe(true);
  });

  it('refuses nonsense limits', () => {
    expect(() => new TokenBuckets({ perSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ perSecond: 1, burst: 0 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ perSecond: Number.NaN, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ perSecond: Number.POSITIVE_INFINITY, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ perSecond: 1, burst: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});
