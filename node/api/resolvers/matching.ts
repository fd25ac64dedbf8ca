import { connection } from './common.ts';
import type { ApiContext } from '../context.ts';
import type { ApiMetrics } from '../metrics.ts';
import { assertRecordId } from '../../records/model.ts';
import type { RecordStore } from '../../records/store.ts';
import { memberById, type RosterState } from '../../membership/roster-state.ts';
import { assertMatchId, type MatchStore } from '../../matching/store.ts';
import type { MatchState, MatchVerdict, StoredMatch } from '../../matching/model.ts';
import { present as presentRecord } from './records.ts';

/** The mercurius pubsub topic `matchFound` pushes on. */
export const MATCH_FOUND_TOPIC = 'alliance.matchFound';

export interface MatchResolverDeps {
  store: MatchStore;
  records: RecordStore;
  /** The roster, to name the other member; null without one. */
  roster: () => RosterState | null;
  metrics: ApiMetrics;
}

interface MatchesArgs {
  filter?: { state?: MatchState[] | null; origin?: string | null; recordId?: string | null; since?: string | null } | null;
  first?: number | null;
  after?: string | null;
}

/** What a subscription's resolvers get: the connection's context (server.ts) and mercurius' pubsub. */
interface SubscriptionContext extends ApiContext {
  pubsub: { subscribe(topic: string): Promise<AsyncIterable<unknown>> };
  /** The WebSocket, closed when the token expires. */
  socket?: { close(code?: number, reason?: string): void; once(event: 'close', fn: () => void): unknown };
  /** When the connection's token expires (ms since the epoch). */
  tokenExpiresAt?: number;
}

/** setTimeout takes at most 2^31 - 1 ms (24.8 days); tokens may live 90 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const armed = new WeakSet<object>();

/** Closes the connection (4401 Unauthorized, graphql-transport-ws) once its token has expired. */
function closeAtExpiry(socket: NonNullable<SubscriptionContext['socket']>, expiresAt: number): void {
  if (armed.has(socket)) return;
  armed.add(socket);
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const wait = expiresAt - Date.now();
    if (wait <= 0) return socket.close(4401, 'token expired');
    timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
    timer.unref();
  };
  socket.once('close', () => clearTimeout(timer));
  arm();
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
        async subscribe(_: unknown, __: unknown, ctx: SubscriptionContext) {
          const source = (await ctx.pubsub.subscribe(MATCH_FOUND_TOPIC))[Symbol.asyncIterator]();
          // Counted once the listener is in place: a match raised from now on reaches this subscriber.
          metrics.matchSubscriptions.inc();
          if (ctx.socket !== undefined && ctx.tokenExpiresAt !== undefined) closeAtExpiry(ctx.socket, ctx.tokenExpiresAt);
          let open = true;
          const end = () => {
            if (open) metrics.matchSubscriptions.dec();
            open = false;
          };
          const iterator: AsyncIterableIterator<unknown> = {
            async next() {
              const r = await source.next();
              if (r.done === true) end();
              return r;
            },
            async return(value?: unknown) {
              end();
              return source.return ? source.return(value) : { done: true, value: undefined };
            },
            [Symbol.asyncIterator]() {
              return iterator;
            },
          };
          return iterator;
        },
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
