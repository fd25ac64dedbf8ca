import { normalizeMany } from '../../identifiers/many.ts';
import type { IdentifierType } from '../../identifiers/vocabulary.ts';
import { ValidationError } from '../../errors.ts';
import { RateLimitError, type RateLimiter } from '../../lookup/rate-limit.ts';
import type { Config } from '../../config.ts';
import type { ApiContext } from '../context.ts';
import { quotaKey } from './lookup.ts';

/** Most identifiers one `normalize` call takes. */
export const MAX_NORMALIZE = 1000;

/**
 * `normalize`. It reveals nothing about the alliance, but it costs CPU (a thousand long URLs take
 * tens of milliseconds), so it has a quota of its own, as large as the lookup quota
 * (ALLIANCE_LOOKUP_RATE, ALLIANCE_LOOKUP_BURST), and lets the event loop turn while it works.
 */
export function indicatorResolvers(config: Pick<Config, 'defaultRegion'>, limiter: RateLimiter) {
  return {
    Query: {
      async normalize(_: unknown, args: { identifiers: { type: string; value: string }[]; region?: string | null }, ctx: ApiContext) {
        const n = args.identifiers.length;
        const max = Math.min(MAX_NORMALIZE, limiter.burst);
        if (n > max) {
          throw new ValidationError([{ field: 'identifiers', message: `has ${n} entries; the limit per call is ${max}` }]);
        }
        const region = args.region ?? config.defaultRegion;
        if (region != null && !/^[A-Za-z]{2}$/.test(region)) {
          throw new ValidationError([{ field: 'region', message: `must be a two-letter country code such as CN (got ${JSON.stringify(region)})` }]);
        }
        const wait = limiter.take(quotaKey(ctx), n);
        if (wait > 0) throw new RateLimitError(wait, `normalize quota spent: ${n} identifier(s) can be normalised again in ${wait} s`);
        const results = await normalizeMany(
          args.identifiers.map(({ type, value }) => ({ type: type.toLowerCase() as IdentifierType, value })),
          { region },
        );
        return results.map((r, i) => {
          const { type, value } = args.identifiers[i]!;
          return 'canonical' in r
            ? { type, input: value, canonical: r.canonical, error: null, reason: null }
            : { type, input: value, canonical: null, error: r.error, reason: r.reason };
        });
      },
    },
  };
}
