import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';

const domain = (v: string) => normalize('domain', v);
const reasonOf = (v: string): string | undefined => refusal('domain', v);

describe('domain normalisation', () => {
  it('gives a suffix of the host, the same from a bare host, a URL and an email address', () => {
    fc.assert(
      fc.property(fc.domain(), fc.constantFrom('', 'www.', 'a.b.'), fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), (host, sub, flips) => {
        let c: string;
        try {
          c = domain(sub + host);
        } catch (err) {
          expect(err).toBeInstanceOf(NormalizeError);
          expect((err as NormalizeError).reason).toMatch(/^domain\./);
          return;
        }
        expect((sub + host).endsWith(c)).toBe(true);
        expect(domain(c)).toBe(c);
        const cased = [...(sub + host)].map((ch, i) => (flips[i % flips.length] ? ch.toUpperCase() : ch)).join('');
        expect(domain(cased)).toBe(c);
        expect(domain(`https://${sub}${host}:8443/path?q=1#f`)).toBe(c);
        expect(domain(`someone@${sub}${host}`)).toBe(c);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps private-suffix registrants apart (allowPrivateDomains)', () => {
    expect(domain('a.fake-nike.myshopify.com')).toBe('fake-nike.myshopify.com');
    expect(domain('fake-adidas.myshopify.com')).not.toBe(domain('fake-nike.myshopify.com'));
    expect(domain('cheap-bags.blogspot.com')).toBe('cheap-bags.blogspot.com');
  });

  it('reads IDNs and their punycode alike', () => {
    expect(domain('www.例子.中国')).toBe(domain('xn--fsqu00a.xn--fiqs8s'));
    expect(domain('BÜCHER.de')).toBe('xn--bcher-kva.de');
  });

  it('refuses IPs, public suffixes, unknown suffixes and bad labels with a specific reason', () => {
    expect(reasonOf('198.51.100.7')).toBe('domain.ip_address');
    expect(reasonOf('https://[::1]/')).toBe('domain.ip_address');
    expect(reasonOf('com.au')).toBe('domain.public_suffix');
    expect(reasonOf('github.io')).toBe('domain.public_suffix');
    expect(reasonOf('shop.example.notatld')).toBe('domain.unknown_suffix');
    expect(reasonOf('intranet')).toBe('domain.single_label');
    expect(reasonOf('bad_label.com')).toBe('domain.bad_label');
    expect(reasonOf(`${'a'.repeat(64)}.com`)).toBe('domain.bad_label');
    expect(reasonOf('xn--zz.com')).toBe('domain.bad_idna');
    expect(reasonOf('mailto://x')).toBe('domain.bad_scheme');
  });

  it('either normalises any text to a fixed point or refuses it with a NormalizeError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.webUrl()), (v) => {
        let c: string;
        try {
          c = domain(v);
        } catch (err) {
          expect(err).toBeInstanceOf(NormalizeError);
          return;
        }
        expect(domain(c)).toBe(c);
      }),
      { numRuns: 1000 },
    );
  });
});
