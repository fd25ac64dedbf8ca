import fc from 'fast-check';
import { composeIBAN } from 'ibantools';
import { createBase58check, bech32, bech32m } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import { normalize } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';

const norm = (v: string): string => normalize('payment_account', v);

const reason = (v: string): string | undefined => refusal('payment_account', v);

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const bytes20 = fc.uint8Array({ minLength: 20, maxLength: 20 });
const b58c = createBase58check(sha256);

/** EIP-55 mixed-case form, computed here. */
function eip55(lowerHex: string): string {
  const h = keccak_256(new TextEncoder().encode(lowerHex));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const c = lowerHex[i]!;
    const nibble = (h[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 15;
    out += /[a-f]/.test(c) && nibble >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

function luhnComplete(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return payload + ((10 - (sum % 10)) % 10);
}

describe('payment_account: IBAN', () => {
  it('any separators and case inside a valid IBAN give its electronic format', () => {
    const bban = fc.array(fc.constantFrom(...'0123456789'), { minLength: 18, maxLength: 18 }).map((a) => a.join(''));
    fc.assert(
      fc.property(bban, fc.array(fc.constantFrom('', ' ', '-', '  '), { minLength: 22, maxLength: 22 }), fc.boolean(), (b, seps, lower) => {
        const iban = composeIBAN({ countryCode: 'DE', bban: b })!;
        let written = [...iban].map((c, i) => c + seps[i]).join('').trim();
        if (lower) written = written.toLowerCase();
        expect(norm(written)).toBe(`iban:${iban}`);
        expect(norm(`IBAN: ${written}`)).toBe(`iban:${iban}`);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an IBAN with any single digit changed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 21 }), fc.integer({ min: 1, max: 9 }), (pos, shift) => {
        const iban = 'DE89370400440532013000';
        const typo = iban.slice(0, pos) + ((Number(iban[pos]) + shift) % 10) + iban.slice(pos + 1);
        expect(reason(typo)).toBe('payment_account.bad_checksum');
      }),
    );
  });
});

describe('payment_account: crypto wallets', () => {
  it('EVM addresses: lower, upper and EIP-55 spellings are one account', () => {
    fc.assert(
      fc.property(bytes20, (b) => {
        const lower = hex(b);
        const canonical = `eth:0x${lower}`;
        expect(norm(`0x${lower}`)).toBe(canonical);
        expect(norm(`0x${lower.toUpperCase()}`)).toBe(canonical);
        expect(norm(eip55(lower))).toBe(canonical);
        expect(norm(canonical)).toBe(canonical);
      }),
      { numRuns: 200 },
    );
  });

  it('EVM addresses: flipping the case of one letter of an EIP-55 address breaks its checksum', () => {
    fc.assert(
      fc.property(bytes20, fc.nat(), (b, k) => {
        const mixed = eip55(hex(b));
        const letters = [...mixed.slice(2)].map((c, i) => [c, i] as const).filter(([c]) => /[a-fA-F]/.test(c));
        // Only meaningful when the address has mixed case after the flip.
        fc.pre(letters.length >= 2);
        const [c, i] = letters[k % letters.length]!;
        const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
        const typo = `0x${mixed.slice(2, 2 + i)}${flipped}${mixed.slice(3 + i)}`;
        fc.pre(typo.slice(2) !== typo.slice(2).toLowerCase() && typo.slice(2) !== typo.slice(2).toUpperCase());
        expect(reason(typo)).toBe('payment_account.bad_checksum');
      }),
      { numRuns: 200 },
    );
  });

  it('Bitcoin base58 (P2PKH, P2SH) and bech32 (v0) / bech32m (v1) addresses round-trip', () => {
    fc.assert(
      fc.property(bytes20, fc.constantFrom(0x00, 0x05), (b, version) => {
        const address = b58c.encode(Uint8Array.from([version, ...b]));
        expect(norm(address)).toBe(`btc:${address}`);
        expect(norm(`btc:${address}`)).toBe(`btc:${address}`);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(bytes20, (b) => {
        const v0 = bech32.encode('bc', [0, ...bech32.toWords(b)]);
        expect(norm(v0.toUpperCase())).toBe(`btc:${v0}`);
        const program32 = Uint8Array.from([...b, ...b.slice(0, 12)]);
        const v1 = bech32m.encode('bc', [1, ...bech32m.toWords(program32)]);
        expect(norm(v1)).toBe(`btc:${v1}`);
        // The wrong checksum variant for the version is refused.
        const wrong = bech32.encode('bc', [1, ...bech32.toWords(program32)]);
        expect(reason(wrong)).toBe('payment_account.bad_checksum');
      }),
      { numRuns: 200 },
    );
  });

  it('TRON: an address beginning TB1 is TRON, not testnet bech32 (fast-check found one)', () => {
    const address = b58c.encode(Uint8Array.from([0x41, 11, 79, ...new Array<number>(18).fill(0)]));
    expect(address.startsWith('TB1')).toBe(true);
    expect(norm(address)).toBe(`tron:${address}`);
  });

  it('TRON: the hex (41…) and base58 (T…) forms are one address', () => {
    fc.assert(
      fc.property(bytes20, (b) => {
        const address = b58c.encode(Uint8Array.from([0x41, ...b]));
        expect(address.startsWith('T')).toBe(true);
        expect(norm(address)).toBe(`tron:${address}`);
        expect(norm(`tron:41${hex(b)}`)).toBe(`tron:${address}`);
      }),
      { numRuns: 200 },
    );
  });
});

describe('payment_account: cards, wallets, generic', () => {
  it('card numbers: separators do not matter; every single-digit typo is refused (Luhn)', () => {
    const payload = fc.array(fc.constantFrom(...'0123456789'), { minLength: 14, maxLength: 15 }).map((a) => `4${a.join('')}`);
    fc.assert(
      fc.property(payload, fc.nat(), fc.integer({ min: 1, max: 9 }), (p, k, shift) => {
        const pan = luhnComplete(p);
        expect(norm(`card: ${pan.replace(/(\d{4})/g, '$1 ')}`)).toBe(`card:${pan}`);
        const i = k % pan.length;
        const typo = pan.slice(0, i) + ((Number(pan[i]) + shift) % 10) + pan.slice(i + 1);
        expect(reason(`card:${typo}`)).toBe('payment_account.bad_checksum');
      }),
      { numRuns: 300 },
    );
  });

  it('WeChat IDs are case-insensitive; PayPal.me names too', () => {
    expect(norm('WeChat: LuckyShop_88')).toBe(norm('weixin:luckyshop_88'));
    expect(norm('https://paypal.me/LuckyShop')).toBe(norm('PayPal: @luckyshop'));
  });

  it('an email needs its scheme, and keeps the email rules inside it', () => {
    expect(reason('seller@example.com')).toBe('payment_account.no_scheme');
    expect(norm('paypal: Seller@Example.COM')).toBe('paypal:seller@example.com');
    expect(norm('alipay:seller@example.com')).not.toBe(norm('paypal:seller@example.com'));
  });

  it('generic schemes keep the account as written, whitespace removed', () => {
    expect(norm('Solana: 7EcDhSYG xXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV')).toBe('solana:7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV');
    expect(norm('Cash App: $LuckyShop')).toBe('cashapp:luckyshop');
  });

  it('never repeats the account in its error messages', () => {
    for (const v of ['alipay:SECRETVALUE', 'card:4111 1111 1111 1112', 'wechat:secret', 'SECRET SECRET', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD']) {
      try {
        norm(v);
      } catch (err) {
        expect((err as Error).message).not.toMatch(/SECRET|4111|5aAeb/i);
      }
    }
  });
});
