/**
 * `SafeInt`, the API type of every integer peers send (node/api/resolvers/network.ts), and the fields
 * that carry such integers: a roster whose genesis starts at epoch 3,000,000,000 (valid by
 * schema/roster.md: any integer up to 2^53 - 1) is shown exactly, where GraphQL's 32-bit Int failed
 * the whole query. Over a real API on both storages.
 */
import { Kind } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafeInt } from '../../../../node/api/resolvers/network.ts';
import { RosterStore } from '../../../../node/membership/roster-store.ts';
import { applyEntry, createGenesis } from '../../../../node/membership/roster.ts';
import { startTestApi, type TestApi } from '../../../helpers/api.ts';
import { STORAGES } from '../../../helpers/storage.ts';
import { newTestAdmin, nextText, signedText, tick, type TestAdmin } from '../../../helpers/roster.ts';

const MAX = Number.MAX_SAFE_INTEGER;

describe('SafeInt', () => {
  it('serializes every integer up to 2^53 - 1 as the number it is, past 2^31 included', () => {
    for (const n of [0, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 3_000_000_000, MAX, -MAX]) expect(SafeInt.serialize(n)).toBe(n);
    // bigint columns arrive as decimal strings from both storages.
    expect(SafeInt.serialize('3000000000')).toBe(3_000_000_000);
    expect(SafeInt.serialize(3_000_000_000n)).toBe(3_000_000_000);
  });

  it('refuses what it cannot hold exactly, rather than round it', () => {
    for (const bad of [MAX + 1, 2 ** 53, -(MAX + 1), 1.5, Number.NaN, Number.POSITIVE_INFINITY, '9007199254740993', '12a', '', true, null, {}]) {
      expect(() => SafeInt.serialize(bad), String(bad)).toThrow(/SafeInt cannot represent/);
    }
  });

  it('reads variables and literals within the range only', () => {
    expect(SafeInt.parseValue(3_000_000_000)).toBe(3_000_000_000);
    expect(() => SafeInt.parseValue(MAX + 1)).toThrow(/SafeInt must be an integer from -\(2\^53-1\) to 2\^53-1/);
    expect(() => SafeInt.parseValue('3000000000')).toThrow(/SafeInt must be/);
    expect(SafeInt.parseLiteral({ kind: Kind.INT, value: '3000000000' })).toBe(3_000_000_000);
    expect(SafeInt.parseLiteral({ kind: Kind.INT, value: String(MAX) })).toBe(MAX);
    expect(() => SafeInt.parseLiteral({ kind: Kind.INT, value: '9007199254740992' })).toThrow(/SafeInt must be/);
    expect(() => SafeInt.parseLiteral({ kind: Kind.FLOAT, value: '1.0' })).toThrow(/SafeInt must be/);
    expect(() => SafeInt.parseLiteral({ kind: Kind.STRING, value: '1' })).toThrow(/SafeInt must be/);
  });
});

describe.each(STORAGES)('the largest numbers a roster may hold, through the API (%s)', (storage) => {
  let t: TestApi;
  let admins: TestAdmin[];
  // The highest epoch a roster accepts (roster entries bound it to 2^31 - 1).
  const epoch = 2 ** 31 - 1;

  beforeAll(async () => {
    admins = [await newTestAdmin('Admin One')];
    t = await startTestApi({ storage });
    const store = await RosterStore.open(t.db);
    const genesis = await signedText(await createGenesis('big-alliance', { name: 'Big', admins: admins.map((a) => a.key), quorum: 1, epoch }, tick()), admins);
    await store.submit(genesis);
    const state = await applyEntry(null, genesis);
    // A few entries more, so the head's seq is not the genesis' 0.
    let s = state;
    for (let n = 0; n < 2; n++) {
      const text = await nextText(s, { type: 'quorum.set', body: { quorum: 1 } }, admins);
      await store.submit(text);
      s = await applyEntry(s, text);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it('alliance shows an epoch of 2,147,483,647 and its roster head', async () => {
    const r = await t.gql<{ alliance: { epoch: number; rosterHead: { seq: number } } }>('{ alliance { epoch rosterHead { seq } } }', undefined, await t.token('analyst'));
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    expect(r.body.data!.alliance).toEqual({ epoch, rosterHead: { seq: 2 } });
  });

  it('batchAlarms is for admins, and empty on a node without a network', async () => {
    const r = await t.gql<{ batchAlarms: unknown[] }>('{ batchAlarms { id seq } }', undefined, await t.token('admin'));
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    expect(r.body.data!.batchAlarms).toEqual([]);
    for (const role of ['analyst', 'trust'] as const) {
      const denied = await t.gql('{ batchAlarms { id } }', undefined, await t.token(role));
      expect(denied.body.errors?.[0]?.extensions?.code, role).toBe('FORBIDDEN');
    }
  });
});
