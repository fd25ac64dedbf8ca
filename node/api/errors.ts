import { GraphQLError } from 'graphql';
import type { FastifyBaseLogger } from 'fastify';
import { isAllianceError } from '../errors.ts';
import { RecordValidationError } from '../records/model.ts';

/**
 * The `extensions.code` values clients may see. Stable: clients switch on them.
 * - UNAUTHENTICATED: no token, or a token that is malformed, expired, for another audience or issuer.
 * - FORBIDDEN: the token's role may not use the field.
 * - BAD_USER_INPUT: an argument is invalid; `extensions.problems` (or `rows` for imports) says where.
 * - NOT_FOUND, CONFLICT: the record does not exist, or changed since it was read.
 * - BAD_REQUEST: the HTTP request itself is malformed (body not JSON, not a GraphQL request).
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
  'BAD_REQUEST',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'QUERY_TOO_COMPLEX',
  'INTERNAL_SERVER_ERROR',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** Errors that are the client's to see (their message names what is wrong and nothing internal). */
const EXPOSED = new Set<string>(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT']);

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

/**
 * Turns one error into what the client sees. Errors the node raised on purpose keep their message and
 * code; GraphQL's own parse and validation errors keep their message (it is about the client's
 * document); anything else is masked and logged with the request id, which the client also gets.
 */
export function maskError(error: GraphQLError, requestId: string, log: FastifyBaseLogger): Serialisable {
  const original = error.originalError;
  const base = { locations: error.locations, path: error.path };

  if (original && isAllianceError(original) && EXPOSED.has(original.code)) {
    const extensions: Record<string, unknown> = { code: original.code, requestId };
    if (original instanceof RecordValidationError) extensions.problems = original.problems;
    else if (original.details) Object.assign(extensions, publicDetails(original.details));
    return { message: original.message, ...base, extensions };
  }
  if (original instanceof GraphQLError) return maskError(original, requestId, log);

  const code = typeof error.extensions?.code === 'string' ? error.extensions.code : undefined;
  if (!original || isMercuriusClientError(original)) {
    // Produced by graphql-js or mercurius while parsing/validating the client's document.
    const known = code && (API_ERROR_CODES as readonly string[]).includes(code) ? code : classify(error.message);
    return { message: error.message, ...base, extensions: { ...error.extensions, code: known, requestId } };
  }

  const status = (original as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own request errors (body not JSON, body not a GraphQL request): about the request only.
    return { message: original.message, ...base, extensions: { code: 'BAD_REQUEST', requestId } };
  }

  log.error({ err: original, requestId, path: error.path }, 'internal error in GraphQL resolver');
  return {
    message: `internal error; quote request id ${requestId} to the node operator`,
    ...base,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId },
  };
}

function publicDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) if (['id', 'version', 'reason', 'rows', 'field'].includes(k)) out[k] = v;
  return out;
}

function isMercuriusClientError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^MER_ERR_GQL_(VALIDATION|QUERY_DEPTH|PERSISTED)/.test(code);
}

function classify(message: string): ApiErrorCode {
  if (message.startsWith('Syntax Error')) return 'GRAPHQL_PARSE_FAILED';
  return 'GRAPHQL_VALIDATION_FAILED';
}

