import { randomUUID } from 'node:crypto';
import { newRef } from './ref.ts';
import type { Database, Queryable } from '../storage/database.ts';
import type { Actor, RecordFields, StoredRecord } from './model.ts';
import type { Category, RecordStatus, SubjectKind } from '../identifiers/vocabulary.ts';
import { RECORD_LIMITS, RecordError } from './model.ts';
import { ValidationError } from '../errors.ts';
import { STATUSES } from '../identifiers/vocabulary.ts';
import { makeCursor } from '../encoding/cursor.ts';

const SELECT_RECORD = `
  SELECT r.id, r.seq, r.kind, r.name, r.categories, r.status, r.confidence, r.brands, r.notes,
         r.evidence, r.external_id, r.region, r.ref, r.version, r.created_at, r.created_by, r.updated_at, r.updated_by,
         COALESCE((SELECT json_agg(json_build_object('type', i.type, 'value', i.value, 'canonical', i.canonical) ORDER BY i.position)
                     FROM record_identifiers i WHERE i.record_id = r.id), '[]'::json) AS identifiers
    FROM records r`;

interface RecordRow {
  id: string;
  seq: string;
  kind: SubjectKind;
  name: string;
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  brands: string[];
  notes: string | null;
  evidence: string[];
  external_id: string | null;
  region: string | null;
  ref: string;
  version: number;
  created_at: Date | string;
  created_by: string;
  updated_at: Date | string;
  updated_by: string;
  identifiers: StoredRecord['identifiers'] | string;
}

function toRecord(row: RecordRow): StoredRecord {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    identifiers: typeof row.identifiers === 'string' ? JSON.parse(row.identifiers) : row.identifiers,
    categories: row.categories,
    status: row.status,
    confidence: row.confidence,
    brands: row.brands,
    notes: row.notes,
    evidence: row.evidence,
    externalId: row.external_id,
    region: row.region,
    ref: row.ref,
    version: row.version,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
    updatedAt: new Date(row.updated_at).toISOString(),
    updatedBy: row.updated_by,
  };
}

export interface RecordFilter {
  status?: RecordStatus[] | null | undefined;
  category?: Category[] | null | undefined;
  kind?: SubjectKind[] | null | undefined;
  /** Case-insensitive substring of name, external id or notes. */
  text?: string | null | undefined;
  /** Records changed at or after this instant. */
  updatedSince?: string | null | undefined;
}

export interface RecordPage {
  records: Array<StoredRecord & { cursor: string }>;
  hasNextPage: boolean;
}

export interface RecordChange {
  action: string;
  actor: string;
  role: string | null;
  at: string;
  fields: string[];
  reason: string | null;
}

export const MAX_PAGE_SIZE = 500;

/** Cursors of `records`, keyed by seq (the prefix keeps cursors already handed out valid). */
export const RECORD_CURSOR = makeCursor('r1:');

/** Fields `update` may change, and their columns. */
const PATCH_COLUMNS: Partial<Record<string, string>> = {
  kind: 'kind',
  name: 'name',
  categories: 'categories',
  status: 'status',
  confidence: 'confidence',
  brands: 'brands',
  notes: 'notes',
  evidence: 'evidence',
  externalId: 'external_id',
  region: 'region',
};

/** Rows go to PostgreSQL as one JSON document per statement, so a batch costs one round trip. */
interface RecordJson {
  id: string;
  kind: string;
  name: string;
  categories: string[];
  status: string;
  confidence: number;
  brands: string[];
  notes: string | null;
  evidence: string[];
  external_id: string | null;
  region: string | null;
  ref: string;
}

function toJson(id: string, f: RecordFields): RecordJson {
  return {
    id,
    kind: f.kind,
    name: f.name,
    categories: f.categories,
    status: f.status,
    confidence: f.confidence,
    brands: f.brands,
    notes: f.notes,
    evidence: f.evidence,
    external_id: f.externalId,
    region: f.region,
    ref: newRef(),
  };
}

/** Inserts many validated records in three statements (records, identifiers, change log). */
export async function insertRecords(tx: Queryable, items: RecordFields[], actor: Actor, action: 'create' | 'import'): Promise<string[]> {
  if (items.length === 0) return [];
  const ids = items.map(() => randomUUID());
  const recs = items.map((f, i) => toJson(ids[i]!, f));
  const idents = items.flatMap((f, i) => f.identifiers.map((x, pos) => ({ record_id: ids[i], position: pos, type: x.type, value: x.value, canonical: x.canonical })));
  await tx.query(
    `INSERT INTO records (id, kind, name, categories, status, confidence, brands, notes, evidence, external_id, region, ref, created_by, updated_by)
     SELECT x.id, x.kind, x.name, x.categories, x.status, x.confidence, x.brands, x.notes, x.evidence, x.external_id, x.region, x.ref, $2, $2
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, kind text, name text, categories text[], status text, confidence smallint,
            brands text[], notes text, evidence text[], external_id text, region text, ref text)`,
    [JSON.stringify(recs), actor.sub],
  );
  if (idents.length) {
    await tx.query(
      `INSERT INTO record_identifiers (record_id, position, type, value, canonical)
       SELECT x.record_id, x.position, x.type, x.value, x.canonical
         FROM jsonb_to_recordset($1::jsonb) AS x(record_id uuid, position smallint, type text, value text, canonical text)`,
      [JSON.stringify(idents)],
    );
  }
  await tx.query(
    `INSERT INTO record_changes (record_id, action, actor, role)
     SELECT id, $2, $3, $4 FROM unnest($1::uuid[]) AS id`,
    [ids, action, actor.sub, actor.role],
  );
  return ids;
}

export class RecordStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  get db(): Database {
    return this.#db;
  }

  async create(fields: RecordFields, actor: Actor): Promise<StoredRecord> {
    // Read back inside the transaction: a delete right after the commit must not make this return null.
    return this.#db.transaction(async (tx) => {
      const id = (await insertRecords(tx, [fields], actor, 'create'))[0]!;
      return (await this.get(id, tx))!;
    });
  }

  async get(id: string, q: Queryable = this.#db): Promise<StoredRecord | null> {
    const { rows } = await q.query<RecordRow>(`${SELECT_RECORD} WHERE r.id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async update(id: string, patch: Partial<RecordFields>, actor: Actor, expectedVersion?: number | null): Promise<StoredRecord> {
    return this.#db.transaction(async (tx) => {
      await this.#lockForChange(tx, id, expectedVersion);
      const sets: string[] = [];
      const params: unknown[] = [id, actor.sub];
      for (const [key, value] of Object.entries(patch)) {
        if (key === 'identifiers' || value === undefined) continue;
        // Column names come from this fixed map only, never from the patch's keys.
        const column = PATCH_COLUMNS[key];
        if (!column) throw new ValidationError([{ field: key, message: 'is not a record field' }]);
        params.push(value);
        sets.push(`${column} = $${params.length}`);
      }
      await tx.query(
        `UPDATE records SET ${[...sets, 'version = version + 1', 'updated_at = now()', 'updated_by = $2'].join(', ')} WHERE id = $1`,
        params,
      );
      if (patch.identifiers) {
        await tx.query('DELETE FROM record_identifiers WHERE record_id = $1', [id]);
        if (patch.identifiers.length) {
          await tx.query(
            `INSERT INTO record_identifiers (record_id, position, type, value, canonical)
             SELECT $1, x.position, x.type, x.value, x.canonical
               FROM jsonb_to_recordset($2::jsonb) AS x(position smallint, type text, value text, canonical text)`,
            [id, JSON.stringify(patch.identifiers.map((x, position) => ({ position, ...x })))],
          );
        }
      }
      await this.#logChange(tx, id, 'update', actor, Object.keys(patch).filter((k) => patch[k as keyof RecordFields] !== undefined), null);
      return (await this.get(id, tx))!;
    });
  }

  async setStatus(id: string, status: RecordStatus, reason: string | null, actor: Actor): Promise<StoredRecord> {
    if (!STATUSES.includes(status)) throw new ValidationError([{ field: 'status', message: `must be one of ${STATUSES.join(', ')}` }]);
    checkReason(reason);
    return this.#db.transaction(async (tx) => {
      await this.#lockForChange(tx, id, null);
      await tx.query('UPDATE records SET status = $2, version = version + 1, updated_at = now(), updated_by = $3 WHERE id = $1', [id, status, actor.sub]);
      await this.#logChange(tx, id, 'status', actor, ['status'], reason);
      return (await this.get(id, tx))!;
    });
  }

  async delete(id: string, reason: string | null, actor: Actor): Promise<void> {
    checkReason(reason);
    await this.#db.transaction(async (tx) => {
      const { rowCount } = await tx.query('DELETE FROM records WHERE id = $1', [id]);
      if (rowCount === 0) throw new RecordError('NOT_FOUND', `record ${id} does not exist`, { id });
      await this.#logChange(tx, id, 'delete', actor, [], reason);
    });
  }

  async list(filter: RecordFilter, first: number, after: string | null | undefined): Promise<RecordPage> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
      throw new ValidationError([{ field: 'first', message: `must be from 0 to ${MAX_PAGE_SIZE}` }]);
    }
    const { where, params } = filterSql(filter);
    // An empty string is not a cursor either: refuse it rather than silently start from the beginning.
    if (after != null) {
      params.push(RECORD_CURSOR.decode(after));
      where.push(`r.seq > $${params.length}::bigint`);
    }
    params.push(first + 1);
    const sql = `${SELECT_RECORD} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.seq LIMIT $${params.length}`;
    const { rows } = await this.#db.query<RecordRow>(sql, params);
    const page = rows.slice(0, first).map((row) => ({ ...toRecord(row), cursor: RECORD_CURSOR.encode(row.seq) }));
    return { records: page, hasNextPage: rows.length > first };
  }

  async count(filter: RecordFilter = {}): Promise<number> {
    const { where, params } = filterSql(filter);
    const { rows } = await this.#db.query<{ n: number }>(`SELECT count(*)::int AS n FROM records r ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, params);
    return rows[0]!.n;
  }

  async history(id: string): Promise<RecordChange[]> {
    const { rows } = await this.#db.query<{ action: string; actor: string; role: string | null; at: Date | string; fields: string[]; reason: string | null }>(
      'SELECT action, actor, role, at, fields, reason FROM record_changes WHERE record_id = $1 ORDER BY id',
      [id],
    );
    return rows.map((r) => ({ ...r, at: new Date(r.at).toISOString() }));
  }

  /** Locks the row for the rest of the transaction; refuses a missing record or a stale version. */
  async #lockForChange(tx: Queryable, id: string, expectedVersion: number | null | undefined): Promise<void> {
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM records WHERE id = $1 FOR UPDATE', [id]);
    if (!rows[0]) throw new RecordError('NOT_FOUND', `record ${id} does not exist`, { id });
    if (expectedVersion != null && rows[0].version !== expectedVersion) {
      throw new RecordError('CONFLICT', `record ${id} is at version ${rows[0].version}, not ${expectedVersion}: it was changed meanwhile; read it again`, {
        id,
        version: rows[0].version,
      });
    }
  }

  async #logChange(tx: Queryable, id: string, action: string, actor: Actor, fields: string[], reason: string | null): Promise<void> {
    await tx.query('INSERT INTO record_changes (record_id, action, actor, role, fields, reason) VALUES ($1, $2, $3, $4, $5, $6)', [
      id,
      action,
      actor.sub,
      actor.role,
      fields,
      reason,
    ]);
  }
}

function checkReason(reason: string | null): void {
  if (reason != null && reason.length > RECORD_LIMITS.reason) {
    throw new ValidationError([{ field: 'reason', message: `is ${reason.length} characters long; the limit is ${RECORD_LIMITS.reason}` }]);
  }
}

function filterSql(filter: RecordFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.status?.length) {
    params.push(filter.status);
    where.push(`r.status = ANY($${params.length}::text[])`);
  }
  if (filter.kind?.length) {
    params.push(filter.kind);
    where.push(`r.kind = ANY($${params.length}::text[])`);
  }
  if (filter.category?.length) {
    params.push(filter.category);
    where.push(`r.categories && $${params.length}::text[]`);
  }
  if (filter.text != null && filter.text.trim() !== '') {
    if (filter.text.length > 200) throw new ValidationError([{ field: 'filter.text', message: 'is longer than 200 characters' }]);
    // Escape LIKE wildcards so the text is matched literally.
    params.push(`%${filter.text.trim().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
    const p = `$${params.length}`;
    where.push(`(r.name ILIKE ${p} OR r.external_id ILIKE ${p} OR r.notes ILIKE ${p})`);
  }
  if (filter.updatedSince != null) {
    const t = Date.parse(filter.updatedSince);
    if (Number.isNaN(t)) throw new ValidationError([{ field: 'filter.updatedSince', message: 'is not an ISO 8601 date-time' }]);
    params.push(new Date(t).toISOString());
    where.push(`r.updated_at >= $${params.length}::timestamptz`);
  }
  return { where, params };
}
