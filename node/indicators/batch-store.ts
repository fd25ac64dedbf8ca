/**
 * Verified ingest of signed batches (DESIGN §2, schema/wire.md §9 "Receiving batches") into
 * `batches` (the exact JWS of every origin's chain) and `indicators` (the live indicators they add).
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
 *    (the origin signed two batches at one seq: an alarm worth logging). A seq beyond head + 1 is
 *    `gap` (the caller syncs head + 1 onwards). At head + 1, `prev` must be the head's hash
 *    (`bad_prev`).
 * 5. Items: an add upserts its `(origin, type, digest, ref)` row; a retract deletes it (an unknown
 *    row is fine); an add with status CLEARED is a retract. An add that would be dead on arrival
 *    (its `expiresAt` already past, or its epoch's grace over) removes the row instead of setting it,
 *    which is what applying it and expiring it at once would leave. Within one transaction the last
 *    item per indicator wins, exactly as if the batches were applied one by one.
 *
 * Nothing is written for a refusal, a gap or a future epoch. A batch row and the indicator rows it
 * sets commit together or not at all. Received batches are stored with `published_at` set (they are
 * already out on the network); only this node's own batches (`appendOwn`) start unpublished.
 *
 * Signatures are verified outside any transaction; `ingestMany` stores consecutive batches in a few
 * chunked transactions with set-based statements (no per-item round trips).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Database, Queryable } from '../storage/database.ts';
import { epochLiveUntil, findSigningKey, signingKeyValidAt, memberById, type RosterState } from '../membership/roster-state.ts';
import { BatchError, toBatchTime, verifyBatch, type Batch, type BatchErrorReason, type BatchLimits, type VerifiedBatch } from './batch.ts';
import type { IdentifierType } from '../records/model.ts';

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
  await tx.query(
    `SELECT pg_advisory_xact_lock(${ORIGIN_LOCK_NAMESPACE}, h) FROM (SELECT DISTINCT hashtext(o) AS h FROM unnest($1::text[]) AS o ORDER BY h) AS s`,
    [list],
  );
}

const DEFAULT_SKEW_MS = 5 * 60_000;
/** Per ingestMany transaction: enough to amortise the commit, small enough to keep statements bounded. */
const CHUNK_BATCHES = 64;
const CHUNK_ITEMS = 20_000;
const CHUNK_BYTES = 8 * 1024 * 1024;
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
      return reject('from_future', `createdAt ${batch.createdAt} is ahead of this node's clock (${toBatchTime(now)}) by more than ${this.#skewMs / 1000} s`, at);
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
   */
  async ingestMany(list: Array<string | Uint8Array>): Promise<IngestOutcome[]> {
    const out = new Array<IngestOutcome>(list.length);
    let start = 0;
    // Verification of the next chunk runs while the current one is written.
    let verifying = this.#verifyChunk(list, start);
    while (start < list.length) {
      const { end, results } = await verifying;
      if (end < list.length) {
        verifying = this.#verifyChunk(list, end);
        // Awaited next round; if the write below throws first, its failure must not go unhandled.
        verifying.catch(() => {});
      }
      const pending: Array<{ index: number; p: Pending }> = [];
      results.forEach((r, i) => {
        if (r.ok) pending.push({ index: start + i, p: { verified: r.verified, liveEpoch: this.#epochLive(r.verified.batch.epoch) } });
        else out[start + i] = r.outcome;
      });
      if (pending.length > 0) {
        const stored = await this.#store(pending.map((x) => x.p));
        stored.forEach((o, i) => (out[pending[i]!.index] = o.outcome));
        this.#emit(stored);
      }
      start = end;
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
    const effects = await writeBatches(tx, [{ verified: { batch, hash, jws }, liveEpoch: true }], this.#now(), false);
    await this.#changed(tx, { keys: changedKeys([batch], effects) });
  }

  /** The head (highest seq and its hash) of every origin that has stored batches. */
  async heads(): Promise<Map<string, ChainHead>> {
    // A loose index scan over the primary key: one probe per origin, however long the chains are.
    const { rows } = await this.#db.query<{ origin: string; seq: number; hash: string }>(
      `WITH RECURSIVE o(origin) AS (
         (SELECT origin FROM batches ORDER BY origin LIMIT 1)
         UNION ALL
         SELECT (SELECT b.origin FROM batches b WHERE b.origin > o.origin ORDER BY b.origin LIMIT 1) FROM o WHERE o.origin IS NOT NULL
       )
       SELECT o.origin, h.seq::float8 AS seq, h.hash
         FROM o CROSS JOIN LATERAL (SELECT seq, hash FROM batches b WHERE b.origin = o.origin ORDER BY seq DESC LIMIT 1) AS h
        WHERE o.origin IS NOT NULL`,
    );
    return new Map(rows.map((r) => [r.origin, { seq: Number(r.seq), hash: r.hash }]));
  }

  async head(origin: string, q: Queryable = this.#db): Promise<ChainHead | undefined> {
    const { rows } = await q.query<{ seq: number; hash: string }>('SELECT seq::float8 AS seq, hash FROM batches WHERE origin = $1 ORDER BY seq DESC LIMIT 1', [origin]);
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

  /** An origin's batches not yet marked published (this node's own, after a restart), in seq order. */
  async unpublished(origin: string): Promise<Array<{ seq: number; jws: string }>> {
    const { rows } = await this.#db.query<{ seq: number; jws: string }>(
      'SELECT seq::float8 AS seq, jws FROM batches WHERE origin = $1 AND published_at IS NULL ORDER BY seq',
      [origin],
    );
    return rows.map((r) => ({ seq: Number(r.seq), jws: r.jws }));
  }

  async markPublished(origin: string, seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.#db.query('UPDATE batches SET published_at = $3 WHERE origin = $1 AND seq = ANY($2::bigint[]) AND published_at IS NULL', [origin, seqs, this.#now()]);
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
    const state = this.#opts.roster();
    if (state === null) return [];
    return state.epochs.map((e) => e.epoch).filter((e) => this.#epochLive(e, state));
  }

  // -------------------------------------------------------------------------------------------

  #epochLive(epoch: number, state = this.#opts.roster()): boolean {
    if (state === null) return false;
    const until = epochLiveUntil(state, epoch, this.#opts.graceMs);
    return until === undefined || (until !== null && toBatchTime(this.#now()) < until);
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

  /** Verifies the chunk of `list` starting at `start`, in parallel; `end` is where the next chunk starts. */
  async #verifyChunk(list: Array<string | Uint8Array>, start: number): Promise<{ end: number; results: VerifyResult[] }> {
    let end = start;
    let bytes = 0;
    // Anything that is not a string or bytes counts as empty here; verify() refuses it.
    const size = (x: unknown) => (typeof x === 'string' || x instanceof Uint8Array ? x.length : 0);
    while (end < list.length && end - start < CHUNK_BATCHES && (end === start || bytes + size(list[end]) <= CHUNK_BYTES)) {
      bytes += size(list[end]);
      end++;
    }
    const results = await Promise.all(list.slice(start, end).map((jws) => this.verify(jws)));
    return { end, results };
  }

  /** Chain checks and writes, in transactions of at most CHUNK_ITEMS items. */
  async #store(pending: Pending[]): Promise<Array<{ outcome: IngestOutcome; effect?: Effect; batch?: Batch; hash?: string }>> {
    const out: Array<{ outcome: IngestOutcome; effect?: Effect; batch?: Batch; hash?: string }> = [];
    let i = 0;
    while (i < pending.length) {
      let j = i;
      let items = 0;
      while (j < pending.length && (j === i || items + pending[j]!.verified.batch.items.length <= CHUNK_ITEMS)) {
        items += pending[j]!.verified.batch.items.length;
        j++;
      }
      const part = pending.slice(i, j);
      out.push(...(await this.#db.transaction((tx) => this.#storeChunk(tx, part))));
      i = j;
    }
    return out;
  }

  async #storeChunk(tx: Queryable, part: Pending[]): Promise<Array<{ outcome: IngestOutcome; effect?: Effect; batch?: Batch; hash?: string }>> {
    const origins = [...new Set(part.map((p) => p.verified.batch.origin))];
    await lockOrigins(tx, origins);
    const heads = new Map<string, ChainHead>();
    {
      const { rows } = await tx.query<{ origin: string; seq: number; hash: string }>(
        `SELECT o AS origin, h.seq::float8 AS seq, h.hash FROM unnest($1::text[]) AS o
           CROSS JOIN LATERAL (SELECT seq, hash FROM batches WHERE origin = o ORDER BY seq DESC LIMIT 1) AS h`,
        [origins],
      );
      for (const r of rows) heads.set(r.origin, { seq: Number(r.seq), hash: r.hash });
    }
    // Hashes of already stored seqs, for the batches that may be duplicates or forks.
    const stored = new Map<string, string>();
    const older = part.filter((p) => p.verified.batch.seq <= (heads.get(p.verified.batch.origin)?.seq ?? 0));
    if (older.length > 0) {
      const { rows } = await tx.query<{ origin: string; seq: number; hash: string }>(
        `SELECT b.origin, b.seq::float8 AS seq, b.hash FROM batches b
           JOIN unnest($1::text[], $2::bigint[]) AS q(origin, seq) ON b.origin = q.origin AND b.seq = q.seq`,
        [older.map((p) => p.verified.batch.origin), older.map((p) => p.verified.batch.seq)],
      );
      for (const r of rows) stored.set(`${r.origin} ${Number(r.seq)}`, r.hash);
    }

    const results: Array<{ outcome: IngestOutcome; effect?: Effect; batch?: Batch; hash?: string }> = [];
    const accepted: Pending[] = [];
    const acceptedAt: number[] = [];
    for (const p of part) {
      const { batch, hash } = p.verified;
      const { origin, seq } = batch;
      const head = heads.get(origin);
      const headSeq = head?.seq ?? 0;
      if (seq <= headSeq) {
        const have = stored.get(`${origin} ${seq}`);
        if (have === hash) results.push({ outcome: { status: 'duplicate', origin, seq, hash } });
        else {
          results.push({
            outcome: { status: 'rejected', reason: 'fork', origin, seq, message: `FORK: ${origin} signed two different batches at seq ${seq} (stored ${have}, received ${hash})` },
          });
        }
      } else if (seq > headSeq + 1) {
        results.push({ outcome: { status: 'gap', origin, seq, head: headSeq } });
      } else if (batch.prev !== (head?.hash ?? null)) {
        results.push({ outcome: { status: 'rejected', reason: 'bad_prev', origin, seq, message: `prev of ${origin} batch ${seq} is not the hash of its stored batch ${headSeq}` } });
      } else {
        heads.set(origin, { seq, hash });
        stored.set(`${origin} ${seq}`, hash);
        acceptedAt.push(results.length);
        accepted.push(p);
        results.push({ outcome: { status: 'duplicate', origin, seq, hash } }); // replaced below
      }
    }
    if (accepted.length > 0) {
      const effects = await writeBatches(tx, accepted, this.#now(), true);
      await this.#changed(tx, { keys: changedKeys(accepted.map((p) => p.verified.batch), effects) });
      accepted.forEach((p, k) => {
        const { batch, hash } = p.verified;
        const effect = effects[k]!;
        results[acceptedAt[k]!] = {
          outcome: { status: 'stored', origin: batch.origin, seq: batch.seq, hash, epoch: batch.epoch, items: batch.items.length, adds: effect.adds.length, retracts: effect.retracts.length },
          effect,
          batch,
          hash,
        };
      });
    }
    return results;
  }

  async #changed(tx: Queryable, change: IndicatorChange): Promise<void> {
    if (this.#opts.onIndicators !== undefined) await this.#opts.onIndicators(tx, change);
  }

  #emit(stored: Array<{ effect?: Effect; batch?: Batch; hash?: string }>): void {
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

function reject(reason: IngestRejectReason, message: string, at: { origin?: string; seq?: number } = {}): { ok: false; outcome: IngestOutcome } {
  return { ok: false, outcome: { status: 'rejected', reason, message, ...at } };
}

/** Every indicator the batches set or removed, with the batch's origin. */
function changedKeys(batches: Batch[], effects: Effect[]): IndicatorChange['keys'] {
  const keys: IndicatorChange['keys'] = [];
  batches.forEach((b, k) => {
    for (const a of effects[k]!.adds) keys.push({ origin: b.origin, ...a.key });
    for (const r of effects[k]!.retracts) keys.push({ origin: b.origin, ...r });
  });
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

/**
 * Inserts batch rows (chain already checked under the origins' locks) and applies their items in
 * three statements. The last item per indicator across the batches decides its row.
 */
async function writeBatches(tx: Queryable, list: Pending[], now: Date, published: boolean): Promise<Effect[]> {
  const nowTime = toBatchTime(now);
  const effects = list.map((p) => effectOf(p, nowTime));
  const batches = list.map((p) => p.verified.batch);
  await tx.query(
    `INSERT INTO batches (origin, seq, hash, prev, epoch, kid, created_at, item_count, jws, received_at, published_at)
     SELECT b.origin, b.seq, b.hash, b.prev, b.epoch, b.kid, b.created_at, b.item_count, b.jws, $10::timestamptz, CASE WHEN $11::boolean THEN $10::timestamptz END
       FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::int[], $9::text[])
            AS b(origin, seq, hash, prev, epoch, kid, created_at, item_count, jws)`,
    [
      batches.map((b) => b.origin),
      batches.map((b) => b.seq),
      list.map((p) => p.verified.hash),
      batches.map((b) => b.prev),
      batches.map((b) => b.epoch),
      batches.map((b) => b.kid),
      batches.map((b) => b.createdAt),
      batches.map((b) => b.items.length),
      list.map((p) => p.verified.jws),
      now,
      published,
    ],
  );

  // Last item per indicator wins: a later batch's add after a retract (or the reverse) decides.
  const last = new Map<string, { origin: string; seq: number; epoch: number; key: IndicatorKey; item?: Batch['items'][number] }>();
  batches.forEach((b, k) => {
    const e = effects[k]!;
    for (const a of e.adds) last.set(`${b.origin} ${a.key.type} ${a.key.digest} ${a.key.ref}`, { origin: b.origin, seq: b.seq, epoch: b.epoch, key: a.key, item: a.item });
    for (const r of e.retracts) last.set(`${b.origin} ${r.type} ${r.digest} ${r.ref}`, { origin: b.origin, seq: b.seq, epoch: b.epoch, key: r });
  });
  const sets = [...last.values()].filter((x) => x.item !== undefined);
  const dels = [...last.values()].filter((x) => x.item === undefined);
  if (sets.length > 0) {
    await tx.query(
      `INSERT INTO indicators AS i (origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq, updated_at)
       SELECT x.origin, x.type, x.digest, x.ref, x.epoch, string_to_array(x.categories, ','), x.status, x.confidence, x.first_seen, x.expires_at, x.seq, $12::timestamptz
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::smallint[], $9::date[], $10::timestamptz[], $11::bigint[])
              AS x(origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq)
       ON CONFLICT (origin, type, digest, ref) DO UPDATE SET
         epoch = EXCLUDED.epoch, categories = EXCLUDED.categories, status = EXCLUDED.status, confidence = EXCLUDED.confidence,
         first_seen = EXCLUDED.first_seen, expires_at = EXCLUDED.expires_at, seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at`,
      [
        sets.map((x) => x.origin),
        sets.map((x) => x.key.type),
        sets.map((x) => x.key.digest),
        sets.map((x) => x.key.ref),
        sets.map((x) => x.epoch),
        sets.map((x) => x.item!.categories.join(',')),
        sets.map((x) => x.item!.status),
        sets.map((x) => x.item!.confidence),
        sets.map((x) => x.item!.firstSeen),
        sets.map((x) => x.item!.expiresAt),
        sets.map((x) => x.seq),
        now,
      ],
    );
  }
  if (dels.length > 0) {
    await tx.query(
      `DELETE FROM indicators AS i USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d(origin, type, digest, ref)
        WHERE i.origin = d.origin AND i.type = d.type AND i.digest = d.digest AND i.ref = d.ref`,
      [dels.map((x) => x.origin), dels.map((x) => x.key.type), dels.map((x) => x.key.digest), dels.map((x) => x.key.ref)],
    );
  }
  return effects;
}
