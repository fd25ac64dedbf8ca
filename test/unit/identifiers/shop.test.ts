import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import { refusal } from '../../helpers/normalize.ts';

const shop = (v: string) => normalize('shop', v);
const url = (v: string) => normalize('url', v);
const reasonOf = (v: string): string | undefined => refusal('shop', v);

/** Shop URL, the same shop written as platform + id, and the canonical shop form. */
const SHOPS: [string, string, string][] = [
  ['https://shop123456789.taobao.com/', 'taobao 123456789', 'taobao:123456789'],
  ['https://sportsoutlet.tmall.com/', 'tmall sportsoutlet', 'tmall:sportsoutlet'],
  ['https://mall.jd.com/index-1000012345.html', 'jd 1000012345', 'jd:1000012345'],
  ['https://www.aliexpress.com/store/1102345678', 'aliexpress 1102345678', 'aliexpress:1102345678'],
  ['https://yiwufactory.1688.com/', '1688 yiwufactory', '1688:yiwufactory'],
  ['https://mobile.yangkeduo.com/mall_page.html?mall_id=123456789', 'pinduoduo 123456789', 'pinduoduo:123456789'],
  ['https://www.amazon.co.uk/sp?seller=A1B2C3D4E5F6G7', 'amazon A1B2C3D4E5F6G7', 'amazon:A1B2C3D4E5F6G7'],
  ['https://www.ebay.com/usr/cheap_brand_deals', 'ebay cheap_brand_deals', 'ebay:cheap_brand_deals'],
  ['https://shopee.com.my/shop/123456789', 'shopee.com.my 123456789', 'shopee.com.my:123456789'],
  ['https://www.lazada.sg/shop/sports-outlet-store/', 'lazada.sg sports-outlet-store', 'lazada.sg:sports-outlet-store'],
  ['https://www.temu.com/mall.html?mall_id=634418212345678', 'temu 634418212345678', 'temu:634418212345678'],
  ['https://www.etsy.com/shop/LeatherCraftCo', 'etsy LeatherCraftCo', 'etsy:leathercraftco'],
  ['https://www.walmart.com/seller/101234567', 'walmart 101234567', 'walmart:101234567'],
  ['https://listado.mercadolibre.com.ar/_CustId_123456789', 'mercadolibre 123456789', 'mercadolibre:123456789'],
];

describe('shop normalisation', () => {
  it.each(SHOPS)('%s is the same shop as "%s"', (shopUrl, written, canonical) => {
    expect(shop(shopUrl)).toBe(canonical);
    expect(shop(written)).toBe(canonical);
    expect(shop(canonical)).toBe(canonical);
    // the url type names the same shop with the same platform and id
    const [platform, ...id] = canonical.split(':');
    expect(url(shopUrl)).toBe(`${platform}:shop:${id.join(':')}`);
  });

  it('accepts any separator, spacing and case of the platform name', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SHOPS), fc.constantFrom(':', ' ', ' : ', '：', '\t', ': '), fc.boolean(), fc.constantFrom('', ' '), ([, written, canonical], sep, upper, pad) => {
        const [platform, id] = written.split(' ') as [string, string];
        expect(shop(`${pad}${upper ? platform.toUpperCase() : platform}${sep}${id}${pad}`)).toBe(canonical);
      }),
      { numRuns: 300 },
    );
  });

  it('normalises known aliases and marketplace domains to the platform name', () => {
    for (const [alias, platform] of [
      ['tb', 'taobao'], ['淘宝', 'taobao'], ['ali', 'aliexpress'], ['aliexpress.ru', 'aliexpress'], ['amazon.com', 'amazon'], ['amazon.co.jp', 'amazon'],
      ['ebay.de', 'ebay'], ['pdd', 'pinduoduo'], ['京东', 'jd'], ['mercadolivre', 'mercadolibre'],
    ] as const) {
      const id = platform === 'amazon' ? 'A1B2C3D4E5F6G7' : platform === 'ebay' ? 'seller1' : '123456789';
      expect(shop(`${alias}:${id}`)).toBe(`${platform}:${platform === 'ebay' ? 'seller1' : id}`);
    }
  });

  it('keeps unknown platforms, lower-casing the name and keeping the id as written', () => {
    expect(shop('WeChat-Shop:wx_AbC123')).toBe('wechat-shop:wx_AbC123');
    expect(shop('wechat-shop:wx_abc123')).not.toBe(shop('wechat-shop:wx_AbC123'));
  });

  it('refuses with a specific shop.* reason', () => {
    expect(reasonOf('123456789')).toBe('shop.no_platform');
    expect(reasonOf('taobao:  ')).toBe('shop.empty_id');
    expect(reasonOf('taobao:12 34')).toBe('shop.bad_id');
    expect(reasonOf('shopee:1')).toBe('shop.ambiguous_platform');
    expect(reasonOf('https://www.amazon.com/dp/B0C1234567')).toBe('shop.listing_not_shop');
    expect(reasonOf('https://example.com/')).toBe('shop.not_a_shop_url');
    expect(reasonOf('http://localhost/shop')).toBe('shop.bad_url');
    expect(reasonOf('someplatform:abc def')).toBe('shop.bad_id');
    expect(reasonOf('someplatform:/abc')).toBe('shop.bad_id');
    expect(reasonOf('bad!:1')).toBe('shop.bad_platform');
  });

  it('either normalises any text to a fixed point or refuses it with a NormalizeError', () => {
    const pieces = ['taobao', 'tb', 'shopee', 'shopee.sg', 'amazon.de', 'x', ':', ' ', '：', 'shop', 'shop:', 'item:', '/', '//', '123', 'A1B2C3D4E5F6G7', 'https://', '.com', '.taobao.com', 'ｓ', 'İ'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 8 }), (parts) => {
        let c: string;
        try {
          c = shop(parts.join(''));
        } catch (err) {
          expect(err).toBeInstanceOf(NormalizeError);
          return;
        }
        expect(shop(c)).toBe(c);
      }),
      { numRuns: 2000 },
    );
  });
});
