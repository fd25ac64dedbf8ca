import { punycodeOk } from './domain.ts';
import { marketplaceRef, normalizeMarketplaceId, platformHasKind, resolvePlatform, type ListingKind, type MarketplaceRef } from './marketplaces.ts';
import { NormalizeError, type NormalizeOptions } from './types.ts';
import { reservedName, reservedNameMessage } from './reserved.ts';

/*
 * url: rules in schema/identifiers.md (`url`), in the order applied here.
 *
 * Libraries: the WHATWG URL parser built into Node (ada) does the parsing, IDNA (UTS #46) of the host,
 * IPv4/IPv6 canonicalisation, dot-segment removal, percent-encoding of what must be encoded and
 * dropping the scheme's default port. What is added here: https for http, `www.` removed, userinfo
 * and fragment removed, tracking and session parameters removed, the query sorted, percent-escapes
 * of unreserved characters decoded, trailing slashes removed, and marketplace listing and shop URLs
 * reduced to `<platform>:<kind>:<id>` (marketplaces.ts).
 */

const fail = (reason: string, message: string): never => {
  throw new NormalizeError('url', `url.${reason}`, message);
};

/** Query parameters removed wherever they appear (compared in lower case). Documented list. */
export const TRACKING_PARAMS: ReadonlySet<string> = new Set([
  // Ad click ids and analytics (Google, Meta, Microsoft, TikTok, X, LinkedIn, Yandex, Pinterest …)
  'gclid', 'gclsrc', 'dclid', 'gbraid', 'wbraid', 'gad_source', 'gad_campaignid', 'srsltid', '_ga', '_gl',
  'fbclid', 'fb_action_ids', 'fb_action_types', 'fb_ref', 'fb_source', 'msclkid', 'ttclid', 'twclid', 'li_fat_id',
  'yclid', 'ysclid', '_openstat', 'igshid', 'igsh', 'epik', 'rb_clickid', 'wickedid', 'irclickid', 'cjevent', 's_kwcid', 'ef_id',
  // E-mail and marketing automation (Mailchimp, HubSpot, Marketo, Vero, Olytics, Bronto)
  'mc_cid', 'mc_eid', '_hsenc', '_hsmi', '__hssc', '__hstc', '__hsfp', 'hsctatracking', 'mkt_tok', 'vero_id', 'vero_conv',
  'oly_anon_id', 'oly_enc_id', '_bta_tid', '_bta_c',
  // Referral markers
  'ref', 'ref_', 'referrer', 'ref_src', 'ref_url',
  // Alibaba group (Taobao, Tmall, AliExpress, 1688) tracking
  'spm', 'scm', 'pvid', 'abbucket', 'acm', 'utparam', 'ali_refid', 'ali_trackid', 'algo_pvid', 'algo_expid', 'btsid', 'ws_ab_test',
  'clicktrackinfo', 'terminal_id', 'afsmartredirect', 'gatewayadapt', 'tracelog', 'ut_sk', 'share_crt_v', 'price_tid', 'pricetid',
  // eBay
  '_trksid', '_trkparms', '_trkid', 'mkevt', 'mkcid', 'mkrid', 'campid', 'toolid', 'customid', 'amdata',
  // Amazon affiliates and page tracking
  'linkcode', 'ascsubtag', 'pd_rd_i', 'pd_rd_r', 'pd_rd_w', 'pd_rd_wg', 'pf_rd_p', 'pf_rd_r', 'pf_rd_s', 'pf_rd_t', 'pf_rd_i', 'pf_rd_m', '_encoding',
  // Shopee, Lazada, Temu, Pinduoduo share and tracking
  'sp_atk', 'xptdk', 'trackinginfo', 'clicktrackid', '_refer_page', 'refer_page_name', 'refer_page_id', 'refer_page_sn', '_x_sessn_id',
  'share_uin', 'refer_share_id', 'refer_share_uin', 'refer_share_channel', '_x_ads_channel', '_x_ads_sub_channel',
  // Trace, click and share ids
  'traceid', 'trace_id', 'trackid', 'track_id', 'tracking_id', 'trk', 'clickid', 'click_id', 'share_token', 'sharetoken', 'share_from',
  'share_source', 'share_medium', 'share_channel',
  // WeChat share wrappers
  'isappinstalled', 'sharer_sharetime', 'sharer_shareid', 'nsukey',
  // Session ids
  'jsessionid', 'phpsessid', 'sessionid', 'session_id', 'sessid', 'aspsessionid', 'cfid', 'cftoken',
]);
/** Query parameter prefixes removed (compared in lower case). */
export const TRACKING_PREFIXES: readonly string[] = ['utm_', 'pk_', 'mtm_', 'pf_rd_', 'pd_rd_', 'hsa_', 'aff_', 'ali_', 'aspsessionid'];

const HTTP_SCHEME = /^https?:/i;
const ANY_SCHEME = /^([a-z][a-z0-9+.-]*):/i;
/** `host.tld:8080/…` written without a scheme: the part before `:` is a dotted host and a port follows. */
const HOST_PORT = /^[^/?#@:\s]+\.[^/?#@:\s]+:\d+(?:[/?#]|$)/;
/** `<platform>:<kind>:<id>`: a marketplace reference in its canonical form. */
const REF = /^([^\s:/?#]+):(item|shop|product):(.+)$/i;
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;
const UNRESERVED_ESCAPE = /%(?:2[dDeE]|3\d|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;
const STRAY_PERCENT = /%(?![0-9a-fA-F]{2})/g;
const ANY_ESCAPE = /%(?:[0-9a-fA-F][a-f]|[a-f][0-9a-fA-F])/g;

export function normalizeUrl(value: string, _opts: NormalizeOptions): string {
  // 1. A marketplace reference in canonical form (`amazon:item:B0…`) is checked and returned as is.
  const refMatch = HTTP_SCHEME.test(value) ? null : REF.exec(value);
  if (refMatch) return normalizeRef(refMatch[1]!, refMatch[2]!.toLowerCase() as ListingKind, refMatch[3]!);
  const r = analyzeUrl(value);
  return 'ref' in r ? `${r.ref.platform}:${r.ref.kind}:${r.ref.id}` : r.url;
}

/** An http(s) URL reduced: the marketplace listing or shop it points at, or its generic canonical form. */
export type UrlAnalysis = { ref: MarketplaceRef } | { url: string };

/**
 * Steps 2–10 of the url rules for one URL (not a `<platform>:<kind>:<id>` reference). Throws
 * NormalizeError with a `url.*` reason. Also used by the shop normaliser for shop URLs.
 */
export function analyzeUrl(value: string): UrlAnalysis {
  let s = value;
  // 2. Scheme: http and https only; a URL written without one (`www.example.com/x`, `//example.com`) is http.
  if (!HTTP_SCHEME.test(s)) {
    if (s.startsWith('//')) s = `http:${s}`;
    else {
      const scheme = ANY_SCHEME.exec(s);
      if (scheme && !HOST_PORT.test(s)) fail('bad_scheme', `${scheme[1]!.toLowerCase()}: URLs are not accepted; only http and https`);
      s = `http://${s}`;
    }
  }
  // 3. WHATWG parse: IDNA host, IP canonical forms, dot segments, percent-encoding, default port.
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return unparseable(s);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('bad_scheme', `${url.protocol} URLs are not accepted; only http and https`);
  let host = url.hostname;
  if (host === '') fail('no_host', 'has no host');
  if (!punycodeOk(host)) fail('bad_host', 'host has an xn-- label that is not valid punycode');

  // 4. Host: no trailing dot, no leading `www.`; IP literals allowed, single-label names refused.
  if (host.endsWith('.')) host = host.slice(0, -1);
  const ip = host.startsWith('[') || IPV4.test(host);
  if (!ip) {
    if (host.indexOf('.') < 0) fail('bad_host', 'host is a single label (like "localhost"); a public host name or an IP address is required');
    if (host.startsWith('.') || host.endsWith('.') || host.includes('..')) fail('bad_host', 'host has an empty label (two dots in a row, or a dot at the start)');
    // Reserved names (reserved.ts): .example and .test are hosts like any other; .invalid,
    // .localhost and .local are refused.
    if (reservedName(host) === 'unreachable') fail('reserved_name', `host ${reservedNameMessage(host)}`);
    while (host.startsWith('www.') && host.indexOf('.', 4) > 0) host = host.slice(4);
  }
  // 5. Path: `;jsessionid=` path parameters dropped, escapes normalised, trailing slashes dropped.
  let path = url.pathname;
  if (path.includes(';')) path = path.replace(/;(?:jsessionid|phpsessid|sessionid|sid)=[^/]*/gi, '');
  path = normalizeEscapes(path);
  if (path.length > 1 && path.endsWith('/')) {
    path = path.replace(/\/+$/, '');
    if (path === '') path = '/';
  }

  // 6. Marketplace listing and shop pages (on the host and path as normalised so far).
  const ref = marketplaceRef(host, path, url.search);
  if (ref) return { ref };

  // 7. Port: 80 and 443 dropped whatever the scheme (http and https are one).
  const port = url.port === '' || url.port === '80' || url.port === '443' ? '' : `:${url.port}`;
  // 8. Query: tracking and session parameters dropped, escapes normalised, `k=` written `k`, sorted.
  const query = url.search === '' ? '' : normalizeQuery(url.search.slice(1));
  // 9. Fragment and userinfo dropped; https.
  return { url: `https://${host}${port}${path}${query === '' ? '' : `?${query}`}` };
}

function normalizeRef(platformRaw: string, kind: ListingKind, rawId: string): string {
  const resolved = resolvePlatform(platformRaw);
  if (resolved === undefined) {
    return fail('unknown_platform', `"${platformRaw.toLowerCase()}" is not a marketplace this node reduces URLs for; give the listing's URL`);
  }
  if ('needsSite' in resolved) {
    return fail('ambiguous_platform', `"${platformRaw.toLowerCase()}" runs one marketplace per country; name the site (${resolved.needsSite.join(', ')})`);
  }
  if (!platformHasKind(resolved.platform, kind)) fail('bad_kind', `${resolved.platform} has no ${kind} ids`);
  const r = normalizeMarketplaceId(resolved.platform, kind, rawId.trim());
  if ('problem' in r) return fail('bad_listing_id', r.problem);
  return `${r.platform}:${kind}:${r.id}`;
}

/** Which part of an unparseable URL is at fault: the host, or something else. */
function unparseable(s: string): never {
  const m = /^https?:\/\/(?:[^/?#]*@)?(\[[^\]]*\]|[^/?#:]*)/i.exec(s);
  const host = m?.[1] ?? '';
  if (host === '') fail('no_host', 'has no host');
  try {
    new URL(`http://${host}/`);
  } catch {
    fail('bad_host', 'host is not a valid host name or IP address');
  }
  return fail('unparseable', 'cannot be parsed as a URL (bad port, or characters a URL cannot hold)');
}

/**
 * A `%` that starts no escape becomes `%25`; `%41` -> `A` for unreserved characters (RFC 3986
 * §6.2.2.2); other escapes in upper case.
 */
function normalizeEscapes(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(STRAY_PERCENT, '%25').replace(UNRESERVED_ESCAPE, (e) => String.fromCharCode(parseInt(e.slice(1), 16))).replace(ANY_ESCAPE, (e) => e.toUpperCase());
}

function isTracking(key: string): boolean {
  const k = key.toLowerCase();
  if (TRACKING_PARAMS.has(k)) return true;
  for (const p of TRACKING_PREFIXES) if (k.startsWith(p)) return true;
  return false;
}

function normalizeQuery(q: string): string {
  const kept: string[] = [];
  for (const raw of q.split('&')) {
    if (raw === '') continue;
    const pair = normalizeEscapes(raw);
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key === '' && (eq < 0 || eq === pair.length - 1)) continue;
    if (isTracking(key)) continue;
    kept.push(eq === pair.length - 1 ? key : pair);
  }
  if (kept.length > 1) kept.sort(comparePairs);
  return kept.join('&');
}

/** By key, then by the whole pair; plain code-unit order, independent of locale. */
function comparePairs(a: string, b: string): number {
  const ka = a.indexOf('=') < 0 ? a : a.slice(0, a.indexOf('='));
  const kb = b.indexOf('=') < 0 ? b : b.slice(0, b.indexOf('='));
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
