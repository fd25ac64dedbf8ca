import { bitcoinAddress, evmAddress, looksLikeBase58Btc, looksLikeBech32Btc, looksLikeEvm, looksLikeTron, tronAddress, type AddressResult } from './crypto-address.ts';
import { isDigits, luhnValid } from './checksums.ts';
import { normalizeEmail } from './email.ts';
import { canonicalIban, compactIban, looksLikeIban } from './iban.ts';
import { normalizePhone } from './phone.ts';
import { NormalizeError, type NormalizeOptions } from './types.ts';

/**
 * payment_account: `scheme:account`, scheme in lower case (schema/identifiers.md (`payment_account`)):
 *   iban:DE89370400440532013000     alipay:+8613800138000 / alipay:a@b.cn / alipay:2088…
 *   paypal:a@b.com / paypal:paypal.me/name   wechat:wxid_… / wechat:name / wechat:+86…
 *   card:4111111111111111   btc:bc1q… / btc:1… / btc:3…   eth:0x… (every EVM chain)   tron:T…
 *   anything else: <scheme>:<account as written, whitespace removed>
 * Error messages never repeat the account itself (they may be logged).
 */

const T = 'payment_account';

function fail(what: string, message: string): never {
  throw new NormalizeError(T, `${T}.${what}`, message);
}

type Scheme = 'iban' | 'alipay' | 'paypal' | 'wechat' | 'card' | 'btc' | 'eth' | 'tron' | 'crypto';

/** Labels people write before the account, reduced to lower-case letters and digits. */
const ALIASES: Readonly<Record<string, Scheme>> = {
  iban: 'iban',
  alipay: 'alipay',
  zhifubao: 'alipay',
  支付宝: 'alipay',
  支付寶: 'alipay',
  支付宝账号: 'alipay',
  支付宝账户: 'alipay',
  paypal: 'paypal',
  paypalme: 'paypal',
  wechat: 'wechat',
  wechatpay: 'wechat',
  weixin: 'wechat',
  weixinpay: 'wechat',
  wxpay: 'wechat',
  wx: 'wechat',
  微信: 'wechat',
  微信支付: 'wechat',
  微信号: 'wechat',
  card: 'card',
  cardnumber: 'card',
  creditcard: 'card',
  debitcard: 'card',
  pan: 'card',
  visa: 'card',
  mastercard: 'card',
  amex: 'card',
  unionpay: 'card',
  jcb: 'card',
  discover: 'card',
  银联: 'card',
  银行卡: 'card',
  btc: 'btc',
  bitcoin: 'btc',
  xbt: 'btc',
  eth: 'eth',
  ethereum: 'eth',
  evm: 'eth',
  erc20: 'eth',
  usdterc20: 'eth',
  usdcerc20: 'eth',
  bsc: 'eth',
  bep20: 'eth',
  usdtbep20: 'eth',
  bnb: 'eth',
  polygon: 'eth',
  matic: 'eth',
  arbitrum: 'eth',
  optimism: 'eth',
  avax: 'eth',
  tron: 'tron',
  trx: 'tron',
  trc20: 'tron',
  usdttrc20: 'tron',
  usdctrc20: 'tron',
  usdt: 'crypto',
  usdc: 'crypto',
  crypto: 'crypto',
  wallet: 'crypto',
};

/** Schemes kept as generic whose handles are case-insensitive: lower-cased, their sigil dropped. */
const CASE_INSENSITIVE: Readonly<Record<string, string>> = { venmo: '@', cashapp: '$', revolut: '@' };

const LABEL = /^([\p{L}\p{N}][\p{L}\p{N} ()._-]{0,39}?)\s*:\s*(.*)$/su;
const PAYPAL_LINK = /^(?:https?:\/\/)?(?:www\.)?(?:paypal\.me|paypal\.com\/paypalme)\/([^/?#\s]+)/i;
const ALIPAY_UID = /^2088\d{12}$/;

export function normalizePaymentAccount(value: string, _opts: NormalizeOptions): string {
  const s = value.normalize('NFKC').trim();

  // A paypal.me link carries its own scheme.
  const link = PAYPAL_LINK.exec(s);
  if (link) return paypalMe(link[1]!);

  const m = LABEL.exec(s);
  if (m) {
    const label = m[1]!.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
    if (label === 'http' || label === 'https') fail('bad_scheme', 'a web address is not a payment account (PayPal.me links aside)');
    const account = m[2]!.trim();
    if (account === '') fail('empty', 'has a scheme but no account after the colon');
    const scheme = ALIASES[label];
    if (scheme !== undefined) return withScheme(scheme, account);
    return generic(label, account);
  }
  // `Alipay 13912345678`, `USDT TRC20 T…`: one or two known scheme words without a colon.
  const words = s.split(/\s+/);
  for (const n of [2, 1]) {
    if (words.length <= n) continue;
    const scheme = ALIASES[words.slice(0, n).join('').toLowerCase().replace(/[^\p{L}\p{N}]/gu, '')];
    if (scheme !== undefined) return withScheme(scheme, words.slice(n).join(' '));
  }
  return recognise(s);
}

function withScheme(scheme: Scheme, account: string): string {
  switch (scheme) {
    case 'iban':
      return `iban:${canonicalIban(T, account)}`;
    case 'alipay':
      return alipay(account);
    case 'paypal':
      return paypal(account);
    case 'wechat':
      return wechat(account);
    case 'card':
      return card(account, true);
    case 'btc':
      return crypto('btc', bitcoinAddress(stripUriParams(account)));
    case 'eth':
      return crypto('eth', evmAddress(stripUriParams(account)));
    case 'tron':
      return crypto('tron', tronAddress(stripUriParams(account)));
    case 'crypto': {
      const a = stripUriParams(account);
      const found = recogniseCrypto(a);
      if (found === undefined) fail('unknown_address', 'is not a Bitcoin, Ethereum (EVM) or TRON address; name the chain (btc:, eth:, tron:, …)');
      return found;
    }
  }
}

/** An account written without a scheme: recognised by its shape, or refused. */
function recognise(s: string): string {
  const crypto = recogniseCrypto(s);
  if (crypto !== undefined) return crypto;
  const compact = compactIban(s);
  if (looksLikeIban(compact)) return `iban:${canonicalIban(T, compact)}`;
  const digits = s.replace(/[\s-]+/g, '');
  if (/[*xX•]/.test(digits) && /^[\d*xX•]{12,19}$/.test(digits)) return card(s, false);
  if (isDigits(digits)) {
    if (ALIPAY_UID.test(digits)) return `alipay:${digits}`;
    if (digits.length >= 12 && digits.length <= 19) return card(digits, false);
  }
  if (s.includes('@')) fail('no_scheme', 'an email address can be a PayPal or an Alipay account: write paypal:… or alipay:…');
  if (/^\+?[\d\s()-]{6,}$/.test(s)) fail('no_scheme', 'a phone number can be an Alipay or a WeChat Pay account: write alipay:… or wechat:…');
  fail('no_scheme', 'cannot tell the payment scheme: write it as scheme:account (iban:, alipay:, paypal:, wechat:, card:, btc:, eth:, tron:, …)');
}

function recogniseCrypto(s: string): string | undefined {
  if (looksLikeEvm(s)) return crypto('eth', evmAddress(s));
  // A TRON address may begin "TB1", like a testnet bech32 one: its checksum tells them apart.
  if (looksLikeTron(s)) {
    const tron = tronAddress(s);
    if (!('what' in tron)) return crypto('tron', tron);
  }
  if (looksLikeBech32Btc(s)) return crypto('btc', bitcoinAddress(s));
  if (looksLikeTron(s)) return crypto('tron', tronAddress(s));
  if (looksLikeBase58Btc(s)) return crypto('btc', bitcoinAddress(s));
  return undefined;
}

function crypto(scheme: string, r: AddressResult): string {
  if ('what' in r) fail(r.what, r.message);
  return `${scheme}:${r.address}`;
}

/** `bitcoin:bc1…?amount=1` (BIP 21), `ethereum:0x…@56/transfer?…` (EIP-681): the address only. */
function stripUriParams(a: string): string {
  return a.replace(/\s+/g, '').replace(/^(?:bitcoin|ethereum|tron):/i, '').replace(/^pay-/, '').replace(/[@/?#].*$/s, '');
}

function alipay(account: string): string {
  const a = account.replace(/\s+/g, '');
  if (ALIPAY_UID.test(a)) return `alipay:${a}`;
  if (a.includes('@')) return `alipay:${viaEmail(a, 'Alipay')}`;
  if (/^[+\d().-]+$/.test(a)) return `alipay:${viaPhone(a, 'Alipay')}`;
  fail('bad_format', 'an Alipay account is a phone number, an email address or a 16-digit user id starting 2088');
}

function paypal(account: string): string {
  const link = PAYPAL_LINK.exec(account);
  if (link) return paypalMe(link[1]!);
  if (account.includes('@') && !account.startsWith('@')) return `paypal:${viaEmail(account, 'PayPal')}`;
  // A bare name (or @name) is a PayPal.me name.
  return paypalMe(account.replace(/^@/, ''));
}

function paypalMe(name: string): string {
  const n = name.toLowerCase();
  if (!/^[a-z0-9._-]{1,64}$/.test(n)) fail('bad_format', 'a PayPal.me name has 1–64 letters, digits, dots, dashes or underscores');
  return `paypal:paypal.me/${n}`;
}

const WECHAT_ID = /^[a-z][a-z0-9_-]{5,19}$/;
const WXID = /^wxid_[a-z0-9_-]{1,40}$/;

function wechat(account: string): string {
  const a = account.replace(/\s+/g, '');
  const lower = a.toLowerCase();
  if (WXID.test(lower) || WECHAT_ID.test(lower)) return `wechat:${lower}`;
  if (/^[+\d().-]+$/.test(a)) return `wechat:${viaPhone(a, 'WeChat')}`;
  if (/^[a-z]/i.test(a) && (a.length < 6 || a.length > 20)) fail('bad_length', `a WeChat ID has 6 to 20 characters; this has ${a.length}`);
  fail('bad_format', 'a WeChat ID starts with a letter and has 6–20 letters, digits, "_" or "-"; or give the phone number');
}

function card(account: string, explicit: boolean): string {
  const d = account.replace(/[\s.-]+/g, '');
  if (/[*xX•]/.test(d)) fail('masked_card', 'the card number is masked; only a full card number can be matched');
  if (!isDigits(d)) {
    const bad = /[^0-9]/.exec(d)?.[0] ?? '';
    fail('bad_characters', `a card number has digits only; it cannot contain "${bad}"`);
  }
  if (d.length < 12 || d.length > 19) fail('bad_length', `a card number has 12 to 19 digits; this has ${d.length}`);
  if (!luhnValid(d)) {
    fail('bad_checksum', explicit ? 'the card number fails the Luhn check (mistyped?)' : 'a 12–19-digit number is read as a card number, and this one fails the Luhn check (mistyped?)');
  }
  return `card:${d}`;
}

function viaEmail(a: string, what: string): string {
  try {
    return normalizeEmail(a, {});
  } catch (err) {
    if (err instanceof NormalizeError) throw new NormalizeError(T, `${T}.bad_email`, `${what} account: ${err.message}`);
    throw err;
  }
}

function viaPhone(a: string, what: string): string {
  try {
    // Alipay and WeChat are Chinese wallets: a number without +country code is read as Chinese.
    return normalizePhone(a, { region: 'CN' });
  } catch (err) {
    if (err instanceof NormalizeError) throw new NormalizeError(T, `${T}.bad_phone`, `${what} account: ${err.message}`);
    throw err;
  }
}

function generic(label: string, account: string): string {
  if (!/^[a-z][a-z0-9]{1,31}$/.test(label)) {
    fail('bad_scheme', 'a scheme name has 2–32 Latin letters and digits, starting with a letter');
  }
  let a = account.replace(/\s+/g, '');
  const sigil = CASE_INSENSITIVE[label];
  if (sigil !== undefined) {
    a = a.toLowerCase();
    while (a.startsWith(sigil)) a = a.slice(1);
  }
  if (a === '') fail('empty', 'has a scheme but no account');
  if (a.length > 256) fail('bad_length', `an account has at most 256 characters; this has ${a.length}`);
  if (/[\p{C}]/u.test(a)) fail('bad_characters', 'the account contains control or invisible characters');
  return `${label}:${a}`;
}
