import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';

const norm = (v: string): string => normalize('device_id', v);

const reason = (v: string): string | undefined => refusal('device_id', v);

const digits = (n: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: n, maxLength: n }).map((a) => a.join(''));
const hexDigits = (n: number) => fc.array(fc.constantFrom(...'0123456789abcdef'), { minLength: n, maxLength: n }).map((a) => a.join(''));

function luhnDigit(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** Random case for each character. */
const recase = (s: string, mask: boolean[]): string => [...s].map((c, i) => (mask[i % mask.length] ? c.toUpperCase() : c)).join('');

describe('device_id', () => {
  it('IMEI: with or without check digit, as IMEISV, with separators: one canonical form; typos refused', () => {
    fc.assert(
      fc.property(digits(14), digits(2), fc.nat(), fc.integer({ min: 1, max: 9 }), (body, sv, k, shift) => {
        fc.pre(!/^0+$/.test(body));
        const imei = body + luhnDigit(body);
        const canonical = `imei:${imei}`;
        expect(norm(imei)).toBe(canonical);
        expect(norm(body)).toBe(canonical);
        expect(norm(`IMEISV: ${body}${sv}`)).toBe(canonical);
        expect(norm(`${imei.slice(0, 2)}-${imei.slice(2, 8)}-${imei.slice(8, 14)}-${imei[14]}`)).toBe(canonical);
        expect(norm(canonical)).toBe(canonical);
        const i = k % 15;
        const typo = imei.slice(0, i) + ((Number(imei[i]) + shift) % 10) + imei.slice(i + 1);
        expect(reason(typo)).toBe('device_id.bad_checksum');
      }),
      { numRuns: 300 },
    );
  });

  it('MAC: any separator style and case give the lower-case colon form', () => {
    fc.assert(
      fc.property(hexDigits(12), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), fc.constantFrom(':', '-', '.', ''), (hex, mask, sep) => {
        const canonical = `mac:${hex.match(/../g)!.join(':')}`;
        fc.pre(!['mac:00:00:00:00:00:00', 'mac:ff:ff:ff:ff:ff:ff', 'mac:02:00:00:00:00:00'].includes(canonical));
        const h = recase(hex, mask);
        const written = sep === '.' ? h.match(/..../g)!.join('.') : h.match(/../g)!.join(sep);
        expect(norm(written)).toBe(canonical);
        expect(norm(`MAC: ${written}`)).toBe(canonical);
        expect(norm(canonical)).toBe(canonical);
      }),
      { numRuns: 300 },
    );
  });

  it('advertising ids: case, braces, urn:uuid: and missing dashes do not matter', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.array(fc.boolean(), { minLength: 36, maxLength: 36 }), (u, mask) => {
        fc.pre(u !== '00000000-0000-0000-0000-000000000000');
        const canonical = `uuid:${u}`;
        expect(norm(recase(u, mask))).toBe(canonical);
        expect(norm(`{${u.toUpperCase()}}`)).toBe(canonical);
        expect(norm(`urn:uuid:${u}`)).toBe(canonical);
        expect(norm(`GAID: ${u.replace(/-/g, '')}`)).toBe(canonical);
        expect(norm(canonical)).toBe(canonical);
      }),
      { numRuns: 300 },
    );
  });

  it('MEID: hex with or without check digit and the 18-digit decimal form meet', () => {
    // Published example (3GPP2 S.R0048 / python-stdnum): AF 01 23 45 0A BC DE, check digit C, decimal 29360 87365 0070 3710.
    expect(norm('AF0123450ABCDEC')).toBe('meid:af0123450abcde');
    expect(norm('29360 87365 0070 3710 0')).toBe('meid:af0123450abcde');
    fc.assert(
      fc.property(fc.integer({ min: 0xa0, max: 0xff }), hexDigits(6), fc.integer({ min: 0, max: 0xffffff }), (rr, mid, serial) => {
        const hex = rr.toString(16) + mid + serial.toString(16).padStart(6, '0');
        const decimal = String(parseInt(hex.slice(0, 8), 16)).padStart(10, '0') + String(serial).padStart(8, '0');
        expect(norm(hex.toUpperCase())).toBe(`meid:${hex}`);
        expect(norm(decimal)).toBe(`meid:${hex}`);
      }),
      { numRuns: 300 },
    );
  });

  it('Android ids: 16 hex digits, leading zeros restored with a label', () => {
    expect(norm('ANDROID_ID: abc')).toBe('android:0000000000000abc');
    expect(norm('0123456789ABCDEF')).toBe('android:0123456789abcdef');
  });

  it('refuses the values many devices share', () => {
    expect(reason('00000000-0000-0000-0000-000000000000')).toBe('device_id.placeholder');
    expect(reason('IDFA: 00000000000000000000000000000000')).toBe('device_id.placeholder');
    expect(reason('000000000000000')).toBe('device_id.placeholder');
    expect(reason('ff:ff:ff:ff:ff:ff')).toBe('device_id.placeholder');
  });
});
