/**
 * Record export: pages of the member's own records as JSON Lines rows in the import format, so an
 * export reads back with `alliance import` or `importRecords`. Every page is written to the audit log
 * (action `record.export`) before it is handed out, with the keyed digests of the identifiers it holds,
 * never the values: an export is the one read that takes raw case data off the node in bulk.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import type { RawRecordInput, StoredRecord } from './model.ts';
import type { IdentifierType } from '../identifiers/vocabulary.ts';
import { ValidationError } from '../errors.ts';
import type { RecordFilter, RecordStore } from './store.ts';

/** Records per page; the store's page limit. */
export const MAX_EXPORT_PAGE = 500;

export interface ExportPage {
  /** One JSON object per record, in import format. */
  rows: string[];
  /** Record ids, in the order of `rows`. */
  ids: string[];
  endCursor: string | null;
  hasNextPage: boolean;
  /** The audit entry written for this page. */
  auditId: string;
}

export interface ExportRequester {
  subject: string;
  role: string;
  /** Written into the audit entry's details. */
  details: Record<string, unknown>;
}

/** A stored record as an import row: what `validateRecordInput` takes back unchanged. */
export function toImportRow(r: StoredRecord): RawRecordInput {
  return {
    kind: r.kind,
    name: r.name,
    identifiers: r.identifiers.map((i) => ({ type: i.type, value: i.value })),
    categories: r.categories,
    status: r.status,
    confidence: r.confidence,
    brands: r.brands,
    ...(r.notes === null ? {} : { notes: r.notes }),
    evidence: r.evidence,
    ...(r.externalId === null ? {} : { externalId: r.externalId }),
    ...(r.region === null ? {} : { region: r.region }),
  };
}

/**
 * What the audit entry says about the filter. Free text is left out: it may be an identifier
 * itself, and the audit log never holds one.
 */
function describeFilter(f: RecordFilter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (f.status?.length) out.status = f.status;
  if (f.category?.length) out.category = f.category;
  if (f.kind?.length) out.kind = f.kind;
  if (f.updatedSince != null) out.updatedSince = f.updatedSince;
  if (f.text != null) out.text = true;
  return out;
}

export class RecordExporter {
  readonly #store: RecordStore;
  readonly #audit: AuditLog;
  readonly #digestsOf: (type: IdentifierType, canonical: string) => string[];

  /** `digestsOf`: an identifier's digests under every live epoch (LookupService.digestsOf). */
  constructor(store: RecordStore, audit: AuditLog, digestsOf: (type: IdentifierType, canonical: string) => string[]) {
    this.#store = store;
    this.#audit = audit;
    this.#digestsOf = digestsOf;
  }

  async page(filter: RecordFilter, first: number, after: string | null | undefined, by: ExportRequester): Promise<ExportPage> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_EXPORT_PAGE) {
      throw new ValidationError([{ field: 'first', message: `must be from 1 to ${MAX_EXPORT_PAGE}` }]);
    }
    const page = await this.#store.list(filter, first, after);
    const digests = new Set<string>();
    let identifiers = 0;
    for (const r of page.records) {
      for (const i of r.identifiers) {
        identifiers++;
        for (const d of this.#digestsOf(i.type, i.canonical)) digests.add(d);
      }
    }
    // Audited before anything leaves: if the entry cannot be written, nothing is handed out.
    const auditId = await this.#audit.write({
      action: 'record.export',
      subject: by.subject,
      role: by.role,
      identifierCount: identifiers,
      digests: [...digests],
      hitCount: page.records.length,
      details: { ...by.details, records: page.records.length, filter: describeFilter(filter), continued: after != null },
    });
    return {
      rows: page.records.map((r) => JSON.stringify(toImportRow(r))),
      ids: page.records.map((r) => r.id),
      endCursor: page.records.at(-1)?.cursor ?? null,
      hasNextPage: page.hasNextPage,
      auditId,
    };
  }
}
