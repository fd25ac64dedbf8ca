import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';

const norm = (v: string, region?: string): string => normalize('business_id', v, { region });

const reason = (v: string, region?: string): string | undefined => refusal('business_id', v, region);

// An implementation of the GB 32100-2015 check character independent of the one under test.
const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
function usccCheck(body17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += ALPHABET.indexOf(body17[i]!) * 3 ** i;
  return ALPHABET[(31 - (sum % 31)) % 31]!;
}

const usccChar = fc.constantFrom(...ALPHABET);
const digit = fc.constantFrom(...'0123456789');
/** Random well-formed USCCs: authority, type, 6-digit division, 9-character subject code, check. */
const uscc = fc
  .tuple(fc.array(usccChar, { minLength: 2, maxLength: 2 }), fc.array(digit, { minLength: 6, maxLength: 6 }), fc.array(usccChar, { minLength: 9, maxLength: 9 }))
  .map(([a, b, c]) => {
    const body = a.join('') + b.join('') + c.join('');
    return body + usccCheck(body);
  });
const separator = fc.constantFrom('', ' ', '-', '.', '/', '  ');

describe('business_id: China USCC', () => {
  it('accepts every well-formed USCC with its check character, and the canonical form is a fixed point', () => {
    fc.assert(
      fc.property(uscc, (code) => {
        expect(norm(code)).toBe(`CN:USCC:${code}`);
        expect(norm(`CN:USCC:${code}`)).toBe(`CN:USCC:${code}`);
      }),
      { numRuns: 500 },
    );
  });

  it('ignores separators, case, width and the way the scheme is written', () => {
    fc.assert(
      fc.property(uscc, fc.array(separator, { minLength: 18, maxLength: 18 }), fc.boolean(), fc.constantFrom('', 'USCC ', 'uscc: ', '统一社会信用代码：', 'CN:USCC:'), (code, seps, lower, prefix) => {
        let written = [...code].map((c, i) => c + seps[i]).join('').trim();
        if (lower) written = written.toLowerCase();
        expect(norm(prefix + written, 'CN')).toBe(`CN:USCC:${code}`);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses every single-character substitution (the mod 31 check catches them all)', () => {
    fc.assert(
      fc.property(uscc, fc.integer({ min: 0, max: 17 }), fc.integer({ min: 1, max: 30 }), (code, pos, shift) => {
        const c = code[pos]!;
        // Keep the administrative division numeric so the error is the checksum, not the format.
        const pool = pos >= 2 && pos < 8 ? '0123456789' : ALPHABET;
        const replacement = pool[(pool.indexOf(c) + shift) % pool.length]!;
        fc.pre(replacement !== c);
        const typo = code.slice(0, pos) + replacement + code.slice(pos + 1);
        expect(reason(typo, 'CN')).toBe('business_id.bad_checksum');
      }),
      { numRuns: 500 },
    );
  });

  it('explains which character is not in the USCC alphabet', () => {
    for (const bad of ['I', 'O', 'S', 'V', 'Z']) {
      let err: NormalizeError | undefined;
      try {
        norm(`91350100M000100${bad}43`, 'CN');
      } catch (e) {
        err = e as NormalizeError;
      }
      expect(err?.reason).toBe('business_id.bad_characters');
      expect(err?.message).toContain(`"${bad}"`);
    }
  });
});

describe('business_id: VAT, EIN and others', () => {
  it('reads the VAT country from the prefix, the label or the region, in that order', () => {
    expect(norm('DE136695976', 'FR')).toBe('DE:VAT:136695976');
    expect(norm('VAT: 136695976', 'DE')).toBe('DE:VAT:136695976');
    expect(norm('FR:VAT:FR40303265045')).toBe('FR:VAT:40303265045');
    expect(reason('DE:VAT:FR40303265045')).toBe('business_id.country_mismatch');
  });

  it('keeps Greek VAT under GR and Northern Irish VAT under GB', () => {
    expect(norm('EL 094 259 216')).toBe('GR:VAT:094259216');
    expect(norm('GR:VAT:EL094259216')).toBe('GR:VAT:094259216');
    expect(norm('XI980780684')).toBe(norm('GB980780684'));
  });

  it('checks the VAT check digits of DE, FR, IT, ES, NL, GB, AT, BE and PL', () => {
    const good = ['DE136695976', 'FR40303265045', 'IT00743110157', 'ESB58378431', 'ES54362315K', 'ESX5253868R', 'NL004495445B01', 'GB980780684', 'ATU13585627', 'BE0411905847', 'PL8567346215'];
    for (const v of good) expect(() => norm(v)).not.toThrow();
    // One check-relevant character changed in each.
    const typos = ['DE136695975', 'FR40303265046', 'IT00743110158', 'ESB58378432', 'ES54362315L', 'ESX5253868S', 'NL004495446B01', 'GB980780685', 'ATU13585628', 'BE0411905848', 'PL8567346216'];
    for (const v of typos) expect([v, reason(`VAT ${v}`)]).toEqual([v, 'business_id.bad_checksum']);
  });

  it('accepts Dutch sole-trader VAT numbers (MOD 97-10) as well as RSIN-based ones', () => {
    // NL + 9 digits + B + 2 digits with NL...mod 97 = 1, computed here.
    const base = '12345678';
    for (let d = 0; d < 10; d++) {
      const n = `${base}${d}B01`;
      const big = BigInt(
        `NL${n}`
          .split('')
          .map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c))
          .join(''),
      );
      const elf = [...n.slice(0, 8)].reduce((s, c, i) => s + Number(c) * (9 - i), 0) - d;
      const valid = big % 97n === 1n || elf % 11 === 0;
      expect(reason(`NL${n}`)).toBe(valid ? undefined : 'business_id.bad_checksum');
    }
  });

  it('checks EIN prefixes against the IRS list', () => {
    expect(norm('EIN 98-7654321')).toBe('US:EIN:987654321');
    for (const p of ['00', '07', '08', '09', '17', '18', '19', '28', '29', '49', '69', '70', '78', '79', '89', '96', '97']) {
      expect(reason(`EIN ${p}-1234567`)).toBe('business_id.bad_prefix');
    }
  });

  it('pads Companies House numbers and keeps their letter prefix', () => {
    expect(norm('GB:CRN:123')).toBe('GB:CRN:00000123');
    expect(norm('GB:CRN:SC 12345')).toBe('GB:CRN:SC012345');
    expect(norm('Company No: 04567890', 'GB')).toBe('GB:CRN:04567890');
    expect(reason('GB:CRN:123456789')).toBe('business_id.bad_length');
  });

  it('leaves unknown schemes generic, upper-cased and without separators', () => {
    expect(norm('de:hrb:12 345')).toBe('DE:HRB:12345');
    expect(norm('KVK: 1234.5678', 'NL')).toBe('NL:KVK:12345678');
    expect(norm('DE HRB: 12345')).toBe('DE:HRB:12345');
    expect(reason('KVK: 12345678')).toBe('business_id.no_country');
  });

  it('never repeats the raw identifier in its error messages', () => {
    for (const v of ['ACME-SECRET-4711', 'VAT XYZSECRET', 'CN:USCC:SECRETSECRETSECRET1']) {
      try {
        norm(v);
      } catch (err) {
        expect((err as Error).message).not.toMatch(/SECRET/i);
      }
    }
  });

  it('normalises any labelled generic id idempotently', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .\-/]{0,30}$/);
    const scheme = fc.stringMatching(/^[A-Z][A-Z0-9]{2,10}$/);
    fc.assert(
      fc.property(fc.constantFrom('DE', 'FR', 'JP', 'BR', 'SG'), scheme, id, (cc, s, i) => {
        let canonical: string;
        try {
          canonical = norm(`${cc}:${s}:${i}`);
        } catch (err) {
          if (err instanceof NormalizeError) return;
          throw err;
        }
        expect(norm(canonical)).toBe(canonical);
      }),
      { numRuns: 300 },
    );
  });
});
