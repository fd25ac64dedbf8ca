/**
 * Verified ingest of signed batches (docs/architecture.md, "The exchange"; schema/wire.md §9
 * "Receiving batches") into `batches` (the exact JWS of every origin's chain) and `indicators` (the
 * live indicators they add).
 *
 *   const store = new BatchStore(db, { roster: () => rosterStore.state, graceMs });
 *   const outcome = await store.ingest(jws);        // 'stored' | 'duplicate' | 'gap' | 'future_epoch' | 'rejected'
 *
 * Rules, in the order they are applied:
 *
 * 1. Signature and form: `verifyBatch` against the roster (no roster yet: every batch is
 *    `unknown_origin`). The key is looked up by `kid` among every member's keys, current or rotated,
 *    with its owner, so a batch signed with one member's key in another's name is `wrong_origin`.
 *    A kid the roster does not hold is reported as `unknown_origin` (never `unknown_kid`): to this
 *    node the signer is nobody it knows. That can also mean this node's roster is behind (a member
 *    just admitted, a key just rotated), so the network layer should not penalise it as a forgery.
 *    Every other refusal of `verifyBatch` keeps its wire reason.
 * 2. Origin: a SUSPENDED member's batches are `origin_suspended`, a REVOKED one's `origin_revoked`;
 *    a kid that was not the member's valid key at `createdAt` (rotated away before, or added after)
 *    is `kid_not_valid`; a `createdAt` more than `clockSkewMs` ahead of this node's clock is
 *    `from_future`.
 * 3. Epoch: an epoch above the roster's is `future_epoch` (not a refusal: the roster is behind; fetch
 *    it and retry). An epoch the roster never had, or a batch created at or after its epoch's
 *    `epochLiveUntil` (next epoch's start plus the grace) and carrying an add, is `stale_epoch`
 *    (retract-only batches of a past epoch are always taken, so origins can withdraw old indicators
 *    from nodes that run a shorter grace). A batch created while
 *    its epoch was live but arriving after the grace ended is stored (the chain needs it) but its adds
 *    are not applied: they would be expired already. Its retracts are applied.
 * 4. Chain, per origin (under a transaction-scoped advisory lock on the origin, so concurrent ingests
 *    of one origin, from two peers or from the publisher, serialise): stored batches are gapless from
 *    seq 1. A seq at or below the head with the stored hash is `duplicate`, with another hash `fork`
 *    (the origin signed two batches at one seq): an alarm, whose evidence (the refused JWS, beside the
 *    stored one) is kept in `batch_alarms` for admins (`alarms()`), as roster forks are in
 *    `roster_alarms`; the first one per origin, seq and reason is kept. A seq beyond head + 1 is
 *    `gap` (the caller syncs head + 1 onwards). At head + 1, `prev` must be the head's hash
 *    (`bad_prev`: the origin signed a batch continuing another chain, a fork seen one batch later,
 *    kept in `batch_alarms` too).
 * 5. Items: an add upserts its `(origin, type, digest, ref)` row; a retract deletes it (an unknown
 *    row is fine); an add with status CLEARED is a retract. An add that would be dead on arrival
 *    (its `expiresAt` already past, or its epoch's grace over) removes the row instead of setting it,
 *    which is what applying it and expiring it at once would leave. Within one transaction the last
 *    item per indicator wins, exactly as if the batches were applied one by one.
 *
 * Nothing is written for a refusal (but the evidence of a fork), a gap or a future epoch. A batch
 * row and the indicator rows it sets commit together or not at all. Received batches are stored with
 * `published_at` set (they are already out on the network); only this node's own batches
 * (`appendOwn`) start unpublished.
 *
 * `ingestMany` verifies a few batches ahead of the one it writes; each stored batch is written by one
 * set-based statement (its row, its adds and its removals: no per-item round trips), and consecutive
 * batches of one origin share a transaction, whose matching step (`onIndicators`) runs once.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { statement, type Database, type Queryable } from '../storage/database.ts';
import { integerArrayLiteral, textArrayLiteral } from '../storage/sql.ts';
import { epochLiveUntil, findSigningKey, liveEpochs, signingKeyValidAt, memberById, type RosterState } from '../membership/roster-state.ts';
import { BatchError, verifyBatch, type Batch, type BatchErrorReason, type BatchLimits, type VerifiedBatch } from './batch.ts';
import { toWireTime } from '../encoding/time.ts';
import type { Category, IdentifierType, RecordStatus } from '../identifiers/vocabulary.ts';

export type IngestRejectReason =
  | BatchErrorReason
  | 'unknown_origin'
  | 'origin_suspended'
  | 'origin_revoked'
  | 'kid_not_valid'
  | 'stale_epoch'
  | 'from_future'
  | 'bad_prev'
  | 'fork';

export type IngestOutcome =
  | { status: 'stored'; origin: string; seq: number; hash: string; epoch: number; items: number; adds: number; retracts: number }
  | { status: 'duplicate'; origin: string; seq: number; hash: string }
  /** Not stored: batches head + 1 .. seq - 1 are missing; the caller syncs them. */
  | { status: 'gap'; origin: string; seq: number; head: number }
  /** Not stored: the roster is behind this batch's epoch; the caller fetches the roster and retries. */
  | { status: 'future_epoch'; origin: string; seq: number; epoch: number }
  | { status: 'rejected'; reason: IngestRejectReason; message: string; origin?: string; seq?: number };

/** What names an indicator within an origin. */
export interface IndicatorKey {
  type: IdentifierType;
  digest: string;
  ref: string;
}

/**
 * Indicator rows one transaction changed, handed to `onIndicators` inside that transaction: work
 * that must commit (or roll back) with the change itself, such as raising match alerts.
 */
export interface IndicatorChange {
  /** Rows set or removed by stored batches (received ones, or this node's own), with their origin. */
  keys: Array<IndicatorKey & { origin: string }>;
  /** Origins whose every row was removed (`purgeOrigin`). */
  origins?: string[];
  /** Rows were removed by `expire`: which ones is not listed (there may be millions). */
  expired?: boolean;
}

/** A batch just committed: which indicators it made live and which it removed. */
export interface StoredBatchEvent {
  origin: string;
  seq: number;
  epoch: number;
  hash: string;
  adds: IndicatorKey[];
  /** Retracts, CLEARED adds, and adds dead on arrival. */
  retracts: IndicatorKey[];
}

export interface BatchStoreOptions {
  /** The current roster state (`RosterStore.state`); null before the node has a roster. */
  roster: () => RosterState | null;
  /** How long after the next epoch starts an epoch's indicators stay valid. */
  graceMs: number;
  /** Default 5 minutes: a `createdAt` further in the future is `from_future`. */
  clockSkewMs?: number;
  now?: () => Date;
  limits?: Partial<BatchLimits>;
  /** Called after each commit, once per stored batch, in seq order (not for `appendOwn`). */
  onStored?: (event: StoredBatchEvent) => void;
  /** Receives what `onStored` throws (the batch is committed regardless). Default: a process warning. */
  onError?: (err: unknown) => void;
  /**
   * Called inside every transaction that changes `indicators` (ingest, `appendOwn` in the
   * publisher's transaction, `purgeOrigin`, `expire`), after the change; what it throws rolls the
   * transaction back.
   */
  onIndicators?: (tx: Queryable, change: IndicatorChange) => Promise<void>;
}

/** A refused batch kept for admins to see: a fork (the origin signed two different batches at one seq). */
/** One live indicator row as stored (times in their wire forms). */
export interface IndicatorRow {
  type: IdentifierType;
  digest: string;
  ref: string;
  epoch: number;
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  first_seen: string;
  expires_at: string;
}

export interface BatchAlarm {
  id: string;
  origin: string;
  seq: number;
  /** Batch hash of the refused batch. */
  hash: string;
  /** Batch hash of the batch stored at that seq (fork), or at seq - 1, which its prev does not name (bad_prev). */
  storedHash: string | null;
  /** `fork` or `bad_prev`. */
  reason: string;
  /** The refused batch, as received (compact JWS). */
  jws: string;
  detectedAt: Date;
}

/** Most alarms `alarms()` returns (the newest). */
const ALARMS_LIMIT = 1000;

export type VerifyResult = { ok: true; verified: VerifiedBatch } | { ok: false; outcome: IngestOutcome };

/** Two-key advisory lock namespace ("batc"), apart from the single-key locks of migrations and the roster. */
const ORIGIN_LOCK_NAMESPACE = 0x62617463;

/**
 * Locks the chains of `origins` until the end of the transaction. Hash order, so two transactions
 * locking overlapping sets cannot deadlock (two origins sharing a hash just share a lock).
 */
export async function lockOrigins(tx: Queryable, origins: Iterable<string>): Promise<void> {
  const list = [...new Set(origins)];
  if (list.length === 0) return;
  await tx.query(LOCK_ORIGINS, [list]);
}

const LOCK_ORIGINS = statement(
  'alliance_lock_origins',
  `SELECT pg_advisory_xact_lock(${ORIGIN_LOCK_NAMESPACE}, h) FROM (SELECT DISTINCT hashtext(o) AS h FROM unnest($1::text[]) AS o ORDER BY h) AS s`,
);
const CHAIN_HEAD = statement('alliance_chain_head', 'SELECT seq, hash FROM batches WHERE origin = $1 ORDER BY seq DESC LIMIT 1');

const DEFAULT_SKEW_MS = 5 * 60_000;
/**
 * Per ingestMany transaction: enough items to amortise the commit and the matching step, few enough
 * that the matching step's statement stays small.
 */
const CHUNK_ITEMS = 8_000;
const CHUNK_BATCHES = 64;
/** Batches verified ahead of the one being written. */
const VERIFY_AHEAD = 4;
const RANGE_LIMIT = 256;
const RANGE_MAX_BYTES = 4 * 1024 * 1024;

/** A verified batch on its way into the database. */
interface Pending {
  verified: VerifiedBatch;
  /** False when the batch's epoch is past its grace: adds are not applied. */
  liveEpoch: boolean;
}

/** What one batch changes, in item order. */
interface Effect {
  adds: Array<{ key: IndicatorKey; item: Batch['items'][number] }>;
  retracts: IndicatorKey[];
}

interface ChainHead {
  seq: number;
  hash: string;
}

/** A batch's outcome, and for a stored one what it changed. */
interface Stored {
  outcome: IngestOutcome;
  effect?: Effect;
  batch?: Batch;
  hash?: string;
}

/**
 * Verifies a list of batches in order, in the background, at most `ahead` batches beyond the one
 * last asked for, handing the event loop back between batches so the statements of the batches
 * before are sent and answered meanwhile.
 */
class VerifyAhead {
  readonly #list: Array<string | Uint8Array>;
  readonly #verify: (jws: string | Uint8Array) => Promise<VerifyResult>;
  readonly #ahead: number;
  readonly #results: Array<Promise<VerifyResult>> = [];
  #closed = false;

  constructor(list: Array<string | Uint8Array>, verify: (jws: string | Uint8Array) => Promise<VerifyResult>, ahead: number) {
    this.#list = list;
    this.#verify = verify;
    this.#ahead = ahead;
  }

  get length(): number {
    return this.#list.length;
  }

  get(i: number): Promise<VerifyResult> {
    const last = Math.min(i + this.#ahead, this.#list.length - 1);
    for (let k = this.#results.length; k <= last; k++) {
      const before = this.#results[k - 1] ?? Promise.resolve();
      const result = before.then(() => yieldToEventLoop()).then(() => (this.#closed ? CLOSED : this.#verify(this.#list[k]!)));
      // Asked for later (or never, if a write fails first): its failure must not go unhandled.
      result.catch(() => {});
      this.#results.push(result);
    }
    return this.#results[i]!;
  }

  /** Stops verifying what nobody will ask for (ingestMany returned or failed). */
  close(): void {
    this.#closed = true;
  }
}

const CLOSED: VerifyResult = { ok: false, outcome: { status: 'rejected', reason: 'malformed', message: 'not verified: ingest ended' } };

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class BatchStore {
  readonly #db: Database;
  readonly #opts: BatchStoreOptions;
  readonly #now: () => Date;
  readonly #skewMs: number;
  /** Imported public keys by kid and key material: importing a JWK per batch would cost more than verifying. */
  readonly #keys = new Map<string, KeyObject>();
  /** Lowest live epoch whose older rows `expire` has already deleted (epochs only ever die in order). */
  #expiredBelow = -1;

  constructor(db: Database, opts: BatchStoreOptions) {
    if (!Number.isFinite(opts.graceMs) || opts.graceMs < 0) throw new RangeError('graceMs must be a non-negative number of milliseconds');
    this.#db = db;
    this.#opts = opts;
    this.#now = opts.now ?? (() => new Date());
    this.#skewMs = opts.clockSkewMs ?? DEFAULT_SKEW_MS;
  }

  /** Signature, form and roster checks (rules 1-3); no database access. */
  async verify(jws: string | Uint8Array): Promise<VerifyResult> {
    const state = this.#opts.roster();
    if (state === null) return reject('unknown_origin', 'this node has no roster yet: no origin is known');
    let verified: VerifiedBatch;
    try {
      verified = await verifyBatch(jws, {
        alliance: state.alliance,
        resolveKey: (kid) => this.#resolveKey(state, kid),
        ...(this.#opts.limits === undefined ? {} : { limits: this.#opts.limits }),
      });
    } catch (err) {
      if (!(err instanceof BatchError)) throw err;
      if (err.reason === 'unknown_kid') return reject('unknown_origin', 'the batch is signed with a key no member of the roster holds');
      return reject(err.reason, err.message);
    }
    const { batch } = verified;
    const at = { origin: batch.origin, seq: batch.seq };
    const member = memberById(state, batch.origin);
    if (member === undefined) return reject('unknown_origin', `${batch.origin} is not a member`, at);
    if (member.status === 'SUSPENDED') return reject('origin_suspended', `${batch.origin} is suspended`, at);
    if (member.status === 'REVOKED') return reject('origin_revoked', `${batch.origin} is revoked`, at);
    if (!signingKeyValidAt(state, batch.origin, batch.kid, batch.createdAt)) {
      return reject('kid_not_valid', `key ${batch.kid} was not a valid signing key of ${batch.origin} at ${batch.createdAt}`, at);
    }
    const now = this.#now();
    if (Date.parse(batch.createdAt) > now.getTime() + this.#skewMs) {
      return reject('from_future', `createdAt ${batch.createdAt} is ahead of this node's clock (${toWireTime(now)}) by more than ${this.#skewMs / 1000} s`, at);
    }
    if (batch.epoch > state.epoch) return { ok: false, outcome: { status: 'future_epoch', origin: batch.origin, seq: batch.seq, epoch: batch.epoch } };
    const until = epochLiveUntil(state, batch.epoch, this.#opts.graceMs);
    if (until === null) return reject('stale_epoch', `epoch ${batch.epoch} is not an epoch of this roster`, at);
    // Only adds make a batch stale: an origin withdrawing what it published under an old epoch
    // (a record cleared or deleted during or after the grace) must still reach every node, whatever
    // grace each one runs with, or its chain would stall there.
    if (until !== undefined && batch.createdAt >= until && batch.items.some((i) => i.op === 'add' && i.status !== 'CLEARED')) {
      return reject('stale_epoch', `the batch was created at ${batch.createdAt}, after epoch ${batch.epoch} ended (${until} with the grace period)`, at);
    }
    return { ok: true, verified };
  }

  async ingest(jws: string | Uint8Array): Promise<IngestOutcome> {
    return (await this.ingestMany([jws]))[0]!;
  }

  /**
   * Ingests batches (of one or more origins, each origin's in seq order), with the same outcomes as
   * ingesting them one by one: a batch refused or missing makes the origin's next ones `gap`.
   *
   * Verification runs a few batches ahead of the writes, each batch is written by one statement as
   * soon as it is verified, and consecutive batches of one origin share a transaction (up to
   * CHUNK_ITEMS items), whose matching step runs once at its end. Each statement stays well under
   * a megabyte: buffers of many megabytes, on either side of the connection, cost more than the
   * rows they carry.
   */
  async ingestMany(list: Array<string | Uint8Array>): Promise<IngestOutcome[]> {
    const out = new Array<IngestOutcome>(list.length);
    const verified = new VerifyAhead(list, (jws) => this.verify(jws), VERIFY_AHEAD);
    try {
      let i = 0;
      while (i < list.length) {
        const first = await verified.get(i);
        if (!first.ok) {
          out[i] = first.outcome;
          i++;
          continue;
        }
        const run = await this.#db.transaction((tx) => this.#storeRun(tx, verified, i, first.verified.batch.origin));
        run.results.forEach((r, k) => (out[i + k] = r.outcome));
        this.#emit(run.results);
        i += run.results.length;
      }
    } finally {
      verified.close();
    }
    return out;
  }

  /**
   * Appends one of this node's own batches inside the publisher's transaction (which holds the
   * origin's lock and made the batch from its head). Checks the chain all the same: a publisher bug
   * must not be able to fork this node's own chain.
   */
  async appendOwn(tx: Queryable, jws: string, batch: Batch, hash: string): Promise<void> {
    await lockOrigins(tx, [batch.origin]);
    const head = await this.head(batch.origin, tx);
    const headSeq = head?.seq ?? 0;
    if (batch.seq !== headSeq + 1 || batch.prev !== (head?.hash ?? null)) {
      throw new Error(`own batch ${batch.seq} does not continue the chain of ${batch.origin} (head ${headSeq})`);
    }
    const effect = await writeBatch(tx, { verified: { batch, hash, jws }, liveEpoch: true }, this.#now(), false);
    await this.#changed(tx, { keys: changedKeys([{ batch, effect }]) });
  }

  /** The head (highest seq and its hash) of every origin that has stored batches. */
  async heads(): Promise<Map<string, ChainHead>> {
    // A loose index scan over the primary key: one probe per origin, however long the chains are.
    const { rows } = await this.#db.query<{ origin: string; seq: string; hash: string }>(
      `WITH RECURSIVE o(origin) AS (
         (SELECT origin FROM batches ORDER BY origin LIMIT 1)
         UNION ALL
         SELECT (SELECT b.origin FROM batches b WHERE b.origin > o.origin ORDER BY b.origin LIMIT 1) FROM o WHERE o.origin IS NOT NULL
       )
       SELECT o.origin, h.seq, h.hash
         FROM o CROSS JOIN LATERAL (SELECT seq, hash FROM batches b WHERE b.origin = o.origin ORDER BY seq DESC LIMIT 1) AS h
        WHERE o.origin IS NOT NULL`,
    );
    return new Map(rows.map((r) => [r.origin, { seq: Number(r.seq), hash: r.hash }]));
  }

  async head(origin: string, q: Queryable = this.#db): Promise<ChainHead | undefined> {
    const { rows } = await q.query<{ seq: string; hash: string }>(CHAIN_HEAD, [origin]);
    return rows[0] === undefined ? undefined : { seq: Number(rows[0].seq), hash: rows[0].hash };
  }

  /**
   * An origin's batches from `fromSeq` on, in seq order, as stored (JWS strings): at most `limit`
   * (default 256) and at most `maxBytes` (default 4 MiB) in total, but always the first one if it exists.
   */
  async range(origin: string, fromSeq: number, opts: { limit?: number; maxBytes?: number } = {}): Promise<string[]> {
    const limit = opts.limit ?? RANGE_LIMIT;
    const maxBytes = opts.maxBytes ?? RANGE_MAX_BYTES;
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) throw new RangeError('fromSeq must be an integer from 1');
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer');
    // octet_length reads the stored size without decompressing, so rows past maxBytes cost no detoasting.
    const { rows } = await this.#db.query<{ jws: string }>(
      `SELECT jws FROM (
         SELECT seq, jws, row_number() OVER w AS n, sum(octet_length(jws)) OVER w AS total
           FROM (SELECT seq, jws FROM batches WHERE origin = $1 AND seq >= $2 ORDER BY seq LIMIT $3) AS b
         WINDOW w AS (ORDER BY seq)
       ) AS s
       WHERE n = 1 OR total <= $4
       ORDER BY seq`,
      [origin, fromSeq, limit, maxBytes],
    );
    return rows.map((r) => r.jws);
  }

  /** Refused batches kept as alarms (forks), newest first; at most the newest 1000. */
  async alarms(): Promise<BatchAlarm[]> {
    const { rows } = await this.#db.query<{ id: string; origin: string; seq: string; hash: string; stored_hash: string | null; reason: string; jws: string; detected_at: Date | string }>(
      'SELECT id, origin, seq, hash, stored_hash, reason, jws, detected_at FROM batch_alarms ORDER BY id DESC LIMIT $1',
      [ALARMS_LIMIT],
    );
    return rows.map((r) => ({
      id: r.id,
      origin: r.origin,
      seq: Number(r.seq),
      hash: r.hash,
      storedHash: r.stored_hash,
      reason: r.reason,
      jws: r.jws,
      detectedAt: r.detected_at instanceof Date ? r.detected_at : new Date(r.detected_at),
    }));
  }

  /** An origin's batches not yet marked published (this node's own, after a restart), in seq order. */
  async unpublished(origin: string): Promise<Array<{ seq: number; jws: string }>> {
    const { rows } = await this.#db.query<{ seq: string; jws: string }>(
      'SELECT seq, jws FROM batches WHERE origin = $1 AND published_at IS NULL ORDER BY seq',
      [origin],
    );
    return rows.map((r) => ({ seq: Number(r.seq), jws: r.jws }));
  }

  async markPublished(origin: string, seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.#db.query('UPDATE batches SET published_at = $3 WHERE origin = $1 AND seq = ANY($2::bigint[]) AND published_at IS NULL', [origin, seqs, this.#now()]);
  }

  /** This node's own batches stored but not yet handed to gossip. */
  async unpublishedCount(origin: string): Promise<number> {
    const { rows } = await this.#db.query<{ n: string }>('SELECT count(*) AS n FROM batches WHERE origin = $1 AND published_at IS NULL', [origin]);
    return Number(rows[0]!.n);
  }

  /** The epoch of an origin's newest batch, or null before its first. */
  async lastEpoch(origin: string): Promise<number | null> {
    const { rows } = await this.#db.query<{ epoch: number }>('SELECT epoch FROM batches WHERE origin = $1 ORDER BY seq DESC LIMIT 1', [origin]);
    return rows[0]?.epoch ?? null;
  }

  /** An origin's live indicator rows of some refs (this node's own, when the publisher re-derives them). */
  async rowsOf(origin: string, refs: readonly string[], q: Queryable = this.#db): Promise<IndicatorRow[]> {
    const { rows } = await q.query<IndicatorRow>(
      `SELECT type, digest, ref, epoch, categories, status, confidence, to_char(first_seen, 'YYYY-MM-DD') AS first_seen,
              to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_at
         FROM indicators WHERE origin = $1 AND ref = ANY($2::text[])`,
      [origin, [...refs]],
    );
    return rows;
  }

  /**
   * Deletes some of an origin's rows without a batch: this node's own rows of an epoch no longer
   * live anywhere, whose retraction nobody would take.
   */
  async dropRows(origin: string, rows: ReadonlyArray<Pick<IndicatorRow, 'type' | 'digest' | 'ref' | 'epoch'>>, q: Queryable = this.#db): Promise<void> {
    if (rows.length === 0) return;
    await q.query(
      `DELETE FROM indicators AS i USING unnest($2::text[], $3::text[], $4::text[], $5::int[]) AS d(type, digest, ref, epoch)
        WHERE i.origin = $1 AND i.type = d.type AND i.digest = d.digest AND i.ref = d.ref AND i.epoch = d.epoch`,
      [origin, rows.map((r) => r.type), rows.map((r) => r.digest), rows.map((r) => r.ref), rows.map((r) => r.epoch)],
    );
  }

  /** Refs of an origin's rows of `epoch` that expire before `until` (to be published again in time). */
  async refsExpiring(origin: string, epoch: number, until: Date): Promise<string[]> {
    const { rows } = await this.#db.query<{ ref: string }>(
      'SELECT DISTINCT ref FROM indicators WHERE origin = $1 AND epoch = $2 AND expires_at < $3',
      [origin, epoch, until],
    );
    return rows.map((r) => r.ref);
  }

  /** Deletes an origin's indicators (a revoked member); its batches stay, they are the chain. */
  async purgeOrigin(origin: string): Promise<number> {
    return this.#db.transaction(async (tx) => {
      const { rowCount } = await tx.query('DELETE FROM indicators WHERE origin = $1', [origin]);
      if (rowCount > 0) await this.#changed(tx, { keys: [], origins: [origin] });
      return rowCount;
    });
  }

  /** Deletes indicators past their `expiresAt`, and those of epochs whose grace has ended. */
  async expire(): Promise<number> {
    const now = this.#now();
    const live = this.liveEpochs();
    const lowest = live.length > 0 ? Math.min(...live) : undefined;
    // Dead epochs stay dead and get no new rows (ingest and publish skip them), so one sweep per
    // newly dead epoch suffices; it is the statement that reads the whole table.
    const sweep = lowest !== undefined && lowest > this.#expiredBelow;
    const n = await this.#db.transaction(async (tx) => {
      let n = (await tx.query('DELETE FROM indicators WHERE expires_at < $1', [now])).rowCount;
      if (sweep) n += (await tx.query('DELETE FROM indicators WHERE epoch < $1', [lowest])).rowCount;
      if (n > 0) await this.#changed(tx, { keys: [], expired: true });
      return n;
    });
    if (sweep && lowest !== undefined) this.#expiredBelow = lowest;
    return n;
  }

  /** Epochs whose indicators are matchable now: the current one and older ones within their grace. */
  liveEpochs(): number[] {
    return liveEpochs(this.#opts.roster(), this.#opts.graceMs, this.#now());
  }

  // -------------------------------------------------------------------------------------------

  #epochLive(epoch: number, state = this.#opts.roster()): boolean {
    if (state === null) return false;
    const until = epochLiveUntil(state, epoch, this.#opts.graceMs);
    return until === undefined || (until !== null && toWireTime(this.#now()) < until);
  }

  #resolveKey(state: RosterState, kid: string): { key: KeyObject; origin: string } | undefined {
    const found = findSigningKey(state, kid);
    if (found === undefined) return undefined;
    const cacheKey = `${kid} ${found.key.jwk.x}`;
    let key = this.#keys.get(cacheKey);
    if (key === undefined) {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: found.key.jwk.x! }, format: 'jwk' });
      this.#keys.set(cacheKey, key);
    }
    return { key, origin: found.member.id };
  }

  /**
   * Stores, in `tx`, the batches of `origin` from `start` on (verified as they come), until one of
   * another origin or the transaction's budget: chain checks under the origin's lock, one statement
   * per stored batch, then the matching step for all of them. Returns the outcomes of the batches
   * it took, in order.
   */
  async #storeRun(tx: Queryable, verified: VerifyAhead, start: number, origin: string): Promise<{ results: Stored[] }> {
    await lockOrigins(tx, [origin]);
    let head = await this.head(origin, tx);
    const results: Stored[] = [];
    let items = 0;
    for (let i = start; i < verified.length && results.length < CHUNK_BATCHES; i++) {
      const r = await verified.get(i);
      if (!r.ok) {
        results.push({ outcome: r.outcome });
        continue;
      }
      const { batch, hash } = r.verified;
      if (batch.origin !== origin || (items > 0 && items + batch.items.length > CHUNK_ITEMS)) break;
      const { seq } = batch;
      const headSeq = head?.seq ?? 0;
      if (seq <= headSeq) {
        const { rows } = await tx.query<{ hash: string }>('SELECT hash FROM batches WHERE origin = $1 AND seq = $2', [origin, seq]);
        const have = rows[0]?.hash;
        if (have === hash) results.push({ outcome: { status: 'duplicate', origin, seq, hash } });
        else {
          await keepAlarm(tx, { origin, seq, hash, storedHash: have ?? null, reason: 'fork', jws: r.verified.jws });
          results.push({ outcome: { status: 'rejected', reason: 'fork', origin, seq, message: `FORK: ${origin} signed two different batches at seq ${seq} (stored ${have}, received ${hash})` } });
        }
      } else if (seq > headSeq + 1) {
        results.push({ outcome: { status: 'gap', origin, seq, head: headSeq } });
      } else if (batch.prev !== (head?.hash ?? null)) {
        // Signed by the origin, yet continuing another batch than the one it signed at seq - 1: a
        // fork seen one batch later. Kept as evidence like one.
        await keepAlarm(tx, { origin, seq, hash, storedHash: head?.hash ?? null, reason: 'bad_prev', jws: r.verified.jws });
        results.push({ outcome: { status: 'rejected', reason: 'bad_prev', origin, seq, message: `prev of ${origin} batch ${seq} is not the hash of its stored batch ${headSeq}` } });
      } else {
        const effect = await writeBatch(tx, { verified: r.verified, liveEpoch: this.#epochLive(batch.epoch) }, this.#now(), true);
        head = { seq, hash };
        items += batch.items.length;
        results.push({
          outcome: { status: 'stored', origin, seq, hash, epoch: batch.epoch, items: batch.items.length, adds: effect.adds.length, retracts: effect.retracts.length },
          effect,
          batch,
          hash,
        });
      }
    }
    const stored = results.filter((r): r is Stored & { batch: Batch; effect: Effect } => r.batch !== undefined && r.effect !== undefined);
    if (stored.length > 0) await this.#changed(tx, { keys: changedKeys(stored) });
    return { results };
  }

  async #changed(tx: Queryable, change: IndicatorChange): Promise<void> {
    if (this.#opts.onIndicators !== undefined) await this.#opts.onIndicators(tx, change);
  }

  #emit(stored: Stored[]): void {
    const listener = this.#opts.onStored;
    if (listener === undefined) return;
    for (const s of stored) {
      if (s.effect === undefined || s.batch === undefined) continue;
      try {
        listener({ origin: s.batch.origin, seq: s.batch.seq, epoch: s.batch.epoch, hash: s.hash!, adds: s.effect.adds.map((a) => a.key), retracts: s.effect.retracts });
      } catch (err) {
        if (this.#opts.onError) this.#opts.onError(err);
        else process.emitWarning(`batch store onStored listener failed: ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }
}

/**
 * Keeps a refused batch as evidence (`batch_alarms`), in the transaction that judged it. The same
 * batch seen again, or another one of the same origin, seq and reason, adds nothing: the first is
 * proof enough, and a member could sign any number of variants.
 */
async function keepAlarm(tx: Queryable, a: { origin: string; seq: number; hash: string; storedHash: string | null; reason: 'fork' | 'bad_prev'; jws: string }): Promise<void> {
  await tx.query(
    'INSERT INTO batch_alarms (origin, seq, hash, stored_hash, reason, jws) VALUES ($1, $2::bigint, $3, $4, $5, $6) ON CONFLICT (origin, seq, reason) DO NOTHING',
    [a.origin, a.seq, a.hash, a.storedHash, a.reason, a.jws],
  );
}

function reject(reason: IngestRejectReason, message: string, at: { origin?: string; seq?: number } = {}): { ok: false; outcome: IngestOutcome } {
  return { ok: false, outcome: { status: 'rejected', reason, message, ...at } };
}

/** Every indicator the batches set or removed, with the batch's origin. */
function changedKeys(stored: Array<{ batch: Batch; effect: Effect }>): IndicatorChange['keys'] {
  const keys: IndicatorChange['keys'] = [];
  for (const { batch, effect } of stored) {
    const origin = batch.origin;
    for (const a of effect.adds) keys.push({ origin, type: a.key.type, digest: a.key.digest, ref: a.key.ref });
    for (const r of effect.retracts) keys.push({ origin, type: r.type, digest: r.digest, ref: r.ref });
  }
  return keys;
}

/** What each batch does to `indicators` (rule 5). */
function effectOf(p: Pending, nowTime: string): Effect {
  const adds: Effect['adds'] = [];
  const retracts: IndicatorKey[] = [];
  for (const item of p.verified.batch.items) {
    const key: IndicatorKey = { type: item.type, digest: item.digest, ref: item.ref };
    if (item.op === 'add' && item.status !== 'CLEARED' && p.liveEpoch && item.expiresAt >= nowTime) adds.push({ key, item });
    else retracts.push(key);
  }
  return { adds, retracts };
}

const WRITE_BATCH = statement(
  'alliance_write_batch',
  `WITH stored AS (
         INSERT INTO batches (origin, seq, hash, prev, epoch, kid, created_at, item_count, jws, received_at, published_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $11::boolean THEN $10::timestamptz END)
       ), removed AS (
         DELETE FROM indicators AS i USING unnest($20::text[], $21::text[], $22::text[]) AS d(type, digest, ref)
          WHERE i.origin = $1 AND i.type = d.type AND i.digest = d.digest AND i.ref = d.ref
       )
       INSERT INTO indicators AS i (origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq, updated_at)
       SELECT $1, x.type, x.digest, x.ref, $5, string_to_array(x.categories, ','), x.status, x.confidence, x.first_seen, x.expires_at, $2, $10
         FROM unnest($12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::smallint[], $18::date[], $19::timestamptz[])
              AS x(type, digest, ref, categories, status, confidence, first_seen, expires_at)
       ON CONFLICT (origin, type, digest, ref) DO UPDATE SET
         epoch = EXCLUDED.epoch, categories = EXCLUDED.categories, status = EXCLUDED.status, confidence = EXCLUDED.confidence,
         first_seen = EXCLUDED.first_seen, expires_at = EXCLUDED.expires_at, seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at`,
);

/**
 * Inserts one batch's row (chain already checked under the origin's lock) and applies its items, in
 * one statement. A batch holds at most one item per indicator, so its adds and removals touch
 * distinct rows; batches written one after another leave the last item per indicator in force.
 */
async function writeBatch(tx: Queryable, p: Pending, now: Date, published: boolean): Promise<Effect> {
  const effect = effectOf(p, toWireTime(now));
  const { batch, hash, jws } = p.verified;
  const set = { type: [] as string[], digest: [] as string[], ref: [] as string[], categories: [] as string[], status: [] as string[], confidence: [] as number[], firstSeen: [] as string[], expiresAt: [] as string[] };
  for (const { item } of effect.adds) {
    set.type.push(item.type);
    set.digest.push(item.digest);
    set.ref.push(item.ref);
    set.categories.push(item.categories.join(','));
    set.status.push(item.status);
    set.confidence.push(item.confidence);
    set.firstSeen.push(item.firstSeen);
    set.expiresAt.push(item.expiresAt);
  }
  const del = { type: [] as string[], digest: [] as string[], ref: [] as string[] };
  for (const r of effect.retracts) {
    del.type.push(r.type);
    del.digest.push(r.digest);
    del.ref.push(r.ref);
  }
  await tx.query(
    WRITE_BATCH,
    [
      batch.origin,
      batch.seq,
      hash,
      batch.prev,
      batch.epoch,
      batch.kid,
      batch.createdAt,
      batch.items.length,
      jws,
      now,
      published,
      textArrayLiteral(set.type),
      textArrayLiteral(set.digest),
      textArrayLiteral(set.ref),
      textArrayLiteral(set.categories),
      textArrayLiteral(set.status),
      integerArrayLiteral(set.confidence),
      textArrayLiteral(set.firstSeen),
      textArrayLiteral(set.expiresAt),
      textArrayLiteral(del.type),
      textArrayLiteral(del.digest),
      textArrayLiteral(del.ref),
    ],
  );
  return effect;
}
