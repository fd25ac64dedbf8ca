/**
 * Cross-member lookup (docs/architecture.md, "Lookup"): "who else knows these identifiers?", answered from this node's
 * own database, never by asking peers.
 *
 *   const service = new LookupService(db, sources);
 *   const out = await service.lookup([{ type: 'phone', value: '+86 138 0013 8000' }], { actor });
 *
 * Each input is normalised (an invalid one gets its reason; the others are still answered), then
 * digested under every epoch that is live now and whose key this node holds: the current epoch, and
 * the previous one during its grace period, so indicators not yet re-published under a new key still
 * match. One read-only statement then finds:
 *
 * - other members' hits: live `indicators` rows with one of those digests, of that digest's epoch,
 *   from a member that is ACTIVE in the roster now (a suspended member's rows stay stored but do not
 *   match; a revoked member's are purged), not past `expires_at`. Retracted indicators have no row.
 *   This node's own rows are left out: its own records answer for it.
 * - own hits: this member's records holding an identifier of the same type and canonical form
 *   (`record_identifiers`), whatever their status, so they answer before anything is published and
 *   without an epoch key.
 *
 * The audit row (migrations/006_audit.sql: subject, role, how many identifiers, their digests, never a
 * raw value or canonical form, and the hit counts) is then committed through the node's `AuditWriter`
 * before the answer is returned: concurrent lookups share one insert and one commit, which under load
 * costs the database a fraction of a row insert per lookup.
 *
 * Matching (docs/architecture.md, "Matching") compares the same digests against the same rows: the `peer` part of
 * `LOOKUP_SQL` is the query it can reuse.
 */
import { deriveDigest } from '../indicators/derive.ts';
import { type EpochKey } from '../membership/epoch-keyring.ts';
import { normalizeMany } from '../identifiers/many.ts';
import type { RosterState } from '../membership/roster-state.ts';
import type { MemberKind } from '../membership/types.ts';
import type { Category, IdentifierType, RecordStatus, SubjectKind } from '../identifiers/vocabulary.ts';
import { statement, type Database } from '../storage/database.ts';
import { AuditWriter } from '../audit/audit-writer.ts';

/** Most identifiers one lookup takes. */
export const MAX_LOOKUP_IDENTIFIERS = 1000;

/** What the service reads from the running node, each call (keys and the roster change while it runs). */
export interface LookupSources {
  /** This node's member id; undefined without a member identity. */
  self: () => string | undefined;
  /** The roster as this process holds it (kept current by the node); null before it has one. */
  roster: () => RosterState | null;
  /** Epoch keys this node holds, by epoch. */
  epochKeys: () => ReadonlyMap<number, EpochKey>;
  /** Epochs whose indicators are matchable now (`BatchStore.liveEpochs`). */
  liveEpochs: () => readonly number[];
  now?: () => Date;
}

export interface LookupInput {
  type: IdentifierType;
  value: string;
}

export interface LookupActor {
  sub: string;
  /** Roles of the token, comma-separated. */
  role: string;
  /** `local` or the external issuer. */
  issuer?: string | undefined;
}

export interface LookupOptions {
  actor: LookupActor;
  /** Region for national phone numbers and ids (ISO 3166-1 alpha-2). */
  region?: string | undefined;
  requestId?: string | undefined;
}

export interface MemberRef {
  id: string;
  name: string;
  kind: MemberKind;
}

/** Another member's live indicator for one input. */
export interface PeerMatch {
  member: MemberRef;
  ref: string;
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  /** Day the member first held the identifier (YYYY-MM-DD). */
  firstSeen: string;
  /** When the member last published the indicator: the `createdAt` of the batch that last set it. */
  lastSeen: Date;
  expiresAt: Date;
  epoch: number;
}

/** One of this member's own records holding the input. */
export interface OwnHit {
  id: string;
  name: string;
  kind: SubjectKind;
  status: RecordStatus;
  categories: Category[];
  confidence: number;
  ref: string;
  updatedAt: Date;
}

export interface LookupItem {
  index: number;
  type: IdentifierType;
  input: string;
  canonical: string | null;
  error: { reason: string; message: string } | null;
  matches: PeerMatch[];
  ownRecords: OwnHit[];
}

/** One actor at one member that several inputs may point at. */
export interface LookupSubject {
  /** The member holding it; for an own subject this node's member (null if it is not in the roster). */
  member: MemberRef | null;
  own: boolean;
  ref: string;
  /** The own record's id (own subjects only). */
  recordId: string | null;
  /** Indexes of the inputs pointing at it, ascending. */
  identifiers: number[];
  /** How many distinct identifiers (type and canonical form) of the query point at it. */
  count: number;
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  lastSeen: Date;
}

export interface LookupOutcome {
  results: LookupItem[];
  subjects: LookupSubject[];
  /** Epochs the inputs were digested under, newest first. */
  epochs: number[];
  /** Peer matches plus own hits, over all inputs. */
  hitCount: number;
  peerHits: number;
  ownHits: number;
  invalid: number;
  auditId: string;
}

interface PeerRow {
  idx: number;
  origin: string;
  ref: string;
  epoch: number;
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  first_seen: string;
  expires_at: string;
  last_seen: string;
}

interface OwnRow {
  idx: number;
  id: string;
  name: string;
  kind: SubjectKind;
  status: RecordStatus;
  categories: Category[];
  confidence: number;
  ref: string;
  updated_at: string;
}

/**
 * Parameters: $1 input indexes, $2 types, $3 digests, $4 epochs (one row per input and epoch);
 * $5 input indexes, $6 types, $7 canonical forms (one row per valid input); $8 origins that may match
 * (ACTIVE members other than this one); $9 now.
 *
 * Per input, a member's actor (origin, ref) is reported once, under the newest epoch it matched.
 */
export const LOOKUP_SQL = `
WITH q AS (
  SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::int[]) AS q(idx, type, digest, epoch)
), c AS (
  SELECT * FROM unnest($5::int[], $6::text[], $7::text[]) AS c(idx, type, canonical)
), peer AS (
  SELECT DISTINCT ON (q.idx, i.origin, i.ref)
         q.idx, i.origin, i.ref, i.epoch, i.categories, i.status, i.confidence,
         to_char(i.first_seen, 'YYYY-MM-DD') AS first_seen, i.expires_at, i.last_seen
    FROM q
    JOIN indicator_rows i ON i.digest = q.digest AND i.type = q.type AND i.epoch = q.epoch
   WHERE i.origin = ANY($8::text[]) AND i.expires_at > $9::timestamptz
   ORDER BY q.idx, i.origin, i.ref, i.epoch DESC
), own AS (
  SELECT DISTINCT c.idx, h.record_id AS id, h.name, h.kind, h.status, h.categories, h.confidence, h.ref, h.updated_at
    FROM c
    JOIN record_identifier_hits h ON h.type = c.type AND h.canonical = c.canonical
)
SELECT (SELECT coalesce(json_agg(peer), '[]'::json) FROM peer) AS peer,
       (SELECT coalesce(json_agg(own), '[]'::json) FROM own) AS own`;

/** Planned once per connection: planning it anew costs twice what running it does. */
export const LOOKUP_STATEMENT = statement('alliance_lookup', LOOKUP_SQL, { plan: 'generic' });

const json = <T>(v: T[] | string): T[] => (typeof v === 'string' ? (JSON.parse(v) as T[]) : v);

export class LookupService {
  readonly #db: Database;
  readonly #sources: LookupSources;
  readonly #now: () => Date;
  readonly #audit: AuditWriter;

  /** `audit`: the node's group writer for audit rows; default one of this service's own. */
  constructor(db: Database, sources: LookupSources, audit: AuditWriter = new AuditWriter(db)) {
    this.#db = db;
    this.#sources = sources;
    this.#now = sources.now ?? (() => new Date());
    this.#audit = audit;
  }

  /** Epochs a lookup digests under now: live, and this node holds the key. Newest first. */
  epochs(): Array<{ epoch: number; key: EpochKey }> {
    const keys = this.#sources.epochKeys();
    const out: Array<{ epoch: number; key: EpochKey }> = [];
    for (const epoch of this.#sources.liveEpochs()) {
      const key = keys.get(epoch);
      if (key !== undefined) out.push({ epoch, key });
    }
    return out.sort((a, b) => b.epoch - a.epoch);
  }

  /**
   * Digests of one identifier under every epoch key this node holds (live or not): what the audit
   * trail may hold for it, for finding who looked it up.
   */
  digestsOf(type: IdentifierType, canonical: string): string[] {
    return [...this.#sources.epochKeys().values()].map((key) => deriveDigest(key, type, canonical));
  }

  async lookup(inputs: readonly LookupInput[], opts: LookupOptions): Promise<LookupOutcome> {
    const epochs = this.epochs();
    const results: LookupItem[] = [];
    const q = { idx: [] as number[], type: [] as string[], digest: [] as string[], epoch: [] as number[] };
    const c = { idx: [] as number[], type: [] as string[], canonical: [] as string[] };
    const digests = new Set<string>();
    let invalid = 0;
    const normalized = await normalizeMany(inputs, { region: opts.region });
    inputs.forEach((input, index) => {
      const r = normalized[index]!;
      if (!('canonical' in r)) {
        invalid++;
        results.push({ index, type: input.type, input: input.value, canonical: null, error: { reason: r.reason, message: r.error }, matches: [], ownRecords: [] });
        return;
      }
      results.push({ index, type: input.type, input: input.value, canonical: r.canonical, error: null, matches: [], ownRecords: [] });
      c.idx.push(index);
      c.type.push(input.type);
      c.canonical.push(r.canonical);
      for (const { epoch, key } of epochs) {
        const digest = deriveDigest(key, input.type, r.canonical);
        q.idx.push(index);
        q.type.push(input.type);
        q.digest.push(digest);
        q.epoch.push(epoch);
        digests.add(digest);
      }
    });

    const state = this.#sources.roster();
    const self = this.#sources.self();
    const members = new Map((state?.members ?? []).map((m) => [m.id, m]));
    const origins = (state?.members ?? []).filter((m) => m.status === 'ACTIVE' && m.id !== self).map((m) => m.id);
    const details: Record<string, unknown> = {
      epochs: epochs.map((e) => e.epoch),
      invalid,
      ...(opts.region === undefined ? {} : { region: opts.region }),
      ...(opts.requestId === undefined ? {} : { requestId: opts.requestId }),
      ...(opts.actor.issuer === undefined ? {} : { issuer: opts.actor.issuer }),
    };

    const { rows } = await this.#db.query<{ peer: PeerRow[] | string; own: OwnRow[] | string }>(LOOKUP_STATEMENT, [
      q.idx,
      q.type,
      q.digest,
      q.epoch,
      c.idx,
      c.type,
      c.canonical,
      origins,
      this.#now(),
    ]);
    const row = rows[0]!;
    const peer = json(row.peer);
    const own = json(row.own);
    // Nothing is answered before its audit row is committed.
    const auditId = await this.#audit.append({
      action: 'lookup',
      subject: opts.actor.sub,
      role: opts.actor.role,
      identifierCount: inputs.length,
      digests: [...digests],
      hitCount: peer.length + own.length,
      details: { ...details, peerHits: peer.length, ownHits: own.length },
    });

    for (const p of peer) {
      const m = members.get(p.origin);
      if (m === undefined) continue;
      results[p.idx]!.matches.push({
        member: { id: m.id, name: m.name, kind: m.kind },
        ref: p.ref,
        categories: p.categories,
        status: p.status,
        confidence: p.confidence,
        firstSeen: p.first_seen,
        lastSeen: new Date(p.last_seen),
        expiresAt: new Date(p.expires_at),
        epoch: p.epoch,
      });
    }
    for (const o of own) {
      results[o.idx]!.ownRecords.push({
        id: o.id,
        name: o.name,
        kind: o.kind,
        status: o.status,
        categories: o.categories,
        confidence: o.confidence,
        ref: o.ref,
        updatedAt: new Date(o.updated_at),
      });
    }
    for (const r of results) {
      r.matches.sort((a, b) => b.confidence - a.confidence || a.member.id.localeCompare(b.member.id) || a.ref.localeCompare(b.ref));
      r.ownRecords.sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || a.id.localeCompare(b.id));
    }
    const selfMember = self === undefined ? undefined : members.get(self);
    return {
      results,
      subjects: subjectsOf(results, selfMember === undefined ? null : { id: selfMember.id, name: selfMember.name, kind: selfMember.kind }),
      epochs: epochs.map((e) => e.epoch),
      hitCount: peer.length + own.length,
      peerHits: peer.length,
      ownHits: own.length,
      invalid,
      auditId,
    };
  }
}

/**
 * Groups hits by actor: (member, ref) for other members' indicators, the record for own hits.
 * Most identifiers first; the record details are those of the most recently published indicator.
 */
function subjectsOf(results: LookupItem[], self: MemberRef | null): LookupSubject[] {
  const groups = new Map<string, LookupSubject & { keys: Set<string> }>();
  const add = (key: string, item: LookupItem, make: () => LookupSubject, lastSeen: Date, update: (s: LookupSubject) => void) => {
    let g = groups.get(key);
    if (g === undefined) {
      g = { ...make(), keys: new Set() };
      groups.set(key, g);
    } else if (lastSeen > g.lastSeen) {
      update(g);
    }
    if (!g.identifiers.includes(item.index)) g.identifiers.push(item.index);
    g.keys.add(`${item.type}\u0000${item.canonical}`);
  };
  for (const item of results) {
    for (const m of item.matches) {
      const fields = (s: LookupSubject) => Object.assign(s, { categories: m.categories, status: m.status, confidence: m.confidence, lastSeen: m.lastSeen });
      add(`p\u0000${m.member.id}\u0000${m.ref}`, item, () => ({ member: m.member, own: false, ref: m.ref, recordId: null, identifiers: [], count: 0, categories: m.categories, status: m.status, confidence: m.confidence, lastSeen: m.lastSeen }), m.lastSeen, fields);
    }
    for (const o of item.ownRecords) {
      add(`o\u0000${o.id}`, item, () => ({ member: self, own: true, ref: o.ref, recordId: o.id, identifiers: [], count: 0, categories: o.categories, status: o.status, confidence: o.confidence, lastSeen: o.updatedAt }), o.updatedAt, () => undefined);
    }
  }
  const out = [...groups.values()].map(({ keys, ...s }) => ({ ...s, count: keys.size, identifiers: s.identifiers.sort((a, b) => a - b) }));
  return out.sort(
    (a, b) => b.count - a.count || Number(b.own) - Number(a.own) || (a.member?.id ?? '').localeCompare(b.member?.id ?? '') || a.ref.localeCompare(b.ref),
  );
}
