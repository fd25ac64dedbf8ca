import { describe, expect, it } from 'vitest';
import { DEFAULT_SEED, demoExamples, generateDemoData, recurringCount } from '../../../node/demo/data.ts';
import { DEMO_MEMBERS } from '../../../node/demo/members.ts';
import { normalize, tryNormalize } from '../../../node/identifiers/normalize.ts';
import { validateRecordInput } from '../../../node/records/model.ts';

const canonical = (type: Parameters<typeof normalize>[0], value: string, region = 'US') => normalize(type, value, { region });

describe('demo data generator', () => {
  it('makes the same records for the same options, and other records for another seed', () => {
    const a = generateDemoData({ recordsPerMember: 120 });
    const b = generateDemoData({ recordsPerMember: 120 });
    expect([...a.records.entries()]).toEqual([...b.records.entries()]);
    expect(a.recurring).toEqual(b.recurring);
    expect(a.examples).toEqual(b.examples);
    const other = generateDemoData({ recordsPerMember: 120, seed: `${DEFAULT_SEED}-other` });
    expect(other.records.get('bazaarly')).not.toEqual(a.records.get('bazaarly'));
  });

  it('gives every member exactly the records asked for, each a valid record input', () => {
    for (const n of [1, 7, 300]) {
      const data = generateDemoData({ recordsPerMember: n });
      expect([...data.records.keys()]).toEqual(DEMO_MEMBERS.map((m) => m.id));
      for (const [member, records] of data.records) {
        expect(records, member).toHaveLength(n);
        for (const r of records) {
          const fields = validateRecordInput(r as unknown as Record<string, unknown>);
          expect(fields.identifiers.length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('writes only identifiers the normalisers accept, in the record\'s region', () => {
    const data = generateDemoData({ recordsPerMember: 1000 });
    const invalid: unknown[] = [];
    const types = new Set<string>();
    for (const records of data.records.values()) {
      for (const r of records) {
        for (const id of r.identifiers) {
          types.add(id.type);
          const res = tryNormalize(id.type, id.value, { region: r.region });
          if ('error' in res) invalid.push(res);
        }
      }
    }
    expect(invalid).toEqual([]);
    expect([...types].sort()).toEqual(['business_id', 'domain', 'email', 'ip', 'payment_account', 'phone', 'shop', 'url']);
  });

  it('spells each recurring seller differently at each member, to the same canonical forms', () => {
    const data = generateDemoData({ recordsPerMember: 1000 });
    expect(data.recurring).toHaveLength(recurringCount(1000));
    expect(data.recurring.length).toBe(60);
    for (const seller of data.recurring) {
      expect(seller.holders.length).toBeGreaterThanOrEqual(2);
      const byType = new Map<string, Array<{ member: string; value: string; canonical: string }>>();
      for (const member of seller.holders) {
        const ids = seller.spellings[member]!;
        expect(ids.some((x) => x.type === 'phone'), `${seller.name} at ${member} has its phone`).toBe(true);
        for (const id of ids) {
          const list = byType.get(id.type) ?? [];
          list.push({ member, value: id.value, canonical: canonical(id.type, id.value) });
          byType.set(id.type, list);
        }
      }
      for (const [type, list] of byType) {
        expect(new Set(list.map((x) => x.canonical)).size, `${seller.name}: ${type}`).toBe(1);
        expect(new Set(list.map((x) => x.value)).size, `${seller.name}: ${type} spelled alike`).toBe(list.length);
      }
      // The seller's record at each holder carries exactly those spellings.
      for (const member of seller.holders) {
        const records = data.records.get(member)!.filter((r) => r.identifiers === seller.spellings[member]);
        expect(records, `${seller.name} at ${member}`).toHaveLength(1);
        expect(records[0]!.status).not.toBe('CLEARED');
      }
    }
  });

  it('spells the phones, emails, shops, web addresses and payment accounts in the ways the normalisers unify', () => {
    const seller = generateDemoData({ recordsPerMember: 60 }).recurring[0]!;
    const at = (member: string, type: string) => seller.spellings[member]!.find((x) => x.type === type)!.value;
    expect(at('bazaarly', 'phone')).toMatch(/^\+1 202-555-01\d\d$/);
    expect(at('marketnest', 'phone')).toMatch(/^\(202\) 555 01\d\d$/);
    expect(at('marketnest', 'email')).not.toBe(at('marketnest', 'email').toLowerCase());
    expect(at('aurelia', 'email')).toMatch(/^[\w ]+ <[A-Z0-9.]+@example\.(com|net|org)>$/);
    expect(at('marketnest', 'url')).toMatch(/^http:\/\/www\..+\/\?utm_source=/);
    expect(at('aurelia', 'url')).toMatch(/\?fbclid=/);
    expect(at('bazaarly', 'domain')).not.toMatch(/^www\./);
    expect(at('marketnest', 'domain')).toMatch(/^www\./);
    const iban = generateDemoData({ recordsPerMember: 60 }).recurring[2]!;
    expect(iban.spellings.marketnest!.find((x) => x.type === 'payment_account')!.value).toMatch(/^[A-Z]{2}\d\d( [A-Z0-9]{1,4})+$/);
  });

  it('keeps every other identifier to one member: only recurring sellers match across members', () => {
    const data = generateDemoData({ recordsPerMember: 1000 });
    const recurringRecords = new Set(data.recurring.flatMap((s) => Object.values(s.spellings)));
    const holders = new Map<string, Set<string>>();
    for (const [member, records] of data.records) {
      for (const r of records) {
        if (recurringRecords.has(r.identifiers)) continue;
        for (const id of r.identifiers) {
          const key = `${id.type}:${canonical(id.type, id.value, r.region)}`;
          const set = holders.get(key) ?? new Set<string>();
          set.add(member);
          holders.set(key, set);
        }
      }
    }
    const shared = [...holders].filter(([, s]) => s.size > 1).map(([k]) => k);
    expect(shared).toEqual([]);
  });

  it('makes examples from the member\'s own spelling, expected at the other members that hold the seller', () => {
    const data = generateDemoData({ recordsPerMember: 60 });
    expect(data.examples.map((e) => [e.member, e.type])).toEqual([
      ['bazaarly', 'phone'],
      ['marketnest', 'email'],
      ['aurelia', 'payment_account'],
      ['bazaarly', 'shop'],
    ]);
    for (const e of data.examples) {
      const seller = data.recurring.find((s) => s.name === e.seller)!;
      expect(seller.spellings[e.member]!.some((x) => x.type === e.type && x.value === e.value)).toBe(true);
      expect([...e.expect].sort()).toEqual(seller.holders.filter((h) => h !== e.member).sort());
      for (const other of e.expect) {
        const theirs = seller.spellings[other]!.find((x) => x.type === e.type)!.value;
        expect(theirs).not.toBe(e.value);
        expect(canonical(e.type, theirs)).toBe(canonical(e.type, e.value));
      }
    }
    expect(demoExamples({ recordsPerMember: 60 })).toEqual(data.examples);
    expect(demoExamples({ recordsPerMember: 1000 })).toEqual(generateDemoData({ recordsPerMember: 1000 }).examples);
    // One record per member still gives one example (the phone).
    expect(generateDemoData({ recordsPerMember: 1 }).examples.map((e) => e.type)).toEqual(['phone']);
  });

  it('refuses a record count that is not a whole number from 1 on', () => {
    expect(() => generateDemoData({ recordsPerMember: 0 })).toThrow(RangeError);
    expect(() => generateDemoData({ recordsPerMember: 2.5 })).toThrow(/whole number from 1/);
  });
});
