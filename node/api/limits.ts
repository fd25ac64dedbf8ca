import {
  GraphQLError,
  Kind,
  getOperationAST,
  parse,
  valueFromASTUntyped,
  visit,
  type FieldNode,
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type FragmentDefinitionNode,
} from 'graphql';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import type { LimitsConfig } from '../config.ts';
import { apiError } from './errors.ts';
import { isUnacceptableText, UNACCEPTABLE_TEXT } from './graphql-http.ts';

/**
 * Document limits: the size, tokens, depth and shape of the text (`checkDocument`, before anything
 * else parses it), aliases as a validation rule (from GraphQL Armor), and the cost once the
 * variables are known (`operationCost`). Each takes time linear in the document.
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

/**
 * What a document may hold besides tokens. graphql-js' validation compares every two fields that
 * could merge into one response key (OverlappingFieldsCanBeMerged): a document that selects one
 * field hundreds of times, directly or through fragments, costs time quadratic in that number (a
 * 5,000-token document kept the event loop 100-150 ms). Real documents repeat a field a few times
 * (an `id` in several fragments), so these bounds refuse only documents built to be expensive.
 */
export const DOCUMENT_SHAPE = {
  /** Fragment definitions in one document. */
  fragments: 100,
  /** Fragment spreads in one document. */
  fragmentSpreads: 200,
  /** Variables one operation declares (validation checks each against every use). */
  variables: 100,
  /**
   * Pairs of field selections at the same response path once fragments are expanded (what
   * validation compares): n selections of one field at one path are n(n-1)/2 pairs.
   */
  overlappingPairs: 2_000,
  /** Distinct response paths looked at while expanding fragments; past this the check stops. */
  expandedPaths: 50_000,
  /**
   * Brackets `{ [ (` open at once. graphql-js parses recursively: a list value nested a few
   * thousand deep, well within the token limit, overflows the stack.
   */
  nesting: 64,
} as const;

/**
 * Parses `source` within the token limit and checks its shape (DOCUMENT_SHAPE), in time linear in
 * its size: QUERY_TOO_COMPLEX over a limit, the parse error itself (GRAPHQL_PARSE_FAILED) for text
 * that is not GraphQL. Run before mercurius sees the document, which would otherwise take text that
 * does not parse for a JSON-encoded document tree, past every limit on text.
 */
export function checkDocument(source: string, limits: DocumentLimits): DocumentNode {
  if (source.length > limits.documentChars) throw documentTooLong(source, limits.documentChars);
  if (nestingDepth(source, DOCUMENT_SHAPE.nesting) > DOCUMENT_SHAPE.nesting) {
    throw tooComplex(`Nesting limit of ${DOCUMENT_SHAPE.nesting} exceeded: brackets are open more than that deep.`);
  }
  const maxTokens = limits.tokens;
  let document: DocumentNode;
  try {
    document = parse(source, { maxTokens, noLocation: true });
  } catch (err) {
    if (err instanceof GraphQLError && /more tha.? \d+ tokens/.test(err.message)) {
      throw tooComplex(`Token limit of ${maxTokens} exceeded: the document has more tokens than that.`);
    }
    throw err;
  }
  checkShape(document, limits.queryDepth);
  checkText(document);
  return document;
}

export function documentTooLong(source: string, max: number): GraphQLError {
  return tooComplex(`Document size limit of ${max} characters exceeded: the document has ${source.length}; pass long values as variables.`);
}

/** The rule for text (isUnacceptableText) on every string literal of the document. */
function checkText(document: DocumentNode): void {
  visit(document, {
    StringValue(node) {
      if (isUnacceptableText(node.value)) throw apiError('BAD_USER_INPUT', `a string in the document ${UNACCEPTABLE_TEXT}`);
    },
  });
}

/** What checkDocument needs of the limits (LimitsConfig). */
export interface DocumentLimits {
  tokens: number;
  documentChars: number;
  /** Deepest selection of an operation, fragments expanded (a spread adds no level). */
  queryDepth: number;
}

/**
 * How deep `{ [ (` nest in `source`, outside strings, block strings and comments; stops counting
 * once past `stopAbove`.
 */
export function nestingDepth(source: string, stopAbove: number): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x22) {
      if (source.startsWith('"""', i)) {
        // A block string ends at the next triple quote that is not escaped with a backslash.
        let j = i + 3;
        while (j < source.length && !(source.startsWith('"""', j) && source.charCodeAt(j - 1) !== 0x5c)) j++;
        i = j + 2;
      } else {
        // A string ends at the next unescaped quote (or the line, where the parser will refuse it).
        let j = i + 1;
        while (j < source.length && source.charCodeAt(j) !== 0x22 && source.charCodeAt(j) !== 0x0a) j += source.charCodeAt(j) === 0x5c ? 2 : 1;
        i = j;
      }
    } else if (c === 0x23) {
      // A comment, to the end of its line.
      while (i < source.length && source.charCodeAt(i) !== 0x0a && source.charCodeAt(i) !== 0x0d) i++;
    } else if (c === 0x7b || c === 0x5b || c === 0x28) {
      if (++depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x7d || c === 0x5d || c === 0x29) {
      depth--;
    }
  }
  return max;
}

function checkShape(document: DocumentNode, maxDepth: number): void {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    const declared = d.kind === Kind.OPERATION_DEFINITION ? (d.variableDefinitions?.length ?? 0) : 0;
    if (declared > DOCUMENT_SHAPE.variables) throw tooComplex(`Variable limit of ${DOCUMENT_SHAPE.variables} exceeded: an operation declares ${declared}.`);
  }
  if (fragments.size > DOCUMENT_SHAPE.fragments) throw tooComplex(`Fragment limit of ${DOCUMENT_SHAPE.fragments} exceeded: the document defines ${fragments.size}.`);
  const counter = new PathCounter(fragments);
  let pairs = 0;
  let depth = 0;
  for (const d of document.definitions) {
    const counts = d.kind === Kind.FRAGMENT_DEFINITION ? counter.fragment(d.name.value) : d.kind === Kind.OPERATION_DEFINITION ? counter.count(d.selectionSet) : undefined;
    for (const [path, n] of counts ?? []) {
      pairs += (n * (n - 1)) / 2;
      if (d.kind === Kind.OPERATION_DEFINITION) depth = Math.max(depth, levels(path));
    }
  }
  if (depth > maxDepth) throw tooComplex(`Depth limit of ${maxDepth} exceeded: the document is ${depth} levels deep.`);
  if (counter.spreads > DOCUMENT_SHAPE.fragmentSpreads) {
    throw tooComplex(`Fragment spread limit of ${DOCUMENT_SHAPE.fragmentSpreads} exceeded: the document spreads fragments ${counter.spreads} times.`);
  }
  if (pairs > DOCUMENT_SHAPE.overlappingPairs) {
    throw tooComplex(`The document selects the same fields too many times over (${pairs} pairs of selections of one field at one place, at most ${DOCUMENT_SHAPE.overlappingPairs}).`);
  }
}

/** Fields on a response path: "viewer.subject" is 2 levels. */
function levels(path: string): number {
  let n = 1;
  for (let i = path.indexOf('.'); i !== -1; i = path.indexOf('.', i + 1)) n++;
  return n;
}

/**
 * How often each response path ("viewer.subject") is selected under a selection set once fragments
 * are expanded. A fragment's counts are made once and added wherever it is spread, so the work is
 * the document's size plus, per spread, the fragment's distinct paths (bounded: expandedPaths).
 */
class PathCounter {
  readonly #fragments: Map<string, FragmentDefinitionNode>;
  readonly #memo = new Map<string, Map<string, number> | 'visiting'>();
  #work = 0;
  spreads = 0;

  constructor(fragments: Map<string, FragmentDefinitionNode>) {
    this.#fragments = fragments;
  }

  count(set: SelectionSetNode): Map<string, number> {
    const out = new Map<string, number>();
    this.#add(set, '', 1, out);
    return out;
  }

  #bump(out: Map<string, number>, path: string, n: number): void {
    if (++this.#work > DOCUMENT_SHAPE.expandedPaths) throw tooComplex(`The document is too large once its fragments are expanded (more than ${DOCUMENT_SHAPE.expandedPaths} selections).`);
    out.set(path, (out.get(path) ?? 0) + n);
  }

  #add(set: SelectionSetNode, prefix: string, times: number, out: Map<string, number>): void {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const path = prefix + (sel.alias ?? sel.name).value;
        this.#bump(out, path, times);
        if (sel.selectionSet) this.#add(sel.selectionSet, `${path}.`, times, out);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        this.#add(sel.selectionSet, prefix, times, out);
      } else {
        this.spreads++;
        if (this.spreads > DOCUMENT_SHAPE.fragmentSpreads) return;
        const counts = this.fragment(sel.name.value);
        if (counts !== undefined) for (const [path, n] of counts) this.#bump(out, prefix + path, n * times);
      }
    }
  }

  /** A fragment's own counts; undefined for an unknown fragment or one that spreads itself (validation reports both). */
  fragment(name: string): Map<string, number> | undefined {
    const known = this.#memo.get(name);
    if (known === 'visiting') return undefined;
    if (known !== undefined) return known;
    const def = this.#fragments.get(name);
    if (def === undefined) return undefined;
    this.#memo.set(name, 'visiting');
    const counts = this.count(def.selectionSet);
    this.#memo.set(name, counts);
    return counts;
  }
}

/** Longest document `documentCheck` remembers: few tokens can still be long strings. */
const REMEMBERED_DOCUMENT_CHARS = 16 * 1024;

/**
 * `checkDocument` that remembers the documents it passed (the last `size` distinct ones up to 16 KiB,
 * so the memory stays bounded): clients send the same few documents over and over with new
 * variables, and checking is a full parse. A document that passed always passes, so remembering it
 * changes no answer.
 */
export function documentCheck(limits: DocumentLimits, size = 1024, check: (source: string, limits: DocumentLimits) => unknown = checkDocument): (source: string) => void {
  const passed = new Set<string>();
  return (source) => {
    if (passed.has(source)) return;
    check(source, limits);
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
 * Only the operation that would run is costed (none, if graphql-js would refuse to pick one). A
 * fragment's cost is computed once per operation however often it is spread, so the time is linear
 * in the document even where the cost it finds is exponential.
 */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | null | undefined, operationName?: string | null): number {
  const op = getOperationAST(document, operationName);
  if (op == null) return 0;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const vars: Record<string, unknown> = {};
  for (const def of op.variableDefinitions ?? []) {
    const name = def.variable.name.value;
    vars[name] = variables && name in variables ? variables[name] : def.defaultValue ? valueFromASTUntyped(def.defaultValue) : undefined;
  }
  const root = op.operation === 'query' ? schema.getQueryType() : op.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  return total(selectionCost(op.selectionSet, root ?? undefined, { schema, fragments, vars, memo: new Map() }), 1);
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
  /** Fragment costs by name and the type they were spread into; 'visiting' while being computed (a cycle counts 0). */
  memo: Map<string, Cost | 'visiting'>;
}

/**
 * The cost of a selection set as a function of the page size of the field it belongs to:
 * `page * perItem + fixed`. The page multiplies the fields that are lists (a connection's `edges`),
 * not the ones about the whole page (`totalCount`, `pageInfo`).
 */
interface Cost {
  perItem: number;
  fixed: number;
}

const total = (c: Cost, page: number): number => page * c.perItem + c.fixed;

function selectionCost(set: SelectionSetNode, parent: GraphQLCompositeType | undefined, ctx: CostContext): Cost {
  const cost: Cost = { perItem: 0, fixed: 0 };
  const add = (c: Cost) => {
    cost.perItem += c.perItem;
    cost.fixed += c.fixed;
  };
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      const field = parent?.getFields ? (parent.getFields()[sel.name.value] as GraphQLField<unknown, unknown> | undefined) : undefined;
      const named = field ? getNamedType(field.type) : undefined;
      const child = named && isCompositeType(named) ? named : undefined;
      const own = 1 + (sel.selectionSet ? total(selectionCost(sel.selectionSet, child, ctx), pageSize(sel, field, ctx)) : 0);
      // A field of unknown type under a page is counted per item, to be safe.
      if (field ? isListField(field.type) : true) cost.perItem += own;
      else cost.fixed += own;
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const type = sel.typeCondition ? ctx.schema.getType(sel.typeCondition.name.value) : parent;
      add(selectionCost(sel.selectionSet, type && isCompositeType(type) ? type : parent, ctx));
    } else {
      const fragment = ctx.fragments.get(sel.name.value);
      if (!fragment) continue;
      const conditionType = ctx.schema.getType(fragment.typeCondition.name.value);
      const type = conditionType && isCompositeType(conditionType) ? conditionType : parent;
      const key = `${sel.name.value}\u0000${(type as { name?: string } | undefined)?.name ?? ''}`;
      const known = ctx.memo.get(key);
      if (known === 'visiting') continue;
      if (known !== undefined) {
        add(known);
        continue;
      }
      ctx.memo.set(key, 'visiting');
      const c = selectionCost(fragment.selectionSet, type, ctx);
      ctx.memo.set(key, c);
      add(c);
    }
  }
  return cost;
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
