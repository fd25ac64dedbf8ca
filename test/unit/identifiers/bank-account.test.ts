import fc from 'fast-check';
import { composeIBAN } from 'ibantools';
import { describe, expect, it } from 'vitest';
import { normalize } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';

const norm = (v: string, region?: string): string => normalize('bank_account', v, { region });

const reason = (v: string, region?: string): string | undefined => refusal('bank_account', v, region);

const digits = (n: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: n, maxLength: n }).map((a) => a.join(''));
const letters = (n: number) => fc.array(fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), { minLength: n, maxLength: n }).map((a) => a.join(''));

function luhnComplete(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return payload + ((10 - (sum % 10)) % 10);
}

describe('bank_account', () => {
  it('a UK IBAN and its sort code and account number are one account', () => {
    fc.assert(
      fc.property(letters(4), digits(6), digits(8), fc.constantFrom(' ', '-', ''), (bank, sort, account, sep) => {
        const iban = composeIBAN({ countryCode: 'GB', bban: bank + sort + account })!;
        const canonical = `GB:${sort}:${account}`;
        expect(norm(iban)).toBe(canonical);
        expect(norm(`GB:${sort.replace(/(\d\d)(?=\d)/g, `$1${sep}`)}:${account}`)).toBe(canonical);
        expect(norm(canonical)).toBe(canonical);
      }),
      { numRuns: 200 },
    );
  });

  it('a UnionPay card is one account however it is written; any single-digit typo is refused', () => {
    fc.assert(
      fc.property(digits(16), fc.nat(), fc.integer({ min: 1, max: 9 }), (rest, k, shift) => {
        const card = luhnComplete(`62${rest}`);
        const canonical = `card:${card}`;
        expect(norm(card)).toBe(canonical);
        expect(norm(card.replace(/(\d{4})/g, '$1 '), 'CN')).toBe(canonical);
        expect(norm(`CN:ICBC:${card}`)).toBe(canonical);
        expect(norm(`银行卡：${card}`)).toBe(canonical);
        // A typo after the 62 prefix (a typo in it makes another, unchecked, Chinese account number).
        const i = 2 + (k % (card.length - 2));
        const typo = card.slice(0, i) + ((Number(card[i]) + shift) % 10) + card.slice(i + 1);
        expect(reason(typo, 'CN')).toBe('bank_account.bad_checksum');
      }),
      { numRuns: 300 },
    );
  });

  it('a Chinese account number is classified by its digits alone, so every spelling meets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 12, max: 25 }).chain((n) => digits(n)), (d) => {
        fc.pre(!d.startsWith('62'));
        const forms = [norm(d, 'CN'), norm(`CN::${d}`), norm(`CN:某银行:${d}`), norm(`CN:ICBC:${d}`)];
        expect(new Set(forms).size).toBe(1);
        expect(norm(forms[0]!)).toBe(forms[0]);
      }),
      { numRuns: 300 },
    );
  });

  it('countries with IBANs other than the UK must use them', () => {
    for (const cc of ['DE', 'FR', 'NL', 'ES', 'IT', 'CH']) expect(reason(`${cc}:12345678:1234567890`)).toBe('bank_account.use_iban');
  });

  it('US accounts need a valid ABA routing number', () => {
    expect(norm('US:021000021:123456789')).toBe('US:021000021:123456789');
    expect(reason('US:021000021:12')).toBe('bank_account.bad_length');
    for (let d = 0; d < 10; d++) {
      const routing = `02100002${d}`;
      expect(reason(`US:${routing}:123456789`)).toBe(d === 1 ? undefined : 'bank_account.bad_checksum');
    }
  });

  it('never repeats the account in its error messages', () => {
    for (const v of ['US:021000022:99887766', 'DE89 3704 0044 0532 0130 01', '6212 3456 7890 1234 568']) {
      try {
        norm(v, 'CN');
      } catch (err) {
        expect((err as Error).message).not.toMatch(/99887766|0532|6212/);
      }
    }
  });
});
