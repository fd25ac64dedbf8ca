import { connection } from './common.ts';
import type { ApiContext } from '../context.ts';
import { ValidationError } from '../../errors.ts';
import { type IdentifierType } from '../../identifiers/vocabulary.ts';
import { tryNormalize } from '../../identifiers/normalize.ts';
import type { AuditEntry, AuditFilter, AuditLog } from '../../audit/audit-log.ts';
import type { LookupService } from '../../lookup/lookup.ts';
import { regionArg } from './lookup.ts';

interface AuditLogArgs {
  first?: number | null;
  after?: string | null;
  filter?: {
    action?: string[] | null;
    subject?: string | null;
    since?: string | null;
    until?: string | null;
    digest?: string | null;
    identifier?: { type: string; value: string } | null;
    region?: string | null;
  } | null;
}

/** `auditLog` (schema/audit.graphql). */
export function auditResolvers(audit: AuditLog, lookup: LookupService, defaultRegion: string | undefined) {
  return {
    Query: {
      async auditLog(_: unknown, args: AuditLogArgs, ctx: ApiContext) {
        const f = args.filter ?? {};
        const filter: AuditFilter = { action: f.action, subject: f.subject, since: f.since, until: f.until };
        if (f.digest != null || f.identifier != null) {
          const digests: string[] = f.digest != null ? [f.digest] : [];
          if (f.identifier != null) {
            const type = f.identifier.type.toLowerCase() as IdentifierType;
            const r = tryNormalize(type, f.identifier.value, { region: regionArg(f.region, defaultRegion, 'filter.region') });
            if (!('canonical' in r)) throw new ValidationError([{ field: 'filter.identifier.value', message: r.error, reason: r.reason }]);
            const mine = lookup.digestsOf(type, r.canonical);
            digests.push(...mine);
            // Asking who looked an identifier up is itself a question about that identifier.
            await audit.write({
              action: 'audit.search',
              subject: ctx.principal.sub,
              role: ctx.principal.roles.join(','),
              identifierCount: 1,
              digests: mine,
              hitCount: 0,
              details: { requestId: ctx.requestId, ...(ctx.principal.issuer === 'local' ? {} : { issuer: ctx.principal.issuer }) },
            });
          }
          filter.digests = digests;
        }
        const page = await audit.list(filter, args.first ?? 50, args.after);
        return connection(page.entries.map((e) => ({ node: e, cursor: e.cursor })), page.hasNextPage, args.after, () => audit.count(filter));
      },
    },
    AuditEntry: {
      details: (e: AuditEntry) => JSON.stringify(e.details),
    },
  };
}
