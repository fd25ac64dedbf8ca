import type { ApiContext } from '../context.ts';
import type { RecordExporter } from '../../records/export.ts';
import type { RecordFilter } from '../../records/store.ts';

/** `exportRecords` (schema/records.graphql): audited pages of the member's records in import format. */
export function exportResolvers(exporter: RecordExporter) {
  return {
    Query: {
      exportRecords(_: unknown, args: { filter?: RecordFilter | null; first?: number | null; after?: string | null }, ctx: ApiContext) {
        const p = ctx.principal;
        return exporter.page(args.filter ?? {}, args.first ?? 500, args.after, {
          subject: p.sub,
          role: p.roles.join(','),
          details: { requestId: ctx.requestId, ...(p.issuer === 'local' ? {} : { issuer: p.issuer }) },
        });
      },
    },
  };
}
