/**
 * The roster in storage (docs/architecture.md, "Members and the roster"; schema/roster.md): the validated chain in `roster_entries`, and
 * the alarms (forks) in `roster_alarms`. Storage only: what an applied `epoch.new` means for this
 * member (unwrapping its key) is the caller's, through `onEpoch`.
 *
 *   const store = await RosterStore.open(db, { genesisHash, onEpoch });
 *   await store.submit(signedText);      // { applied, seq, hash }, or throws RosterError
 *   store.state                           // RosterState | null (empty roster)
 *
 * Every start replays the whole stored chain from its genesis: a stored chain that does not validate
 * (edited rows, a row whose hash is not its entry's) is a start-up error, never silently trusted.
 *
 * Submits are serialised within the process (a promise queue) and across processes by a transaction
 * advisory lock, under which the store first catches up with entries other processes appended (two
 * API processes over one PostgreSQL, `alliance admin submit` beside a running node); the `seq`
 * primary key is the last guard.
 */
import { AllianceError } from '../errors.ts';
import type { Database, Queryable } from '../storage/database.ts';
import { isRosterError, RosterError } from './roster-error.ts';
import type { EntryOf, RosterLimits } from './roster-entry.ts';
import { parseSignedEntry, serializeSignedEntry } from './roster-sign.ts';
import { acceptEntry, type ApplyOptions, type RosterState } from './roster-state.ts';

export type RosterStoreErrorCode = 'ROSTER_STORAGE_INVALID' | 'GENESIS_MISMATCH';

export class RosterStoreError extends AllianceError {
  declare readonly code: RosterStoreErrorCode;
  constructor(code: RosterStoreErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(code, message, details, options);
  }
}

/** An applied `epoch.new`: its entry and the state right after it. */
export interface EpochEvent {
  entry: EntryOf<'epoch.new'>;
  hash: string;
  state: RosterState;
}

export interface RosterStoreOptions {
  /** This node's alliance id: entries of another alliance are refused (`wrong_alliance`). */
  alliance?: string | undefined;
  /** The pinned genesis hash (from `--genesis FILE`): a stored chain with another genesis is GENESIS_MISMATCH. */
  genesisHash?: string | undefined;
  limits?: Partial<RosterLimits> | undefined;
  /**
   * Called for every `epoch.new` the store applies: while replaying at open (so a key missed earlier
   * is installed at the next start), when catching up with entries other processes stored, and after
   * a submit is committed. Awaited; what it throws propagates (the entry stays stored).
   */
  onEpoch?: ((event: EpochEvent) => Promise<void> | void) | undefined;
  /**
   * Called whenever the state moved on (a submit applied, or entries other processes stored were
   * caught up with), after `onEpoch`: the network hangs up members that lost their place, dials new
   * ones and relays the new entries. Not awaited; errors are the listener's.
   */
  onChange?: ((state: RosterState, previousSeq: number) => void) | undefined;
}

export interface SubmitResult {
  /** False when the entry was already in the chain (a harmless replay). */
  applied: boolean;
  seq: number;
  hash: string;
}

/** A refused entry kept for admins to see: a fork (two validly signed entries at one seq). */
export interface RosterAlarm {
  id: string;
  seq: number;
  hash: string;
  /** The hash of the entry applied at that seq. */
  storedHash: string | null;
  reason: string;
  /** The refused signed entry, as received (serialised). */
  signed: string;
  detectedAt: Date;
}

/** Any fixed number shared by every process of this application; it names the roster append lock. */
const ROSTER_LOCK_KEY = 7_244_115_003;

interface EntryRow {
  seq: string;
  hash: string;
  signed: string;
}

export class RosterStore {
  readonly #db: Database;
  readonly #opts: ApplyOptions;
  readonly #onEpoch: RosterStoreOptions['onEpoch'];
  readonly #listeners = new Set<NonNullable<RosterStoreOptions['onChange']>>();
  #state: RosterState | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(db: Database, opts: RosterStoreOptions) {
    this.#db = db;
    this.#opts = {
      ...(opts.alliance === undefined ? {} : { alliance: opts.alliance }),
      ...(opts.genesisHash === undefined ? {} : { genesis: opts.genesisHash }),
      ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    };
    this.#onEpoch = opts.onEpoch;
    if (opts.onChange !== undefined) this.#listeners.add(opts.onChange);
  }

  /**
   * Adds an `onChange` listener (the network and the node attach theirs once started); returns the
   * function that removes it. A listener that throws does not keep the others from being told.
   */
  watch(listener: NonNullable<RosterStoreOptions['onChange']>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(state: RosterState, previousSeq: number): void {
    for (const l of this.#listeners) {
      try {
        l(state, previousSeq);
      } catch {
        // The listener's own failure; the roster change itself stands.
      }
    }
  }

  /**
   * Loads every stored entry in seq order and replays the chain from its genesis. Throws
   * GENESIS_MISMATCH if `genesisHash` is given and the stored genesis is another, and
   * ROSTER_STORAGE_INVALID if the stored chain does not validate.
   */
  static async open(db: Database, opts: RosterStoreOptions = {}): Promise<RosterStore> {
    const store = new RosterStore(db, opts);
    const first = await db.query<{ hash: string }>('SELECT hash FROM roster_entries WHERE seq = 0');
    const stored = first.rows[0]?.hash;
    if (opts.genesisHash !== undefined && stored !== undefined && stored !== opts.genesisHash) {
      throw new RosterStoreError(
        'GENESIS_MISMATCH',
        `this node's roster has the genesis ${stored}, but the genesis file's is ${opts.genesisHash}: the data directory (or database) belongs to another alliance; use a new one for this alliance`,
        { stored, expected: opts.genesisHash },
      );
    }
    await store.#catchUp(db);
    return store;
  }

  /** The roster after the last stored entry; null while the roster is empty. */
  get state(): RosterState | null {
    return this.#state;
  }

  /**
   * Applies entries other processes stored since this store last looked, and returns the state.
   * One cheap query when nothing changed: what API resolvers call so several processes agree.
   */
  async refresh(): Promise<RosterState | null> {
    return this.#serial(async () => {
      await this.#catchUp(this.#db);
      return this.#state;
    });
  }

  /**
   * Validates one signed entry (JSON text) against the current chain and stores it. Returns
   * `applied: false` for an entry already in the chain. A `fork` is recorded in `roster_alarms`
   * and rethrown; any other refusal is rethrown with nothing stored.
   */
  async submit(signedText: string): Promise<SubmitResult> {
    return this.#serial(async () => {
      let epoch: EpochEvent | undefined;
      let alarm: { err: RosterError; signed: string } | undefined;
      const result = await this.#db.transaction(async (tx): Promise<SubmitResult & { state?: RosterState }> => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [ROSTER_LOCK_KEY]);
        await this.#catchUp(tx);
        let accepted;
        try {
          accepted = await acceptEntry(this.#state, signedText, this.#opts);
        } catch (err) {
          if (isRosterError(err, 'replay')) {
            const details = (err.details ?? {}) as { hash?: string };
            return { applied: false, seq: err.seq!, hash: details.hash! };
          }
          if (isRosterError(err, 'fork')) {
            // Refused, but kept: parsing already succeeded, so this is the entry's canonical form.
            const parsed = await parseSignedEntry(signedText, this.#opts.limits);
            alarm = { err, signed: serializeSignedEntry(parsed.signed) };
          }
          throw err;
        }
        const { entry, hash, state } = accepted;
        await tx.query('INSERT INTO roster_entries (seq, hash, type, signed, created_at) VALUES ($1::bigint, $2, $3, $4, $5::timestamptz)', [
          entry.seq,
          hash,
          entry.type,
          serializeSignedEntry(accepted.signed),
          entry.createdAt,
        ]);
        if (entry.type === 'epoch.new') epoch = { entry, hash, state };
        return { applied: true, seq: entry.seq, hash, state };
      }).catch(async (err: unknown) => {
        if (alarm !== undefined) await this.#storeAlarm(alarm.err, alarm.signed);
        throw err;
      });
      if (result.state !== undefined) {
        const previousSeq = this.#state?.seq ?? -1;
        this.#state = result.state;
        if (epoch !== undefined) await this.#onEpoch?.(epoch);
        this.#changed(result.state, previousSeq);
        return { applied: true, seq: result.seq, hash: result.hash };
      }
      return { applied: false, seq: result.seq, hash: result.hash };
    });
  }

  /**
   * Up to `limit` stored entries from seq `from` on, serialised, in seq order, and whether more
   * follow: what the network's roster sync serves.
   */
  async entries(from: number, limit: number): Promise<{ items: string[]; more: boolean }> {
    const { rows } = await this.#db.query<{ signed: string }>('SELECT signed FROM roster_entries WHERE seq >= $1::bigint ORDER BY seq LIMIT $2', [from, limit + 1]);
    return { items: rows.slice(0, limit).map((r) => r.signed), more: rows.length > limit };
  }

  /** The roster log file: one serialised signed entry per line, in seq order. */
  async exportJsonl(): Promise<string> {
    const { rows } = await this.#db.query<{ signed: string }>('SELECT signed FROM roster_entries ORDER BY seq');
    return rows.map((r) => `${r.signed}\n`).join('');
  }

  /** Alarms (forks), newest first. */
  async alarms(): Promise<RosterAlarm[]> {
    const { rows } = await this.#db.query<{ id: string; seq: string; hash: string; stored_hash: string | null; reason: string; signed: string; detected_at: Date | string }>(
      'SELECT id, seq, hash, stored_hash, reason, signed, detected_at FROM roster_alarms ORDER BY id DESC',
    );
    return rows.map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      hash: r.hash,
      storedHash: r.stored_hash,
      reason: r.reason,
      signed: r.signed,
      detectedAt: r.detected_at instanceof Date ? r.detected_at : new Date(r.detected_at),
    }));
  }

  async #storeAlarm(err: RosterError, signed: string): Promise<void> {
    const details = (err.details ?? {}) as { hash?: string; stored?: string };
    await this.#db.query(
      'INSERT INTO roster_alarms (seq, hash, stored_hash, reason, signed) VALUES ($1::bigint, $2, $3, $4, $5) ON CONFLICT (hash, reason) DO NOTHING',
      [err.seq ?? 0, details.hash ?? '', details.stored ?? null, err.reason, signed],
    );
  }

  /** Applies the stored entries after the current head, in order; a stored entry that does not validate is ROSTER_STORAGE_INVALID. */
  async #catchUp(q: Queryable): Promise<void> {
    const after = this.#state === null ? -1 : this.#state.seq;
    const { rows } = await q.query<EntryRow>('SELECT seq, hash, signed FROM roster_entries WHERE seq > $1::bigint ORDER BY seq', [after]);
    let state = this.#state;
    const epochs: EpochEvent[] = [];
    for (const row of rows) {
      const seq = Number(row.seq);
      let accepted;
      try {
        accepted = await acceptEntry(state, row.signed, this.#opts);
      } catch (err) {
        const why = isRosterError(err) ? `${err.reason}: ${err.message}` : (err as Error).message;
        throw new RosterStoreError('ROSTER_STORAGE_INVALID', `the stored roster does not validate at seq ${seq} (${why}); it was changed outside the node: restore it from a roster log file or a backup`, { seq }, { cause: err });
      }
      if (accepted.entry.seq !== seq || accepted.hash !== row.hash) {
        throw new RosterStoreError('ROSTER_STORAGE_INVALID', `the stored roster row at seq ${seq} does not hold its entry (the entry is seq ${accepted.entry.seq}, hash ${accepted.hash}; the row says ${row.hash}): it was changed outside the node`, { seq });
      }
      state = accepted.state;
      if (accepted.entry.type === 'epoch.new') epochs.push({ entry: accepted.entry, hash: accepted.hash, state });
    }
    const previousSeq = this.#state?.seq ?? -1;
    this.#state = state;
    for (const e of epochs) await this.#onEpoch?.(e);
    if (state !== null && state.seq !== previousSeq) this.#changed(state, previousSeq);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
