import { countryCode } from './countries.ts';
import { isDigits, luhnValid } from './checksums.ts';
import { canonicalIban, compactIban, isIbanCountry, looksLikeIban } from './iban.ts';
import { NormalizeError, type NormalizeOptions } from './types.ts';

/**
 * bank_account, one of three canonical forms (schema/identifiers.md (`bank_account`)):
 *   iban:DE89370400440532013000      an IBAN (electronic format), except the UK's:
 *   GB:200000:55779911               UK sort code and account (also what a GB IBAN becomes)
 *   card:6212345678901232            a bank card number (13–19 digits, Luhn)
 *   CC:BANK:ACCOUNT                  a domestic account of a country without IBANs, e.g.
 *                                    US:021000021:123456789 (ABA routing number and account),
 *                                    CN::1202020409900012345 (China: no bank code, see the doc)
 */

const T = 'bank_account';

function fail(what: string, message: string): never {
  throw new NormalizeError(T, `${T}.${what}`, message);
}

const IBAN_LABELS = new Set(['IBAN']);
const CARD_LABELS = new Set(['CARD', 'CARDNUMBER', 'BANKCARD', 'DEBITCARD', 'CREDITCARD', 'UNIONPAY', '卡号', '银行卡', '银行卡号', '银联卡', '銀行卡']);

const SEPARATORS = /[\s\-./]+/g;
/** Digits with a run of mask characters: 6222********0128, 6222 •••• •••• 0128. */
const MASKED = /^\d*[*X•]{2,}\d*$/;

export function normalizeBankAccount(value: string, opts: NormalizeOptions): string {
  const s = value.normalize('NFKC').trim().toUpperCase();
  const region = opts.region === undefined ? undefined : countryCode(opts.region);

  const ibanWord = /^IBAN\s+(.*)$/s.exec(s);
  if (ibanWord) return iban(ibanWord[1]!);
  const cardWord = /^(\S+)\s+([\d\s*•X-]+)$/s.exec(s);
  if (cardWord && CARD_LABELS.has(cardWord[1]!.replace(/[_-]+/g, ''))) return card(cardWord[2]!);

  const parts = s.split(/\s*:\s*/);
  if (parts.length > 1) {
    const label = parts[0]!.replace(/[\s_-]+/g, '');
    if (IBAN_LABELS.has(label)) return iban(parts.slice(1).join(''));
    if (CARD_LABELS.has(label)) return card(parts.slice(1).join(''));
    if (!/^[A-Z]{2}$/.test(label)) fail('bad_format', 'write a domestic account as CC:BANK:ACCOUNT (country, bank code, account number), an IBAN or a card number');
    const cc = countryCode(label);
    if (cc === undefined) fail('bad_country', `"${label}" is not an ISO 3166-1 two-letter country code`);
    if (parts.length > 3) fail('bad_format', 'a domestic account has three parts, CC:BANK:ACCOUNT');
    const bank = parts.length === 3 ? parts[1]! : '';
    return domestic(cc, bank, parts[parts.length - 1]!);
  }

  const compact = compactIban(s);
  if (looksLikeIban(compact)) return iban(compact);

  // Something that starts like an IBAN gets the IBAN's error (unknown country, length…).
  if (/^[A-Z]{2}\d{2}/.test(compact)) return iban(compact);
  const digits = s.replace(SEPARATORS, '');
  if (MASKED.test(digits)) fail('masked', 'the account number is masked; only a full number can be matched');
  if (!isDigits(digits)) fail('bad_format', 'is not an IBAN, a card number or a domestic account (CC:BANK:ACCOUNT)');
  if (isCard(digits)) return `card:${digits}`;
  if (unionPayBadLuhn(digits)) fail('bad_checksum', 'this 62… UnionPay card number fails the Luhn check (mistyped?)');
  if (region === undefined) fail('no_country', 'a domestic account number needs its country: write CC:BANK:ACCOUNT or give the region');
  return domestic(region, '', digits);
}

function iban(v: string): string {
  const canonical = canonicalIban(T, v);
  // UK accounts are known by sort code and account number: GBkk BBBB SSSSSS AAAAAAAA.
  if (canonical.startsWith('GB')) return `GB:${canonical.slice(8, 14)}:${canonical.slice(14)}`;
  return `iban:${canonical}`;
}

function isCard(d: string): boolean {
  return d.length >= 13 && d.length <= 19 && luhnValid(d);
}

function unionPayBadLuhn(d: string): boolean {
  return d.startsWith('62') && d.length >= 16 && d.length <= 19 && !luhnValid(d);
}

function card(v: string): string {
  const d = v.replace(SEPARATORS, '');
  if (MASKED.test(d)) fail('masked', 'the card number is masked; only a full number can be matched');
  if (!isDigits(d)) fail('bad_characters', 'a card number has digits only');
  if (d.length < 13 || d.length > 19) fail('bad_length', `a bank card number has 13 to 19 digits; this has ${d.length}`);
  if (!luhnValid(d)) fail('bad_checksum', 'the last digit of this card number fails the Luhn check (mistyped?)');
  return `card:${d}`;
}

/** ABA routing number check: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10). */
function abaValid(r: string): boolean {
  const d = (i: number): number => r.charCodeAt(i) - 48;
  return (3 * (d(0) + d(3) + d(6)) + 7 * (d(1) + d(4) + d(7)) + (d(2) + d(5) + d(8))) % 10 === 0;
}

function domestic(cc: string, rawBank: string, rawAccount: string): string {
  const bank = rawBank.replace(SEPARATORS, '');
  const account = rawAccount.replace(SEPARATORS, '');
  if (account === '') fail('bad_length', 'the account number is empty');
  if (MASKED.test(account)) fail('masked', 'the account number is masked; only a full number can be matched');
  if (!/^[0-9A-Z]+$/.test(account)) fail('bad_characters', 'an account number has letters A–Z and digits only (separators aside)');

  if (cc === 'CN') {
    // China: the account number alone; the bank part, if any, is ignored (it is written too many
    // ways to compare: name, abbreviation, CNAPS code…; account numbers are de facto unique across banks).
    if (!isDigits(account)) fail('bad_characters', 'a Chinese bank account number has digits only');
    if (account.length < 8 || account.length > 30) fail('bad_length', `a Chinese bank account number has 8 to 30 digits; this has ${account.length}`);
    if (isCard(account)) return `card:${account}`;
    if (unionPayBadLuhn(account)) fail('bad_checksum', 'this 62… UnionPay card number fails the Luhn check (mistyped?)');
    return `CN::${account}`;
  }
  if (cc === 'GB') {
    if (!/^\d{6}$/.test(bank)) fail(bank === '' ? 'no_bank_code' : 'bad_bank_code', 'a UK account needs its 6-digit sort code: GB:SORTCODE:ACCOUNT');
    if (!isDigits(account) || account.length < 6 || account.length > 8) fail('bad_length', `a UK account number has 8 digits (6 or 7 are padded with zeros); this has ${account.length}`);
    return `GB:${bank}:${account.padStart(8, '0')}`;
  }
  if (!/^[0-9A-Z]*$/.test(bank)) fail('bad_characters', 'a bank code has letters A–Z and digits only (separators aside)');
  if (isIbanCountry(cc)) fail('use_iban', `accounts of ${cc} are written as IBANs: give the IBAN`);
  if (bank === '') fail('no_bank_code', `an account number of ${cc} is unique only within its bank: write ${cc}:BANK:ACCOUNT`);
  if (cc === 'US') {
    if (!/^\d{9}$/.test(bank)) fail('bad_bank_code', 'a US bank code is the 9-digit ABA routing number');
    if (!abaValid(bank)) fail('bad_checksum', 'the check digit of this ABA routing number does not match (mistyped?)');
    if (!isDigits(account) || account.length < 4 || account.length > 17) fail('bad_length', `a US account number has 4 to 17 digits; this has ${account.length}`);
  }
  if (bank.length > 20) fail('bad_bank_code', `a bank code has at most 20 letters and digits; this has ${bank.length}`);
  if (account.length > 34) fail('bad_length', `an account number has at most 34 letters and digits; this has ${account.length}`);
  return `${cc}:${bank}:${account}`;
}
