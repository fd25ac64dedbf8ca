import { AllianceError } from '../errors.ts';
import { TokenBuckets } from '../encoding/token-bucket.ts';

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

/** Buckets kept before idle ones (refilled to the brim, so forgetting them changes nothing) are swept. */
const SWEEP_ABOVE = 10_000;

/**
 * A quota per key (the token subject), in identifiers per minute, on the node's token buckets
 * (node/encoding/token-bucket.ts). A request takes one token per identifier, all or none: a refused
 * request costs nothing, so a client that waits `retryAfter` seconds gets through. In-process state:
 * each API process enforces the quota on its own.
 */
export class RateLimiter {
  readonly #buckets: TokenBuckets | undefined;
  readonly #now: () => number;

  constructor(opts: RateLimitOptions) {
    if (!(opts.perMinute >= 0) || !Number.isFinite(opts.perMinute)) throw new RangeError('perMinute must be a non-negative number');
    if (!(opts.burst >= 1) || !Number.isFinite(opts.burst)) throw new RangeError('burst must be at least 1');
    this.#buckets = opts.perMinute === 0 ? undefined : new TokenBuckets({ perSecond: opts.perMinute / 60, burst: opts.burst, sweepAbove: SWEEP_ABOVE });
    this.#now = opts.now ?? Date.now;
  }

  get unlimited(): boolean {
    return this.#buckets === undefined;
  }

  /** The most one request may take: a bigger one could never be served. */
  get burst(): number {
    return this.#buckets?.burst ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Takes `n` tokens from `key`'s bucket. Returns 0 if they were taken, else the whole seconds until
   * the bucket will hold `n` (nothing is taken then).
   */
  take(key: string, n: number): number {
    if (this.#buckets === undefined || n <= 0) return 0;
    const taken = this.#buckets.take(key, this.#now(), n);
    return taken.ok ? 0 : Math.ceil(taken.retryAfterMs / 1000);
  }
}
