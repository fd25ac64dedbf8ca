import { parse, GraphQLError, type ValidationRule } from 'graphql';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import type { LimitsConfig } from '../config.ts';

/**
 * Document limits beyond mercurius' own depth limit: aliases and cost as validation rules (from
 * GraphQL Armor), and the token count through graphql-js' own parser limit, checked before the
 * document is parsed for execution.
 */
export function limitValidationRules(limits: LimitsConfig): ValidationRule[] {
  const onReject = [
    (_ctx: unknown, err: GraphQLError) => {
      // Armor raises plain validation errors; mark them so clients can tell "too big" from "wrong".
      (err.extensions as Record<string, unknown>).code = 'QUERY_TOO_COMPLEX';
    },
  ];
  return [
    maxAliasesRule({ n: limits.aliases, onReject }) as unknown as ValidationRule,
    costLimitRule({ maxCost: limits.cost, objectCost: 2, scalarCost: 1, depthCostFactor: 1.5, ignoreIntrospection: true, onReject }) as unknown as ValidationRule,
  ];
}

/** Throws QUERY_TOO_COMPLEX if the document has more lexical tokens than allowed. */
export function checkTokenLimit(source: string, maxTokens: number): void {
  try {
    parse(source, { maxTokens, noLocation: true });
  } catch (err) {
    if (err instanceof GraphQLError && /tokens/.test(err.message)) {
      throw new GraphQLError(`the document has more than ${maxTokens} tokens`, { extensions: { code: 'QUERY_TOO_COMPLEX' } });
    }
    // Other syntax errors are reported by the real parse that follows.
  }
}
