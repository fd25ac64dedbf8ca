import { isIPv6 } from 'node:net';
import { NormalizeError, type NormalizeOptions } from './types.ts';

/**
 * ip: one public IPv4 or IPv6 address (schema/identifiers.md (`ip`)).
 *   IPv4: dotted decimal, no leading zeros (`203.0.113.7`).
 *   IPv6: RFC 5952 text (lower case, leading zeros dropped, the longest run of two or more zero
 *         groups, the first of equals, written `::`), the same as WHATWG URL host serialisation
 *         (`2001:db8::1`). IPv4-mapped addresses (::ffff:a.b.c.d) become the IPv4 address.
 * Refused: leading-zero octets (octal in some parsers), short or numeric IPv4 forms, CIDR ranges,
 * ports, zone ids, and addresses that identify no one across members (private, loopback,
 * link-local, CGNAT, multicast, unspecified, reserved).
 * Hand-written parsing: this runs for every ip identifier of every record and batch.
 */

const T = 'ip';

function fail(what: string, message: string): never {
  throw new NormalizeError(T, `${T}.${what}`, message);
}

const ASCII = /^[\x00-\x7f]*$/;

export function normalizeIp(value: string, _opts: NormalizeOptions): string {
  // Full-width digits, dots and colons (１９２．０．２．１) become ASCII.
  let s = ASCII.test(value) ? value : value.normalize('NFKC').trim();
  const lower = s.toLowerCase();
  if (lower.startsWith('ip:') || lower.startsWith('ipv4:') || lower.startsWith('ipv6:')) s = s.slice(s.indexOf(':') + 1).trim();

  if (s.includes('/')) fail('cidr', 'is a range (CIDR /prefix), not one address; give a single address');
  if (s.includes('%')) fail('zone_id', 'has a zone id (%…), which only means something on one machine; give the address without it');

  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf(']');
    if (close < 0) fail('bad_format', 'has "[" without a closing "]"');
    if (close !== s.length - 1) fail('has_port', 'has a port or text after "]"; give the address only');
    return ipv6(s.slice(1, -1));
  }
  const colon = s.indexOf(':');
  if (colon < 0) return ipv4(s);
  if (s.indexOf(':', colon + 1) < 0 && s.indexOf('.') >= 0) fail('has_port', 'has a port (:…); give the address only');
  return ipv6(s);
}

/** Parses dotted-decimal IPv4 into a 32-bit number, refusing every other spelling. */
function parseIpv4(s: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (i <= end) {
    const partStart = i;
    let octet = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === 46) break;
      if (c < 48 || c > 57) {
        fail('bad_format', c === 120 || c === 88 ? 'hexadecimal IPv4 parts (0x…) are not accepted; write a.b.c.d in decimal' : `is not an IP address: "${s[i]}" cannot appear in an IPv4 address`);
      }
      octet = octet * 10 + (c - 48);
      i++;
    }
    const len = i - partStart;
    if (len === 0) fail('bad_format', 'has an empty part between dots');
    if (len > 1 && s.charCodeAt(partStart) === 48) {
      fail('leading_zero', 'has a part with a leading zero (some software reads 010 as octal 8); write each part without leading zeros');
    }
    if (len > 3 || octet > 255) fail('bad_format', `part ${parts + 1} is larger than 255`);
    value = value * 256 + octet;
    parts++;
    if (parts > 4) fail('bad_format', 'has more than four parts');
    i++; // skip the dot (or step past the end)
  }
  if (parts !== 4) fail('bad_format', `has ${parts} part${parts === 1 ? '' : 's'}; an IPv4 address is written as four numbers a.b.c.d`);
  return value;
}

function ipv4(s: string): string {
  if (s.indexOf('.') < 0 && /^\d+$/.test(s)) fail('bad_format', 'is a bare number; write an IPv4 address as four numbers a.b.c.d');
  const v = parseIpv4(s, 0, s.length);
  checkPublic4(v);
  return s;
}

function checkPublic4(v: number): void {
  const a = Math.floor(v / 0x1000000);
  const b = (v >>> 16) & 0xff;
  let what: string | undefined;
  if (a === 0) what = '"this network" (0.0.0.0/8)';
  else if (a === 10) what = 'private (10.0.0.0/8)';
  else if (a === 100 && b >= 64 && b < 128) what = 'shared carrier-grade NAT space (100.64.0.0/10)';
  else if (a === 127) what = 'loopback (127.0.0.0/8)';
  else if (a === 169 && b === 254) what = 'link-local (169.254.0.0/16)';
  else if (a === 172 && b >= 16 && b < 32) what = 'private (172.16.0.0/12)';
  else if (a === 192 && b === 168) what = 'private (192.168.0.0/16)';
  else if (a >= 224 && a < 240) what = 'multicast (224.0.0.0/4)';
  else if (a >= 240) what = 'reserved or broadcast (240.0.0.0/4)';
  if (what !== undefined) fail('not_public', `is a ${what} address, which identifies no one across members`);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function ipv6(s: string): string {
  if (!isIPv6(s)) {
    if (s.length > 45) fail('bad_format', 'is too long for an IPv6 address');
    fail('bad_format', 'is not an IPv4 or IPv6 address');
  }
  // isIPv6 has accepted it: eight 16-bit groups with at most one "::", maybe an IPv4 tail.
  const groups = new Array<number>(8).fill(0);
  const dc = s.indexOf('::');
  const head = dc < 0 ? s : s.slice(0, dc);
  const tail = dc < 0 ? '' : s.slice(dc + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const readGroups = (list: string[]): number[] => {
    const out: number[] = [];
    for (const g of list) {
      if (g.includes('.')) {
        const v4 = parseIpv4(g, 0, g.length);
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        let v = 0;
        for (let i = 0; i < g.length; i++) v = v * 16 + hexValue(g.charCodeAt(i));
        out.push(v);
      }
    }
    return out;
  };
  const h = readGroups(headGroups);
  const t = readGroups(tailGroups);
  for (let i = 0; i < h.length; i++) groups[i] = h[i]!;
  for (let i = 0; i < t.length; i++) groups[8 - t.length + i] = t[i]!;

  // IPv4-mapped (::ffff:0:0/96): the IPv4 address itself.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    const v = groups[6]! * 0x10000 + groups[7]!;
    checkPublic4(v);
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }
  checkPublic6(groups);
  return format6(groups);
}

function checkPublic6(g: number[]): void {
  const first = g[0]!;
  let what: string | undefined;
  if (g.every((x) => x === 0)) what = 'the unspecified address (::)';
  else if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) what = 'the loopback address (::1)';
  else if ((first & 0xffc0) === 0xfe80) what = 'a link-local address (fe80::/10)';
  else if ((first & 0xffc0) === 0xfec0) what = 'a site-local address (fec0::/10)';
  else if ((first & 0xfe00) === 0xfc00) what = 'a unique local address (fc00::/7, private)';
  else if ((first & 0xff00) === 0xff00) what = 'a multicast address (ff00::/8)';
  if (what !== undefined) fail('not_public', `is ${what}, which identifies no one across members`);
}

/** RFC 5952 §4: lower-case hex without leading zeros, the first longest run (≥ 2) of zero groups as "::". */
function format6(g: number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += g[i]!.toString(16);
    if (i < 7) out += ':';
  }
  return out;
}
