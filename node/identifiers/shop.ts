import { normalizeMarketplaceId, resolvePlatform } from './marketplaces.ts';
import { analyzeUrl, type UrlAnalysis } from './url.ts';
import { NormalizeError, type NormalizeOptions } from './types.ts';

/*
 * shop: a shop or seller on a platform, canonical `<platform>:<id>`. Platform names and id rules are
 * those of marketplaces.ts, so that `taobao:123456789`, `tb 123456789` and
 * https://shop123456789.taobao.com/ all give `taobao:123456789`.
 * Rules in schema/identifiers.md (`shop`), in the order applied here.
 */

const fail = (reason: string, message: string): never => {
  throw new NormalizeError('shop', `shop.${reason}`, message);
};

const ASCII = /^[\x00-\x7f]*$/;
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** A URL written without a scheme: a dotted host name followed by a path, query or nothing. */
const BARE_URL = /^[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:[/?#]|$)/i;
/** `platform:id`, `platform: id`, `platform id`. */
const PLATFORM_ID = /^([^\s:/]+)\s*(?::|\s)\s*(.*)$/s;
const PLATFORM_NAME = /^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$/;
const MAX_ID = 256;

export function normalizeShop(value: string, _opts: NormalizeOptions): string {
  // 1. NFKC: full-width colons, letters and digits to ASCII.
  const s = ASCII.test(value) ? value : value.normalize('NFKC');
  // 2. A marketplace shop URL is reduced by the url rules for marketplaces.
  if (HAS_SCHEME.test(s) || s.startsWith('//') || (BARE_URL.test(s) && !PLATFORM_ID.test(s))) return fromUrl(s);
  // 3. `<platform><separator><id>`.
  const m = PLATFORM_ID.exec(s);
  if (!m) return fail('no_platform', 'names no platform; write <platform>:<shop id>, e.g. taobao:123456789');
  const platformRaw = m[1]!.toLowerCase();
  let id = m[2]!.trim();
  // The url type's canonical form `taobao:shop:123` is accepted too.
  const kind = /^shop\s*[:\s]\s*(\S.*)$/is.exec(id);
  if (kind) id = kind[1]!.trim();
  if (id === '') fail('empty_id', 'has a platform but no shop id');
  if (/^(?:item|product)\s*:/i.test(id)) fail('listing_not_shop', 'names a listing (item), not a shop');
  if (/^shop\s*:/i.test(id)) fail('bad_id', 'shop id starts with "shop:" twice');

  // 4. Known platforms: canonical name (aliases and marketplace domains accepted) and id rule.
  const resolved = resolvePlatform(platformRaw);
  if (resolved && 'needsSite' in resolved) {
    fail('ambiguous_platform', `"${platformRaw}" runs one marketplace per country with separate shop ids; name the site (${resolved.needsSite.join(', ')})`);
  }
  if (resolved && 'platform' in resolved) {
    const r = normalizeMarketplaceId(resolved.platform, 'shop', id);
    if ('problem' in r) return fail('bad_id', r.problem);
    return `${r.platform}:${r.id}`;
  }
  // 5. Other platforms: any name of lower-case letters, digits, "." and "-"; the id kept as written
  //    (its case may matter), without whitespace.
  if (!PLATFORM_NAME.test(platformRaw)) {
    fail('bad_platform', 'platform name may hold only letters, digits, "." and "-" (at most 64), starting and ending with a letter or digit');
  }
  if (/\s/.test(id)) fail('bad_id', 'shop id contains whitespace');
  if (id.startsWith('/')) fail('bad_id', 'shop id starts with "/"');
  if (id.length > MAX_ID) fail('bad_id', `shop id is longer than ${MAX_ID} characters`);
  return `${platformRaw}:${id}`;
}

function fromUrl(s: string): string {
  let r: UrlAnalysis;
  try {
    r = analyzeUrl(s);
  } catch (err) {
    if (err instanceof NormalizeError) return fail('bad_url', `looks like a URL but the url rules refuse it (${err.reason}): ${err.message}`);
    throw err;
  }
  if (!('ref' in r)) return fail('not_a_shop_url', 'is not a shop or seller page of a known marketplace; write <platform>:<shop id>');
  if (r.ref.kind !== 'shop') return fail('listing_not_shop', 'is a listing page, not a shop page; use it as a url identifier, or give the shop');
  return `${r.ref.platform}:${r.ref.id}`;
}
