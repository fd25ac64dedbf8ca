import { AllianceError } from '../errors.ts';

/** A lookup refused by the caller's quota: `retryAfter` is in whole seconds. */
export class RateLimitError extends AllianceError {
  declare readonly code: 'RATE_LIMITED';
  readonly retryAfter: number;
  constructor(retryAfter: number, message: string) {
    super('RATE_LIMITED', message, { retryAfter });
    this.retryAfter = retryAfter;
  }
}

export interface RateLimitOptions {
  /** Tokens added per minute, sustained; 0 means no limit. */
  perMinute: number;
  /** Most tokens a bucket holds: what a subject idle for long may spend at once. */
  burst: number;
  /** Milliseconds clock (tests move it). */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before idle ones (refilled to the brim, so forgetting them changes nothing) are swept. */
const SWEEP_ABOVE = 10_000;

/**
 * Token buckets per key (the token subject). A request takes one token per identifier, all or none:
 * a refused request costs nothing, so a client that waits `retryAfter` seconds gets through.
 * In-process state: each API process enforces the quota on its own.
 */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: RateLimitOptions) {
    if (!(opts.perMinute >= 0) || !Number.isFinite(opts.perMinute)) throw new RangeError('perMinute must be a non-negative number');
    if (!(opts.burst >= 1) || !Number.isFinite(opts.burst)) throw new RangeError('burst must be at least 1');
    this.#perMs = opts.perMinute / 60_000;
    this.#burst = opts.burst;
    this.#now = opts.now ?? Date.now;
  }

  get unlimited(): boolean {
    return this.#perMs === 0;
  }

  /** The most one request may take: a bigger one could never be served. */
  get burst(): number {
    return this.unlimited ? Number.POSITIVE_INFINITY : this.#burst;
  }

  /**
   * Takes `n` tokens from `key`'s bucket. Returns 0 if they were taken, else the whole seconds until
   * the bucket will hold `n` (nothing is taken then).
   */
  take(key: string, n: number): number {
    if (this.unlimited || n <= 0) return 0;
    if (n > this.#burst) throw new RangeError(`a request of ${n} exceeds the burst of ${this.#burst}`);
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= SWEEP_ABOVE) this.#sweep(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
      bucket.at = now;
    }
    if (bucket.tokens >= n) {
      bucket.tokens -= n;
      return 0;
    }
    return Math.max(1, Math.ceil((n - bucket.tokens) / this.#perMs / 1000));
  }

  #sweep(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
  }
}
