/**
 * Case data that leaves the node is audited, whatever path it takes: the schema marks the fields
 * that carry the member's record contents or raw identifier values with `@caseData`; every such
 * field, when it resolves, notes its record or identifier in the request's ledger; and once the
 * operation has run (or a subscription event has been resolved), before the answer is sent, one
 * audit row (action `record.read`) is committed with the records' ids, the keyed digests of the
 * identifier values handed out and the counts, never a value. A query, a mutation's answer and a
 * matchFound push go through the same ledger, so a new path is audited as soon as it returns a
 * marked field. If the row cannot be written, the answer is not sent.
 */
import { defaultFieldResolver, Kind, parse, type GraphQLFieldResolver } from 'graphql';
import type { AuditWriter } from '../audit/audit-writer.ts';
import type { IdentifierType } from '../identifiers/vocabulary.ts';
import type { Principal } from './auth.ts';

/** What one request (or one subscription event) has handed out so far. */
export class CaseDataLedger {
  readonly #records = new Set<string>();
  readonly #identifiers = new Map<string, { type: IdentifierType; canonical: string | null }>();

  noteRecord(id: string): void {
    this.#records.add(id);
  }

  /** An identifier whose raw value or canonical form is in the answer (type as the API names it). */
  noteIdentifier(type: string, value: string, canonical: string | null): void {
    const t = type.toLowerCase() as IdentifierType;
    this.#identifiers.set(`${t}\u0000${canonical ?? `\u0001${value}`}`, { type: t, canonical });
  }

  get empty(): boolean {
    return this.#records.size === 0 && this.#identifiers.size === 0;
  }

  /** Everything noted, and a fresh start (a subscription's next event). */
  take(): { records: string[]; identifiers: Array<{ type: IdentifierType; canonical: string | null }> } {
    const out = { records: [...this.#records], identifiers: [...this.#identifiers.values()] };
    this.#records.clear();
    this.#identifiers.clear();
    return out;
  }
}

/** What a resolver context needs to carry for case-data fields. */
export interface CaseDataContext {
  caseData?: CaseDataLedger | undefined;
}

/** `Type.field` of every field the SDL marks `@caseData`. */
export function caseDataFieldsOf(sdl: string): Set<string> {
  const fields = new Set<string>();
  for (const def of parse(sdl).definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    for (const field of def.fields ?? []) {
      if (field.directives?.some((d) => d.name.value === 'caseData')) fields.add(`${def.name.value}.${field.name.value}`);
    }
  }
  return fields;
}

type Resolver = GraphQLFieldResolver<unknown, CaseDataContext>;
type ResolverMap = Record<string, unknown>;

/**
 * Wraps every `@caseData` field so it notes what it hands out. A field on `Identifier` notes the
 * identifier; any other notes its parent as a record (every marked type other than Identifier is a
 * record, by its `id`). Fields without a resolver get the default one, wrapped.
 */
export function noteCaseData(resolvers: ResolverMap, fields: Set<string>): ResolverMap {
  const out: ResolverMap = { ...resolvers };
  for (const key of fields) {
    const [typeName, field] = key.split('.') as [string, string];
    const type = { ...((out[typeName] as Record<string, Resolver> | undefined) ?? {}) };
    const inner = type[field] ?? (defaultFieldResolver as Resolver);
    type[field] =
      typeName === 'Identifier'
        ? (root, args, ctx, info) => {
            const i = root as { type: string; value: string; canonical?: string | null };
            ctx.caseData?.noteIdentifier(i.type, i.value, i.canonical ?? null);
            return inner(root, args, ctx, info);
          }
        : (root, args, ctx, info) => {
            ctx.caseData?.noteRecord((root as { id: string }).id);
            return inner(root, args, ctx, info);
          };
    out[typeName] = type;
  }
  return out;
}

/** Writes a ledger's row; resolves once it is committed (nothing when nothing was handed out). */
export class CaseDataAudit {
  readonly #writer: AuditWriter;
  readonly #digestsOf: (type: IdentifierType, canonical: string) => string[];

  constructor(writer: AuditWriter, digestsOf: (type: IdentifierType, canonical: string) => string[]) {
    this.#writer = writer;
    this.#digestsOf = digestsOf;
  }

  async flush(ledger: CaseDataLedger | undefined, who: { principal: Principal; requestId: string }, operation: 'query' | 'mutation' | 'subscription'): Promise<void> {
    if (ledger === undefined || ledger.empty) return;
    const { records, identifiers } = ledger.take();
    const digests = new Set<string>();
    for (const i of identifiers) if (i.canonical !== null) for (const d of this.#digestsOf(i.type, i.canonical)) digests.add(d);
    await this.#writer.append({
      action: 'record.read',
      subject: who.principal.sub,
      role: who.principal.roles.join(','),
      identifierCount: identifiers.length,
      digests: [...digests],
      hitCount: records.length,
      details: {
        operation,
        records: records.length,
        recordIds: records,
        requestId: who.requestId,
        ...(who.principal.issuer === 'local' ? {} : { issuer: who.principal.issuer }),
      },
    });
  }
}
