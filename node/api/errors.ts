import { GraphQLError } from 'graphql';
import type { FastifyBaseLogger } from 'fastify';
import { isAllianceError } from '../errors.ts';
import { ValidationError } from '../errors.ts';

/**
 * The `extensions.code` values clients may see. Stable: clients switch on them.
 * - UNAUTHENTICATED: no token, or a token that is malformed, expired, for another audience or issuer.
 * - FORBIDDEN: the token's role may not use the field.
 * - BAD_USER_INPUT: an argument or variable is invalid; `extensions.problems` (or `rows` for imports) says where.
 * - NOT_FOUND, CONFLICT: the record does not exist, or changed since it was read.
 * - RATE_LIMITED: the caller's lookup quota is spent; `extensions.retryAfter` says in how many seconds
 *   the same request would be served.
 * - BAD_REQUEST: the HTTP request itself is malformed (body not JSON, not a GraphQL request, batched,
 *   too large, blocked as a possible CSRF, a mutation sent with GET).
 * - GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED: the document is not valid GraphQL for this schema.
 * - QUERY_TOO_COMPLEX: the document exceeds a depth, alias, token or cost limit.
 * - INTERNAL_SERVER_ERROR: anything else; details are only in the node's log, under `requestId`.
 */
export const API_ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'BAD_REQUEST',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'QUERY_TOO_COMPLEX',
  'INTERNAL_SERVER_ERROR',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** Errors that are the client's to see (their message names what is wrong and nothing internal). */
const EXPOSED = new Set<string>(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED']);

/** A client-facing error raised by the API layer itself. */
export function apiError(code: ApiErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

interface Serialisable {
  message: string;
  locations?: readonly { line: number; column: number }[] | undefined;
  path?: readonly (string | number)[] | undefined;
  extensions: Record<string, unknown>;
}

/** Codes a deliberately raised GraphQLError may carry through to the client unchanged. */
const PASS_THROUGH = new Set<string>([...EXPOSED, 'QUERY_TOO_COMPLEX']);

/**
 * Turns one error into what the client sees. Errors the node raised on purpose keep their message and
 * code; GraphQL's own parse, validation and variable errors keep their message (it is about the
 * client's document); anything else is masked and logged with the request id, which the client also
 * gets.
 */
export function maskError(error: GraphQLError, requestId: string, log: FastifyBaseLogger): Serialisable {
  const base = { locations: error.locations, path: error.path };
  // graphql-js wraps errors (resolver errors get a location, variable errors a prefix naming the
  // variable): the innermost GraphQLError and its non-GraphQL cause say what really happened.
  const inner = innermost(error);
  const cause = inner.originalError;

  if (cause && isAllianceError(cause) && EXPOSED.has(cause.code)) {
    const extensions: Record<string, unknown> = { code: cause.code, requestId };
    if (cause instanceof ValidationError) extensions.problems = cause.problems;
    else if (cause.details) Object.assign(extensions, publicDetails(cause.details));
    return { message: cause.message, ...base, extensions };
  }

  const given = codeOf(inner) ?? codeOf(error);
  if (!cause && given && PASS_THROUGH.has(given)) {
    // Raised on purpose with a client-facing code (scalar parsing, document limits). The outer
    // message is kept: graphql-js prefixes it with the variable or argument it is about.
    return { message: error.message, ...base, extensions: { ...inner.extensions, code: given, requestId } };
  }

  if (cause && isMercuriusClientError(cause)) {
    if ((cause as { code?: unknown }).code === 'MER_ERR_GQL_QUERY_DEPTH') {
      return { message: depthMessage(cause.message), ...base, extensions: { code: 'QUERY_TOO_COMPLEX', requestId } };
    }
    if (cause instanceof SyntaxError) {
      // A GET request's `variables` or `extensions` parameter that is not JSON.
      return { message: `a request parameter is not valid JSON: ${cause.message}`, ...base, extensions: { code: 'BAD_REQUEST', requestId } };
    }
    return { message: error.message, ...base, extensions: { code: classify(error.message), requestId } };
  }

  const status = (cause as { statusCode?: unknown } | undefined)?.statusCode;
  if (cause && typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's and mercurius' own request errors (body not JSON, body not a GraphQL request, CSRF):
    // about the HTTP request only.
    return { message: cause.message, ...base, extensions: { code: 'BAD_REQUEST', requestId } };
  }

  if (!cause && error.path === undefined) {
    // Produced by graphql-js while parsing or validating the client's document or its variables.
    const known = given && (API_ERROR_CODES as readonly string[]).includes(given) ? given : classify(error.message);
    return { message: error.message, ...base, extensions: { ...error.extensions, code: known, requestId } };
  }

  // Anything else: a bug, a database error, a non-null field that resolved to null, ...
  log.error({ err: cause ?? inner, requestId, path: error.path }, 'internal error in GraphQL request');
  return {
    message: `internal error; quote request id ${requestId} to the node operator`,
    ...base,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId },
  };
}

/** The HTTP status a request-level error asks for (Fastify and mercurius errors carry one). */
export function requestErrorStatus(error: GraphQLError): number | undefined {
  const status = (innermost(error).originalError as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}

/**
 * Whether `err` is a GraphQLError. Structural as well as `instanceof`: mercurius loads graphql-js as
 * CommonJS, and a bundler or test runner may hand our ESM modules a second copy of it.
 */
export function isGraphQLError(err: unknown): err is GraphQLError {
  return err instanceof GraphQLError || (err instanceof Error && err.name === 'GraphQLError' && 'extensions' in err && 'locations' in err);
}

/** Follows `originalError` through wrapping GraphQLErrors to the innermost one. */
function innermost(error: GraphQLError): GraphQLError {
  let inner = error;
  for (let i = 0; i < 10 && isGraphQLError(inner.originalError) && inner.originalError !== inner; i++) inner = inner.originalError;
  return inner;
}

function codeOf(error: GraphQLError): string | undefined {
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}

function depthMessage(message: string): string {
  const m = /query depth \((\d+)\) exceeds the query depth limit of (\d+)/.exec(message);
  return m ? `Depth limit of ${m[2]} exceeded: the document is ${m[1]} levels deep.` : message.replace(/`/g, '');
}

function publicDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) if (['id', 'version', 'reason', 'rows', 'field', 'retryAfter'].includes(k)) out[k] = v;
  return out;
}

function isMercuriusClientError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^MER_ERR_GQL_(VALIDATION|QUERY_DEPTH|PERSISTED)/.test(code);
}

function classify(message: string): ApiErrorCode {
  if (message.startsWith('Syntax Error')) return 'GRAPHQL_PARSE_FAILED';
  // Variable values that do not fit their declared type: the document is fine, the input is not.
  if (/^Variable "\$[^"]+" (got invalid value|of required type|of non-null type)/.test(message)) return 'BAD_USER_INPUT';
  return 'GRAPHQL_VALIDATION_FAILED';
}

