import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import mercurius from 'mercurius';
import { GraphQLError, Kind, type OperationDefinitionNode } from 'graphql';
import { decodeJwt } from 'jose';
import type { Logger } from 'pino';
import { DEFAULTS, type Config } from '../config.ts';
import type { Database } from '../storage/database.ts';
import type { RecordStore } from '../records/store.ts';
import { AuthError, allowed, type Principal, type Role, type TokenVerifier } from './auth.ts';
import type { ApiContext } from './context.ts';
import { apiError, maskError } from './errors.ts';
import { scanVariables, UNACCEPTABLE_TEXT, GRAPHQL_RESPONSE_TYPE, JSON_TYPE, mediaTypeOf, negotiateMediaType, requestFailureStatus, requestParamsProblem, unwrapRequestError } from './graphql-http.ts';
import { documentCheck, documentTooLong, limitValidationRules, operationCost, tooComplex } from './limits.ts';
import type { ApiMetrics } from './metrics.ts';
import { RequestLogController } from './request-log.ts';
import { recordResolvers } from './resolvers/records.ts';
import { indicatorResolvers } from './resolvers/indicators.ts';
import { membershipResolvers, type RosterSource } from './resolvers/membership.ts';
import type { RosterProposals, RosterWriter } from '../membership/proposals.ts';
import { rosterProposalResolvers } from './resolvers/roster-proposals.ts';
import { networkResolvers, type NetworkSource } from './resolvers/network.ts';
import { DateTime, guardResolvers, merge } from './resolvers/common.ts';
import { fieldRolesOf, loadSchemaSdl } from './schema.ts';
import type { LookupService } from '../lookup/lookup.ts';
import type { RateLimiter } from '../lookup/rate-limit.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { CaseDataLedger, caseDataFieldsOf, noteCaseData, type CaseDataAudit } from './case-data.ts';
import { lookupResolvers } from './resolvers/lookup.ts';
import { auditResolvers } from './resolvers/audit.ts';
import { exportResolvers } from './resolvers/export.ts';
import type { RecordExporter } from '../records/export.ts';
import type { MatchStore } from '../matching/store.ts';
import type { MatchFeed } from '../matching/feed.ts';
import { matchResolvers } from './resolvers/matching.ts';
import { Broadcast } from './broadcast.ts';
import { attachSubscriptions } from './subscriptions.ts';
import type { StoredMatch } from '../matching/model.ts';
import type { RosterState } from '../membership/roster-state.ts';

/**
 * What the API serves from: the node's services, built once by the composition root (node.ts) and
 * handed in. The API builds none of its own; it holds transport concerns only (HTTP, GraphQL,
 * WebSocket, limits, errors).
 */
export interface ApiServices {
  /** For /readyz. */
  storage: Pick<Database, 'kind' | 'ping'>;
  records: RecordStore;
  exporter: RecordExporter;
  audit: AuditLog;
  /** Audits the case data of each answer before it is sent. */
  caseData: CaseDataAudit;
  lookup: LookupService;
  /** Per-subject quotas: identifiers looked up, identifiers normalised. */
  lookupQuota: RateLimiter;
  normalizeQuota: RateLimiter;
  matches: MatchStore;
  /** Ids of raised matches, pushed to `matchFound` subscribers; none: nothing is pushed. */
  matchFeed?: MatchFeed | undefined;
  /** The roster (membership resolvers, submitRosterEntry). */
  roster: RosterSource & RosterWriter;
  /** The roster as this process holds it now: names the other member of a match. */
  rosterState(): RosterState | null;
  proposals: RosterProposals;
  /** Peers and heads for `network`; a node without a network answers an empty status. */
  network: NetworkSource;
}

export interface ApiOptions {
  config: Pick<Config, 'limits' | 'defaultRegion'> & Partial<Pick<Config, 'logRequests' | 'metricsToken'>>;
  services: ApiServices;
  metrics: ApiMetrics;
  verifyToken: TokenVerifier;
  logger: Logger;
  /** How long a WebSocket may wait before connection_init, ms; default 3 s (graphql-ws'). */
  subscriptionInitTimeoutMs?: number | undefined;
}

export interface Api {
  app: FastifyInstance;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;


/** Builds the HTTP API: GraphQL at /graphql (bearer tokens), and /healthz, /readyz, /metrics. */
export async function buildApi(opts: ApiOptions): Promise<Api> {
  const { config, verifyToken, logger, metrics, services } = opts;
  const { records: store, lookup, audit, matches, roster } = services;
  // Raised matches, fanned out to this process's matchFound subscribers.
  const matchFound = new Broadcast<StoredMatch>();

  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.limits.bodyBytes,
    // A caller's own request id is kept (so it can correlate), if it is a sane token.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    logController: new RequestLogController({ logRequests: config.logRequests ?? DEFAULTS.logRequests }),
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
      await withTimeout(services.storage.ping(), 2000);
      return { status: 'ready', storage: services.storage.kind };
    } catch {
      return reply.code(503).send({ status: 'unavailable', storage: services.storage.kind });
    }
  });
  const metricsAllowed = bearerCheck(config.metricsToken);
  app.get('/metrics', async (req, reply) => {
    if (!metricsAllowed(req.headers.authorization)) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').send({ errors: [{ message: 'a bearer token is required (ALLIANCE_METRICS_TOKEN)', extensions: { code: 'UNAUTHENTICATED', requestId: req.id } }] });
    }
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
      // Bounds that need no parsing, before mercurius hashes the document for its cache, and the
      // rule for text, before any resolver sees a variable.
      const source = (params as { query: string }).query;
      if (source.length > config.limits.documentChars) throw documentTooLong(source, config.limits.documentChars);
      const variables = req.method === 'GET' ? parseGetVariables(params as Record<string, unknown>) : (req.body as { variables?: unknown }).variables;
      if (variables != null) checkVariables(variables, config.limits.variableValues);
      // GraphQL over HTTP lets clients send `"extensions": null`; mercurius' body schema wants an object.
      const body = req.body as Record<string, unknown> | null | undefined;
      if (req.method !== 'GET' && body && body.extensions === null) delete body.extensions;
    });

    const sdl = loadSchemaSdl();
    const roles = fieldRolesOf(sdl);
    const resolvers = noteCaseData(guardResolvers(
      merge(
        {
          DateTime,
          Query: { viewer: (_: unknown, __: unknown, ctx: ApiContext) => ({ subject: ctx.principal.sub, roles: ctx.principal.roles.map((r) => r.toUpperCase()) }) },
        },
        recordResolvers(store, config),
        indicatorResolvers(config, services.normalizeQuota),
        membershipResolvers(roster),
        rosterProposalResolvers(services.proposals),
        networkResolvers(services.network),
        lookupResolvers({ service: lookup, limiter: services.lookupQuota, metrics, defaultRegion: config.defaultRegion }),
        auditResolvers(audit, lookup, config.defaultRegion),
        exportResolvers(services.exporter),
        matchResolvers({ store: matches, records: store, roster: services.rosterState, metrics, matchFound }),
      ),
      roles,
    ), caseDataFieldsOf(sdl));
    const subscriptionRoles = [...roles].filter(([key]) => key.startsWith('Subscription.')).map(([, r]) => r);
    // Subscriptions are served by graphql-ws (subscriptions.ts), which runs the schema's own
    // Subscription fields: mercurius gets every other resolver.
    const { Subscription: subscriptionResolvers, ...httpResolvers } = resolvers as Record<string, unknown> & { Subscription?: Record<string, object> };

    await gql.register(mercurius, {
      schema: sdl,
      resolvers: httpResolvers as never,
      path: '/graphql',
      graphiql: false,
      jit: 0,
      allowBatchedQueries: false,
      validationRules: limitValidationRules(config.limits),
      csrfPrevention: true,
      context: (req: FastifyRequest): ApiContext => ({ principal: req.principal!, requestId: req.id, caseData: new CaseDataLedger() }),
      errorFormatter: (execution, ctx) => {
        const reply = (ctx as { reply?: FastifyReply }).reply;
        const requestId = reply?.request.id ?? (ctx as { requestId?: string }).requestId ?? 'unknown';
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

    const schema = gql.graphql.schema;
    const subscriptionFields = schema.getSubscriptionType()?.getFields() ?? {};
    for (const [name, resolver] of Object.entries(subscriptionResolvers ?? {})) Object.assign(subscriptionFields[name]!, resolver);
    attachSubscriptions({
      app: gql,
      path: '/graphql',
      schema,
      limits: config.limits,
      validationRules: limitValidationRules(config.limits),
      authorize: (payload) => authorizeSubscriber(payload, verifyToken, subscriptionRoles, logger),
      caseDataAudit: services.caseData,
      connectionInitWaitTimeout: opts.subscriptionInitTimeoutMs,
      metrics,
      logger,
    });

    const withinDocumentLimits = documentCheck(config.limits);
    gql.graphql.addHook('preParsing', async (_schema, source) => {
      withinDocumentLimits(source);
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
    gql.graphql.addHook('preExecution', async (_schema, document, context) => {
      const op = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
      metrics.graphqlOperations.inc({ operation: op?.operation ?? 'unknown' });
      (context as unknown as ApiContext).operation = op?.operation === 'mutation' ? 'mutation' : 'query';
    });
    // Case data in the answer is audited before the answer is sent (case-data.ts).
    gql.graphql.addHook('onResolution', async (_execution, context) => {
      const ctx = context as unknown as ApiContext;
      await services.caseData.flush(ctx.caseData, ctx, ctx.operation ?? 'query');
    });

    // Raised matches reach subscribers as they are now in the database (read once per batch of ids,
    // then fanned out to every subscriber of this process); one decided or retracted meanwhile is
    // not pushed.
    const feed = services.matchFeed;
    if (feed !== undefined) {
      const unsubscribe = feed.subscribe((ids) => {
        matches.getMany(ids).then(
          (list) => {
            for (const m of list) if (m.state === 'NEW') matchFound.publish(m);
          },
          (err: unknown) => logger.error({ err }, 'raised matches could not be read for subscribers'),
        );
      });
      gql.addHook('onClose', async () => {
        unsubscribe();
      });
    }
  });

  return { app: app as unknown as FastifyInstance };
}

/**
 * Checks the token of a WebSocket's connection_init payload (`{ authorization: 'Bearer <jwt>' }`, or
 * `{ headers: { authorization } }`): false refuses the connection (closed with 4403); otherwise the
 * principal and when its token expires. Refused: no token, an invalid or expired one, a role that
 * may use no subscription.
 */
async function authorizeSubscriber(
  payload: unknown,
  verifyToken: TokenVerifier,
  roles: Role[][],
  logger: Logger,
): Promise<false | { principal: Principal; tokenExpiresAt?: number }> {
  const p = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  const headers = typeof p.headers === 'object' && p.headers !== null ? (p.headers as Record<string, unknown>) : p;
  const header = headers.authorization ?? headers.Authorization;
  const deny = (reason: string): false => {
    logger.info({ reason }, 'subscription connection refused');
    return false;
  };
  if (typeof header !== 'string' || header === '') return deny('missing');
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) return deny('malformed');
  let principal: Principal;
  try {
    principal = await verifyToken(m[1]!);
  } catch (err) {
    if (err instanceof AuthError) return deny(String(err.details?.reason ?? 'invalid'));
    throw err;
  }
  if (!roles.some((r) => allowed(principal, r))) return deny('role');
  const exp = decodeJwt(m[1]!).exp;
  return typeof exp === 'number' ? { principal, tokenExpiresAt: exp * 1000 } : { principal };
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

/** A GET request's `variables` parameter, parsed as mercurius will (unparseable: mercurius says so). */
function parseGetVariables(params: Record<string, unknown>): unknown {
  if (typeof params.variables !== 'string') return undefined;
  try {
    return JSON.parse(params.variables) as unknown;
  } catch {
    return undefined;
  }
}

/** Too many values (413) or unacceptable text (BAD_USER_INPUT) in a request's variables. */
function checkVariables(variables: unknown, maxValues: number): void {
  const scan = scanVariables(variables, maxValues);
  if (scan.values > maxValues) {
    throw Object.assign(new Error(`the request's variables hold more than ${maxValues} values: send the work in several requests`), { statusCode: 413 });
  }
  if (scan.badText !== undefined) throw apiError('BAD_USER_INPUT', `${scan.badText} ${UNACCEPTABLE_TEXT}`, { problems: [{ field: scan.badText, message: UNACCEPTABLE_TEXT }] });
}

/** Whether an Authorization header carries `token` (compared in constant time); always, without a token. */
function bearerCheck(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const want = createHash('sha256').update(token).digest();
  return (header) => {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    return m !== null && timingSafeEqual(createHash('sha256').update(m[1]!).digest(), want);
  };
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
