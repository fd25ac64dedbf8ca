/**
 * Turns this member's record changes into signed batches (docs/architecture.md, "The exchange").
 *
 * Every record write queues the record's `ref` in `indicator_outbox` in the same transaction
 * (migrations/005_exchange.sql). `flush` drains it: per transaction it takes a few thousand refs,
 * compares the indicators each record should have under the current epoch with this node's own rows
 * in `indicators` (what it has published and not retracted), signs batches of the differences, and
 * appends them to its own chain, all in the transaction that deletes the refs from the outbox. A
 * crash anywhere before the commit leaves the refs queued; after it, the batches are stored and
 * `publishPending` gossips any that were not yet.
 *
 * Publishing needs a roster in which this member is ACTIVE, the key of the roster's current epoch,
 * and the private key of the member's current roster signing key. The identity may already hold a
 * newer key that the roster does not list yet (in-place rotation): the roster's key is used until
 * the `member.update` applies. Without all of these the outbox is left as it is: nothing is lost,
 * it is published once they are there.
 *
 * What a ref yields, against this node's rows for it:
 * - current epoch: an add for each desired indicator that is missing, differs (categories, status,
 *   confidence, firstSeen) or expires within `refreshDays`; a retract for each row not desired. A
 *   live record that is not CLEARED desires one indicator per identifier with a canonical form; a
 *   CLEARED or deleted record desires none.
 * - older epochs: rows of a deleted or CLEARED record are retracted in a batch of their epoch while
 *   that epoch is within its grace, else just deleted locally (peers have expired them). For a live
 *   record the rows are re-derived under the old epoch's key if this node still holds it, and only
 *   those no longer desired are retracted; without the key they are left to expire.
 */
import { signBatch, batchHash, type Batch } from './batch.ts';
import { toWireTime } from '../encoding/time.ts';
import { type Ed25519Key } from '../encoding/ed25519.ts';
import { indicatorsOf } from './derive.ts';
import { type EpochKey } from '../membership/epoch-keyring.ts';
import type { Indicator } from './indicator.ts';
import { lockOrigins, type BatchStore } from './batch-store.ts';
import { BATCH_LIMITS } from './batch-encoding.ts';
import { epochLiveUntil, memberById, type RosterState } from '../membership/roster-state.ts';
import type { Database, Queryable } from '../storage/database.ts';
import { RecordOutbox, type QueuedRecord } from '../records/outbox.ts';
import type { IndicatorRow } from './batch-store.ts';

/** The roster's epoch changed while a flush was running: it is rolled back and taken again. */
class EpochMovedError extends Error {
  constructor() {
    super('the epoch changed during the flush');
  }
}

export interface PublisherOptions {
  /** The records' outbox the publisher takes changed records from; default one over the publisher's database. */
  outbox?: RecordOutbox;
  /** This member: its id and every signing key its identity holds (old and new), read at each flush. */
  self: { readonly id: string; readonly signingKeys: ReadonlyArray<{ kid: string; privateKey: Ed25519Key }> };
  roster: () => RosterState | null;
  /** The key of an epoch, if this node holds it. */
  epochKey: (epoch: number) => EpochKey | undefined;
  store: BatchStore;
  /** Published indicators expire this many days after publication. */
  lifetimeDays: number;
  /** Adds expiring within this many days are published again (default lifetimeDays / 4). */
  refreshDays?: number;
  /** Items per batch, 1 to 1000. */
  batchItems: number;
  /** Interval of the `start` loop. */
  windowMs: number;
  graceMs: number;
  /** Called after commit for each new batch, in seq order (gossip it); a throw leaves it unpublished. */
  onBatch?: (jws: string, batch: Batch) => void | Promise<void>;
  /** Errors of the `start` loop and of `onBatch`; the loop carries on. */
  onError?: (err: unknown) => void;
  /** Refs taken from the outbox per transaction (default 4000). */
  refsPerTransaction?: number;
  /** How often the `start` loop queues expiring indicators (`refreshExpiring`); default one hour. */
  refreshIntervalMs?: number;
  now?: () => Date;
}

export interface FlushResult {
  batches: number;
  items: number;
}

interface Ready {
  state: RosterState;
  epoch: number;
  key: EpochKey;
  kid: string;
  privateKey: Ed25519Key;
}

type OwnRow = IndicatorRow;

const DAY_MS = 86_400_000;
const DEFAULT_REFS_PER_TRANSACTION = 4000;

export class Publisher {
  readonly #db: Database;
  readonly #outbox: RecordOutbox;
  readonly #opts: PublisherOptions;
  readonly #now: () => Date;
  readonly #refreshDays: number;
  readonly #take: number;
  /** The flush (or publishPending) in progress: calls run one after another. */
  #busy: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  /** The loop's current round; it never rejects. */
  #loop: Promise<void> = Promise.resolve();
  #running = false;
  #lastRefresh = 0;
  /** Whether this start compared the last batch's epoch with the roster's (retried until it could). */
  #epochChecked = false;

  constructor(db: Database, opts: PublisherOptions) {
    if (!Number.isInteger(opts.batchItems) || opts.batchItems < 1 || opts.batchItems > BATCH_LIMITS.maxItems) {
      throw new RangeError(`batchItems must be an integer from 1 to ${BATCH_LIMITS.maxItems}`);
    }
    if (!(opts.lifetimeDays > 0)) throw new RangeError('lifetimeDays must be positive');
    if (!(opts.windowMs > 0)) throw new RangeError('windowMs must be positive');
    const refreshDays = opts.refreshDays ?? opts.lifetimeDays / 4;
    if (!(refreshDays >= 0) || refreshDays >= opts.lifetimeDays) throw new RangeError('refreshDays must be from 0 to below lifetimeDays');
    const take = opts.refsPerTransaction ?? DEFAULT_REFS_PER_TRANSACTION;
    if (!Number.isInteger(take) || take < 1) throw new RangeError('refsPerTransaction must be a positive integer');
    this.#db = db;
    this.#outbox = opts.outbox ?? new RecordOutbox(db);
    this.#opts = opts;
    this.#now = opts.now ?? (() => new Date());
    this.#refreshDays = refreshDays;
    this.#take = take;
  }

  /**
   * Publishes what a previous run left unpublished, then flushes every `windowMs` and queues
   * expiring indicators every `refreshIntervalMs`. Errors go to `onError`; the loop carries on.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#epochChecked = false;
    const loop = async (first: boolean) => {
      try {
        if (first) await this.publishPending();
        if (!this.#epochChecked) {
          await this.#requeueAfterNewEpoch();
          this.#epochChecked = true;
        }
        const every = this.#opts.refreshIntervalMs ?? 3_600_000;
        if (Date.now() - this.#lastRefresh >= every) {
          this.#lastRefresh = Date.now();
          await this.refreshExpiring();
        }
        await this.flush();
      } catch (err) {
        this.#report(err);
      }
      if (this.#running) this.#timer = setTimeout(() => (this.#loop = loop(false)), this.#opts.windowMs);
    };
    this.#loop = loop(true);
  }

  /**
   * A new epoch key installed while the node was down (or just before it stopped) must still lead
   * to re-publishing: this node's last batch is then of an older epoch.
   */
  async #requeueAfterNewEpoch(): Promise<void> {
    const state = this.#opts.roster();
    if (state === null || this.#opts.epochKey(state.epoch) === undefined) return;
    const last = await this.#opts.store.lastEpoch(this.#opts.self.id);
    if (last !== null && last < state.epoch) await this.#outbox.queueAll();
  }

  /** Stops the loop and waits for a flush in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#loop;
    await this.#busy.catch(() => {});
  }

  /** Drains the outbox now, until it is empty or publishing is not possible. */
  flush(): Promise<FlushResult> {
    return this.#serial(async () => {
      const total: FlushResult = { batches: 0, items: 0 };
      // Most windows find the outbox empty: one statement, instead of a transaction taking the
      // origin's lock, tells so (every node runs this every windowMs, idle or not).
      if (this.#ready() === undefined || !(await this.#queued())) return total;
      for (;;) {
        const ready = this.#ready();
        if (ready === undefined) return total;
        let result;
        try {
          result = await this.#db.transaction((tx) => this.#flushOnce(tx, ready));
        } catch (err) {
          if (err instanceof EpochMovedError) continue;
          throw err;
        }
        const { made, refs } = result;
        total.batches += made.length;
        total.items += made.reduce((n, m) => n + m.batch.items.length, 0);
        await this.#gossip(made.map((m) => ({ seq: m.batch.seq, jws: m.jws, batch: m.batch })));
        if (refs < this.#take) return total;
      }
    });
  }

  /** Queues every record, e.g. once a new epoch key is installed, so all are derived under it. */
  async requeueAll(): Promise<number> {
    return this.#outbox.queueAll();
  }

  /** Queues the refs of this node's current-epoch indicators that expire within `refreshDays`. */
  async refreshExpiring(): Promise<number> {
    const state = this.#opts.roster();
    if (state === null) return 0;
    const until = new Date(this.#now().getTime() + this.#refreshDays * DAY_MS);
    // Own rows whose record is gone are queued too: the flush then retracts them.
    return this.#outbox.queue(await this.#opts.store.refsExpiring(this.#opts.self.id, state.epoch, until));
  }

  /** Hands this node's stored but unpublished batches to `onBatch` (after a restart), in seq order. */
  publishPending(): Promise<number> {
    return this.#serial(async () => {
      if (this.#opts.onBatch === undefined) return 0;
      const rows = await this.#opts.store.unpublished(this.#opts.self.id);
      return this.#gossip(rows.map((r) => ({ seq: r.seq, jws: r.jws, batch: decodePayload(r.jws) })));
    });
  }

  // -------------------------------------------------------------------------------------------

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.catch(() => {}).then(fn);
    this.#busy = run;
    return run;
  }

  async #queued(): Promise<boolean> {
    return !(await this.#outbox.isEmpty());
  }

  #report(err: unknown): void {
    if (this.#opts.onError) this.#opts.onError(err);
    else process.emitWarning(`indicator publisher: ${(err as Error)?.message ?? String(err)}`);
  }

  /** What publishing needs, or undefined while any of it is missing. */
  #ready(): Ready | undefined {
    const state = this.#opts.roster();
    if (state === null) return undefined;
    const member = memberById(state, this.#opts.self.id);
    if (member === undefined || member.status !== 'ACTIVE') return undefined;
    const key = this.#opts.epochKey(state.epoch);
    if (key === undefined) return undefined;
    const current = member.signingKeys.find((k) => k.validUntil === undefined || k.validUntil === null);
    const own = current === undefined ? undefined : this.#opts.self.signingKeys.find((k) => k.kid === current.kid);
    if (own === undefined) return undefined;
    return { state, epoch: state.epoch, key, kid: own.kid, privateKey: own.privateKey };
  }

  async #flushOnce(tx: Queryable, ready: Ready): Promise<{ made: Array<{ jws: string; batch: Batch }>; refs: number }> {
    const self = this.#opts.self.id;
    // Before the outbox: a concurrent flush (another process on this database) waits here, not
    // between taking refs and appending to the chain.
    await lockOrigins(tx, [self]);
    const { taken, records } = await this.#outbox.take(tx, this.#take);
    if (records.length === 0) return { made: [], refs: taken };
    const own = await this.#opts.store.rowsOf(self, records.map((r) => r.ref), tx);
    const ownByRef = new Map<string, OwnRow[]>();
    for (const row of own) {
      const list = ownByRef.get(row.ref);
      if (list === undefined) ownByRef.set(row.ref, [row]);
      else list.push(row);
    }

    const now = this.#now();
    const nowTime = toWireTime(now);
    const refreshBefore = now.getTime() + this.#refreshDays * DAY_MS;
    const byEpoch = new Map<number, Indicator[]>();
    const push = (epoch: number, item: Indicator) => {
      const list = byEpoch.get(epoch);
      if (list === undefined) byEpoch.set(epoch, [item]);
      else list.push(item);
    };
    const dropLocally: OwnRow[] = [];
    const derive = (rec: QueuedRecord, key: EpochKey) =>
      indicatorsOf(
        {
          ref: rec.ref,
          identifiers: rec.identifiers,
          categories: rec.categories!,
          status: rec.status!,
          confidence: rec.confidence!,
          createdAt: rec.createdAt!.toISOString(),
        },
        { epochKey: key, lifetimeDays: this.#opts.lifetimeDays, now },
      );

    for (const rec of records) {
      const live = rec.status !== null && rec.status !== 'CLEARED';
      const rows = ownByRef.get(rec.ref) ?? [];
      const desired = live ? derive(rec, ready.key) : [];
      const have = new Map(rows.filter((r) => r.epoch === ready.epoch).map((r) => [`${r.type} ${r.digest}`, r]));
      const wanted = new Set<string>();
      for (const d of desired) {
        const k = `${d.type} ${d.digest}`;
        wanted.add(k);
        const ex = have.get(k);
        if (ex === undefined || differs(ex, d) || Date.parse(ex.expires_at) < refreshBefore) push(ready.epoch, d);
      }
      for (const [k, ex] of have) if (!wanted.has(k)) push(ready.epoch, retractOf(ex));

      // Older epochs: only retractions, never new adds.
      const olderEpochs = new Set(rows.filter((r) => r.epoch !== ready.epoch).map((r) => r.epoch));
      for (const epoch of olderEpochs) {
        const old = rows.filter((r) => r.epoch === epoch);
        let gone: OwnRow[];
        if (!live) gone = old;
        else {
          const oldKey = this.#opts.epochKey(epoch);
          if (oldKey === undefined) continue;
          const keep = new Set(derive(rec, oldKey).map((d) => `${d.type} ${d.digest}`));
          gone = old.filter((r) => !keep.has(`${r.type} ${r.digest}`));
        }
        const until = epochLiveUntil(ready.state, epoch, this.#opts.graceMs);
        const epochLive = until === undefined || (until !== null && nowTime < until);
        for (const r of gone) {
          if (epochLive) push(epoch, retractOf(r));
          else dropLocally.push(r);
        }
      }
    }

    await this.#opts.store.dropRows(self, dropLocally, tx);

    const made: Array<{ jws: string; batch: Batch }> = [];
    let head = await this.#opts.store.head(self, tx);
    for (const epoch of [...byEpoch.keys()].sort((a, b) => a - b)) {
      const items = byEpoch.get(epoch)!;
      for (let i = 0; i < items.length; i += this.#opts.batchItems) {
        const seq = (head?.seq ?? 0) + 1;
        const unsigned = {
          v: 1 as const,
          alliance: ready.state.alliance,
          origin: self,
          epoch,
          seq,
          prev: head?.hash ?? null,
          createdAt: nowTime,
          items: items.slice(i, i + this.#opts.batchItems),
        };
        const jws = await signBatch(unsigned, { privateKey: ready.privateKey, kid: ready.kid });
        const batch: Batch = { ...unsigned, kid: ready.kid };
        const hash = batchHash(jws);
        await this.#opts.store.appendOwn(tx, jws, batch, hash);
        made.push({ jws, batch });
        head = { seq, hash };
      }
    }
    // A new epoch applied meanwhile queued every record for re-deriving; the refs this transaction
    // took would miss that (their queue rows are the ones it deletes). Roll back: the next flush
    // takes them again under the new epoch.
    if (this.#opts.roster()?.epoch !== ready.epoch) throw new EpochMovedError();
    return { made, refs: records.length };
  }

  /** onBatch for each in order, then marks those handed over as published; stops at the first failure. */
  async #gossip(list: Array<{ seq: number; jws: string; batch: Batch }>): Promise<number> {
    const onBatch = this.#opts.onBatch;
    if (onBatch === undefined || list.length === 0) return 0;
    const done: number[] = [];
    for (const b of list) {
      try {
        await onBatch(b.jws, b.batch);
      } catch (err) {
        this.#report(err);
        break;
      }
      done.push(b.seq);
    }
    await this.#opts.store.markPublished(this.#opts.self.id, done);
    return done.length;
  }
}

function differs(row: OwnRow, d: Indicator): boolean {
  return row.status !== d.status || row.confidence !== d.confidence || row.first_seen !== d.firstSeen || row.categories.join(',') !== d.categories.join(',');
}

/** A retract carries all nine fields (wire.md §2); receivers read only type, digest and ref. */
function retractOf(row: OwnRow): Indicator {
  return {
    type: row.type,
    digest: row.digest,
    op: 'retract',
    ref: row.ref,
    categories: row.categories,
    status: row.status,
    confidence: row.confidence,
    firstSeen: row.first_seen,
    expiresAt: row.expires_at,
  };
}

/** The batch inside one of this node's own stored JWS (signed by this node, so not verified again). */
function decodePayload(jws: string): Batch {
  return JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Batch;
}
