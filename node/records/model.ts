import { AllianceError, ValidationError, type FieldProblem } from '../errors.ts';
import { normalize, NormalizeError } from '../identifiers/normalize.ts';
import { CATEGORIES, IDENTIFIER_TYPES, STATUSES, SUBJECT_KINDS, type Category, type IdentifierType, type RecordStatus, type SubjectKind } from '../identifiers/vocabulary.ts';

/** Limits on one record; an import row or API input beyond them is refused, never truncated. */
export const RECORD_LIMITS = {
  name: 500,
  identifiers: 100,
  identifierValue: 1024,
  brands: 100,
  brand: 200,
  notes: 10_000,
  evidence: 100,
  evidenceItem: 2000,
  externalId: 200,
  reason: 2000,
} as const;

export interface Identifier {
  type: IdentifierType;
  /** As the member entered it. */
  value: string;
  /** Normalised (schema/identifiers.md): what digests are derived from and matching compares. */
  canonical: string;
}

/** A record as written: every field present, validated. */
export interface RecordFields {
  kind: SubjectKind;
  name: string;
  identifiers: Identifier[];
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  brands: string[];
  notes: string | null;
  evidence: string[];
  externalId: string | null;
  /** ISO 3166-1 alpha-2: the region national phone numbers and ids of this record are read in. */
  region: string | null;
}

export interface StoredRecord extends RecordFields {
  id: string;
  /** Random 128-bit handle its indicators carry (base64url), stable across updates (docs/architecture.md, "Records, refs and indicators"). */
  ref: string;
  version: number;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}

/** Who makes a change: the token's subject and role, or the CLI's operator. */
export interface Actor {
  sub: string;
  role: string | null;
}

export type RecordErrorCode = 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT';

export class RecordError extends AllianceError {
  declare readonly code: RecordErrorCode;
  constructor(code: RecordErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export interface ValidateOptions {
  /** Region for identifiers when the input gives none: the record's stored one, else the node's. */
  defaultRegion?: string | undefined;
}

/** Input as it arrives from GraphQL, JSON Lines or CSV: anything may be missing or of the wrong type. */
export type RawRecordInput = Record<string, unknown>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function assertRecordId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || !UUID_RE.test(id)) {
    throw new ValidationError([{ field, message: 'is not a record id (a UUID)' }]);
  }
  return id.toLowerCase();
}

class Checker {
  readonly problems: FieldProblem[] = [];

  fail(field: string, message: string): undefined {
    this.problems.push({ field, message });
    return undefined;
  }

  text(v: unknown, field: string, max: number, opts: { required: boolean }): string | null | undefined {
    if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '' && !opts.required)) {
      return opts.required ? this.fail(field, 'is required') : null;
    }
    if (typeof v !== 'string') return this.fail(field, 'must be a string');
    const s = v.trim();
    if (s === '') return this.fail(field, 'must not be empty');
    if (s.length > max) return this.fail(field, `is ${s.length} characters long; the limit is ${max}`);
    // A NUL byte is not storable in PostgreSQL text and is never meaningful here.
    if (s.includes('\u0000')) return this.fail(field, 'contains a NUL character');
    // A lone UTF-16 surrogate (possible in JSON input as "\\ud800") is not text PostgreSQL can store.
    if (!s.isWellFormed()) return this.fail(field, 'is not valid Unicode (it contains an unpaired surrogate)');
    return s;
  }

  oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T | undefined {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      return this.fail(field, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
    }
    return v as T;
  }

  list(v: unknown, field: string, max: number): unknown[] | undefined {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return this.fail(field, 'must be a list');
    if (v.length > max) return this.fail(field, `has ${v.length} entries; the limit is ${max}`);
    return v;
  }
}

/**
 * Validates a full record input (create, import). Collects every problem rather than stopping at the
 * first, so a user fixing an import row sees all of it at once.
 */
export function validateRecordInput(input: RawRecordInput, opts: ValidateOptions = {}): RecordFields {
  const c = new Checker();
  const fields = checkFields(c, input, false, opts);
  if (c.problems.length) throw new ValidationError(c.problems);
  return fields as RecordFields;
}

/** Validates a partial update: only the fields present are checked and returned. */
export function validateRecordPatch(input: RawRecordInput, opts: ValidateOptions = {}): Partial<RecordFields> {
  const c = new Checker();
  const fields = checkFields(c, input, true, opts);
  if (c.problems.length) throw new ValidationError(c.problems);
  if (Object.keys(fields).length === 0) throw new ValidationError([{ field: 'input', message: 'changes nothing: give at least one field' }]);
  return fields;
}

const KNOWN_FIELDS = new Set(['kind', 'name', 'identifiers', 'categories', 'status', 'confidence', 'brands', 'notes', 'evidence', 'externalId', 'region']);

function checkFields(c: Checker, input: RawRecordInput, partial: boolean, opts: ValidateOptions): Partial<RecordFields> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    c.fail('input', 'must be an object');
    return {};
  }
  for (const key of Object.keys(input)) if (!KNOWN_FIELDS.has(key)) c.fail(key, 'is not a record field');
  const has = (k: string) => !partial || (Object.hasOwn(input, k) && input[k] !== undefined);
  const out: Partial<RecordFields> = {};

  if (has('kind')) out.kind = c.oneOf(input.kind, 'kind', SUBJECT_KINDS);
  if (has('name')) out.name = c.text(input.name, 'name', RECORD_LIMITS.name, { required: true }) ?? undefined;
  if (has('status')) {
    out.status = !partial && input.status == null ? 'SUSPECTED' : c.oneOf(input.status, 'status', STATUSES);
  }
  if (has('confidence')) {
    const v = partial ? input.confidence : (input.confidence ?? 50);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100) c.fail('confidence', `must be a whole number from 0 to 100 (got ${JSON.stringify(v)})`);
    else out.confidence = v;
  }
  if (has('categories')) {
    const list = c.list(input.categories, 'categories', CATEGORIES.length * 4);
    if (list) {
      const cats = list.map((v, i) => c.oneOf(v, `categories[${i}]`, CATEGORIES)).filter((v): v is Category => v !== undefined);
      out.categories = [...new Set(cats)];
    }
  }
  if (has('brands')) {
    const list = c.list(input.brands, 'brands', RECORD_LIMITS.brands);
    if (list) out.brands = [...new Set(list.map((v, i) => c.text(v, `brands[${i}]`, RECORD_LIMITS.brand, { required: true })).filter((v): v is string => typeof v === 'string'))];
  }
  if (has('evidence')) {
    const list = c.list(input.evidence, 'evidence', RECORD_LIMITS.evidence);
    if (list) out.evidence = list.map((v, i) => c.text(v, `evidence[${i}]`, RECORD_LIMITS.evidenceItem, { required: true })).filter((v): v is string => typeof v === 'string');
  }
  if (has('notes')) {
    const v = c.text(input.notes, 'notes', RECORD_LIMITS.notes, { required: false });
    if (v !== undefined) out.notes = v;
  }
  if (has('externalId')) {
    const v = c.text(input.externalId, 'externalId', RECORD_LIMITS.externalId, { required: false });
    if (v !== undefined) out.externalId = v;
  }
  if (has('region')) {
    const v = c.text(input.region, 'region', 2, { required: false });
    if (v === null) out.region = null;
    else if (typeof v === 'string') {
      if (/^[A-Za-z]{2}$/.test(v)) out.region = v.toUpperCase();
      else c.fail('region', `must be a two-letter country code such as CN or DE (got ${JSON.stringify(v)})`);
    }
  }
  if (has('identifiers')) {
    const region = out.region ?? opts.defaultRegion;
    const list = c.list(input.identifiers, 'identifiers', RECORD_LIMITS.identifiers);
    if (list) {
      const ids: Identifier[] = [];
      list.forEach((item, i) => {
        if (typeof item !== 'object' || item === null || Array.isArray(item)) {
          c.fail(`identifiers[${i}]`, 'must be an object {type, value}');
          return;
        }
        const o = item as Record<string, unknown>;
        for (const key of Object.keys(o)) if (key !== 'type' && key !== 'value') c.fail(`identifiers[${i}].${key}`, 'is not an identifier field (type, value)');
        // GraphQL gives the enum in upper case; files may use either.
        const rawType = typeof o.type === 'string' ? o.type.toLowerCase() : o.type;
        const type = c.oneOf(rawType, `identifiers[${i}].type`, IDENTIFIER_TYPES);
        const value = c.text(o.value, `identifiers[${i}].value`, RECORD_LIMITS.identifierValue, { required: true });
        if (!type || typeof value !== 'string') return;
        try {
          ids.push({ type, value, canonical: normalize(type, value, { region }) });
        } catch (err) {
          if (!(err instanceof NormalizeError)) throw err;
          c.problems.push({ field: `identifiers[${i}].value`, message: `not a valid ${type}: ${err.message}`, reason: err.reason });
        }
      });
      out.identifiers = ids;
    }
  }
  return out;
}
