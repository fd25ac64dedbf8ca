import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordStore, insertRecords, MAX_PAGE_SIZE, RECORD_CURSOR, type RecordFilter } from '../../../node/records/store.ts';
import { RecordError, validateRecordInput, validateRecordPatch, type Actor, type RawRecordInput, type StoredRecord } from '../../../node/records/model.ts';
import { AllianceError, ValidationError } from '../../../node/errors.ts';
import { STORAGES, openTestDb, type TestDb } from '../../helpers/storage.ts';
import { PAST_NINE, restartIdentity, walkPages } from '../../helpers/paging.ts';

const ALICE: Actor = { sub: 'alice@member.test', role: 'analyst' };
const BOB: Actor = { sub: 'bob@member.test', role: 'admin' };
const CLI: Actor = { sub: 'operator', role: null };
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

const fields = (input: RawRecordInput) => validateRecordInput(input);

/** The error `p` rejects with (a RecordError, or a ValidationError for bad input); fails if it resolves. */
async function rejection(p: Promise<unknown>): Promise<RecordError | ValidationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AllianceError);
  return err as RecordError | ValidationError;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cursors', () => {
  it('round-trip a sequence number and are opaque', () => {
    const c = RECORD_CURSOR.encode('123456789012345678');
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(c).not.toContain('123');
    expect(RECORD_CURSOR.decode(c, 'after')).toBe('123456789012345678');
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['without the prefix', Buffer.from('42').toString('base64url')],
    ['with another prefix', Buffer.from('r2:42').toString('base64url')],
    ['not a number', Buffer.from('r1:abc').toString('base64url')],
    ['negative', Buffer.from('r1:-5').toString('base64url')],
    ['too large', Buffer.from(`r1:${'9'.repeat(19)}`).toString('base64url')],
    ['trailing text', Buffer.from('r1:5 OR 1=1').toString('base64url')],
    ['too long', 'A'.repeat(65)],
  ])('refuse a cursor that is %s, naming the field', (_, cursor) => {
    let err: unknown;
    try {
      RECORD_CURSOR.decode(cursor, 'after');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).problems).toEqual([{ field: 'after', message: expect.stringMatching(/not a cursor/) }]);
  });
});

interface Expected {
  id: string;
  kind: string;
  status: string;
  categories: string[];
  text: string[];
}

/**
 * One database per storage for the whole file: the listing tests run first, on records they create
 * themselves (and count exactly); the change tests after them only add records of their own.
 */
describe.each(STORAGES)('records on %s', (kind) => {
  let t: TestDb;
  let store: RecordStore;
  beforeAll(async () => {
    t = await openTestDb(kind);
    store = new RecordStore(t.db);
  });
  afterAll(() => t.close());

  describe('listing', () => {
    /** Every record in insertion order, as the filters see them. */
    const all: Expected[] = [];
    let updatedLater: StoredRecord;

    const FIXTURES: RawRecordInput[] = [
      { kind: 'SHOP', name: 'Acme 100% Genuine', categories: ['COUNTERFEIT'], status: 'CONFIRMED' },
      { kind: 'SHOP', name: 'Shop 1000 items', categories: ['TRADEMARK', 'COPYRIGHT'] },
      { kind: 'SELLER', name: 'Under_score Seller', categories: ['PATENT'], status: 'DISPUTED' },
      { kind: 'SELLER', name: 'Fur Seller', categories: [], externalId: 'CASE-42' },
      { kind: 'PERSON', name: 'Back\\slash Person', notes: 'Sells ROLEX-ish watches', status: 'CONFIRMED' },
      { kind: 'COMPANY', name: 'Plain Company', categories: ['COUNTERFEIT', 'GREY_MARKET'], notes: 'nothing special' },
      { kind: 'PERSON', name: 'Underscore-free Person', categories: ['GREY_MARKET'], status: 'CLEARED' },
    ];

    const remember = (r: StoredRecord) =>
      all.push({ id: r.id, kind: r.kind, status: r.status, categories: r.categories, text: [r.name, r.externalId ?? '', r.notes ?? ''] });

    /** Reads every page of `filter` with page size `first`. */
    async function readAll(filter: RecordFilter, first: number) {
      const pages: Array<{ ids: string[]; hasNextPage: boolean }> = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.list(filter, first, after);
        pages.push({ ids: page.records.map((r) => r.id), hasNextPage: page.hasNextPage });
        if (!page.hasNextPage) break;
        expect(pages.length).toBeLessThan(50);
        after = page.records.at(-1)!.cursor;
      }
      return pages;
    }
    const ids = async (filter: RecordFilter) => (await store.list(filter, MAX_PAGE_SIZE, null)).records.map((r) => r.id);

    beforeAll(async () => {
      for (const f of FIXTURES) remember(await store.create(fields(f), ALICE));
      // 120 more: 60 one by one, 60 in one batch (as an import writes them).
      for (let i = 0; i < 60; i++) remember(await store.create(fields({ kind: 'LISTING', name: `Page item ${i}`, categories: ['OTHER'] }), ALICE));
      const batch = Array.from({ length: 60 }, (_, i) => fields({ kind: 'LISTING', name: `Page item ${60 + i}`, categories: ['OTHER'] }));
      const batchIds = await t.db.transaction((tx) => insertRecords(tx, batch, ALICE, 'import'));
      for (const id of batchIds) remember((await store.get(id))!);
      await sleep(10);
      updatedLater = await store.update(all[1]!.id, { notes: 'touched' }, BOB);
      all[1]!.text[2] = 'touched';
    });

    it('pages through all records with first=50, each exactly once, in insertion order', async () => {
      expect(all).toHaveLength(127);
      const pages = await readAll({}, 50);
      expect(pages.map((p) => p.ids.length)).toEqual([50, 50, 27]);
      expect(pages.map((p) => p.hasNextPage)).toEqual([true, true, false]);
      expect(pages.flatMap((p) => p.ids)).toEqual(all.map((r) => r.id));
    });

    it('pages through 120 filtered records with first=50', async () => {
      const pages = await readAll({ kind: ['LISTING'] }, 50);
      expect(pages.map((p) => p.ids.length)).toEqual([50, 50, 20]);
      expect(pages.map((p) => p.hasNextPage)).toEqual([true, true, false]);
      const expected = all.filter((r) => r.kind === 'LISTING').map((r) => r.id);
      expect(expected).toHaveLength(120);
      expect(pages.flatMap((p) => p.ids)).toEqual(expected);
    });

    it('says there is no next page when the last page is exactly full', async () => {
      const pages = await readAll({ kind: ['LISTING'] }, 60);
      expect(pages.map((p) => [p.ids.length, p.hasNextPage])).toEqual([
        [60, true],
        [60, false],
      ]);
    });

    it('continues after any record\'s cursor, and gives an empty last page after the last one', async () => {
      const first = await store.list({}, 10, null);
      expect(first.records.map((r) => r.id)).toEqual(all.slice(0, 10).map((r) => r.id));
      const fromFourth = await store.list({}, 3, first.records[3]!.cursor);
      expect(fromFourth.records.map((r) => r.id)).toEqual(all.slice(4, 7).map((r) => r.id));
      const whole = await store.list({}, MAX_PAGE_SIZE, null);
      expect(whole.hasNextPage).toBe(false);
      const end = await store.list({}, 10, whole.records.at(-1)!.cursor);
      expect(end).toEqual({ records: [], hasNextPage: false });
    });

    it('gives an empty page for first=0, saying whether there are records', async () => {
      expect(await store.list({}, 0, null)).toEqual({ records: [], hasNextPage: true });
      expect(await store.list({ text: 'no record has this text' }, 0, null)).toEqual({ records: [], hasNextPage: false });
    });

    it('returns full records with their cursors', async () => {
      const page = await store.list({ text: 'Acme' }, 5, null);
      expect(page.records).toHaveLength(1);
      const { cursor, ...record } = page.records[0]!;
      expect(record).toEqual(await store.get(all[0]!.id));
      expect(typeof cursor).toBe('string');
    });

    it.each([
      ['garbage', 'not-a-cursor'],
      ['empty', ''],
      ['a forged one', Buffer.from('r1:1; DROP TABLE records').toString('base64url')],
    ])('refuses an invalid cursor (%s) with BAD_USER_INPUT', async (_, after) => {
      const err = await rejection(store.list({}, 10, after));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'after', message: expect.any(String) }] });
    });

    it.each([MAX_PAGE_SIZE + 1, 10_000, -1, 1.5, Number.NaN])('refuses first=%s with BAD_USER_INPUT', async (first) => {
      const err = await rejection(store.list({}, first, null));
      expect(err).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'first', message: expect.stringMatching(/0 to 500/) }] });
    });

    it('accepts first=500', async () => {
      expect((await store.list({}, MAX_PAGE_SIZE, null)).records).toHaveLength(127);
    });

    it('filters by status (any of several)', async () => {
      expect(await ids({ status: ['CONFIRMED'] })).toEqual(all.filter((r) => r.status === 'CONFIRMED').map((r) => r.id));
      expect(await ids({ status: ['CONFIRMED'] })).toHaveLength(2);
      expect(await ids({ status: ['DISPUTED', 'CLEARED'] })).toEqual([all[2]!.id, all[6]!.id]);
      // An empty list does not filter.
      expect(await ids({ status: [] })).toHaveLength(127);
    });

    it('filters by kind', async () => {
      expect(await ids({ kind: ['PERSON'] })).toEqual([all[4]!.id, all[6]!.id]);
      expect(await ids({ kind: ['SELLER', 'COMPANY'] })).toEqual([all[2]!.id, all[3]!.id, all[5]!.id]);
    });

    it('filters by category: records with any of the categories given', async () => {
      expect(await ids({ category: ['COPYRIGHT', 'PATENT'] })).toEqual([all[1]!.id, all[2]!.id]);
      expect(await ids({ category: ['COUNTERFEIT'] })).toEqual([all[0]!.id, all[5]!.id]);
      expect(await ids({ category: ['GREY_MARKET'] })).toEqual([all[5]!.id, all[6]!.id]);
      expect(await ids({ category: ['DESIGN'] })).toEqual([]);
    });

    it('filters by text in name, external id or notes, ignoring case', async () => {
      expect(await ids({ text: 'acme' })).toEqual([all[0]!.id]);
      expect(await ids({ text: 'ACME 100' })).toEqual([all[0]!.id]);
      expect(await ids({ text: 'case-42' })).toEqual([all[3]!.id]);
      expect(await ids({ text: 'rolex' })).toEqual([all[4]!.id]);
      expect(await ids({ text: 'TOUCHED' })).toEqual([all[1]!.id]);
      expect(await ids({ text: '  Plain Company  ' })).toEqual([all[5]!.id]);
    });

    it('matches % _ and \\ in the text literally, not as wildcards', async () => {
      expect(await ids({ text: '100%' })).toEqual([all[0]!.id]);
      expect(await ids({ text: '%' })).toEqual([all[0]!.id]);
      expect(await ids({ text: '_' })).toEqual([all[2]!.id]);
      expect(await ids({ text: 'r_s' })).toEqual([all[2]!.id]);
      expect(await ids({ text: 'k\\s' })).toEqual([all[4]!.id]);
      expect(await ids({ text: '\\' })).toEqual([all[4]!.id]);
      expect(await ids({ text: 'Page item 1_' })).toEqual([]);
    });

    it('treats blank text as no filter, and refuses text over 200 characters', async () => {
      expect(await ids({ text: '   ' })).toHaveLength(127);
      const err = await rejection(store.list({ text: 'x'.repeat(201) }, 10, null));
      expect(err).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'filter.text', message: expect.any(String) }] });
    });

    it('filters by updatedSince (at or after the instant)', async () => {
      expect(await ids({ updatedSince: updatedLater.updatedAt })).toEqual([all[1]!.id]);
      expect(await ids({ updatedSince: '2000-01-01T00:00:00Z' })).toHaveLength(127);
      expect(await ids({ updatedSince: new Date(Date.now() + 3_600_000).toISOString() })).toEqual([]);
      const err = await rejection(store.list({ updatedSince: 'yesterday-ish' }, 10, null));
      expect(err).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'filter.updatedSince', message: expect.any(String) }] });
    });

    it('combines filters (all must hold) and pages through the combination', async () => {
      const filter: RecordFilter = { kind: ['SHOP', 'LISTING'], category: ['OTHER', 'COUNTERFEIT'], text: 'e' };
      const expected = all
        .filter((r) => ['SHOP', 'LISTING'].includes(r.kind) && r.categories.some((c) => ['OTHER', 'COUNTERFEIT'].includes(c)) && r.text.some((x) => /e/i.test(x)))
        .map((r) => r.id);
      expect(expected).toHaveLength(121);
      const pages = await readAll(filter, 50);
      expect(pages.flatMap((p) => p.ids)).toEqual(expected);
      expect(await ids({ status: ['CONFIRMED'], kind: ['PERSON'], text: 'rolex' })).toEqual([all[4]!.id]);
      expect(await ids({ status: ['CONFIRMED'], kind: ['SHOP'], text: 'rolex' })).toEqual([]);
    });

    it('counts the records matching a filter', async () => {
      expect(await store.count()).toBe(127);
      expect(await store.count({})).toBe(127);
      expect(await store.count({ kind: ['LISTING'] })).toBe(120);
      expect(await store.count({ status: ['CONFIRMED'] })).toBe(2);
      expect(await store.count({ category: ['COUNTERFEIT', 'PATENT'] })).toBe(3);
      expect(await store.count({ text: '_' })).toBe(1);
      expect(await store.count({ updatedSince: updatedLater.updatedAt })).toBe(1);
      expect(await store.count({ kind: ['LISTING'], text: 'Page item 11' })).toBe(11); // 11, 110..119
      await expect(store.count({ text: 'y'.repeat(201) })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    });
  });

  describe('changes', () => {
    const identifierRows = async (id: string) =>
      (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM record_identifiers WHERE record_id = $1', [id])).rows[0]!.n;

    it('creates a record with every field, recording who made it, and reads it back', async () => {
      const r = await store.create(
        fields({
          kind: 'SELLER',
          name: 'Synthetic Séller 🛒',
          identifiers: [
            { type: 'EMAIL', value: 'seller@example.com' },
            { type: 'phone', value: '+358 40 000 0001' },
            { type: 'url', value: 'https://shop.example.test/s/1' },
          ],
          categories: ['COUNTERFEIT', 'TRADEMARK'],
          status: 'CONFIRMED',
          confidence: 85,
          brands: ['BrandA'],
          notes: 'multi\nline "notes"',
          evidence: ['case-7', 'photo-9'],
          externalId: 'EXT-7',
        }),
        ALICE,
      );
      expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r).toMatchObject({
        kind: 'SELLER',
        name: 'Synthetic Séller 🛒',
        identifiers: [
          { type: 'email', value: 'seller@example.com', canonical: 'seller@example.com' },
          { type: 'phone', value: '+358 40 000 0001', canonical: '+358400000001' },
          { type: 'url', value: 'https://shop.example.test/s/1', canonical: 'https://shop.example.test/s/1' },
        ],
        categories: ['COUNTERFEIT', 'TRADEMARK'],
        status: 'CONFIRMED',
        confidence: 85,
        brands: ['BrandA'],
        notes: 'multi\nline "notes"',
        evidence: ['case-7', 'photo-9'],
        externalId: 'EXT-7',
        version: 1,
        createdBy: ALICE.sub,
        updatedBy: ALICE.sub,
      });
      expect(new Date(r.createdAt).toISOString()).toBe(r.createdAt);
      expect(r.updatedAt).toBe(r.createdAt);
      expect(Math.abs(Date.parse(r.createdAt) - Date.now())).toBeLessThan(60_000);
      expect(await store.get(r.id)).toEqual(r);

      const history = await store.history(r.id);
      expect(history).toEqual([{ action: 'create', actor: ALICE.sub, role: 'analyst', at: expect.any(String), fields: [], reason: null }]);
      expect(Date.parse(history[0]!.at)).toBe(Date.parse(r.createdAt));
    });

    it('creates a record with only the required fields', async () => {
      const r = await store.create(fields({ kind: 'PERSON', name: 'Minimal Person' }), CLI);
      expect(r).toMatchObject({ identifiers: [], categories: [], brands: [], evidence: [], notes: null, externalId: null, status: 'SUSPECTED', confidence: 50 });
      expect(await store.history(r.id)).toMatchObject([{ action: 'create', actor: 'operator', role: null }]);
    });

    it('returns null for a record that does not exist', async () => {
      expect(await store.get(MISSING_ID)).toBeNull();
    });

    it('updates only the fields given, bumping the version and recording who and what', async () => {
      const r = await store.create(fields({ kind: 'SHOP', name: 'Before', notes: 'keep me', brands: ['X'], identifiers: [{ type: 'shop', value: 'example-market:shop-1' }] }), ALICE);
      await sleep(5);
      const u = await store.update(r.id, { name: 'After', confidence: 90, categories: ['PATENT', 'DESIGN'], externalId: 'EXT-9' }, BOB);
      expect(u).toMatchObject({
        id: r.id,
        kind: 'SHOP',
        name: 'After',
        confidence: 90,
        categories: ['PATENT', 'DESIGN'],
        externalId: 'EXT-9',
        notes: 'keep me',
        brands: ['X'],
        identifiers: [{ type: 'shop', value: 'example-market:shop-1', canonical: 'example-market:shop-1' }],
        version: 2,
        createdBy: ALICE.sub,
        createdAt: r.createdAt,
        updatedBy: BOB.sub,
      });
      expect(Date.parse(u.updatedAt)).toBeGreaterThan(Date.parse(r.updatedAt));
      expect(await store.get(r.id)).toEqual(u);

      const u2 = await store.update(r.id, { notes: null, brands: [], evidence: ['e-1'], status: 'DISPUTED', kind: 'COMPANY' }, ALICE);
      expect(u2).toMatchObject({ notes: null, brands: [], evidence: ['e-1'], status: 'DISPUTED', kind: 'COMPANY', version: 3, updatedBy: ALICE.sub });

      const history = await store.history(r.id);
      expect(history.map((h) => [h.action, h.actor, h.role])).toEqual([
        ['create', ALICE.sub, 'analyst'],
        ['update', BOB.sub, 'admin'],
        ['update', ALICE.sub, 'analyst'],
      ]);
      expect(history[1]!.fields.sort()).toEqual(['categories', 'confidence', 'externalId', 'name']);
      expect(history[2]!.fields.sort()).toEqual(['brands', 'evidence', 'kind', 'notes', 'status']);
      expect(history.every((h, i) => i === 0 || h.at >= history[i - 1]!.at)).toBe(true);
    });

    it('replaces the identifiers in the order given, and keeps them when not given', async () => {
      const r = await store.create(
        fields({
          kind: 'SHOP',
          name: 'Ident Shop',
          identifiers: [
            { type: 'email', value: 'a@example.com' },
            { type: 'email', value: 'b@example.com' },
            { type: 'domain', value: 'c.example.com' },
          ],
        }),
        ALICE,
      );
      const replaced = [
        { type: 'ip' as const, value: '192.0.2.7', canonical: '192.0.2.7' },
        { type: 'email' as const, value: 'b@example.com', canonical: 'b@example.com' },
        { type: 'bank_account' as const, value: 'FI21 1234 5600 0007 85', canonical: 'iban:FI2112345600000785' },
        { type: 'address' as const, value: 'Synthetic Street 1', canonical: 'synthetic st 1' },
      ];
      // The fixture is what validation makes of these values.
      expect(validateRecordPatch({ identifiers: replaced.map(({ type, value }) => ({ type, value })) }).identifiers).toEqual(replaced);
      const u = await store.update(r.id, { identifiers: replaced }, ALICE);
      expect(u.identifiers).toEqual(replaced);
      expect((await store.get(r.id))!.identifiers).toEqual(replaced);
      expect(await identifierRows(r.id)).toBe(4);

      const named = await store.update(r.id, { name: 'Renamed Ident Shop' }, ALICE);
      expect(named.identifiers).toEqual(replaced);

      const fewer = await store.update(r.id, { identifiers: [replaced[3]!, replaced[0]!] }, ALICE);
      expect(fewer.identifiers).toEqual([replaced[3], replaced[0]]);
      expect(await identifierRows(r.id)).toBe(2);

      const none = await store.update(r.id, { identifiers: [] }, ALICE);
      expect(none.identifiers).toEqual([]);
      expect(await identifierRows(r.id)).toBe(0);
      expect((await store.history(r.id)).at(-1)!.fields).toEqual(['identifiers']);
    });

    it('refuses an update with a stale expectedVersion (CONFLICT), changing nothing', async () => {
      const r = await store.create(fields({ kind: 'SHOP', name: 'Versioned' }), ALICE);
      const v2 = await store.update(r.id, { name: 'Versioned 2' }, ALICE, 1);
      expect(v2.version).toBe(2);

      const err = await rejection(store.update(r.id, { name: 'Lost update' }, BOB, 1));
      expect(err.code).toBe('CONFLICT');
      expect(err.details).toMatchObject({ id: r.id, version: 2 });
      expect(await store.get(r.id)).toEqual(v2);
      expect(await store.history(r.id)).toHaveLength(2);

      // Without expectedVersion the update always applies.
      expect((await store.update(r.id, { name: 'Versioned 3' }, BOB, null)).version).toBe(3);
    });

    it('lets exactly one of two concurrent updates with the same expectedVersion win', async () => {
      const r = await store.create(fields({ kind: 'SHOP', name: 'Race' }), ALICE);
      const results = await Promise.allSettled([
        store.update(r.id, { name: 'Race A' }, ALICE, 1),
        store.update(r.id, { name: 'Race B' }, BOB, 1),
      ]);
      const won = results.filter((x) => x.status === 'fulfilled');
      const lost = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toMatchObject({ code: 'CONFLICT' });
      expect((await store.get(r.id))!.version).toBe(2);
    });

    it('answers NOT_FOUND for a record that does not exist', async () => {
      expect((await rejection(store.update(MISSING_ID, { name: 'x' }, ALICE))).code).toBe('NOT_FOUND');
      expect((await rejection(store.update(MISSING_ID, { name: 'x' }, ALICE, 1))).code).toBe('NOT_FOUND');
      expect((await rejection(store.setStatus(MISSING_ID, 'CLEARED', null, ALICE))).code).toBe('NOT_FOUND');
      expect((await rejection(store.delete(MISSING_ID, null, ALICE))).code).toBe('NOT_FOUND');
      expect(await store.history(MISSING_ID)).toEqual([]);
    });

    it('refuses to update a column that is not a record field', async () => {
      const r = await store.create(fields({ kind: 'SHOP', name: 'Guarded' }), ALICE);
      const patch = { 'name = name, created_by': 'mallory' } as unknown as Parameters<RecordStore['update']>[1];
      const err = await rejection(store.update(r.id, patch, ALICE));
      expect(err.code).toBe('BAD_USER_INPUT');
      expect(await store.get(r.id)).toMatchObject({ createdBy: ALICE.sub, version: 1 });
    });

    it('sets the status with a reason, recording who', async () => {
      const r = await store.create(fields({ kind: 'LISTING', name: 'Status Listing' }), ALICE);
      const s = await store.setStatus(r.id, 'CONFIRMED', 'test purchase was fake', BOB);
      expect(s).toMatchObject({ status: 'CONFIRMED', version: 2, updatedBy: BOB.sub, createdBy: ALICE.sub, name: 'Status Listing' });
      const c = await store.setStatus(r.id, 'CLEARED', null, CLI);
      expect(c).toMatchObject({ status: 'CLEARED', version: 3, updatedBy: 'operator' });
      expect((await store.history(r.id)).slice(1)).toEqual([
        { action: 'status', actor: BOB.sub, role: 'admin', at: expect.any(String), fields: ['status'], reason: 'test purchase was fake' },
        { action: 'status', actor: 'operator', role: null, at: expect.any(String), fields: ['status'], reason: null },
      ]);
    });

    it('refuses an unknown status and an over-long reason', async () => {
      const r = await store.create(fields({ kind: 'LISTING', name: 'Status Refusals' }), ALICE);
      const bad = await rejection(store.setStatus(r.id, 'MAYBE' as never, null, ALICE));
      expect(bad).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'status', message: expect.any(String) }] });
      const long = await rejection(store.setStatus(r.id, 'CLEARED', 'r'.repeat(2001), ALICE));
      expect(long).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'reason', message: expect.stringMatching(/2001/) }] });
      const longDelete = await rejection(store.delete(r.id, 'r'.repeat(2001), ALICE));
      expect(longDelete).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'reason', message: expect.any(String) }] });
      expect(await store.get(r.id)).toMatchObject({ status: 'SUSPECTED', version: 1 });
    });

    it('deletes a record with its identifiers, and keeps its history with who deleted it and why', async () => {
      const r = await store.create(fields({ kind: 'SHOP', name: 'Doomed', identifiers: [{ type: 'domain', value: 'doomed.example.com' }] }), ALICE);
      await store.setStatus(r.id, 'DISPUTED', 'member objected', ALICE);
      await store.delete(r.id, 'entered by mistake', BOB);
      expect(await store.get(r.id)).toBeNull();
      expect(await identifierRows(r.id)).toBe(0);
      const history = await store.history(r.id);
      expect(history.map((h) => h.action)).toEqual(['create', 'status', 'delete']);
      expect(history[2]).toEqual({ action: 'delete', actor: BOB.sub, role: 'admin', at: expect.any(String), fields: [], reason: 'entered by mistake' });
      // Gone: a second delete, an update and a status change all answer NOT_FOUND, and add no history.
      expect((await rejection(store.delete(r.id, null, BOB))).code).toBe('NOT_FOUND');
      expect((await rejection(store.update(r.id, { name: 'ghost' }, BOB))).code).toBe('NOT_FOUND');
      expect(await store.history(r.id)).toHaveLength(3);
    });
  });
});

describe.each(STORAGES)('records past seq 9, 99 and 2^31 on %s', (kind) => {
  it('pages in insertion order across each edge, every record once', async () => {
    const t = await openTestDb(kind);
    try {
      const store = new RecordStore(t.db);
      const item = (i: number) => fields({ kind: 'LISTING', name: `Edge item ${i}` });
      const made = await t.db.transaction((tx) => insertRecords(tx, Array.from({ length: PAST_NINE.before }, (_, i) => item(i)), ALICE, 'import'));
      await restartIdentity(t.db, 'records', PAST_NINE.restartAt, 'seq');
      for (let i = 0; i < PAST_NINE.after; i++) made.push((await store.create(item(PAST_NINE.before + i), ALICE)).id);
      for (const first of [1, 7, 40]) {
        const { items } = await walkPages(async (after) => {
          const page = await store.list({}, first, after);
          return { items: page.records.map((r) => r.id), hasNextPage: page.hasNextPage, endCursor: page.records.at(-1)?.cursor ?? null };
        });
        expect(items, `first=${first}`).toEqual(made);
      }
      const { rows } = await t.db.query<{ seq: string }>('SELECT max(seq) AS seq FROM records');
      expect(rows[0]!.seq).toBe(String(PAST_NINE.restartAt + PAST_NINE.after - 1));
    } finally {
      await t.close();
    }
  }, 120_000);
});
