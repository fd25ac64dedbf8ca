import fc from 'fast-check';
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';

const norm = (v: string): string => normalize('ip', v);

function attempt(v: string): string | { reason: string } {
  try {
    return norm(v);
  } catch (err) {
    if (err instanceof NormalizeError) return { reason: err.reason };
    throw err;
  }
}

function isPublic4(o: number[]): boolean {
  const [a, b] = o as [number, number];
  return !(
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a >= 224 ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168)
  );
}

const octets = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
/** 8 groups, biased to zeros so that compression cases are common. */
const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });

function public6(g: number[]): boolean {
  const f = g[0]!;
  if (g.every((x) => x === 0)) return false;
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return false;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return false; // mapped: tested separately
  return !((f & 0xffc0) === 0xfe80 || (f & 0xffc0) === 0xfec0 || (f & 0xfe00) === 0xfc00 || (f & 0xff00) === 0xff00);
}

describe('ip', () => {
  it('IPv4: every public dotted quad is its own canonical form; others are refused as not public', () => {
    fc.assert(
      fc.property(octets, (o) => {
        const text = o.join('.');
        const r = attempt(text);
        if (isPublic4(o)) expect(r).toBe(text);
        else expect(r).toEqual({ reason: 'ip.not_public' });
      }),
      { numRuns: 2000 },
    );
  });

  it('IPv4: a part written with a leading zero is refused, never read as octal or decimal', () => {
    fc.assert(
      fc.property(octets, fc.integer({ min: 0, max: 3 }), (o, i) => {
        const parts = o.map(String);
        parts[i] = `0${parts[i]}`;
        expect(attempt(parts.join('.'))).toEqual({ reason: 'ip.leading_zero' });
      }),
      { numRuns: 500 },
    );
  });

  it('IPv6: the canonical form is what WHATWG URL serialisation gives (RFC 5952), whatever the spelling', () => {
    fc.assert(
      fc.property(groups, fc.boolean(), fc.boolean(), (g, upper, padded) => {
        fc.pre(public6(g));
        let text = g.map((x) => (padded ? x.toString(16).padStart(4, '0') : x.toString(16))).join(':');
        if (upper) text = text.toUpperCase();
        const whatwg = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        expect(norm(text)).toBe(whatwg);
        expect(norm(`[${text}]`)).toBe(whatwg);
        // The canonical form is a fixed point and still an IPv6 address.
        expect(norm(whatwg)).toBe(whatwg);
        expect(isIP(whatwg)).toBe(6);
      }),
      { numRuns: 2000 },
    );
  });

  it('IPv6: every way of writing the zero run gives one form', () => {
    fc.assert(
      fc.property(groups, (g) => {
        fc.pre(public6(g));
        const canonical = norm(g.map((x) => x.toString(16)).join(':'));
        // Compress each run of zeros of length >= 1 in turn (any valid "::" placement).
        for (let start = 0; start < 8; start++) {
          for (let end = start + 1; end <= 8; end++) {
            if (!g.slice(start, end).every((x) => x === 0)) continue;
            const head = g.slice(0, start).map((x) => x.toString(16)).join(':');
            const tail = g.slice(end).map((x) => x.toString(16)).join(':');
            expect(norm(`${head}::${tail}`)).toBe(canonical);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('IPv4-mapped IPv6 addresses are their IPv4 address, in dotted and hex spellings', () => {
    fc.assert(
      fc.property(octets, (o) => {
        fc.pre(isPublic4(o));
        const hi = ((o[0]! << 8) | o[1]!).toString(16);
        const lo = ((o[2]! << 8) | o[3]!).toString(16);
        expect(norm(`::ffff:${o.join('.')}`)).toBe(o.join('.'));
        expect(norm(`0:0:0:0:0:FFFF:${hi}:${lo}`)).toBe(o.join('.'));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses ports, ranges and zone ids with their own reasons', () => {
    expect(attempt('203.0.113.9:443')).toEqual({ reason: 'ip.has_port' });
    expect(attempt('[2001:db8::9]:443')).toEqual({ reason: 'ip.has_port' });
    expect(attempt('2001:db8::/32')).toEqual({ reason: 'ip.cidr' });
    expect(attempt('2001:db8::9%en0')).toEqual({ reason: 'ip.zone_id' });
  });
});
