/**
 * Token buckets by key: the one rate limit of the node, used per token subject by the API's lookup
 * and normalize quotas (node/lookup/rate-limit.ts) and per peer by the exchange's responder
 * (node/p2p/protocols.ts).
 *
 * A bucket holds at most `burst` tokens and gains `perSecond` a second; a key never seen starts
 * full. Taking is all or nothing: a refused take costs nothing, so a caller that waits the
 * `retryAfterMs` it was given gets through (unless someone else spent the tokens meanwhile).
 *
 * Pure: the caller passes the time (milliseconds on any clock that does not jump, e.g.
 * `performance.now()`), so tests and callers with clocks of their own need no fake timers. State is
 * in this object only: each process enforces its limits on its own.
 */
import { MAX_WIRE_INTEGER } from './integers.ts';

export interface TokenRate {
  /** Tokens added per second; more than 0. */
  perSecond: number;
  /** Most tokens a bucket holds: what a key idle for long may spend at once; at least 1. */
  burst: number;
}

export interface TokenBucketsOptions extends TokenRate {
  /**
   * Buckets held before full ones are forgotten when a new key comes (a full bucket is the same as
   * none), so that many keys seen once do not grow the map for good. Default 4096.
   */
  sweepAbove?: number | undefined;
}

/** Whether the tokens were taken; if not, the milliseconds until they would be (at least 1). */
export interface Taken {
  ok: boolean;
  retryAfterMs: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #sweepAbove: number;
  /**
   * Refills add fractions of a token, whose rounding leaves dust: a take short by less than a
   * billionth of the bucket is served, so waiting the `retryAfterMs` given is always enough.
   */
  readonly #slack: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: TokenBucketsOptions) {
    if (!(opts.perSecond > 0) || !(opts.burst >= 1) || !Number.isFinite(opts.perSecond) || !Number.isFinite(opts.burst)) {
      throw new RangeError('a rate limit needs a finite perSecond > 0 and burst >= 1');
    }
    this.#perMs = opts.perSecond / 1000;
    this.#burst = opts.burst;
    this.#sweepAbove = opts.sweepAbove ?? 4096;
    this.#slack = opts.burst * 1e-9;
  }

  /** The most one take may ask for: a bigger one could never be served. */
  get burst(): number {
    return this.#burst;
  }

  /** Buckets held (the sweep keeps this near `sweepAbove` at most). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes `n` tokens (default 1) from `key`'s bucket at time `now` (ms). Asking for more than the
   * burst is a RangeError: no wait would ever serve it. `retryAfterMs` is capped at 2^53 - 1, so it
   * stays an exact integer whatever the rate (a rate of one token a century still gives a number a
   * peer can read off the wire).
   */
  take(key: string, now: number, n = 1): Taken {
    if (!(n >= 0) || n > this.#burst) throw new RangeError(`a request of ${n} exceeds the burst of ${this.#burst}`);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#sweepAbove) this.#sweep(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      // A clock read twice may seem to go back a little: that adds nothing rather than taking away.
      bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
      bucket.at = now;
    }
    const short = n - this.#slack - bucket.tokens;
    if (short <= 0) {
      bucket.tokens = Math.max(0, bucket.tokens - n);
      return { ok: true, retryAfterMs: 0 };
    }
    const wait = Math.ceil(short / this.#perMs);
    return { ok: false, retryAfterMs: Math.min(MAX_WIRE_INTEGER, Math.max(1, wait)) };
  }

  #sweep(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + Math.max(0, now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
  }
}
