import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';

const phone = (v: string, region?: string) => normalize('phone', v, { region });
const reasonOf = (v: string, region?: string): string | undefined => refusal('phone', v, region);

/** Valid numbers by region: [E.164, national significant number split in groups, trunk prefix]. */
const NUMBERS: { region: string; cc: string; groups: string[]; trunk: string }[] = [
  { region: 'CN', cc: '86', groups: ['138', '0013', '8000'], trunk: '' },
  { region: 'CN', cc: '86', groups: ['10', '6552', '9988'], trunk: '0' },
  { region: 'US', cc: '1', groups: ['201', '555', '0123'], trunk: '' },
  { region: 'GB', cc: '44', groups: ['20', '7946', '0958'], trunk: '0' },
  { region: 'DE', cc: '49', groups: ['30', '9018', '2000'], trunk: '0' },
  { region: 'JP', cc: '81', groups: ['90', '1234', '5678'], trunk: '0' },
];
const e164 = (n: (typeof NUMBERS)[number]) => `+${n.cc}${n.groups.join('')}`;

describe('phone normalisation', () => {
  it('gives one E.164 form whatever the separators, prefix style and region', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...NUMBERS),
        fc.constantFrom(' ', '-', '.', '', ' - '),
        fc.constantFrom('plus', 'plus-spaced', '00', 'national', 'paren'),
        fc.constantFrom('', ' ', '  '),
        (n, sep, style, pad) => {
          const body = n.groups.join(sep);
          let input: string;
          let region: string | undefined;
          if (style === 'plus') input = `+${n.cc}${sep}${body}`;
          else if (style === 'plus-spaced') input = `+${n.cc} ${body}`;
          else if (style === '00') input = `00${n.cc} ${body}`;
          else if (style === 'paren') input = `(+${n.cc}) ${body}`;
          else {
            input = `${n.trunk}${body}`;
            region = n.region;
          }
          const canonical = phone(pad + input + pad, region);
          expect(canonical).toBe(e164(n));
          expect(phone(canonical, region)).toBe(canonical);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads full-width digits and plus sign', () => {
    const fw = (s: string) => s.replace(/[0-9+]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
    for (const n of NUMBERS) expect(phone(fw(`+${n.cc} ${n.groups.join(' ')}`))).toBe(e164(n));
  });

  it('ignores the region for international numbers', () => {
    for (const region of [undefined, 'CN', 'US', 'BR', 'XX']) expect(phone('+86 138 0013 8000', region)).toBe('+8613800138000');
  });

  it('reads a national number in the region given, and refuses it without one', () => {
    expect(phone('138 0013 8000', 'CN')).toBe('+8613800138000');
    expect(reasonOf('138 0013 8000')).toBe('phone.no_region');
    expect(reasonOf('138 0013 8000', 'XX')).toBe('phone.unknown_region');
  });

  it('takes 0086… as international even in a region whose international prefix is not 00', () => {
    expect(phone('0086 138 0013 8000', 'US')).toBe('+8613800138000');
    expect(phone('011 86 138 0013 8000', 'US')).toBe('+8613800138000');
  });

  it('refuses extensions in every common notation', () => {
    for (const v of ['+1 201 555 0123 ext. 12', '+1 201 555 0123 x12', '+1 201 555 0123;ext=12', '+86 10 6552 9988 转 801', '+86 10 6552 9988 分机801']) {
      expect(reasonOf(v)).toBe('phone.has_extension');
    }
  });

  it('says why a number is refused, with phone.* reasons and without repeating the number', () => {
    const cases: [string, string][] = [
      ['+999 555 0123', 'phone.invalid_country_code'],
      ['+86 12', 'phone.too_short'],
      ['+86 5551234567890123456', 'phone.too_long'],
      ['+86 138 5555 000', 'phone.invalid_number'],
      ['+1 999 555 0123', 'phone.invalid_number'],
      ['phone: 555', 'phone.not_a_number'],
    ];
    for (const [v, reason] of cases) {
      let err: unknown;
      try {
        phone(v);
      } catch (e) {
        err = e;
      }
      expect(err, v).toBeInstanceOf(NormalizeError);
      expect((err as NormalizeError).reason, v).toBe(reason);
      expect((err as NormalizeError).message).not.toMatch(/555/);
    }
  });

  it('either normalises any text to a fixed point or refuses it with a NormalizeError', () => {
    const pieces = ['+', '00', '86', '1', '138', '0013', '8000', ' ', '-', '.', '(', ')', 'x', 'ext', '#', '转', 'tel:', '０', '＋', 'a'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 10 }), fc.constantFrom(undefined, 'CN', 'US'), (parts, region) => {
        let c: string;
        try {
          c = phone(parts.join(''), region);
        } catch (err) {
          expect(err).toBeInstanceOf(NormalizeError);
          return;
        }
        expect(c).toMatch(/^\+[1-9]\d{6,14}$/);
        expect(phone(c, region)).toBe(c);
      }),
      { numRuns: 2000 },
    );
  });
});
