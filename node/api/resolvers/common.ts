import { GraphQLError, GraphQLScalarType, Kind, defaultFieldResolver, type GraphQLFieldResolver } from 'graphql';
import { AuthError, allowed, type Role } from '../auth.ts';
import type { ApiContext } from '../context.ts';

type Resolver = GraphQLFieldResolver<unknown, ApiContext>;
type SubscriptionResolver = { subscribe: Resolver; resolve?: Resolver };
export type ResolverMap = Record<string, unknown>;

/**
 * Wraps every field that carries `@auth` so the caller's role is checked before it resolves. Fields
 * without a resolver of their own get the default one, wrapped.
 */
export function guardResolvers(resolvers: ResolverMap, roles: Map<string, Role[]>): ResolverMap {
  const out: ResolverMap = { ...resolvers };
  for (const [key, required] of roles) {
    const [typeName, field] = key.split('.') as [string, string];
    const type = { ...((out[typeName] as Record<string, Resolver | SubscriptionResolver> | undefined) ?? {}) };
    const guard = (inner: Resolver): Resolver => (root, args, ctx, info) => {
      if (!allowed(ctx.principal, required)) {
        throw new AuthError('FORBIDDEN', `role ${ctx.principal.roles.join(', ')} may not use ${key} (needs ${required.join(' or ')})`);
      }
      return inner(root, args, ctx, info);
    };
    const current = type[field];
    // A subscription field is an object: the role is checked when a client subscribes.
    if (typeof current === 'object' && current !== null) type[field] = { ...current, subscribe: guard(current.subscribe) };
    else type[field] = guard(current ?? (defaultFieldResolver as Resolver));
    out[typeName] = type;
  }
  return out;
}

/** Merges per-concern resolver maps type by type (scalars are taken as they are). */
export function merge(...parts: ResolverMap[]): ResolverMap {
  const out: ResolverMap = {};
  for (const part of parts) {
    for (const [type, value] of Object.entries(part)) {
      out[type] = value instanceof GraphQLScalarType ? value : { ...(out[type] as object | undefined), ...(value as object) };
    }
  }
  return out;
}

export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  serialize: (v) => (v instanceof Date ? v.toISOString() : String(v)),
  parseValue: (v) => parseDateTime(v),
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

function parseDateTime(v: unknown): string {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) || Number.isNaN(Date.parse(v))) {
    throw new GraphQLError('DateTime must be an ISO 8601 string such as 2026-11-25T08:00:00Z', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return new Date(v).toISOString();
}

/**
 * A Relay connection (`edges { node cursor } pageInfo totalCount`) from one keyset page. Paging is
 * forward only, so there is a previous page exactly when `after` was given; `count` runs only when
 * the client asks for `totalCount`.
 */
export function connection<T>(items: Array<{ node: T; cursor: string }>, hasNextPage: boolean, after: string | null | undefined, count: () => Promise<number>) {
  return {
    edges: items,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: Boolean(after),
      startCursor: items[0]?.cursor ?? null,
      endCursor: items.at(-1)?.cursor ?? null,
    },
    totalCount: count,
  };
}
