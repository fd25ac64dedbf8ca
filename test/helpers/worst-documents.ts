/**
 * GraphQL documents built to cost a server the most time within its token and body limits: what
 * an attacker with any valid token would send. Each is the largest of its shape that the default
 * limits let through to the document checks.
 */
import { parse } from 'graphql';
import { DEFAULTS } from '../../node/config.ts';

/** Whether `source` has at most `max` lexical tokens. */
function withinTokens(source: string, max: number): boolean {
  try {
    parse(source, { maxTokens: max, noLocation: true });
    return true;
  } catch {
    return false;
  }
}

/** The largest n (from 1) for which `make(n)` stays within the token limit. */
function largest(make: (n: number) => string, max = DEFAULTS.tokens): string {
  let lo = 1;
  let hi = 2;
  while (withinTokens(make(hi), max) && hi < 1 << 20) hi *= 2;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (withinTokens(make(mid), max)) lo = mid;
    else hi = mid;
  }
  return make(lo);
}

/** Fragments that each spread the next one twice: 2^n selections from a few hundred bytes. */
export function fragmentDoubling(levels: number, on = 'Query', leaf = 'viewer { subject }'): string {
  let d = `${on === 'Subscription' ? 'subscription' : 'query'} Q { ...F0 }\n`;
  for (let i = 0; i < levels; i++) d += `fragment F${i} on ${on} { ...F${i + 1} ...F${i + 1} }\n`;
  return `${d}fragment F${levels} on ${on} { ${leaf} }`;
}

export interface WorstDocument {
  query: string;
  variables?: Record<string, unknown>;
  /** What the API answers: the error code, or 'data' when the document runs. */
  expect: string;
}

export function worstDocuments(bodyBytes = DEFAULTS.bodyBytes): Record<string, WorstDocument> {
  return {
    // The report's document: 995 bytes, 24 levels.
    fragmentDoubling24: { query: fragmentDoubling(24), expect: 'QUERY_TOO_COMPLEX' },
    fragmentDoublingMax: { query: largest((n) => fragmentDoubling(n)), expect: 'QUERY_TOO_COMPLEX' },
    // One field selected over and over: validation compares every pair.
    sameField: { query: largest((n) => `{ ${'viewer { subject } '.repeat(n)}}`), expect: 'QUERY_TOO_COMPLEX' },
    sameLeaf: { query: largest((n) => `{ viewer { ${'subject '.repeat(n)}} }`), expect: 'QUERY_TOO_COMPLEX' },
    inlineFragments: { query: largest((n) => `{ viewer { ${'... on Viewer { subject } '.repeat(n)}} }`), expect: 'QUERY_TOO_COMPLEX' },
    // Many fragments spread into one selection set: validation compares every pair of them.
    manyFragments: {
      query: largest((n) => `query { viewer { ${Array.from({ length: n }, (_, i) => `...V${i}`).join(' ')} } }\n${Array.from({ length: n }, (_, i) => `fragment V${i} on Viewer { subject roles }`).join('\n')}`),
      expect: 'QUERY_TOO_COMPLEX',
    },
    // Just within the fragment limit, with distinct response names (the aliases limit refuses it).
    hundredFragments: {
      query: `query { viewer { ${Array.from({ length: 100 }, (_, i) => `...V${i}`).join(' ')} } }\n${Array.from({ length: 100 }, (_, i) => `fragment V${i} on Viewer { a${i % 30}: subject }`).join('\n')}`,
      expect: 'QUERY_TOO_COMPLEX',
    },
    // Two chains of fragments (validation compares them pairwise, step by step); it runs.
    fragmentChains: {
      query: `query { ...A0 ...B0 }\n${Array.from({ length: 49 }, (_, i) => `fragment A${i} on Query { ...A${i + 1} }\nfragment B${i} on Query { ...B${i + 1} }`).join('\n')}\nfragment A49 on Query { viewer { subject } }\nfragment B49 on Query { viewer { roles } }`,
      expect: 'data',
    },
    // Pages multiply: 30 aliases of the largest page.
    costly: { query: `{ ${Array.from({ length: 30 }, (_, i) => `r${i}: records(first: 500) { edges { node { id name identifiers { type value } } } }`).join(' ')} }`, expect: 'QUERY_TOO_COMPLEX' },
    variables: { query: largest((n) => `query (${Array.from({ length: n }, (_, i) => `$v${i}: Int`).join(' ')}) { viewer { subject } }`), expect: 'QUERY_TOO_COMPLEX' },
    hundredVariables: { query: `query (${Array.from({ length: 100 }, (_, i) => `$v${i}: Int`).join(' ')}) { viewer { subject } }`, expect: 'GRAPHQL_VALIDATION_FAILED' },
    directives: { query: largest((n) => `{ viewer ${'@include(if: true) '.repeat(n)}{ subject } }`), expect: 'GRAPHQL_VALIDATION_FAILED' },
    // Parsed recursively: thousands deep would overflow the stack.
    nestedLists: { query: largest((n) => `{ viewer(x: ${'['.repeat(n)}${']'.repeat(n)}) { subject } }`), expect: 'QUERY_TOO_COMPLEX' },
    // As long as the body limit allows: one token, megabytes of text.
    longString: { query: `{ viewer(x: "${'y'.repeat(bodyBytes - 1024)}") { subject } }`, expect: 'QUERY_TOO_COMPLEX' },
    longestDocument: { query: `{ viewer(x: "${'y'.repeat(DEFAULTS.documentChars - 64)}") { subject } }`, expect: 'GRAPHQL_VALIDATION_FAILED' },
    // Variables as long as the body limit allows: refused before graphql-js coerces each value.
    longVariables: {
      query: 'query ($ids: [IdentifierInput!]!) { lookup(identifiers: $ids) { hitCount } }',
      variables: { ids: Array.from({ length: Math.floor((bodyBytes - 4096) / 52) }, (_, i) => ({ type: 'EMAIL', value: `s${i}@example.com` })) },
      expect: 'BAD_REQUEST',
    },
    // The most values the limit lets through: coerced, then refused by the resolver (over 1,000 identifiers).
    mostVariables: {
      query: 'query ($ids: [IdentifierInput!]!) { lookup(identifiers: $ids) { hitCount } }',
      variables: { ids: Array.from({ length: Math.floor((DEFAULTS.variableValues - 2) / 3) }, (_, i) => ({ type: 'EMAIL', value: `s${i}@example.com` })) },
      expect: 'BAD_USER_INPUT',
    },
    // A document tree as JSON text, which mercurius would take past every limit on text.
    jsonDocument: { query: JSON.stringify(parse(fragmentDoubling(24), { noLocation: true })), expect: 'GRAPHQL_PARSE_FAILED' },
  };
}
