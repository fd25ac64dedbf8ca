import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import mercurius from 'mercurius';
import { GraphQLError, GraphQLScalarType, Kind, defaultFieldResolver, type GraphQLFieldResolver, type OperationDefinitionNode } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Database } from '../storage/database.ts';
import { RecordStore } from '../records/store.ts';
import { AuthError, allowed, type Role, type TokenVerifier } from './auth.ts';
import type { ApiContext } from './context.ts';
import { maskError } from './errors.ts';
import { checkTokenLimit, limitValidationRules } from './limits.ts';
import { ApiMetrics } from './metrics.ts';
import { recordResolvers } from './resolvers/records.ts';
import { fieldRolesOf, loadSchemaSdl } from './schema.ts';

export interface ApiOptions {
  config: Pick<Config, 'limits'>;
  db: Database;
  verifyToken: TokenVerifier;
  logger: Logger;
}

export interface Api {
  app: FastifyInstance;
  metrics: ApiMetrics;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Builds the HTTP API: GraphQL at /graphql (bearer tokens), and /healthz, /readyz, /metrics. */
export async function buildApi(opts: ApiOptions): Promise<Api> {
  const { config, db, verifyToken, logger } = opts;
  const store = new RecordStore(db);
  const metrics = new ApiMetrics({ countRecords: () => store.count() });

  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.limits.bodyBytes,
    // A caller's own request id is kept (so it can correlate), if it is a sane token.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    (req as FastifyRequest & { startedAt?: bigint }).startedAt = process.hrtime.bigint();
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status_code: String(reply.statusCode) });
    const started = (req as FastifyRequest & { startedAt?: bigint }).startedAt;
    if (started) metrics.httpDuration.observe({ method: req.method, route }, Number(process.hrtime.bigint() - started) / 1e9);
  });

  // Bodies that are not JSON, or not an object, get a GraphQL-shaped 400 rather than a generic one.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    const message = status === 500 ? `internal error; quote request id ${req.id} to the node operator` : err.message;
    const code = status === 500 ? 'INTERNAL_SERVER_ERROR' : status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
    void reply.code(status).send({ errors: [{ message, extensions: { code, requestId: req.id } }] });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await withTimeout(db.ping(), 2000);
      return { status: 'ready', storage: db.kind };
    } catch {
      return reply.code(503).send({ status: 'unavailable', storage: db.kind });
    }
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  await app.register(async (gql) => {
    gql.addHook('onRequest', async (req, reply) => authenticate(req, reply, verifyToken));
    // GraphQL over HTTP lets clients send `"extensions": null`; mercurius' body schema wants an object.
    gql.addHook('preValidation', async (req) => {
      const body = req.body as Record<string, unknown> | null | undefined;
      if (body && typeof body === 'object' && !Array.isArray(body) && body.extensions === null) delete body.extensions;
    });

    const sdl = loadSchemaSdl();
    const roles = fieldRolesOf(sdl);
    const resolvers = guardResolvers(
      merge(
        {
          DateTime,
          Query: { viewer: (_: unknown, __: unknown, ctx: ApiContext) => ({ subject: ctx.principal.sub, roles: ctx.principal.roles.map((r) => r.toUpperCase()) }) },
        },
        recordResolvers(store, config.limits),
      ),
      roles,
    );

    await gql.register(mercurius, {
      schema: sdl,
      resolvers: resolvers as never,
      path: '/graphql',
      graphiql: false,
      jit: 0,
      allowBatchedQueries: false,
      queryDepth: config.limits.queryDepth,
      validationRules: limitValidationRules(config.limits),
      csrfPrevention: true,
      context: (req: FastifyRequest): ApiContext => ({ principal: req.principal!, requestId: req.id }),
      errorFormatter: (execution, ctx) => {
        const reply = (ctx as { reply?: FastifyReply }).reply;
        const requestId = reply?.request.id ?? 'unknown';
        const log = reply?.log ?? logger;
        const flat = execution.errors.flatMap((e) => {
          const nested = (e.originalError as { errors?: unknown } | undefined)?.errors;
          return Array.isArray(nested) ? (nested as GraphQLError[]) : [e];
        });
        const errors = flat.map((e) => maskError(e instanceof GraphQLError ? e : new GraphQLError(String((e as Error).message ?? e), { originalError: e as Error }), requestId, log));
        for (const e of errors) metrics.graphqlErrors.inc({ code: String(e.extensions.code) });
        // Status as mercurius' default formatter sets it: a request error keeps its status code.
        const given = (execution as { statusCode?: number }).statusCode;
        let statusCode = execution.data ? 200 : (given ?? 200);
        const only = execution.errors.length === 1 ? (execution.errors[0]!.originalError as { statusCode?: unknown } | undefined) : undefined;
        if (!execution.data && given === undefined && typeof only?.statusCode === 'number') statusCode = only.statusCode;
        return { statusCode, response: { data: execution.data ?? null, errors: errors as unknown as GraphQLError[] } };
      },
    });

    gql.graphql.addHook('preParsing', async (_schema, source) => {
      checkTokenLimit(source, config.limits.tokens);
    });
    gql.graphql.addHook('preExecution', async (_schema, document) => {
      const op = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
      metrics.graphqlOperations.inc({ operation: op?.operation ?? 'unknown' });
    });
  });

  return { app: app as unknown as FastifyInstance, metrics };
}

async function authenticate(req: FastifyRequest, reply: FastifyReply, verifyToken: TokenVerifier): Promise<void> {
  const header = req.headers.authorization;
  const deny = (message: string, reason: string) =>
    reply
      .code(401)
      .header('www-authenticate', `Bearer error="invalid_token"`)
      .send({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED', reason, requestId: req.id } }] });
  if (!header) return deny('a bearer token is required (Authorization: Bearer <jwt>); get one with `alliance token`', 'missing');
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) return deny('the Authorization header must be "Bearer <jwt>"', 'malformed');
  try {
    req.principal = await verifyToken(m[1]!);
  } catch (err) {
    if (err instanceof AuthError) return deny(err.message, String(err.details?.reason ?? 'invalid'));
    throw err;
  }
}

type Resolver = GraphQLFieldResolver<unknown, ApiContext>;
type ResolverMap = Record<string, unknown>;

/**
 * Wraps every field that carries `@auth` so the caller's role is checked before it resolves. Fields
 * without a resolver of their own get the default one, wrapped.
 */
function guardResolvers(resolvers: ResolverMap, roles: Map<string, Role[]>): ResolverMap {
  const out: ResolverMap = { ...resolvers };
  for (const [key, required] of roles) {
    const [typeName, field] = key.split('.') as [string, string];
    const type = { ...((out[typeName] as Record<string, Resolver> | undefined) ?? {}) };
    const inner = type[field] ?? (defaultFieldResolver as Resolver);
    type[field] = (root, args, ctx, info) => {
      if (!allowed(ctx.principal, required)) {
        throw new AuthError('FORBIDDEN', `role ${ctx.principal.roles.join(', ')} may not use ${key} (needs ${required.join(' or ')})`);
      }
      return inner(root, args, ctx, info);
    };
    out[typeName] = type;
  }
  return out;
}

/** Merges per-concern resolver maps type by type (scalars are taken as they are). */
function merge(...parts: ResolverMap[]): ResolverMap {
  const out: ResolverMap = {};
  for (const part of parts) {
    for (const [type, value] of Object.entries(part)) {
      out[type] = value instanceof GraphQLScalarType ? value : { ...(out[type] as object | undefined), ...(value as object) };
    }
  }
  return out;
}

const DateTime = new GraphQLScalarType({
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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
