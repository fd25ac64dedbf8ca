import { connection } from './common.ts';
import type { Broadcast } from '../broadcast.ts';
import type { ApiContext } from '../context.ts';
import type { ApiMetrics } from '../metrics.ts';
import { assertRecordId } from '../../records/model.ts';
import type { RecordStore } from '../../records/store.ts';
import { memberById, type RosterState } from '../../membership/roster-state.ts';
import { assertMatchId, type MatchStore } from '../../matching/store.ts';
import type { MatchState, MatchVerdict, StoredMatch } from '../../matching/model.ts';
import { present as presentRecord } from './records.ts';

export interface MatchResolverDeps {
  store: MatchStore;
  records: RecordStore;
  /** The roster, to name the other member; null without one. */
  roster: () => RosterState | null;
  metrics: ApiMetrics;
  /** Raised matches as they are pushed to this process's subscribers. */
  matchFound: Broadcast<StoredMatch>;
}

interface MatchesArgs {
  filter?: { state?: MatchState[] | null; origin?: string | null; recordId?: string | null; since?: string | null } | null;
  first?: number | null;
  after?: string | null;
}

/** `matches`, `match`, `acknowledgeMatch`, `matchFound` (schema/matching.graphql). */
export function matchResolvers(deps: MatchResolverDeps) {
  const { store, records, metrics } = deps;
  return {
    Query: {
      async matches(_: unknown, args: MatchesArgs) {
        const f = args.filter ?? {};
        const filter = {
          state: f.state,
          origin: f.origin,
          recordId: f.recordId == null ? null : assertRecordId(f.recordId, 'filter.recordId'),
          since: f.since,
        };
        const page = await store.list(filter, args.first ?? 50, args.after);
        return connection(page.matches.map((m) => ({ node: m, cursor: m.cursor })), page.hasNextPage, args.after, () => store.count(filter));
      },
      async match(_: unknown, args: { id: string }) {
        return store.get(assertMatchId(args.id));
      },
    },
    Mutation: {
      async acknowledgeMatch(_: unknown, args: { id: string; verdict: MatchVerdict; note?: string | null }, ctx: ApiContext) {
        const { match } = await store.acknowledge(assertMatchId(args.id), args.verdict, args.note ?? null, {
          sub: ctx.principal.sub,
          role: ctx.principal.roles.join(','),
          requestId: ctx.requestId,
          // The issuer is recorded only for tokens of an external identity provider.
          issuer: ctx.principal.issuer === 'local' ? undefined : ctx.principal.issuer,
        });
        metrics.matches.inc({ state: args.verdict });
        return match;
      },
    },
    Subscription: {
      matchFound: {
        subscribe() {
          const source = deps.matchFound.subscribe();
          // Counted once the subscriber is in place: a match raised from now on reaches it.
          metrics.matchSubscriptions.inc();
          let open = true;
          const end = () => {
            if (open) metrics.matchSubscriptions.dec();
            open = false;
          };
          const iterator: AsyncIterableIterator<StoredMatch> = {
            async next() {
              try {
                const r = await source.next();
                if (r.done === true) end();
                return r;
              } catch (err) {
                end();
                throw err;
              }
            },
            async return() {
              end();
              return source.return!();
            },
            [Symbol.asyncIterator]() {
              return iterator;
            },
          };
          return iterator;
        },
        resolve: (m: StoredMatch) => m,
      },
    },
    Match: {
      types: (m: StoredMatch) => m.types.map((t) => t.toUpperCase()),
      identifiers: (m: StoredMatch) => m.identifiers.map((i) => ({ ...i, type: i.type.toUpperCase() })),
      async record(m: StoredMatch) {
        const r = await records.get(m.recordId);
        return r && presentRecord(r);
      },
      member(m: StoredMatch) {
        const state = deps.roster();
        const member = state === null ? undefined : memberById(state, m.origin);
        return member === undefined ? null : { id: member.id, name: member.name, kind: member.kind };
      },
    },
  };
}
