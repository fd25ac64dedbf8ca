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
 * Text the node refuses in any string a client sends: a NUL character (PostgreSQL text cannot hold
 * one) or an unpaired UTF-16 surrogate (not Unicode: it cannot be stored or compared as text). One
 * rule for every argument and variable, applied before any resolver runs.
 */
export function isUnacceptableText(s: string): boolean {
  return s.includes('\u0000') || !s.isWellFormed();
}

export const UNACCEPTABLE_TEXT = 'holds a NUL character or an unpaired surrogate, which no text the node stores may';

export interface VariablesScan {
  /** JSON values seen (objects, arrays, strings, numbers, booleans, nulls), counting the whole; stops past the limit. */
  values: number;
  /** Where the first unacceptable string is (`variables.input.name`, keys included), if any. */
  badText: string | undefined;
}

/**
 * Walks a request's variables once: how many values they hold (graphql-js coerces every one of them
 * before a resolver can refuse the request, about a microsecond and a half each, so the number of
 * values, not the bytes, is what a request costs) and the first string, value or key, that
 * `isUnacceptableText` refuses. Iterative, so no nesting overflows the stack; stops past `maxValues`.
 */
export function scanVariables(variables: unknown, maxValues: number): VariablesScan {
  let values = 0;
  const stack: Array<{ v: unknown; at: string }> = [{ v: variables, at: 'variables' }];
  while (stack.length > 0) {
    const { v, at } = stack.pop()!;
    if (++values > maxValues) return { values, badText: undefined };
    if (typeof v === 'string') {
      if (isUnacceptableText(v)) return { values, badText: at };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], at: `${at}[${i}]` });
    } else if (v !== null && typeof v === 'object') {
      for (const key of Object.keys(v)) {
        if (isUnacceptableText(key)) return { values, badText: `${at} (a key)` };
        stack.push({ v: (v as Record<string, unknown>)[key], at: `${at}.${key}` });
      }
    }
  }
  return { values, badText: undefined };
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
