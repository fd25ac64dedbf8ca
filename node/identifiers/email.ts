import { parse as parseDomain } from 'tldts';
import { hostToAscii, labelProblem } from './domain.ts';
import { NormalizeError, type NormalizeOptions } from './types.ts';
import { reservedName, reservedNameMessage } from './reserved.ts';

/*
 * email: rules in schema/identifiers.md (`email`), in the order applied here.
 *
 * Libraries: the domain goes through node:url's domainToASCII (UTS #46 / WHATWG IDNA, the same
 * mapping browsers use) when it is not plain ASCII or holds an `xn--` label, and its last label is
 * checked against the public suffix list through tldts. Error messages name the rule broken and at
 * most one offending character, never the address itself (messages may end up in logs).
 */

const fail = (reason: string, message: string): never => {
  throw new NormalizeError('email', `email.${reason}`, message);
};

/** Mailbox providers whose addressing rules are applied (see the doc for sources and reasons). */
interface Provider {
  /** Domain every domain of the group is rewritten to (one mailbox namespace), if any. */
  domain?: string;
  /** Remove `+tag` sub-addresses. */
  plusTags?: boolean;
  /** Characters removed from the mailbox name (they are transparent for the provider). */
  transparent?: RegExp;
}

const GMAIL: Provider = { domain: 'gmail.com', plusTags: true, transparent: /\./g };
const ICLOUD: Provider = { domain: 'icloud.com', plusTags: true };
const PROTON: Provider = { domain: 'proton.me', plusTags: true, transparent: /[._-]/g };
const PLUS_ONLY: Provider = { plusTags: true };

const MICROSOFT = [
  'outlook.com', 'outlook.fr', 'outlook.de', 'outlook.es', 'outlook.it', 'outlook.jp', 'outlook.kr', 'outlook.com.br', 'outlook.com.au',
  'hotmail.com', 'hotmail.co.uk', 'hotmail.fr', 'hotmail.de', 'hotmail.it', 'hotmail.es', 'hotmail.co.jp', 'hotmail.com.br', 'hotmail.com.ar',
  'hotmail.com.au', 'hotmail.ca', 'hotmail.nl', 'hotmail.be', 'hotmail.se', 'hotmail.dk', 'hotmail.no', 'hotmail.fi', 'hotmail.gr', 'hotmail.com.tr',
  'live.com', 'live.co.uk', 'live.fr', 'live.de', 'live.it', 'live.nl', 'live.be', 'live.ca', 'live.com.au', 'live.com.mx', 'live.cn', 'live.jp',
  'msn.com', 'passport.com', 'windowslive.com',
];
const FASTMAIL = [
  'fastmail.com', 'fastmail.fm', 'fastmail.cn', 'fastmail.co.uk', 'fastmail.com.au', 'fastmail.de', 'fastmail.es', 'fastmail.in',
  'fastmail.jp', 'fastmail.net', 'fastmail.nl', 'fastmail.se', 'fastmail.to', 'fastmail.tw', 'fastmail.uk', 'fastmail.us',
];

const PROVIDERS = new Map<string, Provider>([
  ['gmail.com', GMAIL],
  ['googlemail.com', GMAIL],
  ['icloud.com', ICLOUD],
  ['me.com', ICLOUD],
  ['mac.com', ICLOUD],
  ['proton.me', PROTON],
  ['protonmail.com', PROTON],
  ['protonmail.ch', PROTON],
  ['pm.me', PROTON],
  ...MICROSOFT.map((d) => [d, PLUS_ONLY] as const),
  ...FASTMAIL.map((d) => [d, PLUS_ONLY] as const),
]);
const FASTMAIL_SET = new Set(FASTMAIL);

/** RFC 5322 atext (plus `.`), ASCII part: what an unquoted local part may hold besides non-ASCII text (RFC 6531). */
const ASCII_LOCAL = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]*$/;
const LOCAL_BAD_CHAR = /[\x00-\x20\x7f"(),:;<>@[\\\]\u0080-\u009f\u00a0\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/;
const ASCII = /^[\x00-\x7f]*$/;

export function normalizeEmail(value: string, _opts: NormalizeOptions): string {
  // 1. Unicode NFKC: full-width forms (ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ) become their ASCII counterparts.
  let s = ASCII.test(value) ? value : value.normalize('NFKC');
  // 2. Accepted wrappers: `mailto:` and `Display Name <address>`.
  if (s.length > 7 && s.slice(0, 7).toLowerCase() === 'mailto:') {
    s = s.slice(7);
    if (s.includes('?')) fail('mailto_query', 'mailto: link carries header fields (?...); give the address only');
  }
  if (s.endsWith('>')) {
    const open = s.lastIndexOf('<');
    if (open < 0) fail('bad_brackets', 'ends with ">" without a matching "<"');
    s = s.slice(open + 1, -1);
  }
  s = s.trim();
  // 3. Split at the last `@`.
  const at = s.lastIndexOf('@');
  if (at < 0) fail('no_at', 'has no "@" between mailbox and domain');
  let local = s.slice(0, at);
  let domain = s.slice(at + 1);
  if (local.startsWith('"')) fail('quoted_local', 'quoted mailbox names ("...") are not supported');
  if (local.includes('@')) fail('multiple_at', 'has more than one "@"');
  if (local === '') fail('empty_local', 'has nothing before the "@"');
  if (domain === '') fail('empty_domain', 'has nothing after the "@"');
  if (/\s/.test(s)) fail('whitespace', 'contains whitespace');

  // 4. Local part: lower case (mailbox names are case-insensitive at every provider in practice; RFC
  //    5321 allows case-sensitive ones, but no mainstream provider has them), then dot-atom (RFC 5322)
  //    with UTF-8 allowed (RFC 6531), at most 64 octets.
  local = lowerCase(local);
  if (!ASCII_LOCAL.test(local)) {
    const bad = LOCAL_BAD_CHAR.exec(local);
    if (bad) fail('local_char', `mailbox name contains ${describeChar(bad[0])}, which an unquoted address cannot hold`);
  }
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    fail('local_dot', 'mailbox name starts or ends with a dot, or has two dots in a row');
  }
  if (Buffer.byteLength(local, 'utf8') > 64) fail('local_too_long', 'mailbox name is longer than 64 octets');

  // 5. Domain: IP literals refused, IDNA to ASCII (punycode), lower case, one trailing dot dropped.
  if (domain.startsWith('[')) fail('ip_domain', 'IP-address domains ([...]) are not accepted; give the mailbox at a domain name');
  domain = toAsciiDomain(domain);
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  const labels = domain.split('.');
  if (labels.length < 2) fail('domain_no_dot', 'domain has a single label; a top-level domain is required');
  for (let i = 0; i < labels.length; i++) {
    const problem = labelProblem(labels[i]!);
    if (problem) fail('bad_domain', `domain label ${i + 1} ${problem}`);
  }
  if (domain.length > 253) fail('bad_domain', 'domain is longer than 253 characters');
  const tld = labels[labels.length - 1]!;
  if (/^[0-9]+$/.test(tld)) fail('ip_domain', 'domain looks like an IP address; give the mailbox at a domain name');
  // Reserved names (reserved.ts): .example and .test count as top-level domains, .invalid,
  // .localhost and .local are refused.
  const reserved = reservedName(domain);
  if (reserved === 'unreachable') fail('reserved_name', `domain ${reservedNameMessage(domain)}`);
  if (reserved === undefined) {
    const info = parseDomain(domain, { allowPrivateDomains: false, extractHostname: false, validateHostname: false, mixedInputs: false });
    if (!info.isIcann) fail('unknown_tld', `".${tld}" is not a top-level domain in the public suffix list`);
  }

  // 6. Provider rules: sub-address tags, transparent characters, alias domains.
  const fastmailBase = FASTMAIL_SET.has(domain) ? undefined : fastmailSubdomain(labels);
  if (fastmailBase !== undefined) {
    // Fastmail subdomain addressing: anything@user.fastmail.com is user@fastmail.com.
    local = labels[0]!;
    domain = fastmailBase;
  }
  const provider = PROVIDERS.get(domain);
  if (provider) {
    if (provider.plusTags) {
      const plus = local.indexOf('+');
      if (plus >= 0) local = local.slice(0, plus);
    }
    if (provider.transparent) local = local.replace(provider.transparent, '');
    if (provider.domain) domain = provider.domain;
    if (local === '') fail('empty_local', 'has no mailbox name once the provider\'s tag and ignored characters are removed');
    if (local.endsWith('.')) fail('local_dot', 'mailbox name ends with a dot once the provider\'s +tag is removed');
  }
  const out = `${local}@${domain}`;
  if (Buffer.byteLength(out, 'utf8') > 254) fail('address_too_long', 'address is longer than 254 octets');
  return out;
}

/** Lower case; for non-ASCII text repeated with NFKC until stable, so that the result is a fixed point. */
function lowerCase(s: string): string {
  if (ASCII.test(s)) return s.toLowerCase();
  let prev: string;
  do {
    prev = s;
    s = s.toLowerCase().normalize('NFKC');
  } while (s !== prev);
  return s;
}

function fastmailSubdomain(labels: string[]): string | undefined {
  if (labels.length < 3) return undefined;
  const base = labels.slice(1).join('.');
  return FASTMAIL_SET.has(base) ? base : undefined;
}

function toAsciiDomain(domain: string): string {
  const ascii = hostToAscii(domain);
  if (ascii === '') fail('bad_domain', 'domain is not a valid internationalised domain name (IDNA)');
  return ascii;
}

function describeChar(c: string): string {
  const cp = c.codePointAt(0)!;
  return cp > 0x20 && cp < 0x7f ? `"${c}"` : `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}
