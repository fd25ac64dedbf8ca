import { GraphQLError } from 'graphql';
import type { FastifyRequest } from 'fastify';
import { isGraphQLError, requestErrorStatus } from './errors.ts';

// GraphQL over HTTP details that mercurius leaves to the application: response media types, request
// parameter checks, and the status of a request that fails before execution.

export const JSON_TYPE = 'application/json';
export const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json';
export type MediaType = typeof JSON_TYPE | typeof GRAPHQL_RESPONSE_TYPE;

declare module 'fastify' {
  interface FastifyRequest {
    graphqlMediaType?: MediaType;
  }
}

export function mediaTypeOf(req: FastifyRequest): MediaType {
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
 * How many JSON values (objects, arrays, strings, numbers, booleans, nulls) `value` holds, counting
 * itself; counting stops once past `stopAbove`. Iterative, so no nesting overflows the stack.
 * graphql-js coerces every value of a variable before a resolver can refuse the request (about a
 * microsecond and a half each), so the number of values, not the bytes, is what a request costs.
 */
export function countJsonValues(value: unknown, stopAbove: number): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (++count > stopAbove) return count;
    if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const key in v) stack.push((v as Record<string, unknown>)[key]);
    }
  }
  return count;
}

/**
 * Mercurius reports some request errors as one error holding a list (`errors`) of the real ones:
 * validation errors, query depth, a body that is not a GraphQL request, a mutation sent with GET.
 */
export function unwrapRequestError(e: GraphQLError): GraphQLError[] {
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
export function requestFailureStatus(flat: GraphQLError[], masked: { extensions: Record<string, unknown> }[], mediaType: MediaType): number {
  for (let i = 0; i < masked.length; i++) {
    if (masked[i]!.extensions.code === 'BAD_REQUEST') return requestErrorStatus(flat[i]!) ?? 400;
  }
  if (masked.some((e) => e.extensions.code === 'INTERNAL_SERVER_ERROR')) return 500;
  return mediaType === GRAPHQL_RESPONSE_TYPE ? 400 : 200;
}
