/*
 * Marketplace listing and shop URLs reduced to platform + id (schema/identifiers.md, `url`,
 * "Marketplaces"). Shared by the `url` normaliser (`<platform>:<kind>:<id>`) and the `shop`
 * normaliser (`<platform>:<id>`), so that a shop URL and a typed shop id give the same platform name
 * and the same id. Rules, platform names and
 * examples: schema/identifiers.md (`url`); the reasons for each platform decision are there too.
 *
 * Everything works on a WHATWG URL already parsed by the caller: host dispatch is a map lookup on
 * the host's last two or three labels, then a few anchored regular expressions on the path.
 */

export type ListingKind = 'item' | 'shop' | 'product';

/** A marketplace listing, catalogue product or shop: `<platform>:<kind>:<id>` as a url canonical form. */
export interface MarketplaceRef {
  platform: string;
  kind: ListingKind;
  id: string;
}

/** Normalises one raw id: the canonical id (and the platform, where another one owns the id space) or a problem. */
type IdRule = (raw: string) => { platform?: string; id: string } | { problem: string };

interface Platform {
  item?: IdRule;
  shop?: IdRule;
  product?: IdRule;
}

// ---------------------------------------------------------------------------------------------
// Id rules

const digits = (what: string, min = 1, max = 20): IdRule => {
  const re = new RegExp(`^\\d{${min},${max}}$`);
  const problem = `${what} is ${min}–${max} digits`;
  return (raw) => (re.test(raw) ? { id: raw } : { problem });
};

const numeric = (what: string) => digits(what, 1, 20);

/** A DNS label used as a shop name (shop subdomains): lower case letters, digits, inner hyphens, at least one letter. */
const LABEL_NAME = /^(?=[a-z0-9-]*[a-z])[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const subdomainName =
  (what: string): IdRule =>
  (raw) => {
    const id = raw.toLowerCase();
    return LABEL_NAME.test(id) ? { id } : { problem: `${what} is a shop subdomain name: letters, digits and inner "-", with at least one letter` };
  };

const taobaoShop: IdRule = (raw) => {
  const id = raw.toLowerCase();
  const shopN = /^shop(\d{1,20})$/.exec(id);
  if (shopN) return { platform: 'taobao', id: shopN[1]! };
  if (/^\d{1,20}$/.test(id)) return { platform: 'taobao', id };
  if (LABEL_NAME.test(id)) return { platform: 'taobao', id };
  return { problem: 'a Taobao shop id is the number of shop<N>.taobao.com, or the name of a <name>.taobao.com shop subdomain' };
};

const ASIN = /^(?:B[0-9A-Z]{9}|\d{9}[0-9X])$/;
const AMAZON_SELLER = /^A[0-9A-Z]{7,19}$/;
const ML_ID = /^(M[A-Z]{2})-?(\d{4,15})$/;

const PLATFORMS = new Map<string, Platform>([
  // Taobao and Tmall listings share one item-id space: item.taobao.com/item.htm?id=<Tmall item>
  // redirects to detail.tmall.com. Numeric shop ids are one space too. So Tmall items and numeric
  // Tmall shops are `taobao`; only Tmall's <name>.tmall.com shop subdomains are `tmall`.
  ['taobao', { item: digits('a Taobao/Tmall item id', 5, 20), shop: taobaoShop }],
  [
    'tmall',
    {
      item: (raw) => (/^\d{5,20}$/.test(raw) ? { platform: 'taobao', id: raw } : { problem: 'a Tmall item id is 5–20 digits' }),
      shop: (raw) => {
        const id = raw.toLowerCase();
        if (/^\d{1,20}$/.test(id)) return { platform: 'taobao', id };
        return LABEL_NAME.test(id) ? { id } : { problem: 'a Tmall shop is the name of a <name>.tmall.com shop subdomain, or a numeric shop id' };
      },
    },
  ],
  ['jd', { item: digits('a JD SKU id', 4, 20), shop: numeric('a JD shop id') }],
  ['aliexpress', { item: digits('an AliExpress item id', 6, 20), shop: numeric('an AliExpress store id') }],
  ['1688', { item: digits('a 1688 offer id', 6, 20), shop: subdomainName('a 1688 shop') }],
  ['pinduoduo', { item: numeric('a Pinduoduo goods_id'), shop: numeric('a Pinduoduo mall_id') }],
  [
    'amazon',
    {
      item: (raw) => {
        const id = raw.toUpperCase();
        return ASIN.test(id) ? { id } : { problem: 'an Amazon ASIN is 10 letters and digits starting with B, or an ISBN-10' };
      },
      shop: (raw) => {
        const id = raw.toUpperCase();
        return AMAZON_SELLER.test(id) ? { id } : { problem: 'an Amazon seller id is "A" followed by 7–19 letters and digits' };
      },
    },
  ],
  [
    'ebay',
    {
      item: digits('an eBay item number', 9, 15),
      shop: (raw) => {
        const id = raw.toLowerCase();
        return /^[a-z0-9._*-]{1,64}$/.test(id) ? { id } : { problem: 'an eBay user id or store name has letters, digits, ".", "_", "-" and "*" only' };
      },
    },
  ],
  ['temu', { item: numeric('a Temu goods id'), shop: numeric('a Temu mall id') }],
  [
    'etsy',
    {
      item: numeric('an Etsy listing id'),
      shop: (raw) => {
        const id = raw.toLowerCase();
        return /^[a-z0-9]{1,40}$/.test(id) ? { id } : { problem: 'an Etsy shop name has letters and digits only' };
      },
    },
  ],
  ['walmart', { item: numeric('a Walmart item id'), shop: numeric('a Walmart seller id') }],
  [
    'mercadolibre',
    {
      item: (raw) => {
        const m = ML_ID.exec(raw.toUpperCase());
        return m ? { id: m[1]! + m[2]! } : { problem: 'a Mercado Libre item id is a site prefix (MLA, MLB, MLM, MCO …) and digits' };
      },
      product: (raw) => {
        const m = ML_ID.exec(raw.toUpperCase());
        return m ? { id: m[1]! + m[2]! } : { problem: 'a Mercado Libre catalogue product id is a site prefix (MLA, MLB …) and digits' };
      },
      shop: numeric('a Mercado Libre seller id'),
    },
  ],
]);

// Shopee and Lazada run one separate marketplace per country, each with its own ids: the platform is
// the country site's domain (`shopee.sg`, `lazada.co.th`).
const SHOPEE_SITES = ['shopee.sg', 'shopee.co.id', 'shopee.com.my', 'shopee.co.th', 'shopee.vn', 'shopee.ph', 'shopee.tw', 'shopee.com.br', 'shopee.com.mx', 'shopee.com.co', 'shopee.cl'];
const LAZADA_SITES = ['lazada.sg', 'lazada.co.id', 'lazada.com.my', 'lazada.co.th', 'lazada.vn', 'lazada.com.ph'];
for (const site of SHOPEE_SITES) PLATFORMS.set(site, { item: numeric('a Shopee item id'), shop: numeric('a Shopee shop id') });
for (const site of LAZADA_SITES) {
  PLATFORMS.set(site, {
    item: numeric('a Lazada item id'),
    shop: (raw) => {
      const id = raw.toLowerCase();
      return /^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$/.test(id) ? { id } : { problem: 'a Lazada shop is the name in /shop/<name>: letters, digits, ".", "_" and "-"' };
    },
  });
}

/** Names users write for a platform, beyond the canonical names and the marketplace domains. */
const ALIASES = new Map<string, string>([
  ['tb', 'taobao'],
  ['淘宝', 'taobao'],
  ['淘宝网', 'taobao'],
  ['tm', 'tmall'],
  ['天猫', 'tmall'],
  ['jingdong', 'jd'],
  ['京东', 'jd'],
  ['ali', 'aliexpress'],
  ['ae', 'aliexpress'],
  ['速卖通', 'aliexpress'],
  ['alibaba1688', '1688'],
  ['pdd', 'pinduoduo'],
  ['yangkeduo', 'pinduoduo'],
  ['拼多多', 'pinduoduo'],
  ['amzn', 'amazon'],
  ['亚马逊', 'amazon'],
  ['mercadolivre', 'mercadolibre'],
  ['meli', 'mercadolibre'],
]);

/** Names that need a country site to mean one id space. */
const NEEDS_SITE = new Map<string, string[]>([
  ['shopee', SHOPEE_SITES],
  ['lazada', LAZADA_SITES],
]);

// ---------------------------------------------------------------------------------------------
// URL rules, per marketplace domain

type Query = (name: string) => string | null;
/** `sub` is the host without the marketplace domain ('' for the bare domain, 'item' for item.taobao.com). */
type SiteRule = (sub: string, path: string, q: Query) => MarketplaceRef | undefined;

const ref = (platform: string, kind: ListingKind, id: string | null | undefined): MarketplaceRef | undefined => {
  if (id === null || id === undefined || id === '') return undefined;
  const rule = PLATFORMS.get(platform)?.[kind];
  if (!rule) return undefined;
  const r = rule(id);
  return 'problem' in r ? undefined : { platform: r.platform ?? platform, kind, id: r.id };
};

const firstParam = (q: Query, ...names: string[]): string | null => {
  for (const n of names) {
    const v = q(n);
    if (v !== null && v !== '') return v.trim();
  }
  return null;
};

const decode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

const TAOBAO_RESERVED = new Set([
  'www', 'item', 'world', 'm', 'h5', 'a', 's', 'shop', 'store', 'login', 'buyertrade', 'cart', 'ai', 'market', 'detail', 'i', 'member1',
  'rate', 'favorite', 'trade', 'uland', 'pages', 'huodong', 'ju', 'tb', 'ald', 'main', 're', 'gw', 'g', 'img', 'guang', 'mai', 'sell',
  'myseller', 'wuliu', 'service', 'help', 'bbs', 'wangwang', 'err', 'tmall', 'chaoshi', 'tejia', 'list', 'tao', 'alimama', 'upload',
  'click', 'redirect', 'passport', 'reg', 'qianniu', 'open', 'developer', 'fuwu', 'seller', 'consumerservice', 'survey', 'shopsearch',
  'taobao', 'mo', 'wap', 'api', 'cdn', 'static', 'assets', 'video', 'live', 'tv', 'maps', 'uz', 'temai', 'mall',
]);
const TMALL_RESERVED = new Set([
  'www', 'detail', 'chaoshi', 'list', 'login', 'm', 'pages', 'world', 'vip', 'cart', 'buy', 'mdetail', 'mall', 'register', 'service',
  'help', 'brand', 'jx', 'miao', 'shop', 'store', 'www2', 'wap', 'h5', 'api', 'search', 'rate', 'trade', 'fuwu', 'seller', 'ju',
  'tmall', 'global', 'hk', 'mei', 'yao', 'car', 'ny', '3c', 'fushi', 'food', 'home', 'sports', 'baby', 'pages-fast', 'fast',
]);
const ALI1688_RESERVED = new Set([
  'www', 'detail', 'm', 's', 'login', 'work', 'trade', 'dj', 'air', 'page', 'show', 'winport', 're', 'sale', 'p4p', 'cart', 'offer',
  'buyer', 'seller', 'club', 'cn', 'go', 'tao', 'mall', 'search', 'home', 'i', 'h5', 'wap', 'api', 'help', 'service', 'shop', 'member',
  'order', 'pay', 'cdn', 'static', 'img', 'video', 'live', 'news', 'info', 'china', 'global', 'sourcing', 'passport', 'reg', 'fuwu',
]);

const ITEM_PAGE = /\/(?:item|detail)\.html?$/;

const taobao: SiteRule = (sub, path, q) => {
  if (ITEM_PAGE.test(path)) return ref('taobao', 'item', firstParam(q, 'id', 'itemId', 'item_id'));
  let m = /^\/item\/(\d+)\.html?$/.exec(path) ?? /^\/i(\d+)\.html?$/.exec(path);
  if (m) return ref('taobao', 'item', m[1]);
  m = /^shop(\d+)(?:\.|$)/.exec(sub);
  if (m) return ref('taobao', 'shop', m[1]);
  if (path.includes('shop')) {
    const id = firstParam(q, 'shop_id', 'shopId', 'shopid');
    if (id) return ref('taobao', 'shop', id);
  }
  if (sub !== '' && !sub.includes('.') && !TAOBAO_RESERVED.has(sub)) return ref('taobao', 'shop', sub);
  return undefined;
};

const tmall: SiteRule = (sub, path, q) => {
  if (ITEM_PAGE.test(path)) return ref('taobao', 'item', firstParam(q, 'id', 'itemId', 'item_id'));
  const m = /^\/item\/(\d+)\.html?$/.exec(path);
  if (m) return ref('taobao', 'item', m[1]);
  if (path.includes('shop')) {
    const id = firstParam(q, 'shop_id', 'shopId', 'shopid');
    if (id && /^\d+$/.test(id)) return ref('taobao', 'shop', id);
  }
  if (sub !== '' && !sub.includes('.') && !TMALL_RESERVED.has(sub)) return ref('tmall', 'shop', sub);
  return undefined;
};

const jd: SiteRule = (sub, path, q) => {
  let m = /^\/(?:product\/)?(\d+)\.html$/.exec(path);
  if (m && sub !== 'mall') return ref('jd', 'item', m[1]);
  if (path === '/ware/view.action') return ref('jd', 'item', firstParam(q, 'wareId', 'wareid'));
  m = /^\/index-(\d+)\.html$/.exec(path);
  if (m) return ref('jd', 'shop', m[1]);
  if (sub === 'shop.m' || sub === 'shop' || sub === 'mall' || sub === 'shop.jd') return ref('jd', 'shop', firstParam(q, 'shopId', 'shopid'));
  return undefined;
};

const aliexpress: SiteRule = (_sub, path) => {
  const m =
    /^\/item\/(?:[^/]+\/)?(\d+)\.html$/.exec(path) ?? /^\/i\/(\d+)\.html$/.exec(path) ?? /^\/store\/product\/[^/]+\/\d+_(\d+)\.html$/.exec(path);
  if (m) return ref('aliexpress', 'item', m[1]);
  const s = /^\/store\/(?:all-wholesale-products\/|group\/[^/]+\/)?(\d+)(?:[._/]|$)/.exec(path);
  if (s) return ref('aliexpress', 'shop', s[1]);
  return undefined;
};

const ali1688: SiteRule = (sub, path, q) => {
  const m = /^\/offer\/(\d+)\.html$/.exec(path);
  if (m) return ref('1688', 'item', m[1]);
  if (sub.startsWith('detail')) {
    const id = firstParam(q, 'offerId', 'offerid');
    if (id) return ref('1688', 'item', id);
  }
  if (sub !== '' && !sub.includes('.') && !ALI1688_RESERVED.has(sub)) return ref('1688', 'shop', sub);
  return undefined;
};

const pinduoduo: SiteRule = (_sub, path, q) => {
  if (/^\/goods\d*\.html$/.test(path)) return ref('pinduoduo', 'item', firstParam(q, 'goods_id'));
  if (path === '/mall_page.html') return ref('pinduoduo', 'shop', firstParam(q, 'mall_id'));
  return undefined;
};

const AMAZON_ITEM = /\/(?:dp|dp\/product|gp\/product|gp\/aw\/d|gp\/offer-listing|exec\/obidos\/asin|o\/asin)\/([a-z0-9]{10})(?:[/.]|$)/i;
const AMAZON_SELLER_PAGES = new Set(['/sp', '/s', '/gp/aag/main', '/gp/aag/details', '/gp/help/seller/at-a-glance.html']);
const amazon: SiteRule = (_sub, path, q) => {
  const m = AMAZON_ITEM.exec(path);
  if (m) return ref('amazon', 'item', m[1]);
  if (AMAZON_SELLER_PAGES.has(path)) return ref('amazon', 'shop', firstParam(q, 'seller', 'me'));
  const s = /^\/shops\/([a-z0-9]{8,20})(?:\/|$)/i.exec(path);
  if (s) return ref('amazon', 'shop', s[1]);
  return undefined;
};

const ebay: SiteRule = (_sub, path, q) => {
  let m = /^\/itm\/(?:[^/]+\/)?(\d{9,15})(?:\/|$)/.exec(path) ?? /^\/i\/(\d{9,15})(?:\/|$)/.exec(path);
  if (m) return ref('ebay', 'item', m[1]);
  if (/\/ebayisapi\.dll$/i.test(path)) return ref('ebay', 'item', firstParam(q, 'item'));
  m = /^\/(?:usr|str)\/([^/]+)\/?$/.exec(path) ?? /^\/str\/([^/]+)\//.exec(path);
  if (m) return ref('ebay', 'shop', decode(m[1]!));
  if (path === '/sch/i.html') return ref('ebay', 'shop', firstParam(q, '_ssn'));
  return undefined;
};

const shopee =
  (site: string): SiteRule =>
  (_sub, path) => {
    const p = path.endsWith('/') ? path.slice(0, -1) : path;
    const m = /-i\.\d+\.(\d+)$/.exec(p) ?? /^\/product\/\d+\/(\d+)$/.exec(p);
    if (m) return ref(site, 'item', m[1]);
    const s = /^\/shop\/(\d+)(?:\/|$)/.exec(p);
    if (s) return ref(site, 'shop', s[1]);
    return undefined;
  };

const lazada =
  (site: string): SiteRule =>
  (_sub, path) => {
    const m = /^\/products\/(?:[^/]*?-)?i(\d+)(?:-s\d+)?\.html$/.exec(path);
    if (m) return ref(site, 'item', m[1]);
    const s = /^\/shop\/([^/]+)(?:\/|$)/.exec(path);
    if (s) return ref(site, 'shop', decode(s[1]!));
    return undefined;
  };

const temu: SiteRule = (_sub, path, q) => {
  let m = /-g-(\d+)\.html$/.exec(path);
  if (m) return ref('temu', 'item', m[1]);
  if (/(?:^|\/)goods\.html$/.test(path)) return ref('temu', 'item', firstParam(q, 'goods_id'));
  m = /-m-(\d+)\.html$/.exec(path);
  if (m) return ref('temu', 'shop', m[1]);
  if (/(?:^|\/)mall\.html$/.test(path)) return ref('temu', 'shop', firstParam(q, 'mall_id'));
  return undefined;
};

const etsy: SiteRule = (_sub, path) => {
  const m = /^(?:\/[a-z]{2}(?:-[a-z]{2})?)?\/listing\/(\d+)(?:\/|$)/i.exec(path);
  if (m) return ref('etsy', 'item', m[1]);
  const s = /^(?:\/[a-z]{2}(?:-[a-z]{2})?)?\/shop\/([a-z0-9]+)(?:\/|$)/i.exec(path);
  if (s) return ref('etsy', 'shop', s[1]);
  return undefined;
};

const walmart: SiteRule = (_sub, path) => {
  const m = /^\/ip\/(?:[^/]+\/)?(\d+)(?:\/|$)/.exec(path);
  if (m) return ref('walmart', 'item', m[1]);
  const s = /^(?:\/global)?\/seller\/(\d+)(?:\/|$)/.exec(path);
  if (s) return ref('walmart', 'shop', s[1]);
  return undefined;
};

const mercadolibre: SiteRule = (_sub, path) => {
  let m = /^\/(M[A-Z]{2})-?(\d+)(?:-|\/|$)/i.exec(path);
  if (m) return ref('mercadolibre', 'item', m[1]! + m[2]!);
  m = /\/p\/(M[A-Z]{2})(\d+)(?:\/|$)/i.exec(path);
  if (m) return ref('mercadolibre', 'product', m[1]! + m[2]!);
  m = /\/_CustId_(\d+)/.exec(path);
  if (m) return ref('mercadolibre', 'shop', m[1]);
  return undefined;
};

const AMAZON_DOMAINS = [
  'com', 'co.uk', 'de', 'fr', 'it', 'es', 'co.jp', 'ca', 'com.au', 'in', 'com.mx', 'com.br', 'nl', 'se', 'pl', 'sg', 'ae', 'sa', 'com.tr',
  'eg', 'com.be', 'cn', 'co.za', 'ie',
].map((tld) => `amazon.${tld}`);
const EBAY_DOMAINS = [
  'com', 'co.uk', 'de', 'fr', 'it', 'es', 'com.au', 'ca', 'at', 'ch', 'be', 'nl', 'ie', 'pl', 'com.hk', 'com.sg', 'com.my', 'ph', 'in',
].map((tld) => `ebay.${tld}`);
const MERCADOLIBRE_DOMAINS = [
  'com.ar', 'com.mx', 'cl', 'com.co', 'com.pe', 'com.uy', 'com.ve', 'com.ec', 'com.bo', 'com.py', 'com.do', 'co.cr', 'com.pa', 'com.gt',
  'com.ni', 'com.sv', 'com.hn',
].map((tld) => `mercadolibre.${tld}`);

/** Marketplace domain (the host's last two or three labels) -> platform and URL rule. */
const SITES = new Map<string, { platform: string; rule: SiteRule }>([
  ['taobao.com', { platform: 'taobao', rule: taobao }],
  ['tmall.com', { platform: 'tmall', rule: tmall }],
  ['tmall.hk', { platform: 'tmall', rule: tmall }],
  ['jd.com', { platform: 'jd', rule: jd }],
  ['jd.hk', { platform: 'jd', rule: jd }],
  ['aliexpress.com', { platform: 'aliexpress', rule: aliexpress }],
  ['aliexpress.us', { platform: 'aliexpress', rule: aliexpress }],
  ['aliexpress.ru', { platform: 'aliexpress', rule: aliexpress }],
  ['1688.com', { platform: '1688', rule: ali1688 }],
  ['yangkeduo.com', { platform: 'pinduoduo', rule: pinduoduo }],
  ['pinduoduo.com', { platform: 'pinduoduo', rule: pinduoduo }],
  ...AMAZON_DOMAINS.map((d) => [d, { platform: 'amazon', rule: amazon }] as const),
  ...EBAY_DOMAINS.map((d) => [d, { platform: 'ebay', rule: ebay }] as const),
  ...SHOPEE_SITES.map((d) => [d, { platform: d, rule: shopee(d) }] as const),
  ...LAZADA_SITES.map((d) => [d, { platform: d, rule: lazada(d) }] as const),
  ['temu.com', { platform: 'temu', rule: temu }],
  ['etsy.com', { platform: 'etsy', rule: etsy }],
  ['walmart.com', { platform: 'walmart', rule: walmart }],
  ...MERCADOLIBRE_DOMAINS.map((d) => [d, { platform: 'mercadolibre', rule: mercadolibre }] as const),
  ['mercadolivre.com.br', { platform: 'mercadolibre', rule: mercadolibre }],
]);

/** The marketplace a (lower-case, ASCII) host belongs to, with the host's subdomain part. */
function siteOf(host: string): { platform: string; rule: SiteRule; sub: string } | undefined {
  let dot2 = host.lastIndexOf('.');
  if (dot2 <= 0) return undefined;
  dot2 = host.lastIndexOf('.', dot2 - 1);
  const dot3 = dot2 > 0 ? host.lastIndexOf('.', dot2 - 1) : -1;
  if (dot2 > 0) {
    const three = SITES.get(host.slice(dot3 + 1));
    if (three) return { ...three, sub: dot3 > 0 ? host.slice(0, dot3) : '' };
  }
  const two = SITES.get(host.slice(dot2 + 1));
  if (two) return { ...two, sub: dot2 > 0 ? host.slice(0, dot2) : '' };
  return undefined;
}

/**
 * The listing, catalogue product or shop a marketplace URL points at, or undefined when the host is
 * no known marketplace or the page is not one of its listing or shop pages (search, cart, short
 * links …), which then get the generic URL rules. `host` is lower-case ASCII without a trailing dot
 * or leading `www.`, `path` the normalised path, `search` the raw query (`?…` or '').
 * A query parameter given twice with different values counts as absent (its order would decide).
 */
export function marketplaceRef(host: string, path: string, search: string): MarketplaceRef | undefined {
  const site = siteOf(host);
  if (!site) return undefined;
  let params: URLSearchParams | undefined;
  const q: Query = (name) => {
    if (search === '') return null;
    const all = (params ??= new URLSearchParams(search)).getAll(name);
    if (all.length === 0) return null;
    const first = all[0]!;
    for (let i = 1; i < all.length; i++) if (all[i] !== first) return null;
    return first;
  };
  return site.rule(site.sub, path, q);
}

/**
 * The canonical platform name for what a user wrote: a canonical name (`taobao`), an alias (`tb`,
 * `淘宝`), or a marketplace domain or host (`amazon.de`, `www.ebay.co.uk`, `shopee.sg`).
 * `{ needsSite }` for names that cover several separate country marketplaces (`shopee`, `lazada`).
 */
export function resolvePlatform(name: string): { platform: string } | { needsSite: string[] } | undefined {
  const n = name.toLowerCase();
  if (PLATFORMS.has(n)) return { platform: n };
  const alias = ALIASES.get(n);
  if (alias) return { platform: alias };
  const sites = NEEDS_SITE.get(n);
  if (sites) return { needsSite: sites };
  const site = siteOf(n);
  if (site) return { platform: site.platform };
  return undefined;
}

/** Whether a canonical platform name has ids of this kind. */
export function platformHasKind(platform: string, kind: ListingKind): boolean {
  return PLATFORMS.get(platform)?.[kind] !== undefined;
}

/** The canonical id (and owning platform) of one raw id of a known platform, or what is wrong with it. */
export function normalizeMarketplaceId(platform: string, kind: ListingKind, raw: string): { platform: string; id: string } | { problem: string } {
  const rule = PLATFORMS.get(platform)?.[kind];
  if (!rule) return { problem: `${platform} has no ${kind} ids` };
  const r = rule(raw);
  return 'problem' in r ? r : { platform: r.platform ?? platform, id: r.id };
}

/** Canonical platform names, for docs and tests. */
export const PLATFORM_NAMES: readonly string[] = [...PLATFORMS.keys()];
