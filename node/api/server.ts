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
import { isGraphQLError, maskError, requestErrorStatus } from './errors.ts';
import { checkTokenLimit, limitValidationRules, operationCost, tooComplex } from './limits.ts';
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

  // Graceful stop: the server stops listening and closes idle connections at once, but a keep-alive
  // connection busy with a request would then stay open, idle, until its keep-alive timeout (72 s):
  // responses finished while closing ask the client to close the connection instead.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
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

  // Errors outside /graphql (which mercurius formats through errorFormatter) get the same shape and codes.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    const message = status === 500 ? `internal error; quote request id ${req.id} to the node operator` : err.message;
    const code = status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
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
    gql.addHook('onRequest', async (req, reply) => {
      req.graphqlMediaType = negotiateMediaType(req.headers.accept);
      return authenticate(req, reply, verifyToken);
    });
    // Responses use the media type the client asked for (GraphQL over HTTP: application/graphql-response+json
    // when accepted, else application/json); the body is the same JSON.
    gql.addHook('onSend', async (req, reply, payload) => {
      const type = reply.getHeader('content-type');
      if (req.graphqlMediaType === GRAPHQL_RESPONSE_TYPE && typeof type === 'string' && type.startsWith(JSON_TYPE)) {
        reply.header('content-type', `${GRAPHQL_RESPONSE_TYPE}; charset=utf-8`);
      }
      return payload;
    });
    // Mercurius' own request schema coerces types (`"query": 0` becomes a crash deeper down): check the
    // GraphQL over HTTP parameters here, before it sees them, and answer a clear 400.
    gql.addHook('preValidation', async (req) => {
      const params = req.method === 'GET' ? (req.query as Record<string, unknown>) : req.body;
      const problem = requestParamsProblem(params, req.method === 'GET');
      if (problem) throw Object.assign(new Error(problem), { statusCode: 400 });
      // GraphQL over HTTP lets clients send `"extensions": null`; mercurius' body schema wants an object.
      const body = req.body as Record<string, unknown> | null | undefined;
      if (req.method !== 'GET' && body && body.extensions === null) delete body.extensions;
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
        const flat = execution.errors.flatMap(unwrapRequestError);
        const errors = flat.map((e) => maskError(e, requestId, log));
        for (const e of errors) metrics.graphqlErrors.inc({ code: String(e.extensions.code) });
        const response = { errors: errors as unknown as GraphQLError[] } as { data?: unknown; errors: GraphQLError[] };
        if (execution.data !== undefined) {
          // Execution began: field errors. The result is a GraphQL response like any other.
          response.data = execution.data;
          return { statusCode: 200, response } as never;
        }
        // The request failed before execution: no `data` entry (GraphQL spec, "Response Format").
        return { statusCode: requestFailureStatus(flat, errors, reply ? mediaTypeOf(reply.request) : JSON_TYPE), response } as never;
      },
    });

    gql.graphql.addHook('preParsing', async (_schema, source) => {
      checkTokenLimit(source, config.limits.tokens);
    });
    // Cost needs the variables (`first: $n`), so it is checked here rather than as a validation rule.
    gql.graphql.addHook('preExecution', async (schema, document, context, variables) => {
      const req = (context as { reply?: FastifyReply }).reply?.request;
      const params = (req?.method === 'GET' ? req.query : req?.body) as { operationName?: unknown } | undefined;
      const operationName = typeof params?.operationName === 'string' ? params.operationName : undefined;
      const cost = operationCost(schema, document, variables as Record<string, unknown> | undefined, operationName);
      if (cost > config.limits.cost) {
        throw tooComplex(`Cost limit of ${config.limits.cost} exceeded: the operation may resolve ${cost} field values (lists count once per item of the page asked for).`);
      }
    });
    gql.graphql.addHook('preExecution', async (_schema, document) => {
      const op = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
      metrics.graphqlOperations.inc({ operation: op?.operation ?? 'unknown' });
    });
  });

  return { app: app as unknown as FastifyInstance, metrics };
}

const JSON_TYPE = 'application/json';
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json';
type MediaType = typeof JSON_TYPE | typeof GRAPHQL_RESPONSE_TYPE;

declare module 'fastify' {
  interface FastifyRequest {
    graphqlMediaType?: MediaType;
  }
}

function mediaTypeOf(req: FastifyRequest): MediaType {
  return req.graphqlMediaType ?? JSON_TYPE;
}

/**
 * The response media type for an Accept header: the supported type with the highest q-value, the
 * first listed on a tie; application/json if none is given or none is supported (wildcards included).
 */
export function negotiateMediaType(accept: string | undefined): MediaType {
  if (!accept) return JSON_TYPE;
  let best: MediaType = JSON_TYPE;
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.split(';');
    const type = rawType!.trim().toLowerCase();
    const qParam = params.map((p) => p.trim()).find((p) => p.toLowerCase().startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const candidate: MediaType | undefined =
      type === GRAPHQL_RESPONSE_TYPE ? GRAPHQL_RESPONSE_TYPE : type === JSON_TYPE || type === 'application/*' || type === '*/*' ? JSON_TYPE : undefined;
    if (candidate && q > bestQ) {
      best = candidate;
      bestQ = q;
    }
  }
  return best;
}

/** What is wrong with a GraphQL over HTTP request's parameters (POST body or GET query string), if anything. */
export function requestParamsProblem(params: unknown, isGet: boolean): string | undefined {
  if (Array.isArray(params)) return 'batched requests are not accepted: send one GraphQL operation per request';
  if (params === null || typeof params !== 'object') return 'the request body must be a JSON object such as {"query": "{ viewer { subject } }"}';
  const p = params as Record<string, unknown>;
  if (typeof p.query !== 'string' || p.query.trim() === '') return 'the request has no "query" string';
  if (p.operationName !== undefined && p.operationName !== null && typeof p.operationName !== 'string') return '"operationName" must be a string';
  for (const name of ['variables', 'extensions'] as const) {
    const v = p[name];
    if (v === undefined || v === null) continue;
    if (isGet ? typeof v !== 'string' : typeof v !== 'object' || Array.isArray(v)) {
      return isGet ? `"${name}" must be given once, as a JSON object` : `"${name}" must be a JSON object`;
    }
  }
  return undefined;
}

/**
 * Mercurius reports some request errors as one error holding a list (`errors`) of the real ones:
 * validation errors, query depth, a body that is not a GraphQL request, a mutation sent with GET.
 */
function unwrapRequestError(e: GraphQLError): GraphQLError[] {
  const wrapper = e.originalError as (Error & { errors?: unknown; code?: unknown; statusCode?: unknown }) | undefined;
  if (wrapper?.code === 'MER_ERR_METHOD_NOT_ALLOWED') {
    const cause = Object.assign(new Error('a GET request may only run a query: send mutations with POST'), { statusCode: 405 });
    return [new GraphQLError(cause.message, { originalError: cause })];
  }
  if (!Array.isArray(wrapper?.errors)) return [e];
  return (wrapper.errors as unknown[]).map((inner) =>
    isGraphQLError(inner) ? inner : new GraphQLError(String((inner as Error).message ?? inner), { originalError: inner as Error }),
  );
}

/**
 * The status of a request that failed before execution. Malformed HTTP requests keep their 4xx
 * (405 for a GET mutation); a well-formed request with an invalid document or variables gets 400 when
 * the client accepts application/graphql-response+json, and 200 with plain application/json, as the
 * GraphQL over HTTP spec asks; anything unexpected is a 500.
 */
function requestFailureStatus(flat: GraphQLError[], masked: { extensions: Record<string, unknown> }[], mediaType: MediaType): number {
  for (let i = 0; i < masked.length; i++) {
    if (masked[i]!.extensions.code === 'BAD_REQUEST') return requestErrorStatus(flat[i]!) ?? 400;
  }
  if (masked.some((e) => e.extensions.code === 'INTERNAL_SERVER_ERROR')) return 500;
  return mediaType === GRAPHQL_RESPONSE_TYPE ? 400 : 200;
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
