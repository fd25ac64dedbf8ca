import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';
import { PLATFORM_NAMES } from '../../../node/identifiers/marketplaces.ts';
import { TRACKING_PARAMS, TRACKING_PREFIXES } from '../../../node/identifiers/url.ts';

const url = (v: string) => normalize('url', v);
const reasonOf = (v: string): string | undefined => refusal('url', v);

const doc = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../schema/identifiers.md'), 'utf8');
const key = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/).filter((k) => !TRACKING_PARAMS.has(k) && !TRACKING_PREFIXES.some((p) => k.startsWith(p)));
const val = fc.stringMatching(/^[A-Za-z0-9]{0,6}$/);

describe('url normalisation', () => {
  it('is idempotent on generated web URLs, or refuses them with a url.* reason', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true, validSchemes: ['http', 'https'] }), (u) => {
        let c: string;
        try {
          c = url(u);
        } catch (err) {
          expect(err).toBeInstanceOf(NormalizeError);
          expect((err as NormalizeError).reason).toMatch(/^url\./);
          return;
        }
        expect(url(c)).toBe(c);
      }),
      { numRuns: 1000 },
    );
  });

  it('does not depend on query order, tracking parameters, fragment, scheme, www, default port or trailing slash', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(key, val), { minLength: 0, maxLength: 5, selector: ([k]) => k }),
        fc.subarray(['utm_source=news', 'utm_campaign=x1', 'spm=a21bo.1.2', 'fbclid=IwAR0', 'gclid=Cj0K', 'ref=home', '_trksid=p2047', 'sessionid=abc', 'pvid=1-2']),
        fc.constantFrom('http://', 'https://', 'HTTPS://', '', '//'),
        fc.constantFrom('', 'www.', 'WWW.'),
        fc.constantFrom('', ':80', ':443'),
        fc.constantFrom('', '/', '//'),
        fc.constantFrom('', '#reviews'),
        fc.integer(),
        (pairs, tracking, scheme, www, port, slash, fragment, seed) => {
          const base = `https://shop.example.com/p/bag${pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`;
          const mixed = [...pairs.map(([k, v]) => `${k}=${v}`), ...tracking];
          // a deterministic shuffle
          for (let i = mixed.length - 1; i > 0; i--) {
            const j = Math.abs(seed + i * 7919) % (i + 1);
            [mixed[i], mixed[j]] = [mixed[j]!, mixed[i]!];
          }
          const variant = `${scheme}${www}Shop.Example.COM${port}/p/bag${slash}${mixed.length ? `?${mixed.join('&')}` : ''}${fragment}`;
          expect(url(variant)).toBe(url(base));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps what identifies the page: path case, non-tracking parameters, non-default ports', () => {
    expect(url('https://example.com/A')).not.toBe(url('https://example.com/a'));
    expect(url('https://example.com/?id=1')).not.toBe(url('https://example.com/?id=2'));
    expect(url('https://example.com:8080/')).not.toBe(url('https://example.com/'));
  });

  it('normalises percent-escapes without creating new ones', () => {
    expect(url('https://example.com/%7e%41%2f')).toBe('https://example.com/~A%2F');
    expect(url('https://example.com/100%/%7%41')).toBe('https://example.com/100%25/%257A');
  });

  it('drops userinfo, so the host after @ is what is kept', () => {
    expect(url('http://www.brand.example@evil.example.net/x')).toBe('https://evil.example.net/x');
  });

  it('reduces every marketplace listing to one reference whatever the host variant and tracking', () => {
    const listing = [
      ['https://item.taobao.com/item.htm?id=712345678901', 'https://detail.tmall.com/item.htm?spm=x&id=712345678901', 'https://a.m.taobao.com/i712345678901.htm'],
      ['https://www.amazon.com/dp/B0C1234567', 'https://www.amazon.sa/-/en/Product/dp/B0C1234567/ref=x?th=1', 'https://www.amazon.com.tr/gp/offer-listing/B0C1234567', 'https://www.amazon.eg/exec/obidos/ASIN/B0C1234567'],
      ['https://www.ebay.com/itm/254123456789', 'https://www.ebay.com.au/i/254123456789?mkcid=1'],
    ];
    for (const group of listing) expect(new Set(group.map(url)).size, group[0]).toBe(1);
  });

  it('keeps Shopee and Lazada country sites apart', () => {
    expect(url('https://shopee.sg/x-i.1.23456789012')).not.toBe(url('https://shopee.co.th/x-i.1.23456789012'));
    expect(url('https://www.lazada.sg/products/i1234567890.html')).not.toBe(url('https://www.lazada.vn/products/i1234567890.html'));
  });

  it('falls back to the generic rules for marketplace pages that are no listing or shop, and for bad ids', () => {
    expect(url('https://s.taobao.com/search?q=bag')).toBe('https://s.taobao.com/search?q=bag');
    expect(url('https://item.taobao.com/item.htm?id=abc')).toBe('https://item.taobao.com/item.htm?id=abc');
    expect(url('https://amzn.to/3xYzAbC')).toBe('https://amzn.to/3xYzAbC');
  });

  it('does not choose between two different values of the id parameter', () => {
    const c = url('https://item.taobao.com/item.htm?id=712345678901&id=712345678902');
    expect(c.startsWith('https://')).toBe(true);
    expect(url(c)).toBe(c);
  });

  it('accepts every canonical reference as its own canonical form', () => {
    for (const ref of ['taobao:item:712345678901', 'tmall:shop:sportsoutlet', '1688:shop:yiwufactory', 'shopee.co.id:item:23456789012', 'mercadolibre:product:MLM12345678', 'ebay:shop:cheap_brand_deals']) {
      expect(url(ref)).toBe(ref);
    }
  });

  it('refuses references with unknown platforms, wrong kinds or bad ids', () => {
    expect(reasonOf('nosuchshop:item:1')).toBe('url.unknown_platform');
    expect(reasonOf('lazada:item:1')).toBe('url.ambiguous_platform');
    expect(reasonOf('amazon:product:B0C1234567')).toBe('url.bad_kind');
    expect(reasonOf('amazon:shop:B0C1234567')).toBe('url.bad_listing_id');
  });

  it('documents every platform and every tracking parameter in schema/identifiers.md', () => {
    for (const p of PLATFORM_NAMES) expect(doc, p).toContain(`\`${p}\``);
    for (const t of [...TRACKING_PARAMS, ...TRACKING_PREFIXES]) expect(doc, t).toContain(`\`${t}`);
  });
});
