import { domainToASCII, domainToUnicode } from 'node:url';
import { parse as parseDomain } from 'tldts';
import { NormalizeError, type NormalizeOptions } from './types.ts';
import { reservedName, reservedNameMessage } from './reserved.ts';

/*
 * domain: the registrable domain ("eTLD+1") of a host name, a URL or an email address.
 * Rules in schema/identifiers.md (`domain`), in the order applied here.
 *
 * Libraries: node:url domainToASCII (UTS #46 / WHATWG IDNA) and the WHATWG URL parser for IDNA and
 * URL input; tldts (Mozilla public suffix list, ICANN *and* private sections) for the registrable
 * domain. Private suffixes are on (`allowPrivateDomains: true`): every shop on myshopify.com, every
 * blog on blogspot.com is its own registrant, and collapsing them to the hosting platform's domain
 * would make all of its customers match each other.
 */

const fail = (reason: string, message: string): never => {
  throw new NormalizeError('domain', `domain.${reason}`, message);
};

const ASCII = /^[\x00-\x7f]*$/;
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const URL_SCHEMES = new Set(['http:', 'https:', 'ftp:', 'ws:', 'wss:']);
const LDH = /^[a-z0-9-]+$/;
const LDH_UNDERSCORE = /^[a-z0-9_-]+$/;

/**
 * What is wrong with one label of an ASCII (punycode) host name, or undefined if nothing.
 * Letters, digits and `-` (plus `_` when `underscore`), 1–63 characters, no `-` at either end.
 */
export function labelProblem(label: string, underscore = false): string | undefined {
  if (label === '') return 'is empty (two dots in a row, or a dot at the start)';
  if (label.length > 63) return 'is longer than 63 characters';
  if (!(underscore ? LDH_UNDERSCORE : LDH).test(label)) {
    const bad = (underscore ? /[^a-z0-9_-]/ : /[^a-z0-9-]/).exec(label)![0];
    return `contains ${/[\x21-\x7e]/.test(bad) ? `"${bad}"` : `U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`}; only letters, digits and "-" are allowed`;
  }
  if (label.startsWith('-') || label.endsWith('-')) return 'starts or ends with "-"';
  return undefined;
}

/** Host name to lower-case ASCII (punycode) per UTS #46, or '' if IDNA refuses it. */
export function hostToAscii(host: string): string {
  if (ASCII.test(host) && !/xn--/i.test(host)) return host.toLowerCase();
  const ascii = domainToASCII(host);
  return punycodeOk(ascii) ? ascii : '';
}

/**
 * Whether every `xn--` label of an ASCII host decodes as punycode. Node's IDNA passes undecodable
 * `xn--` labels through unchanged (`xn--a.com`), which UTS #46 says are errors.
 */
export function punycodeOk(host: string): boolean {
  if (!host.includes('xn--')) return true;
  for (const label of host.split('.')) {
    if (label.startsWith('xn--') && domainToUnicode(label) === label) return false;
  }
  return true;
}

export function normalizeDomain(value: string, _opts: NormalizeOptions): string {
  // 1. Unicode NFKC (full-width letters, digits and punctuation to ASCII).
  let s = ASCII.test(value) ? value : value.normalize('NFKC');
  let host: string;
  // 2. Where the host is taken from: a URL (scheme:// or //), else a bare host, else an email address.
  if (HAS_SCHEME.test(s) || s.startsWith('//')) {
    let url: URL;
    try {
      url = new URL(s.startsWith('//') ? `http:${s}` : s);
    } catch {
      return fail('unparseable', 'looks like a URL but cannot be parsed as one');
    }
    if (!URL_SCHEMES.has(url.protocol)) fail('bad_scheme', `a ${url.protocol.slice(0, -1)}: URL carries no domain name; give an http(s) URL or a domain`);
    host = url.hostname; // already IDNA-mapped and lower case
    if (!punycodeOk(host)) fail('bad_idna', 'has an xn-- label that is not valid punycode');
  } else {
    const cut = s.search(/[/?#]/);
    if (cut >= 0) s = s.slice(0, cut);
    const at = s.lastIndexOf('@');
    if (at >= 0) s = s.slice(at + 1);
    if (s.startsWith('[')) fail('ip_address', 'is an IP address, not a domain name');
    s = s.replace(/:\d*$/, '');
    if (/\s/.test(s)) fail('whitespace', 'contains whitespace');
    if (s === '') fail('empty', 'holds no host name');
    host = hostToAscii(s);
    if (host === '') fail('bad_idna', 'is not a valid internationalised domain name (IDNA), or has an xn-- label that is not valid punycode');
  }
  // 3. One trailing dot (the DNS root) is dropped.
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') fail('empty', 'holds no host name');
  if (host.startsWith('[')) fail('ip_address', 'is an IP address, not a domain name');
  if (host.length > 253) fail('too_long', 'host name is longer than 253 characters');

  // 4. Public suffix lookup and registrable domain.
  const info = parseDomain(host, { allowPrivateDomains: true, extractHostname: false, validateHostname: false, mixedInputs: false });
  const labels = host.split('.');
  const last = labels[labels.length - 1]!;
  if (info.isIp || /^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/.test(last)) fail('ip_address', 'is an IP address, not a domain name');
  if (labels.length === 1) fail('single_label', 'is a single label; a domain has at least a name and a top-level domain');
  // 5. Labels: the registrable domain and its suffix must be valid host-name labels; subdomain labels
  //    (which are dropped) may also hold "_".
  const keep = info.domain ? info.domain.split('.').length : labels.length;
  for (let i = 0; i < labels.length; i++) {
    const problem = labelProblem(labels[i]!, i < labels.length - keep);
    if (problem) fail('bad_label', `label ${i + 1} ${problem}`);
  }
  // Reserved names (reserved.ts): under .example or .test, the name below the top-level domain is
  // the registrable one (what tldts gives a top-level name it does not know); .invalid, .localhost
  // and .local are refused.
  const reserved = reservedName(host);
  if (reserved === 'unreachable') fail('reserved_name', reservedNameMessage(host));
  if (reserved === undefined && !info.isIcann && !info.isPrivate) fail('unknown_suffix', `".${last}" is not a top-level domain in the public suffix list`);
  if (!info.domain) fail('public_suffix', `"${info.publicSuffix}" is a public suffix (a registry or hosting platform), not a registrable domain`);
  return info.domain!;
}
