/**
 * GraphQL subscriptions over WebSocket at the GraphQL path, speaking graphql-transport-ws through
 * its reference server (graphql-ws), which enforces the protocol: a socket that sends no
 * connection_init within `connectionInitWaitTimeout` is closed with 4408, a subscribe before the
 * acknowledgement with 4401, a second subscribe under an id still in use with 4409, another
 * subprotocol with 4406; every subscription ends with its socket.
 *
 * What the node adds: the token check at connection_init (and 4401 once the token expires), at
 * most `socketsPerSubject` sockets per token subject and `subscriptionsPerSocket` subscriptions per
 * socket, subscriptions only (queries and mutations go over HTTP, where their limits and audit
 * apply), the same document checks, validation rules and cost limit as HTTP, and errors shaped as
 * HTTP's are (maskError).
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { GraphQLError, GraphQLFormattedError, GraphQLSchema, ValidationRule } from 'graphql';
import type { Logger } from 'pino';
import type * as GraphqlWs from 'graphql-ws/use/ws';
import type * as Ws from 'ws';
import type { LimitsConfig } from '../config.ts';
import type { Principal } from './auth.ts';
import type { ApiContext } from './context.ts';
import { apiError, maskError } from './errors.ts';
import { scanVariables, UNACCEPTABLE_TEXT } from './graphql-http.ts';
import { CaseDataLedger, type CaseDataAudit } from './case-data.ts';
import { checkDocument, operationCost, tooComplex } from './limits.ts';
import type { ApiMetrics } from './metrics.ts';

// graphql-js as mercurius loads it (CommonJS), and graphql-ws as CommonJS so that it uses the same
// copy: this module's `import 'graphql'` may resolve to a second copy (the package's ESM build, as
// bundlers and test runners pick it), whose functions refuse the schema mercurius built ("from
// another module or realm") and whose GraphQLError graphql-ws would not recognise.
const require = createRequire(import.meta.url);
const graphql = createRequire(require.resolve('mercurius'))('graphql') as typeof import('graphql');
const { useServer } = require('graphql-ws/use/ws') as typeof GraphqlWs;
const { WebSocketServer } = require('ws') as typeof Ws;
const { handleProtocols } = require('graphql-ws') as typeof import('graphql-ws');

/** What a subscription's resolvers get: who subscribed, under which request id. */
export type SubscriptionContext = ApiContext;

export interface SubscriptionOptions {
  app: FastifyInstance;
  path: string;
  /** The executable schema (mercurius'), with the Subscription resolvers attached. */
  schema: GraphQLSchema;
  limits: LimitsConfig;
  validationRules: ValidationRule[];
  /** Checks connection_init's payload: the principal and when its token expires, or why not. */
  authorize(payload: unknown): Promise<{ principal: Principal; tokenExpiresAt?: number } | false>;
  metrics: ApiMetrics;
  logger: Logger;
  /** Audits the case data of each event before it is pushed. */
  caseDataAudit: CaseDataAudit;
  /** Milliseconds a socket may wait before connection_init; default 3 s. */
  connectionInitWaitTimeout?: number;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** setTimeout takes at most 2^31 - 1 ms (24.8 days); tokens may live 90 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Connection {
  principal: Principal;
  requestId: string;
  expiry: NodeJS.Timeout | undefined;
}

/** Serves subscriptions on `app`'s HTTP server; closes every socket when the app closes. */
export function attachSubscriptions(opts: SubscriptionOptions): void {
  const { app, limits, logger, metrics } = opts;
  const wss = new WebSocketServer({ noServer: true, handleProtocols, maxPayload: limits.documentChars + 64 * 1024 });
  const connections = new WeakMap<object, Connection>();
  const socketsBySubject = new Map<string, number>();
  const requestIds = new WeakMap<IncomingMessage, string>();

  const graphqlError = (e: { message: string; extensions: Record<string, unknown> }): GraphQLError =>
    new graphql.GraphQLError(e.message, { extensions: e.extensions });
  /** Errors as clients see them over HTTP (maskError), counted like HTTP's. */
  const format = (errors: readonly GraphQLError[], requestId: string): GraphQLFormattedError[] =>
    errors.map((err) => {
      const out = maskError(err, requestId, logger);
      metrics.graphqlErrors.inc({ code: String(out.extensions.code) });
      return out as unknown as GraphQLFormattedError;
    });
  const refuse = (err: unknown, requestId: string): GraphQLError[] => {
    const error = err instanceof Error && 'extensions' in err ? (err as GraphQLError) : new graphql.GraphQLError('internal error', { originalError: err as Error });
    return format([error], requestId).map((e) => graphqlError(e as { message: string; extensions: Record<string, unknown> }));
  };

  useServer<Record<string, unknown>>(
    {
      schema: opts.schema,
      connectionInitWaitTimeout: opts.connectionInitWaitTimeout ?? 3000,
      async onConnect(ctx) {
        const requestId = requestIds.get(ctx.extra.request) ?? randomUUID();
        const auth = await opts.authorize(ctx.connectionParams);
        if (auth === false) return false;
        const subject = auth.principal.sub;
        const open = socketsBySubject.get(subject) ?? 0;
        if (open >= limits.socketsPerSubject) {
          logger.info({ reason: 'sockets', requestId }, 'subscription connection refused');
          ctx.extra.socket.close(4429, `at most ${limits.socketsPerSubject} sockets per token subject`);
          return false;
        }
        socketsBySubject.set(subject, open + 1);
        const conn: Connection = { principal: auth.principal, requestId, expiry: undefined };
        connections.set(ctx, conn);
        if (auth.tokenExpiresAt !== undefined) {
          const expiresAt = auth.tokenExpiresAt;
          const arm = () => {
            const wait = expiresAt - Date.now();
            if (wait <= 0) return ctx.extra.socket.close(4401, 'token expired');
            conn.expiry = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
            conn.expiry.unref();
          };
          arm();
        }
        return true;
      },
      onClose(ctx) {
        const conn = connections.get(ctx);
        if (conn === undefined) return;
        connections.delete(ctx);
        clearTimeout(conn.expiry);
        const left = (socketsBySubject.get(conn.principal.sub) ?? 1) - 1;
        if (left > 0) socketsBySubject.set(conn.principal.sub, left);
        else socketsBySubject.delete(conn.principal.sub);
      },
      onSubscribe(ctx, id, payload) {
        const conn = connections.get(ctx)!;
        const { requestId } = conn;
        try {
          // The id is already among the socket's subscriptions: more than the limit means one too many.
          if (Object.keys(ctx.subscriptions).length > limits.subscriptionsPerSocket) {
            throw apiError('BAD_REQUEST', `at most ${limits.subscriptionsPerSocket} subscriptions per socket: complete one first`);
          }
          checkDocument(payload.query, limits);
          const scan = scanVariables(payload.variables ?? null, limits.variableValues);
          if (scan.values > limits.variableValues) throw apiError('BAD_REQUEST', `the subscription's variables hold more than ${limits.variableValues} values`);
          if (scan.badText !== undefined) throw apiError('BAD_USER_INPUT', `${scan.badText} ${UNACCEPTABLE_TEXT}`);
          const document = graphql.parse(payload.query, { noLocation: true });
          const invalid = graphql.validate(opts.schema, document, [...graphql.specifiedRules, ...opts.validationRules]);
          if (invalid.length > 0) return format(invalid, requestId).map((e) => graphqlError(e as { message: string; extensions: Record<string, unknown> }));
          const operation = graphql.getOperationAST(document, payload.operationName);
          if (operation?.operation !== 'subscription') {
            throw apiError('BAD_REQUEST', 'only subscriptions are served over the WebSocket: send queries and mutations over HTTP');
          }
          const cost = operationCost(opts.schema, document, payload.variables ?? undefined, payload.operationName);
          if (cost > limits.cost) throw tooComplex(`Cost limit of ${limits.cost} exceeded: the subscription may resolve ${cost} field values.`);
          const contextValue: SubscriptionContext = { principal: conn.principal, requestId, caseData: new CaseDataLedger() };
          return { schema: opts.schema, document, variableValues: payload.variables, operationName: payload.operationName, contextValue };
        } catch (err) {
          return refuse(err, requestId);
        }
      },
      async onNext(ctx, _id, _payload, args, result) {
        const { requestId, principal } = connections.get(ctx)!;
        // Pushed only once its case data is audited; if the row cannot be written, the event is not sent.
        await opts.caseDataAudit.flush((args.contextValue as SubscriptionContext).caseData, { principal, requestId }, 'subscription');
        if (!result.errors) return;
        return { ...result, errors: format(result.errors, requestId) } as never;
      },
      onError(ctx, _id, _payload, errors) {
        return format(errors, connections.get(ctx)?.requestId ?? 'unknown');
      },
    },
    wss,
  );

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://node');
    if (url.pathname !== opts.path) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const given = req.headers['x-request-id'];
    requestIds.set(req, typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID());
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  app.addHook('preClose', async () => {
    for (const client of wss.clients) client.close(1001, 'the node is stopping');
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    // A client that does not answer the close handshake is not waited for.
    for (const client of wss.clients) client.terminate();
  });
}
