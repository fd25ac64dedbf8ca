/**
 * The matcher's set-based statement over one database, on both storages: indicator rows are written
 * directly (this node's own and other members' as the exchange would leave them), records through
 * the record store, and the roster is a real one (genesis, members, epoch, suspension, revocation).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Matcher, type MatchOutcome } from '../../../node/matching/matcher.ts';
import { MatchStore } from '../../../node/matching/store.ts';
import { MatchFeed } from '../../../node/matching/feed.ts';
import { MatchListener } from '../../../node/matching/listener.ts';
import { BatchStore } from '../../../node/indicators/batch-store.ts';
import { RecordStore } from '../../../node/records/store.ts';
import type { RecordFields, StoredRecord } from '../../../node/records/model.ts';
import type { RosterState } from '../../../node/membership/roster-state.ts';
import { createLogger } from '../../../node/log.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';
import { eventually } from '../../helpers/alliance.ts';
import { SELF, buildRosters, digest, peerRef, putIndicators, recordFields, type IndicatorRow, type Rosters } from '../../helpers/matching-fixture.ts';

const ACTOR = { sub: 'analyst-1', role: 'analyst' };

let R: Rosters;
beforeAll(async () => {
  R = await buildRosters();
});
afterAll(() => R.cleanup());

describe.each(STORAGES)('matcher (%s)', (kind) => {
  let t: TestDb;
  let records: RecordStore;
  let store: MatchStore;
  let matcher: Matcher;
  let roster: RosterState;
  let live: number[];
  let raised: string[][];
  let transitions: Array<[string, number]>;
  let errors: unknown[];

  const put = (...rows: IndicatorRow[]) => putIndicators(t.db, ...rows);
  const drop = (origin: string, ref: string, type = 'phone') => t.db.query('DELETE FROM indicators WHERE origin = $1 AND ref = $2 AND type = $3', [origin, ref, type]);
  const record = (name: string, over: Partial<RecordFields> = {}) => records.create(recordFields(name, over), ACTOR);
  const own = (r: StoredRecord, label: string, type = 'phone', epoch = 1) => put({ origin: SELF, type, digest: digest(label), ref: r.ref, epoch });
  const all = async () => (await store.list({}, 100, null)).matches;

  // One database per storage; every test starts from empty tables (a fresh database each would
  // cost more than the tests).
  beforeAll(async () => {
    t = await openTestDb(kind);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await t.db.exec(`
      TRUNCATE matches, indicators, record_identifiers, records, record_changes, indicator_outbox, audit_log RESTART IDENTITY;
      UPDATE matching_state SET caught_up_at = NULL, active_origins = '{}';
    `);
    records = new RecordStore(t.db);
    store = new MatchStore(t.db);
    roster = R.base;
    live = [1];
    raised = [];
    transitions = [];
    errors = [];
    matcher = new Matcher(t.db, {
      self: () => SELF,
      roster: () => roster,
      liveEpochs: () => live,
      onRaised: (ids) => raised.push(ids),
      onTransition: (state, n) => transitions.push([state, n]),
      onError: (err) => errors.push(err),
    });
  });

  it('raises one match per (record, origin, ref) from the record side, with the types and own digests that matched', async () => {
    const r = await record('Lucky Trading');
    await own(r, 'phone-1');
    await own(r, 'email-1', 'email');
    await put(
      { origin: 'peer-a', digest: digest('phone-1'), ref: peerRef(1), categories: ['TRADEMARK'], confidence: 85 },
      { origin: 'peer-a', type: 'email', digest: digest('email-1'), ref: peerRef(1), categories: ['COUNTERFEIT', 'TRADEMARK'], seq: 2 },
      { origin: 'peer-a', digest: digest('phone-1'), ref: peerRef(2) },
      { origin: 'peer-b', digest: digest('other'), ref: peerRef(3) },
    );
    const out = await matcher.match({ ownRefs: [r.ref] });
    expect(out.raised).toHaveLength(2);
    expect(raised).toEqual([out.raised]);
    expect(transitions).toEqual([['NEW', 2]]);
    const list = await all();
    const first = list.find((m) => m.ref === peerRef(1));
    const second = list.find((m) => m.ref === peerRef(2));
    expect(first).toMatchObject({
      state: 'NEW',
      recordId: r.id,
      recordRef: r.ref,
      origin: 'peer-a',
      ref: peerRef(1),
      types: ['email', 'phone'],
      identifiers: [
        { type: 'email', digest: digest('email-1'), epoch: 1 },
        { type: 'phone', digest: digest('phone-1'), epoch: 1 },
      ],
      // The newest indicator of the actor (highest seq) speaks for it.
      categories: ['COUNTERFEIT', 'TRADEMARK'],
      status: 'CONFIRMED',
      decidedAt: null,
    });
    expect(second).toMatchObject({ origin: 'peer-a', ref: peerRef(2), types: ['phone'] });
    // Idempotent: the same scope again changes nothing.
    expect(await matcher.match({ ownRefs: [r.ref] })).toEqual({ raised: [], updated: 0, retracted: 0, deleted: 0 });
    // Never a raw value or canonical form in the table.
    const { rows } = await t.db.query<{ t: string }>('SELECT row_to_json(m)::text AS t FROM matches m');
    for (const row of rows) {
      expect(row.t).not.toContain('8613800138000');
      expect(row.t).not.toContain('138 0013');
    }
  });

  it('raises from the peer side, keeps a decision while identifiers are added, retracts, and raises again', async () => {
    const r = await record('Shop');
    await own(r, 'phone-2');
    await own(r, 'email-2', 'email');
    await put({ origin: 'peer-a', digest: digest('phone-2'), ref: peerRef(5) });
    const first = await matcher.match({ peers: [{ origin: 'peer-a', ref: peerRef(5) }] });
    expect(first.raised).toHaveLength(1);
    const id = first.raised[0]!;
    await store.acknowledge(id, 'CONFIRMED', 'same seller as case 17', { sub: 'analyst-1', role: 'analyst' });

    await put({ origin: 'peer-a', type: 'email', digest: digest('email-2'), ref: peerRef(5), confidence: 95, seq: 2 });
    expect(await matcher.match({ peers: [{ origin: 'peer-a', ref: peerRef(5) }] })).toMatchObject({ raised: [], updated: 1 });
    expect(await store.get(id)).toMatchObject({ state: 'CONFIRMED', types: ['email', 'phone'], confidence: 95, decidedBy: 'analyst-1', note: 'same seller as case 17' });

    // One of two indicators retracted: still a match.
    await drop('peer-a', peerRef(5), 'email');
    await matcher.match({ peers: [{ origin: 'peer-a', ref: peerRef(5) }] });
    expect(await store.get(id)).toMatchObject({ state: 'CONFIRMED', types: ['phone'] });

    // Every one retracted: RETRACTED, the last identifiers and the decision kept for reference.
    await drop('peer-a', peerRef(5));
    expect(await matcher.match({ peers: [{ origin: 'peer-a', ref: peerRef(5) }] })).toMatchObject({ retracted: 1 });
    const retracted = await store.get(id);
    expect(retracted).toMatchObject({ state: 'RETRACTED', types: ['phone'], decidedBy: 'analyst-1' });
    expect(retracted!.retractedAt).toBeInstanceOf(Date);
    await expect(store.acknowledge(id, 'DISMISSED', null, ACTOR)).rejects.toMatchObject({ code: 'CONFLICT' });

    // Published again: the same match is NEW again, undecided.
    await put({ origin: 'peer-a', digest: digest('phone-2'), ref: peerRef(5), seq: 3 });
    expect((await matcher.match({ peers: [{ origin: 'peer-a', ref: peerRef(5) }] })).raised).toEqual([id]);
    expect(await store.get(id)).toMatchObject({ state: 'NEW', decidedAt: null, decidedBy: null, note: null, retractedAt: null });
    expect(transitions).toEqual([
      ['NEW', 1],
      ['RETRACTED', 1],
      ['NEW', 1],
    ]);
  });

  it('closes the matches of a CLEARED record (RETRACTED) and deletes those of a deleted one', async () => {
    const a = await record('To clear');
    const b = await record('To delete');
    await own(a, 'phone-3');
    await own(b, 'phone-4');
    await put({ origin: 'peer-a', digest: digest('phone-3'), ref: peerRef(6) }, { origin: 'peer-a', digest: digest('phone-4'), ref: peerRef(7) });
    await matcher.match({ ownRefs: [a.ref, b.ref] });
    expect((await all()).map((m) => m.state)).toEqual(['NEW', 'NEW']);

    await records.setStatus(a.id, 'CLEARED', null, ACTOR);
    // The own indicators are still there until the publisher retracts them: the status alone closes it.
    expect(await matcher.match({ ownRefs: [a.ref] })).toMatchObject({ retracted: 1 });
    expect((await store.list({ recordId: a.id }, 10, null)).matches[0]).toMatchObject({ state: 'RETRACTED' });

    await records.delete(b.id, null, ACTOR);
    // The delete's own transaction removed them (trigger).
    expect(await store.count({ recordId: b.id })).toBe(0);
    // Reopened record: matches again.
    await records.setStatus(a.id, 'SUSPECTED', null, ACTOR);
    expect((await matcher.match({ ownRefs: [a.ref] })).raised).toHaveLength(1);
  });

  it('retracts matches whose indicators expired, and ignores epochs that are not live', async () => {
    const r = await record('Expiring');
    await own(r, 'phone-5');
    await own(r, 'phone-5-e2', 'phone', 2);
    await put({ origin: 'peer-a', digest: digest('phone-5'), ref: peerRef(8) });
    await put({ origin: 'peer-b', digest: digest('phone-5-e2'), ref: peerRef(9), epoch: 2 });
    const out = await matcher.match({ ownRefs: [r.ref] });
    expect(out.raised).toHaveLength(1);
    await t.db.query("UPDATE indicators SET expires_at = now() - interval '1 minute' WHERE origin = 'peer-a'");
    expect(await matcher.match({ open: true })).toMatchObject({ retracted: 1 });
    live = [1, 2];
    expect((await matcher.match({ ownRefs: [r.ref] })).raised).toHaveLength(1);
    expect((await store.list({ state: ['NEW'] }, 10, null)).matches.map((m) => m.origin)).toEqual(['peer-b']);
  });

  it('raises nothing with a suspended member but keeps its matches open, and retracts a revoked one', async () => {
    const r = await record('Sanctions');
    await own(r, 'phone-6');
    await own(r, 'email-6', 'email');
    await put({ origin: 'peer-b', digest: digest('phone-6'), ref: peerRef(10) }, { origin: 'peer-c', digest: digest('phone-6'), ref: peerRef(11) });
    expect((await matcher.match({ ownRefs: [r.ref] })).raised).toHaveLength(2);

    roster = R.suspended;
    await put({ origin: 'peer-b', type: 'email', digest: digest('email-6'), ref: peerRef(12) });
    const during = await matcher.match({ ownRefs: [r.ref] });
    expect(during.raised).toEqual([]);
    expect(during.retracted).toBe(0);
    expect(await store.count({ origin: 'peer-b' })).toBe(1);

    roster = R.revoked;
    expect(await matcher.match({ origins: ['peer-c'] })).toMatchObject({ retracted: 1 });
    expect((await store.list({ origin: 'peer-c' }, 5, null)).matches[0]!.state).toBe('RETRACTED');
    expect((await store.list({ origin: 'peer-b' }, 5, null)).matches[0]!.state).toBe('NEW');
  });

  it('catches up: a full pass the first time, then the origins that became ACTIVE again', async () => {
    const r = await record('Before matching');
    await own(r, 'phone-7');
    await put({ origin: 'peer-a', digest: digest('phone-7'), ref: peerRef(13) }, { origin: 'peer-b', digest: digest('phone-7'), ref: peerRef(14) });
    roster = R.suspended;
    const first = await matcher.catchUp();
    expect(first).toMatchObject({ full: true, origins: [] });
    expect(first.outcome!.raised).toHaveLength(1);
    expect(await matcher.catchUp()).toEqual({ full: false, origins: [], outcome: undefined });
    // Reinstated (the base roster has peer-b ACTIVE): its indicators are matched in full once.
    roster = R.base;
    const again = await matcher.catchUp();
    expect(again).toMatchObject({ full: false, origins: ['peer-b'] });
    expect(again.outcome!.raised).toHaveLength(1);
    expect(await store.count({ state: ['NEW'] })).toBe(2);
  });

  it('matches inside the transaction that changes indicators, pushes after commit only, and survives a failing step', async () => {
    const batches = new BatchStore(matcher.database, { roster: () => roster, graceMs: 7 * 86_400_000, onIndicators: matcher.onIndicators });
    const r = await record('Hooked');
    await own(r, 'phone-8');
    await put({ origin: 'peer-a', digest: digest('phone-8'), ref: peerRef(15) });

    // Rolled back: nothing stored, nothing pushed.
    await expect(
      matcher.database.transaction(async (tx) => {
        await matcher.onIndicators(tx, { keys: [{ origin: 'peer-a', type: 'phone', digest: digest('phone-8'), ref: peerRef(15) }] });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await store.count()).toBe(0);
    expect(raised).toEqual([]);

    await matcher.database.transaction((tx) => matcher.onIndicators(tx, { keys: [{ origin: 'peer-a', type: 'phone', digest: digest('phone-8'), ref: peerRef(15) }] }));
    expect(raised).toHaveLength(1);

    // A purge (revoked member) retracts in its own transaction.
    roster = R.revoked;
    await put({ origin: 'peer-c', digest: digest('phone-8'), ref: peerRef(16) });
    expect(await batches.purgeOrigin('peer-a')).toBe(1);
    expect((await all()).map((m) => m.state)).toEqual(['RETRACTED']);

    // A failing step is rolled back alone: the expiry commits, and a full pass is owed.
    await t.db.query("UPDATE matching_state SET caught_up_at = now()");
    await t.db.query("UPDATE indicators SET expires_at = now() - interval '1 minute' WHERE origin = 'peer-c'");
    live = [Number.NaN];
    expect(await batches.expire()).toBe(1);
    expect(errors).toHaveLength(1);
    const { rows } = await t.db.query<{ owed: boolean }>('SELECT caught_up_at IS NULL AS owed FROM matching_state');
    expect(rows[0]!.owed).toBe(true);
    live = [1];
    expect(await matcher.catchUp()).toMatchObject({ full: true });
  });

  if (kind === 'pg') {
    it('announces raised matches over NOTIFY to a listening connection, once committed', async () => {
      const feed = new MatchFeed();
      const heard: string[] = [];
      feed.subscribe((ids) => heard.push(...ids));
      const listener = new MatchListener({ connectionString: t.url!, feed, logger: createLogger('silent') });
      await listener.start();
      try {
        const notifying = new Matcher(t.db, { self: () => SELF, roster: () => roster, liveEpochs: () => live, notify: true });
        const r = await record('Notified');
        await own(r, 'phone-9');
        await put({ origin: 'peer-a', digest: digest('phone-9'), ref: peerRef(17) });
        await put({ origin: 'peer-a', digest: digest('phone-9'), ref: peerRef(18) });
        await expect(
          notifying.database.transaction(async (tx) => {
            await notifying.onIndicators(tx, { keys: [{ origin: 'peer-a', type: 'phone', digest: digest('phone-9'), ref: peerRef(17) }] });
            throw new Error('abort');
          }),
        ).rejects.toThrow('abort');
        const out: MatchOutcome = await notifying.match({ ownRefs: [r.ref] });
        expect(out.raised).toHaveLength(2);
        await eventually(() => heard.length === 2, 20_000, 'notifications');
        expect(heard).toEqual(out.raised);
      } finally {
        await listener.stop();
      }
    });
  }
});
