import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RosterStore, RosterStoreError, type EpochEvent } from '../../../node/membership/roster-store.ts';
import { epochKeyInstaller } from '../../../node/membership/epoch-install.ts';
import { epochKeyPath, loadEpochKeys } from '../../../node/membership/epoch-keys.ts';
import { applyEntry, isRosterError, parseSignedEntry, serializeSignedEntry, type RosterErrorReason, type RosterState } from '../../../node/membership/roster.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';
import { epochBody, genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin, type TestMember } from '../../helpers/roster.ts';

async function refusal(p: Promise<unknown>): Promise<RosterErrorReason> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isRosterError(err)) throw new Error(`expected a RosterError, got ${String(err)}`);
  return err.reason;
}

// One chain for every storage: genesis (3 admins, quorum 2), member.add alice, epoch.new, member.add bob.
let A: TestAdmin[];
let alice: TestMember;
let bob: TestMember;
let carol: TestMember;
const chain: string[] = [];
const states: RosterState[] = [];
let forkAtOne: string;

beforeAll(async () => {
  A = [await newTestAdmin('one'), await newTestAdmin('two'), await newTestAdmin('three')];
  alice = await newTestMember('alice');
  bob = await newTestMember('bob');
  carol = await newTestMember('carol');
  chain.push(await genesisText('store-alliance', A, 2, [A[0]!, A[1]!]));
  states.push(await applyEntry(null, chain[0]!));
  chain.push(await nextText(states[0]!, { type: 'member.add', body: alice.request }, [A[0]!, A[2]!]));
  states.push(await applyEntry(states[0]!, chain[1]!));
  chain.push(await nextText(states[1]!, { type: 'epoch.new', body: await epochBody('store-alliance', 1, [alice.request]) }, [A[1]!, A[2]!]));
  states.push(await applyEntry(states[1]!, chain[2]!));
  chain.push(await nextText(states[2]!, { type: 'member.add', body: bob.request }, [A[0]!, A[1]!]));
  states.push(await applyEntry(states[2]!, chain[3]!));
  // A different entry at seq 1, signed by a quorum: a fork.
  forkAtOne = await nextText(states[0]!, { type: 'member.add', body: carol.request }, [A[1]!, A[2]!]);
});

afterAll(() => {
  for (const m of [alice, bob, carol]) fs.rmSync(m.dataDir, { recursive: true, force: true });
});

describe.each(STORAGES)('RosterStore on %s', (kind) => {
  let t: TestDb;
  let store: RosterStore;
  const epochs: EpochEvent[] = [];
  const count = async (table: 'roster_entries' | 'roster_alarms') => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

  // This storage's chain: the shared one, then what the tests below append.
  let mine: string[];
  let myStates: RosterState[];

  beforeAll(async () => {
    t = await openTestDb(kind);
    mine = [...chain];
    myStates = [...states];
  });
  afterAll(async () => {
    await t?.close();
  });

  it('an empty roster has no state and exports nothing', async () => {
    store = await RosterStore.open(t.db, { onEpoch: (e) => void epochs.push(e) });
    expect(store.state).toBeNull();
    expect(await store.exportJsonl()).toBe('');
    expect(await store.alarms()).toEqual([]);
  });

  it('a non-genesis entry on an empty roster is refused (gap) and nothing is stored', async () => {
    expect(await refusal(store.submit(mine[1]!))).toBe('gap');
    expect(await count('roster_entries')).toBe(0);
  });

  it('submits a chain: each entry applied, stored exactly, state as the roster core computes it', async () => {
    for (const [i, text] of mine.entries()) {
      const r = await store.submit(text);
      const parsed = await parseSignedEntry(text);
      expect(r).toEqual({ applied: true, seq: i, hash: parsed.hash });
      expect(store.state).toEqual(myStates[i]);
    }
    const { rows } = await t.db.query<{ seq: string; hash: string; type: string; signed: string; created_at: Date | string }>(
      'SELECT seq::text AS seq, hash, type, signed, created_at FROM roster_entries ORDER BY seq',
    );
    expect(rows.map((r) => [r.seq, r.type])).toEqual([
      ['0', 'genesis'],
      ['1', 'member.add'],
      ['2', 'epoch.new'],
      ['3', 'member.add'],
    ]);
    expect(rows.map((r) => r.signed)).toEqual(mine);
    expect(new Date(rows[0]!.created_at).toISOString().slice(0, 19) + 'Z').toBe((await parseSignedEntry(mine[0]!)).entry.createdAt);
    // The epoch.new was reported once, with the state right after it.
    expect(epochs.map((e) => [e.entry.body.epoch, e.state.seq])).toEqual([[1, 2]]);
    // The roster log file: one serialised signed entry per line, in seq order.
    expect(await store.exportJsonl()).toBe(mine.map((c) => `${c}\n`).join(''));
  });

  it('an entry already in the chain is a no-op (applied: false), whatever its formatting', async () => {
    const pretty = JSON.stringify(JSON.parse(mine[1]!), null, 2);
    const r = await store.submit(pretty);
    expect(r).toEqual({ applied: false, seq: 1, hash: myStates[1]!.hashes[1] });
    expect(await store.submit(mine[0]!)).toMatchObject({ applied: false, seq: 0 });
    expect(await count('roster_entries')).toBe(4);
    expect(store.state).toEqual(myStates[3]);
  });

  it('a fork is refused, kept once as an alarm, and never applied', async () => {
    expect(await refusal(store.submit(forkAtOne))).toBe('fork');
    expect(await refusal(store.submit(forkAtOne))).toBe('fork');
    expect(await count('roster_entries')).toBe(4);
    expect(store.state).toEqual(myStates[3]);
    const alarms = await store.alarms();
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({
      seq: 1,
      hash: (await parseSignedEntry(forkAtOne)).hash,
      storedHash: myStates[1]!.hashes[1],
      reason: 'fork',
      signed: serializeSignedEntry((await parseSignedEntry(forkAtOne)).signed),
    });
    expect(alarms[0]!.detectedAt).toBeInstanceOf(Date);
  });

  it('invalid entries are refused with their reason and leave nothing stored', async () => {
    const head = myStates[3]!;
    const cases: Array<[string, RosterErrorReason]> = [
      [await nextText(head, { type: 'member.suspend', body: { id: 'bob' } }, [A[0]!]), 'insufficient_signatures'],
      [await nextText({ ...head, seq: head.seq + 1 }, { type: 'member.suspend', body: { id: 'bob' } }, [A[0]!, A[1]!]), 'gap'],
      [await nextText({ ...head, head: myStates[2]!.head }, { type: 'member.suspend', body: { id: 'bob' } }, [A[0]!, A[1]!]), 'wrong_prev'],
      [await nextText(head, { type: 'member.suspend', body: { id: 'nobody' } }, [A[0]!, A[1]!]), 'unknown_member'],
      [await nextText(head, { type: 'member.add', body: bob.request }, [A[0]!, A[1]!]), 'member_exists'],
      [await nextText({ ...head, alliance: 'other-alliance' }, { type: 'member.suspend', body: { id: 'bob' } }, [A[0]!, A[1]!]), 'wrong_alliance'],
      ['{"payload":"e30","signatures":[]}', 'malformed'],
      ['not json at all', 'malformed'],
    ];
    // A forged fork (bad signature) is not an alarm: it is refused for its signature.
    const forged = JSON.parse(forkAtOne) as { payload: string; signatures: Array<{ protected: string; signature: string }> };
    forged.signatures[0]!.signature = forged.signatures[1]!.signature;
    cases.push([JSON.stringify(forged), 'bad_signature']);
    for (const [text, reason] of cases) expect(await refusal(store.submit(text)), reason).toBe(reason);
    expect(await count('roster_entries')).toBe(4);
    expect(await count('roster_alarms')).toBe(1);
    expect(store.state).toEqual(myStates[3]);
  });

  it('concurrent submits of one entry apply it once', async () => {
    const next = await nextText(myStates[3]!, { type: 'member.suspend', body: { id: 'bob', reason: 'audit' } }, [A[0]!, A[2]!]);
    const results = await Promise.all([store.submit(next), store.submit(next), store.submit(next)]);
    expect(results.map((r) => r.applied).sort()).toEqual([false, false, true]);
    expect(store.state!.seq).toBe(4);
    mine.push(next);
    myStates.push(store.state!);
  });

  it('reopening replays the stored chain to the same state and reports its epochs again', async () => {
    const seen: number[] = [];
    const again = await RosterStore.open(t.db, { onEpoch: (e) => void seen.push(e.entry.body.epoch) });
    expect(again.state).toEqual(myStates[4]);
    expect(seen).toEqual([1]);
    expect(await again.exportJsonl()).toBe(mine.map((c) => `${c}\n`).join(''));
  });

  it('a second store over the same database catches up with entries the first stored', async () => {
    const other = await RosterStore.open(t.db);
    const next = await nextText(myStates[4]!, { type: 'member.reinstate', body: { id: 'bob' } }, [A[1]!, A[2]!]);
    expect((await store.submit(next)).applied).toBe(true);
    expect(other.state!.seq).toBe(4);
    expect((await other.refresh())!.seq).toBe(5);
    // And it appends after it, not at a stale seq.
    const after = await nextText(other.state!, { type: 'quorum.set', body: { quorum: 3 } }, [A[0]!, A[1]!]);
    expect(await other.submit(after)).toMatchObject({ applied: true, seq: 6 });
    expect((await store.refresh())!.quorum).toBe(3);
    mine.push(next, after);
  });

  it('a pinned genesis hash: the same one opens, another is GENESIS_MISMATCH', async () => {
    const ok = await RosterStore.open(t.db, { genesisHash: myStates[0]!.head });
    expect(ok.state!.seq).toBe(6);
    const err = await RosterStore.open(t.db, { genesisHash: 'x'.repeat(43) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RosterStoreError);
    expect((err as RosterStoreError).code).toBe('GENESIS_MISMATCH');
  });

  it('a tampered stored row makes open fail clearly (ROSTER_STORAGE_INVALID naming the seq)', async () => {
    // The signed text of another entry at seq 1 (a validly signed fork): the chain no longer validates.
    await t.db.query('UPDATE roster_entries SET signed = $1 WHERE seq = 1', [forkAtOne]);
    let err = await RosterStore.open(t.db).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RosterStoreError);
    expect((err as RosterStoreError).code).toBe('ROSTER_STORAGE_INVALID');
    expect((err as Error).message).toContain('seq 1');

    // A signature removed: below the quorum.
    const stripped = JSON.parse(mine[1]!) as { signatures: unknown[] };
    stripped.signatures.pop();
    await t.db.query('UPDATE roster_entries SET signed = $1 WHERE seq = 1', [JSON.stringify(stripped)]);
    err = await RosterStore.open(t.db).catch((e: unknown) => e);
    expect((err as RosterStoreError).code).toBe('ROSTER_STORAGE_INVALID');
    expect((err as Error).message).toContain('insufficient_signatures');

    // The entry intact but the row's hash column changed.
    await t.db.query('UPDATE roster_entries SET signed = $1 WHERE seq = 1', [mine[1]!]);
    await t.db.query("UPDATE roster_entries SET hash = repeat('A', 43) WHERE seq = 2");
    err = await RosterStore.open(t.db).catch((e: unknown) => e);
    expect((err as RosterStoreError).code).toBe('ROSTER_STORAGE_INVALID');
    expect((err as Error).message).toContain('seq 2');

    // Repaired, it opens again.
    await t.db.query('UPDATE roster_entries SET hash = $1 WHERE seq = 2', [myStates[2]!.head]);
    expect((await RosterStore.open(t.db)).state!.seq).toBe(6);
  });
});

/** The seq of a serialised signed entry, read from its payload. */
function seqOf(signed: string): number {
  const { payload } = JSON.parse(signed) as { payload: string };
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { seq: number }).seq;
}

describe.each(STORAGES)('RosterStore past 9 and 99 entries on %s', (kind) => {
  it('reopens a chain of 105 entries in seq order, and lists alarms past id 10 newest first', async () => {
    const t = await openTestDb(kind);
    try {
      const store = await RosterStore.open(t.db);
      for (const text of chain) await store.submit(text);
      // Suspend and reinstate bob, over and over: seq 4 .. 104.
      while (store.state!.seq < 104) {
        const type = store.state!.members.find((m) => m.id === 'bob')!.status === 'ACTIVE' ? 'member.suspend' : 'member.reinstate';
        expect((await store.submit(await nextText(store.state!, { type, body: { id: 'bob' } }, [A[0]!, A[1]!]))).applied).toBe(true);
      }
      const head = store.state!;
      expect(head.seq).toBe(104);
      // What a restarted node does: a new store replays every stored row.
      const again = await RosterStore.open(t.db);
      expect(again.state).toEqual(head);
      const exported = (await again.exportJsonl()).trim().split('\n');
      expect(exported.map(seqOf)).toEqual([...Array(105).keys()]);
      const served = await again.entries(9, 3);
      expect(served.items.map(seqOf)).toEqual([9, 10, 11]);
      expect(served.more).toBe(true);

      // Twelve forks at seqs 1..12, each kept as an alarm: ids 1..12, newest (highest id) first.
      for (let seq = 1; seq <= 12; seq++) {
        const fork = await nextText({ alliance: head.alliance, seq: seq - 1, head: head.hashes[seq - 1]! }, { type: 'quorum.set', body: { quorum: seq % 2 === 0 ? 3 : 1 } }, [A[0]!, A[2]!]);
        expect(await refusal(store.submit(fork))).toBe('fork');
      }
      const alarms = await store.alarms();
      expect(alarms.map((a) => Number(a.id))).toEqual([...Array(12).keys()].map((i) => 12 - i));
      expect(alarms.map((a) => a.seq)).toEqual([...Array(12).keys()].map((i) => 12 - i));
    } finally {
      await t.close();
    }
  });
});

describe('epochKeyInstaller (the onEpoch the node uses)', () => {
  it("installs this member's key of an applied epoch.new, and only its own", async () => {
    const t = await openTestDb('pglite');
    try {
      const outcomes: string[] = [];
      const store = await RosterStore.open(t.db, { onEpoch: epochKeyInstaller(alice.dataDir, { report: (o) => outcomes.push(o.status) }) });
      for (const text of chain.slice(0, 3)) await store.submit(text);
      expect(outcomes).toEqual(['installed']);
      const keys = loadEpochKeys(alice.dataDir);
      expect(keys.map((k) => [k.alliance, k.epoch, k.key.length])).toEqual([['store-alliance', 1, 32]]);
      expect(fs.statSync(epochKeyPath(alice.dataDir, 1)).mode & 0o777).toBe(0o600);
      // Reopening reports it as present; bob (not in epoch 1) gets nothing.
      await RosterStore.open(t.db, { onEpoch: epochKeyInstaller(alice.dataDir, { report: (o) => outcomes.push(o.status) }) });
      await RosterStore.open(t.db, { onEpoch: epochKeyInstaller(bob.dataDir, { report: (o) => outcomes.push(o.status) }) });
      expect(outcomes).toEqual(['installed', 'present', 'not-for-us']);
      expect(loadEpochKeys(bob.dataDir)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
