import type { ApiContext } from '../context.ts';
import type { ApiMetrics } from '../metrics.ts';
import { ValidationError } from '../../errors.ts';
import { type IdentifierType } from '../../identifiers/vocabulary.ts';
import { MAX_LOOKUP_IDENTIFIERS, type LookupItem, type LookupOutcome, type LookupService } from '../../lookup/lookup.ts';
import { RateLimitError, type RateLimiter } from '../../lookup/rate-limit.ts';

export interface LookupResolverDeps {
  service: LookupService;
  limiter: RateLimiter;
  metrics: ApiMetrics;
  defaultRegion: string | undefined;
}

/** The region argument, or the node's default; refused unless it is a two-letter code. */
export function regionArg(region: string | null | undefined, defaultRegion: string | undefined, field = 'region'): string | undefined {
  const r = region ?? defaultRegion;
  if (r != null && !/^[A-Za-z]{2}$/.test(r)) {
    throw new ValidationError([{ field, message: `must be a two-letter country code such as CN (got ${JSON.stringify(r)})` }]);
  }
  return r?.toUpperCase();
}

/** The quota key: subjects of different issuers are different callers. */
export function quotaKey(ctx: ApiContext): string {
  return `${ctx.principal.issuer}\u0000${ctx.principal.sub}`;
}

function presentItem(r: LookupItem) {
  return { ...r, type: r.type.toUpperCase() };
}

function present(out: LookupOutcome) {
  return { results: out.results.map(presentItem), subjects: out.subjects, epochs: out.epochs, hitCount: out.hitCount };
}

/** `lookup` (schema/lookup.graphql). */
export function lookupResolvers(deps: LookupResolverDeps) {
  const { service, limiter, metrics } = deps;
  return {
    Query: {
      async lookup(_: unknown, args: { identifiers: Array<{ type: string; value: string }>; region?: string | null }, ctx: ApiContext) {
        const n = args.identifiers.length;
        if (n === 0) throw new ValidationError([{ field: 'identifiers', message: 'lists no identifier' }]);
        const max = Math.min(MAX_LOOKUP_IDENTIFIERS, limiter.burst);
        if (n > max) {
          const why = max < MAX_LOOKUP_IDENTIFIERS ? "this node's lookup burst (ALLIANCE_LOOKUP_BURST)" : 'split the list into several calls';
          throw new ValidationError([{ field: 'identifiers', message: `has ${n} entries; the limit per call is ${max} (${why})` }]);
        }
        const region = regionArg(args.region, deps.defaultRegion);
        // Charged before any work, per identifier (valid or not): the quota bounds how many guesses
        // one account can test, whatever they look like.
        const wait = limiter.take(quotaKey(ctx), n);
        if (wait > 0) {
          metrics.lookupsRateLimited.inc();
          throw new RateLimitError(wait, `lookup quota spent: ${n} identifier(s) can be looked up again in ${wait} s`);
        }
        const done = metrics.lookupDuration.startTimer();
        const out = await service.lookup(
          args.identifiers.map((i) => ({ type: i.type.toLowerCase() as IdentifierType, value: i.value })),
          {
            region,
            requestId: ctx.requestId,
            // The issuer is recorded only for tokens of an external identity provider.
            actor: { sub: ctx.principal.sub, role: ctx.principal.roles.join(','), issuer: ctx.principal.issuer === 'local' ? undefined : ctx.principal.issuer },
          },
        );
        done();
        metrics.lookups.inc();
        metrics.lookupIdentifiers.inc({ result: 'valid' }, n - out.invalid);
        if (out.invalid > 0) metrics.lookupIdentifiers.inc({ result: 'invalid' }, out.invalid);
        if (out.peerHits > 0) metrics.lookupHits.inc({ source: 'peer' }, out.peerHits);
        if (out.ownHits > 0) metrics.lookupHits.inc({ source: 'own' }, out.ownHits);
        return present(out);
      },
    },
  };
}
