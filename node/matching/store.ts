/**
 * Reading and deciding matches (migrations/007_matches.sql) for the API. The matcher writes them;
 * an analyst's decision (`acknowledge`) is the only other write, and every decision is audited
 * (action `match.decision`, the digests of the matched identifiers, never a raw value; the note is
 * free text that may quote one, so it stays out of the audit row).
 */
import type { Database, Queryable } from '../storage/database.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { ValidationError } from '../errors.ts';
import { makeCursor } from '../encoding/cursor.ts';
import { type Category, type IdentifierType, type RecordStatus } from '../identifiers/vocabulary.ts';
import { MatchError, MAX_MATCH_NOTE, type MatchedIdentifier, type MatchState, type MatchVerdict, type StoredMatch } from './model.ts';

export interface MatchFilter {
  state?: readonly MatchState[] | null | undefined;
  /** The other member. */
  origin?: string | null | undefined;
  recordId?: string | null | undefined;
  /** Matches raised or changed at or after this instant (updatedAt). */
  since?: string | Date | null | undefined;
}

export interface MatchPage {
  matches: Array<StoredMatch & { cursor: string }>;
  hasNextPage: boolean;
}

/** Who decides, for `decided_by` and the audit row. */
export interface MatchActor {
  sub: string;
  /** Roles of the token, comma-separated. */
  role: string;
  /** The external issuer, for tokens of an identity provider. */
  issuer?: string | undefined;
  requestId?: string | undefined;
}

export const MAX_MATCH_PAGE = 500;

/** Cursors of `matches`, keyed by match id (the prefix keeps cursors already handed out valid). */
export const MATCH_CURSOR = makeCursor('m1:');

/** A match id as the API shows it (digits); anything else names no match. */
export function assertMatchId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || !/^[1-9]\d{0,17}$/.test(id)) throw new ValidationError([{ field, message: 'is not a match id' }]);
  return id;
}

interface MatchRow {
  id: string;
  state: MatchState;
  record_id: string;
  record_ref: string;
  origin: string;
  ref: string;
  types: IdentifierType[];
  identifiers: MatchedIdentifier[] | string;
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  created_at: Date | string;
  updated_at: Date | string;
  decided_at: Date | string | null;
  decided_by: string | null;
  note: string | null;
  retracted_at: Date | string | null;
}

const COLUMNS = `id, state, record_id, record_ref, origin, ref, types, identifiers, categories, status,
  confidence, created_at, updated_at, decided_at, decided_by, note, retracted_at`;

const date = (v: Date | string): Date => new Date(v);
const maybeDate = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function toMatch(r: MatchRow): StoredMatch {
  return {
    id: r.id,
    state: r.state,
    recordId: r.record_id,
    recordRef: r.record_ref,
    origin: r.origin,
    ref: r.ref,
    types: r.types,
    identifiers: typeof r.identifiers === 'string' ? (JSON.parse(r.identifiers) as MatchedIdentifier[]) : r.identifiers,
    categories: r.categories,
    status: r.status,
    confidence: r.confidence,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
    decidedAt: maybeDate(r.decided_at),
    decidedBy: r.decided_by,
    note: r.note,
    retractedAt: maybeDate(r.retracted_at),
  };
}

function filterSql(filter: MatchFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.state != null && filter.state.length > 0) {
    params.push(filter.state);
    where.push(`state = ANY($${params.length}::text[])`);
  }
  if (filter.origin != null) {
    params.push(filter.origin);
    where.push(`origin = $${params.length}`);
  }
  if (filter.recordId != null) {
    params.push(filter.recordId);
    where.push(`record_id = $${params.length}::uuid`);
  }
  if (filter.since != null) {
    params.push(filter.since);
    where.push(`updated_at >= $${params.length}::timestamptz`);
  }
  return { where, params };
}

export class MatchStore {
  readonly #db: Database;
  readonly #audit: AuditLog;

  constructor(db: Database) {
    this.#db = db;
    this.#audit = new AuditLog(db);
  }

  /** Newest first (by id: the order matches were first raised). */
  async list(filter: MatchFilter, first: number, after: string | null | undefined): Promise<MatchPage> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_MATCH_PAGE) {
      throw new ValidationError([{ field: 'first', message: `must be from 0 to ${MAX_MATCH_PAGE}` }]);
    }
    const { where, params } = filterSql(filter);
    if (after != null) {
      params.push(MATCH_CURSOR.decode(after));
      where.push(`id < $${params.length}::bigint`);
    }
    params.push(first + 1);
    const { rows } = await this.#db.query<MatchRow>(
      `SELECT ${COLUMNS} FROM matches ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return { matches: rows.slice(0, first).map((r) => ({ ...toMatch(r), cursor: MATCH_CURSOR.encode(r.id) })), hasNextPage: rows.length > first };
  }

  async count(filter: MatchFilter = {}): Promise<number> {
    const { where, params } = filterSql(filter);
    const { rows } = await this.#db.query<{ n: number }>(`SELECT count(*)::int AS n FROM matches ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, params);
    return rows[0]!.n;
  }

  async get(id: string, q: Queryable = this.#db): Promise<StoredMatch | null> {
    const { rows } = await q.query<MatchRow>(`SELECT ${COLUMNS} FROM matches WHERE id = $1::bigint`, [id]);
    return rows[0] === undefined ? null : toMatch(rows[0]);
  }

  /** The matches of `ids` that exist, ascending by id. */
  async getMany(ids: readonly string[]): Promise<StoredMatch[]> {
    const valid = ids.filter((id) => /^\d{1,18}$/.test(id));
    if (valid.length === 0) return [];
    const { rows } = await this.#db.query<MatchRow>(`SELECT ${COLUMNS} FROM matches WHERE id = ANY($1::bigint[]) ORDER BY id`, [valid]);
    return rows.map(toMatch);
  }

  /**
   * Records an analyst's decision: CONFIRMED or DISMISSED, with an optional note. A match may be
   * decided again (the latest decision counts; each is audited). NOT_FOUND for an unknown id,
   * CONFLICT for a RETRACTED match (there is nothing left to decide: the indicators are gone).
   */
  async acknowledge(id: string, verdict: MatchVerdict, note: string | null, actor: MatchActor): Promise<{ match: StoredMatch; previous: MatchState }> {
    const text = note === null ? null : note.trim();
    if (text !== null && text.length > MAX_MATCH_NOTE) {
      throw new ValidationError([{ field: 'note', message: `is longer than ${MAX_MATCH_NOTE} characters` }]);
    }
    return this.#db.transaction(async (tx) => {
      const current = await this.#lock(tx, id);
      if (current === null) throw new MatchError('NOT_FOUND', `match ${id} does not exist`, { id });
      if (current.state === 'RETRACTED') {
        throw new MatchError('CONFLICT', `match ${id} is RETRACTED: the other member's indicators no longer match, there is nothing to decide`, { id, reason: 'retracted' });
      }
      const { rows } = await tx.query<MatchRow>(
        `UPDATE matches SET state = $2, decided_at = now(), decided_by = $3, note = $4, updated_at = now()
          WHERE id = $1::bigint RETURNING ${COLUMNS}`,
        [id, verdict, actor.sub, text === '' ? null : text],
      );
      const match = toMatch(rows[0]!);
      await this.#audit.write(
        {
          action: 'match.decision',
          subject: actor.sub,
          role: actor.role,
          identifierCount: match.identifiers.length,
          digests: [...new Set(match.identifiers.map((i) => i.digest))],
          hitCount: 1,
          details: {
            match: match.id,
            verdict,
            previous: current.state,
            record: match.recordId,
            origin: match.origin,
            ref: match.ref,
            types: match.types,
            ...(actor.requestId === undefined ? {} : { requestId: actor.requestId }),
            ...(actor.issuer === undefined ? {} : { issuer: actor.issuer }),
          },
        },
        tx,
      );
      return { match, previous: current.state };
    });
  }

  async #lock(tx: Queryable, id: string): Promise<{ state: MatchState } | null> {
    const { rows } = await tx.query<{ state: MatchState }>('SELECT state FROM matches WHERE id = $1::bigint FOR UPDATE', [id]);
    return rows[0] ?? null;
  }
}
