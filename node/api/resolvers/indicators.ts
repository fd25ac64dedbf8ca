import { tryNormalize } from '../../indicators/normalize/index.ts';
import type { IdentifierType } from '../../records/model.ts';
import { RecordValidationError } from '../../records/model.ts';
import type { Config } from '../../config.ts';

/** Most identifiers one `normalize` call takes. */
export const MAX_NORMALIZE = 1000;

export function indicatorResolvers(config: Pick<Config, 'defaultRegion'>) {
  return {
    Query: {
      normalize(_: unknown, args: { identifiers: { type: string; value: string }[]; region?: string | null }) {
        if (args.identifiers.length > MAX_NORMALIZE) {
          throw new RecordValidationError([{ field: 'identifiers', message: `has ${args.identifiers.length} entries; the limit is ${MAX_NORMALIZE}` }]);
        }
        const region = args.region ?? config.defaultRegion;
        if (region != null && !/^[A-Za-z]{2}$/.test(region)) {
          throw new RecordValidationError([{ field: 'region', message: `must be a two-letter country code such as CN (got ${JSON.stringify(region)})` }]);
        }
        return args.identifiers.map(({ type, value }) => {
          const r = tryNormalize(type.toLowerCase() as IdentifierType, value, { region });
          return 'canonical' in r
            ? { type, input: value, canonical: r.canonical, error: null, reason: null }
            : { type, input: value, canonical: null, error: r.error, reason: r.reason };
        });
      },
    },
  };
}
