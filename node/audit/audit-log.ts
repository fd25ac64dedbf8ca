/**
 * The audit trail (migrations/006_audit.sql): one row per audited action, identifiers only as the
 * keyed digests of the query. Lookups commit theirs in groups through `AuditWriter`
 * (node/audit/audit-writer.ts) before answering; other actions use `write`.
 */
import type { Database, Queryable } from '../storage/database.ts';
import { ValidationError } from '../errors.ts';
import { makeCursor } from '../encoding/cursor.ts';

/** What an audited action records. `details` must never hold a raw value or a canonical form. */
export interface AuditEntryInput {
  action: string;
  subject: string;
  role: string;
  identifierCount: number;
  digests: readonly string[];
  hitCount: number;
  details: Record<string, unknown>;
}

export interface AuditEntry {
  id: string;
  action: string;
  subject: string;
  role: string;
  at: Date;
  identifierCount: number;
  digests: string[];
  hitCount: number;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  action?: readonly string[] | null | undefined;
  subject?: string | null | undefined;
  /** Rows at or after this instant. */
  since?: string | Date | null | undefined;
  /** Rows before this instant. */
  until?: string | Date | null | undefined;
  /** Rows whose digests include any of these. */
  digests?: readonly string[] | null | undefined;
}

export interface AuditPage {
  entries: Array<AuditEntry & { cursor: string }>;
  hasNextPage: boolean;
}

export const MAX_AUDIT_PAGE = 500;

/** Cursors of `auditLog`, keyed by row id (the prefix keeps cursors already handed out valid). */
export const AUDIT_CURSOR = makeCursor('a1:');

interface AuditRow {
  id: string;
  action: string;
  subject: string;
  role: string;
  at: Date | string;
  identifier_count: number;
  digests: string[];
  hit_count: number;
  details: Record<string, unknown> | string;
}

const SELECT = 'SELECT id, action, subject, role, at, identifier_count, digests, hit_count, details FROM audit_log';

function toEntry(r: AuditRow): AuditEntry {
  return {
    id: r.id,
    action: r.action,
    subject: r.subject,
    role: r.role,
    at: new Date(r.at),
    identifierCount: r.identifier_count,
    digests: r.digests,
    hitCount: r.hit_count,
    details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
  };
}

function filterSql(filter: AuditFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.action != null && filter.action.length > 0) {
    params.push(filter.action);
    where.push(`action = ANY($${params.length}::text[])`);
  }
  if (filter.subject != null) {
    params.push(filter.subject);
    where.push(`subject = $${params.length}`);
  }
  if (filter.since != null) {
    params.push(filter.since);
    where.push(`at >= $${params.length}::timestamptz`);
  }
  if (filter.until != null) {
    params.push(filter.until);
    where.push(`at < $${params.length}::timestamptz`);
  }
  if (filter.digests != null) {
    params.push(filter.digests);
    where.push(`digests && $${params.length}::text[]`);
  }
  return { where, params };
}

export class AuditLog {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Writes one row (in `q`'s transaction if given). */
  async write(entry: AuditEntryInput, q: Queryable = this.#db): Promise<string> {
    const { rows } = await q.query<{ id: string }>(
      `INSERT INTO audit_log (action, subject, role, identifier_count, digests, hit_count, details)
       VALUES ($1, $2, $3, $4, $5::text[], $6, $7::jsonb) RETURNING id`,
      [entry.action, entry.subject, entry.role, entry.identifierCount, [...entry.digests], entry.hitCount, JSON.stringify(entry.details)],
    );
    return rows[0]!.id;
  }

  /** Newest first. */
  async list(filter: AuditFilter, first: number, after: string | null | undefined): Promise<AuditPage> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_AUDIT_PAGE) {
      throw new ValidationError([{ field: 'first', message: `must be from 0 to ${MAX_AUDIT_PAGE}` }]);
    }
    const { where, params } = filterSql(filter);
    if (after != null) {
      params.push(AUDIT_CURSOR.decode(after));
      where.push(`id < $${params.length}::bigint`);
    }
    params.push(first + 1);
    const { rows } = await this.#db.query<AuditRow>(
      `${SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return { entries: rows.slice(0, first).map((r) => ({ ...toEntry(r), cursor: AUDIT_CURSOR.encode(r.id) })), hasNextPage: rows.length > first };
  }

  async count(filter: AuditFilter = {}): Promise<number> {
    const { where, params } = filterSql(filter);
    const { rows } = await this.#db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, params);
    return rows[0]!.n;
  }

  /** Deletes rows older than `retentionDays` before `now`; returns how many. */
  async prune(retentionDays: number, now: Date = new Date()): Promise<number> {
    if (!Number.isFinite(retentionDays) || retentionDays <= 0) throw new RangeError('retentionDays must be positive');
    const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
    const { rowCount } = await this.#db.query('DELETE FROM audit_log WHERE at < $1::timestamptz', [cutoff]);
    return rowCount;
  }
}
