/**
 * Raises match alerts (docs/architecture.md, "Matching") in both directions, inside the transaction that changed
 * the indicators, with one set-based statement per change.
 *
 *   const matcher = new Matcher(db, { self, roster, liveEpochs, notify: db.kind === 'pg', onRaised });
 *   const batches = new BatchStore(matcher.database, { ..., onIndicators: matcher.onIndicators });
 *   const publisher = new Publisher(matcher.database, { ..., store: batches });
 *   await matcher.catchUp();          // at start, and when the roster changes
 *
 * What matches: this node's own indicators (`indicators` rows with origin = this member: the
 * digests of its records' identifiers, published under the live epochs, `ref` → `records.ref`)
 * against other members' rows with the same type, digest and epoch, where the epoch is live, neither
 * row has expired, the record is not CLEARED, and the other member is ACTIVE in the roster. One
 * match per (record, origin, ref), keeping which types matched and which of the record's own
 * indicators (type, digest, epoch) did.
 *
 * Every change of `indicators` recomputes the matches it can affect, from scratch and idempotently:
 * - a peer's batch (received): own indicators with the digests it set, and the matches of the
 *   (origin, ref)s it set or removed;
 * - this node's own batch (the publisher, after a record write): the records of the refs it set or
 *   removed, so a new or changed record meets indicators already held, and a CLEARED or deleted one
 *   (whose own indicators the batch retracts) closes its matches;
 * - `purgeOrigin` (a revoked member): the origin's matches; `expire`: every open match.
 *
 * The rules, for each (record, origin, ref) in scope:
 * - it matches now, the origin is ACTIVE: a new match is NEW; a RETRACTED one becomes NEW again
 *   (with its decision cleared: it is a new alert about the same pair, the old decision stays in the
 *   audit log); a NEW, CONFIRMED or DISMISSED one keeps its state while the types, identifiers or
 *   the member's categories, status and confidence are brought up to date;
 * - it matches now but the origin is SUSPENDED: nothing is raised or changed; its existing matches
 *   stay as they are until it is reinstated (then `catchUp` matches the origin in full) or revoked;
 * - it no longer matches (the member retracted every matching indicator, they expired, the member
 *   was revoked, or this member CLEARED the record): the match becomes RETRACTED;
 * - the record was deleted: its matches are deleted (a trigger does it in the delete's own
 *   transaction; the matcher catches those raised concurrently).
 *
 * Concurrency: a peer's batch and a local write committing at the same moment could each miss the
 * other's uncommitted rows. So every matching step first takes one transaction-scoped advisory lock:
 * matching steps run one at a time, each statement reads after the previous holder committed, and
 * a pair that needs both rows is found by whichever commits second. The step runs once per
 * transaction, at its end (the changes of all its batches together), so the lock is the last one
 * the transaction takes: holding it, a transaction never waits for a lock another one holds while
 * waiting for this one (the chain locks, indicator rows the publisher or `expire` write).
 *
 * A step that fails (a bug, a statement timeout) must not stop ingest: it runs under a savepoint,
 * is rolled back alone, and marks `matching_state` for a full pass, which `catchUp` runs (at start
 * and hourly).
 *
 * Raised matches are announced once committed: `onRaised` in this process (through the commit
 * hooks of `database`) and, on PostgreSQL, `NOTIFY alliance_match, '<id>'` for every API process
 * listening on the database.
 */
import type { Database, Queryable } from '../storage/database.ts';
import type { IndicatorChange } from '../indicators/batch-store.ts';
import { textArrayLiteral } from '../storage/sql.ts';
import type { RosterState } from '../membership/roster-state.ts';
import { CommitHooks } from '../storage/commit-hooks.ts';
import { MATCH_CHANNEL, type MatchState } from './model.ts';

export interface MatcherOptions {
  /** This node's member id; undefined without a member identity (nothing is then matched). */
  self: () => string | undefined;
  roster: () => RosterState | null;
  /** Epochs whose indicators are matchable now (`BatchStore.liveEpochs`). */
  liveEpochs: () => readonly number[];
  /** PostgreSQL: NOTIFY alliance_match per raised match, delivered to listeners once committed. */
  notify?: boolean;
  /** Ids of the matches raised (NEW), in this process, after their transaction committed. */
  onRaised?: (ids: string[]) => void;
  /** How many matches entered a state (NEW: raised or raised again; RETRACTED), after commit. */
  onTransition?: (state: MatchState, count: number) => void;
  /** Failed matching steps (rolled back alone; a full pass follows) and failing callbacks. */
  onError?: (err: unknown) => void;
  now?: () => Date;
}

/** Which matches to recompute. */
export interface MatchScope {
  /** Records, by the ref their own indicators carry (base64url). */
  ownRefs?: readonly string[];
  /** Other members' actors: every row of each. */
  peers?: ReadonlyArray<{ origin: string; ref: string }>;
  /** Other members' indicator rows a batch set or removed: their digests and their actors. */
  keys?: ReadonlyArray<{ origin: string; ref: string; type: string; digest: string }>;
  /** Whole origins. */
  origins?: readonly string[];
  /** Every match that is not RETRACTED. */
  open?: boolean;
  /** Everything: every own indicator and every open match. */
  all?: boolean;
}

export interface MatchOutcome {
  /** Ids of matches that became NEW (new, or again after a retraction), ascending. */
  raised: string[];
  /** Matches inserted or changed (state, types, identifiers or the member's fields). */
  updated: number;
  retracted: number;
  /** Matches of deleted records removed. */
  deleted: number;
}

export interface CatchUpOutcome {
  /** A full pass ran (first start with matching, or after a failed step). */
  full: boolean;
  /** Origins matched in full because they are ACTIVE now and were not at the last pass. */
  origins: string[];
  outcome: MatchOutcome | undefined;
}

interface PendingScope {
  self: string;
  ownRefs: Set<string>;
  keys: Map<string, { origin: string; ref: string; type: string; digest: string }>;
  origins: Set<string>;
  open: boolean;
}

const NOTHING: MatchOutcome = { raised: [], updated: 0, retracted: 0, deleted: 0 };

/** Two-key advisory lock ("mtch", 0): one matching step at a time, across processes. */
const MATCH_LOCK = [0x6d746368, 0] as const;

/**
 * $1 self, $2 ACTIVE origins (raise and update), $3 ACTIVE or SUSPENDED origins (keep open), $4 live
 * epochs, $5 now, $6 own refs, $7-$10 other members' rows as four parallel arrays (origin, ref,
 * type, digest; type and digest null for every row of the actor), $11 whole origins, $12 every open
 * match, $13 everything. Candidates are the (own ref, origin, ref) keys the scope can affect; each
 * is then recomputed from the indicators alone. A peer row set by a batch can only pair with own
 * rows of its digest (the actor's other rows were matched when they were set), so batches are
 * joined by digest.
 */
export const MATCH_SQL = `
WITH pk AS (
  SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::text[]) AS k(origin, ref, type, digest)
), cand AS (
  SELECT o.ref AS own_ref, p.origin, p.ref
    FROM indicator_rows o
    JOIN indicator_rows p ON p.digest = o.digest AND p.type = o.type AND p.epoch = o.epoch AND p.origin <> $1
   WHERE o.origin = $1 AND o.ref = ANY($6::text[])
  UNION
  SELECT o.ref, p.origin, p.ref
    FROM indicator_rows o
    JOIN indicator_rows p ON p.digest = o.digest AND p.type = o.type AND p.epoch = o.epoch AND p.origin <> $1
   WHERE o.origin = $1 AND $13::boolean
  UNION
  SELECT o.ref, pk.origin, pk.ref
    FROM pk
    JOIN indicator_rows o ON o.origin = $1 AND o.digest = pk.digest AND o.type = pk.type
   WHERE pk.digest IS NOT NULL
  UNION
  SELECT o.ref, p.origin, p.ref
    FROM pk
    JOIN indicator_rows p ON p.origin = pk.origin AND p.ref = pk.ref
    JOIN indicator_rows o ON o.origin = $1 AND o.digest = p.digest AND o.type = p.type AND o.epoch = p.epoch
   WHERE pk.digest IS NULL
  UNION
  SELECT o.ref, p.origin, p.ref
    FROM indicator_rows p
    JOIN indicator_rows o ON o.origin = $1 AND o.digest = p.digest AND o.type = p.type AND o.epoch = p.epoch
   WHERE p.origin = ANY($11::text[])
  UNION
  SELECT record_ref, origin, ref FROM matches WHERE record_ref = ANY($6::text[])
  UNION
  SELECT m.record_ref, m.origin, m.ref FROM (SELECT DISTINCT origin, ref FROM pk) AS a JOIN matches m ON m.origin = a.origin AND m.ref = a.ref
  UNION
  SELECT record_ref, origin, ref FROM matches WHERE origin = ANY($11::text[])
  UNION
  SELECT record_ref, origin, ref FROM matches WHERE state <> 'RETRACTED' AND ($12::boolean OR $13::boolean)
), agg AS (
  -- One row per candidate that matches now or has a match: what matches (own rows meeting live rows
  -- of an origin that is not revoked) and the existing match, in one grouping (no join between two
  -- intermediate results, whose sizes the planner cannot know).
  SELECT k.own_ref, k.origin, k.ref,
         count(k.type) > 0 AS matching,
         array_agg(DISTINCT k.type ORDER BY k.type) FILTER (WHERE k.type IS NOT NULL) AS types,
         jsonb_agg(jsonb_build_object('type', k.type, 'digest', k.digest, 'epoch', k.epoch) ORDER BY k.type, k.epoch, k.digest)
           FILTER (WHERE k.type IS NOT NULL) AS identifiers,
         -- The newest indicator of the actor speaks for it.
         (array_agg(array_to_string(k.categories, ',') ORDER BY k.epoch DESC, k.seq DESC) FILTER (WHERE k.type IS NOT NULL))[1] AS categories,
         (array_agg(k.status ORDER BY k.epoch DESC, k.seq DESC) FILTER (WHERE k.type IS NOT NULL))[1] AS status,
         (array_agg(k.confidence ORDER BY k.epoch DESC, k.seq DESC) FILTER (WHERE k.type IS NOT NULL))[1] AS confidence,
         max(k.match_id) AS match_id,
         max(k.match_state) AS match_state
    FROM (
      SELECT c.own_ref, c.origin, c.ref, o.type, o.digest, o.epoch, p.categories, p.status, p.confidence, p.seq,
             NULL::bigint AS match_id, NULL::text AS match_state
        FROM cand c
        JOIN indicator_rows o ON o.origin = $1 AND o.ref = c.own_ref
        JOIN indicator_rows p ON p.origin = c.origin AND p.ref = c.ref AND p.type = o.type AND p.digest = o.digest AND p.epoch = o.epoch
       WHERE c.origin = ANY($3::text[]) AND o.epoch = ANY($4::int[])
         AND o.expires_at > $5::timestamptz AND p.expires_at > $5::timestamptz
      UNION ALL
      SELECT m.record_ref, m.origin, m.ref, NULL, NULL, NULL, NULL, NULL, NULL, NULL, m.id, m.state
        FROM cand c JOIN matches m ON m.record_ref = c.own_ref AND m.origin = c.origin AND m.ref = c.ref
    ) AS k
   GROUP BY k.own_ref, k.origin, k.ref
), keyed AS (
  SELECT a.*, r.record_id,
         a.matching AND r.status <> 'CLEARED' AS live
    FROM agg a
    LEFT JOIN record_refs r ON r.ref = a.own_ref
), ins AS (
  INSERT INTO matches (record_id, record_ref, origin, ref, state, types, identifiers, categories, status, confidence, created_at, updated_at)
  SELECT record_id, own_ref, origin, ref, 'NEW', types, identifiers, string_to_array(categories, ','), status, confidence, $5::timestamptz, $5::timestamptz
    FROM keyed WHERE live AND match_id IS NULL AND origin = ANY($2::text[])
  ON CONFLICT (record_id, origin, ref) DO NOTHING
  RETURNING id
), upd AS (
  UPDATE matches m SET
    state = CASE WHEN m.state = 'RETRACTED' THEN 'NEW' ELSE m.state END,
    types = k.types,
    identifiers = k.identifiers,
    categories = string_to_array(k.categories, ','),
    status = k.status,
    confidence = k.confidence,
    updated_at = $5::timestamptz,
    decided_at = CASE WHEN m.state = 'RETRACTED' THEN NULL ELSE m.decided_at END,
    decided_by = CASE WHEN m.state = 'RETRACTED' THEN NULL ELSE m.decided_by END,
    note = CASE WHEN m.state = 'RETRACTED' THEN NULL ELSE m.note END,
    retracted_at = NULL
    FROM keyed k
   WHERE m.id = k.match_id AND k.live AND k.origin = ANY($2::text[])
     AND (m.state = 'RETRACTED' OR m.types <> k.types OR m.identifiers <> k.identifiers
          OR m.categories <> string_to_array(k.categories, ',') OR m.status <> k.status OR m.confidence <> k.confidence)
  RETURNING m.id, k.match_state = 'RETRACTED' AS reopened
), ret AS (
  UPDATE matches m SET state = 'RETRACTED', retracted_at = $5::timestamptz, updated_at = $5::timestamptz
    FROM keyed k
   WHERE m.id = k.match_id AND NOT k.live AND k.record_id IS NOT NULL AND m.state <> 'RETRACTED'
  RETURNING m.id
), gone AS (
  DELETE FROM matches m USING keyed k WHERE m.id = k.match_id AND k.record_id IS NULL
  RETURNING m.id
)
SELECT (SELECT coalesce(array_agg(id::text ORDER BY id), '{}')
          FROM (SELECT id FROM ins UNION ALL SELECT id FROM upd WHERE reopened) AS r) AS raised,
       (SELECT count(*)::int FROM ins) + (SELECT count(*)::int FROM upd) AS updated,
       (SELECT count(*)::int FROM ret) AS retracted,
       (SELECT count(*)::int FROM gone) AS deleted`;

export class Matcher {
  /** The database to open every indicator-changing transaction through (BatchStore, Publisher). */
  readonly database: Database;
  readonly #opts: MatcherOptions;
  readonly #hooks: CommitHooks;
  readonly #now: () => Date;
  /** catchUp calls run one after another. */
  #catching: Promise<unknown> = Promise.resolve();
  #warnedUnhooked = false;
  /** What each open transaction changed so far, matched in one step before it commits. */
  readonly #pending = new WeakMap<Queryable, PendingScope>();

  constructor(db: Database, opts: MatcherOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? (() => new Date());
    this.#hooks = new CommitHooks((err) => this.#report(err));
    this.database = this.#hooks.wrap(db);
  }

  /**
   * The BatchStore hook: collects what the change can affect, and recomputes it inside the same
   * transaction, once, just before it commits (right away for a transaction not opened through
   * `database`), under a savepoint: a failure is rolled back alone, reported, and leaves a full
   * pass to `catchUp`.
   */
  readonly onIndicators = async (tx: Queryable, change: IndicatorChange): Promise<void> => {
    const self = this.#opts.self();
    if (self === undefined || this.#opts.roster() === null) return;
    let pending = this.#pending.get(tx);
    const first = pending === undefined;
    pending ??= { self, ownRefs: new Set(), keys: new Map(), origins: new Set(), open: false };
    for (const k of change.keys) {
      if (k.origin === self) pending.ownRefs.add(k.ref);
      else pending.keys.set(`${k.origin}\u0000${k.type}\u0000${k.digest}\u0000${k.ref}`, { origin: k.origin, ref: k.ref, type: k.type, digest: k.digest });
    }
    for (const o of change.origins ?? []) if (o !== self) pending.origins.add(o);
    if (change.expired === true) pending.open = true;
    if (!first) return;
    this.#pending.set(tx, pending);
    const p = pending;
    if (!this.#hooks.beforeCommit(tx, () => this.#step(tx, p))) await this.#step(tx, p);
  };

  async #step(tx: Queryable, pending: PendingScope): Promise<void> {
    this.#pending.delete(tx);
    const self = pending.self;
    const scope: MatchScope = { ownRefs: [...pending.ownRefs], keys: [...pending.keys.values()], origins: [...pending.origins], open: pending.open };
    if (pending.ownRefs.size === 0 && pending.keys.size === 0 && pending.origins.size === 0 && !pending.open) return;
    await tx.query('SAVEPOINT alliance_matching');
    let out: MatchOutcome;
    try {
      out = await this.#matchIn(tx, self, scope);
    } catch (err) {
      await tx.query('ROLLBACK TO SAVEPOINT alliance_matching');
      await tx.query('UPDATE matching_state SET caught_up_at = NULL');
      this.#report(err);
      return;
    }
    await tx.query('RELEASE SAVEPOINT alliance_matching');
    if (out.raised.length === 0 && out.retracted === 0) return;
    if (!this.#hooks.afterCommit(tx, () => this.#announce(out)) && !this.#warnedUnhooked) {
      this.#warnedUnhooked = true;
      this.#report(new Error('matches were raised in a transaction not opened through Matcher.database: they are stored but not pushed in this process'));
    }
  }

  /** Recomputes the matches of `scope` in a transaction of its own. */
  async match(scope: MatchScope): Promise<MatchOutcome> {
    const self = this.#opts.self();
    if (self === undefined || this.#opts.roster() === null) return NOTHING;
    const out = await this.database.transaction((tx) => this.#matchIn(tx, self, scope));
    this.#announce(out);
    return out;
  }

  /**
   * Brings matching up to date with what single steps cannot see: a full pass when none has run
   * yet (indicators stored before matching existed) or a step failed since, and a pass over every
   * origin that is ACTIVE now but was not at the last pass (reinstated, while running or while the
   * node was down). Cheap when there is nothing to do; calls run one at a time.
   */
  catchUp(): Promise<CatchUpOutcome> {
    const run = this.#catching.catch(() => undefined).then(() => this.#catchUp());
    this.#catching = run;
    return run;
  }

  // -------------------------------------------------------------------------------------------

  async #catchUp(): Promise<CatchUpOutcome> {
    const self = this.#opts.self();
    const state = this.#opts.roster();
    if (self === undefined || state === null) return { full: false, origins: [], outcome: undefined };
    const active = originsOf(state, self).active;
    const result = await this.database.transaction(async (tx): Promise<CatchUpOutcome> => {
      // The matching lock before the state row: a failing step elsewhere updates that row while
      // holding the lock, so taking them the other way round could deadlock.
      await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [...MATCH_LOCK]);
      const { rows } = await tx.query<{ caught_up: boolean; active_origins: string[] }>(
        'SELECT caught_up_at IS NOT NULL AS caught_up, active_origins FROM matching_state WHERE id = 1 FOR UPDATE',
      );
      const full = rows[0]?.caught_up !== true;
      const known = new Set(rows[0]?.active_origins ?? []);
      const fresh = active.filter((o) => !known.has(o));
      if (!full && fresh.length === 0 && known.size === active.length) return { full: false, origins: [], outcome: undefined };
      const outcome = full || fresh.length > 0 ? await this.#matchIn(tx, self, full ? { all: true } : { origins: fresh }) : undefined;
      await tx.query(
        `INSERT INTO matching_state (id, caught_up_at, active_origins) VALUES (1, $1, $2::text[])
         ON CONFLICT (id) DO UPDATE SET caught_up_at = CASE WHEN $3::boolean THEN EXCLUDED.caught_up_at ELSE matching_state.caught_up_at END,
                                        active_origins = EXCLUDED.active_origins`,
        [this.#now(), active, full],
      );
      return { full, origins: full ? [] : fresh, outcome };
    });
    if (result.outcome !== undefined) this.#announce(result.outcome);
    return result;
  }

  async #matchIn(tx: Queryable, self: string, scope: MatchScope): Promise<MatchOutcome> {
    const state = this.#opts.roster();
    if (state === null) return NOTHING;
    const { active, held } = originsOf(state, self);
    const peer = { origin: [] as string[], ref: [] as string[], type: [] as Array<string | null>, digest: [] as Array<string | null> };
    for (const k of scope.keys ?? []) {
      peer.origin.push(k.origin);
      peer.ref.push(k.ref);
      peer.type.push(k.type);
      peer.digest.push(k.digest);
    }
    for (const p of scope.peers ?? []) {
      peer.origin.push(p.origin);
      peer.ref.push(p.ref);
      peer.type.push(null);
      peer.digest.push(null);
    }
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [...MATCH_LOCK]);
    const { rows } = await tx.query<{ raised: string[]; updated: number; retracted: number; deleted: number }>(MATCH_SQL, [
      self,
      active,
      held,
      [...this.#opts.liveEpochs()],
      this.#now(),
      [...(scope.ownRefs ?? [])],
      // Array literals built here: for tens of thousands of rows, cheaper to build than the driver's
      // and much cheaper for the server to read than the same rows as JSON.
      textArrayLiteral(peer.origin),
      textArrayLiteral(peer.ref),
      textArrayLiteral(peer.type),
      textArrayLiteral(peer.digest),
      [...(scope.origins ?? [])],
      scope.open === true,
      scope.all === true,
    ]);
    const row = rows[0]!;
    const out: MatchOutcome = { raised: row.raised, updated: row.updated, retracted: row.retracted, deleted: row.deleted };
    if (this.#opts.notify === true && out.raised.length > 0) {
      // Delivered by PostgreSQL only if, and once, this transaction commits.
      await tx.query('SELECT pg_notify($1, id) FROM unnest($2::text[]) AS id', [MATCH_CHANNEL, out.raised]);
    }
    return out;
  }

  #announce(out: MatchOutcome): void {
    try {
      if (out.raised.length > 0) this.#opts.onTransition?.('NEW', out.raised.length);
      if (out.retracted > 0) this.#opts.onTransition?.('RETRACTED', out.retracted);
      if (out.raised.length > 0) this.#opts.onRaised?.(out.raised);
    } catch (err) {
      this.#report(err);
    }
  }

  #report(err: unknown): void {
    if (this.#opts.onError) this.#opts.onError(err);
    else process.emitWarning(`matching: ${(err as Error)?.message ?? String(err)}`);
  }
}

/** Other members that may raise matches (ACTIVE), and those whose matches stay open (ACTIVE or SUSPENDED). */
function originsOf(state: RosterState, self: string): { active: string[]; held: string[] } {
  const others = state.members.filter((m) => m.id !== self);
  return {
    active: others.filter((m) => m.status === 'ACTIVE').map((m) => m.id).sort(),
    held: others.filter((m) => m.status === 'ACTIVE' || m.status === 'SUSPENDED').map((m) => m.id).sort(),
  };
}
