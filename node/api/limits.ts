import {
  GraphQLError,
  Kind,
  parse,
  valueFromASTUntyped,
  type FieldNode,
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type FragmentDefinitionNode,
} from 'graphql';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import type { LimitsConfig } from '../config.ts';

/**
 * Document limits beyond mercurius' own depth limit: aliases as a validation rule (from GraphQL
 * Armor), the token count through graphql-js' own parser limit (checked before the document is
 * parsed for execution), and the cost once the variables are known (`operationCost`).
 */
export function limitValidationRules(limits: LimitsConfig): ValidationRule[] {
  // Armor would throw its error out of validation (and call it a "Syntax Error"); report it as an
  // ordinary validation error instead, marked so clients can tell "too big" from "wrong".
  const onReject = [
    (ctx: ValidationContext | null, err: GraphQLError) => {
      const error = tooComplex(err.message.replace(/^Syntax Error:\s*/, ''));
      if (ctx) ctx.reportError(error);
      else throw error;
    },
  ];
  return [
    maxAliasesRule({ n: limits.aliases, onReject, propagateOnRejection: false }) as unknown as ValidationRule,
  ];
}

export function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX' } });
}

/** Throws QUERY_TOO_COMPLEX if the document has more lexical tokens than allowed. */
export function checkTokenLimit(source: string, maxTokens: number): void {
  try {
    parse(source, { maxTokens, noLocation: true });
  } catch (err) {
    if (err instanceof GraphQLError && /tokens/.test(err.message)) {
      throw tooComplex(`Token limit of ${maxTokens} exceeded: the document has more tokens than that.`);
    }
    // Other syntax errors are reported by the real parse that follows.
  }
}

/** Longest document `tokenLimitCheck` remembers: few tokens can still be long strings. */
const REMEMBERED_DOCUMENT_CHARS = 16 * 1024;

/**
 * `checkTokenLimit` that remembers the documents it passed (the last `size` distinct ones up to
 * 16 KiB, so the memory stays bounded): clients send the same few documents over and over with new
 * variables, and counting tokens is a full parse. A document within the limit always is, so
 * remembering it changes no answer.
 */
export function tokenLimitCheck(maxTokens: number, size = 1024, count: (source: string, maxTokens: number) => void = checkTokenLimit): (source: string) => void {
  const passed = new Set<string>();
  return (source) => {
    if (passed.has(source)) return;
    count(source, maxTokens);
    if (source.length > REMEMBERED_DOCUMENT_CHARS) return;
    if (passed.size >= size) passed.delete(passed.values().next().value!);
    passed.add(source);
  };
}

/** Page size assumed for a list field with a `first`/`last` argument that has no value and no default. */
const UNKNOWN_PAGE_SIZE = 500;

/**
 * The cost of running one operation: how many field values it may resolve. Every field counts 1;
 * the selections under a field with a `first` (or `last`) argument count once per item of the page,
 * the page size taken from the literal, the variable's value, or the argument's default. Computed
 * with the request's variables, so `records(first: $n)` with n = 500 costs what `records(first: 500)` does.
 */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | null | undefined, operationName?: string | null): number {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const chosen = operationName ? operations.filter((o) => o.name?.value === operationName) : operations;
  let max = 0;
  for (const op of chosen.length ? chosen : operations) {
    const vars: Record<string, unknown> = {};
    for (const def of op.variableDefinitions ?? []) {
      const name = def.variable.name.value;
      vars[name] = variables && name in variables ? variables[name] : def.defaultValue ? valueFromASTUntyped(def.defaultValue) : undefined;
    }
    const root = op.operation === 'query' ? schema.getQueryType() : op.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
    max = Math.max(max, selectionCost(op.selectionSet, root ?? undefined, { schema, fragments, vars, visiting: new Set() }));
  }
  return max;
}

// Types are told apart by their tag rather than graphql-js' predicates: the schema comes from
// mercurius, which loads graphql-js as CommonJS, and a test runner may give this module another copy
// of it (whose `instanceof` checks would then throw).
type AnyType = { ofType?: unknown; getFields?: () => Record<string, GraphQLField<unknown, unknown>> };
type GraphQLCompositeType = AnyType;
const tagOf = (t: unknown): string => Object.prototype.toString.call(t).slice(8, -1);
const COMPOSITE = new Set(['GraphQLObjectType', 'GraphQLInterfaceType', 'GraphQLUnionType']);

function isCompositeType(t: unknown): t is GraphQLCompositeType {
  return COMPOSITE.has(tagOf(t));
}

function getNamedType(t: unknown): unknown {
  let type = t as AnyType | undefined;
  while (type && type.ofType) type = type.ofType as AnyType;
  return type;
}

function isListField(t: unknown): boolean {
  const type = tagOf(t) === 'GraphQLNonNull' ? (t as AnyType).ofType : t;
  return tagOf(type) === 'GraphQLList';
}

interface CostContext {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  vars: Record<string, unknown>;
  visiting: Set<string>;
}

/**
 * `page` is the page size of the field these selections belong to: it multiplies the fields that are
 * lists (a connection's `edges`), not the ones that are about the whole page (`totalCount`, `pageInfo`).
 */
function selectionCost(set: SelectionSetNode, parent: GraphQLCompositeType | undefined, ctx: CostContext, page = 1): number {
  let total = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      const field = parent?.getFields ? (parent.getFields()[sel.name.value] as GraphQLField<unknown, unknown> | undefined) : undefined;
      const named = field ? getNamedType(field.type) : undefined;
      const child = named && isCompositeType(named) ? named : undefined;
      const own = 1 + (sel.selectionSet ? selectionCost(sel.selectionSet, child, ctx, pageSize(sel, field, ctx)) : 0);
      // A field of unknown type under a page is counted per item, to be safe.
      total += (field ? isListField(field.type) : true) ? page * own : own;
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const type = sel.typeCondition ? ctx.schema.getType(sel.typeCondition.name.value) : parent;
      total += selectionCost(sel.selectionSet, type && isCompositeType(type) ? type : parent, ctx, page);
    } else {
      const name = sel.name.value;
      const fragment = ctx.fragments.get(name);
      if (!fragment || ctx.visiting.has(name)) continue;
      ctx.visiting.add(name);
      const type = ctx.schema.getType(fragment.typeCondition.name.value);
      total += selectionCost(fragment.selectionSet, type && isCompositeType(type) ? type : parent, ctx, page);
      ctx.visiting.delete(name);
    }
  }
  return total;
}

function pageSize(node: FieldNode, field: GraphQLField<unknown, unknown> | undefined, ctx: CostContext): number {
  const arg = node.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last');
  const def = field?.args.find((a) => a.name === 'first' || a.name === 'last');
  if (!arg && !def) return 1;
  let value: unknown;
  if (arg?.value.kind === Kind.INT) value = Number(arg.value.value);
  else if (arg?.value.kind === Kind.VARIABLE) value = ctx.vars[arg.value.name.value];
  value ??= def?.defaultValue;
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(1, Math.floor(value)) : UNKNOWN_PAGE_SIZE;
}
