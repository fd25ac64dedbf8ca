/**
 * One real-world identifier written the ways different members write it. The demo's recurring
 * sellers are known to several members, each of which entered the seller's phone, email, shop,
 * web shop and payment account its own way; every spelling here normalises to the same canonical
 * form (schema/identifiers.md), so the members' indicators match although no two wrote them alike.
 *
 * Spelling `i` is the one member number `i` uses (0, 1, 2; further members wrap around).
 */
import type { IdentifierType } from '../identifiers/vocabulary.ts';

export interface DemoIdentifier {
  type: IdentifierType;
  value: string;
}

/** A US number in the 555-0100..0199 range reserved for fiction: area code and last two digits. */
export interface FictionalUsPhone {
  npa: string;
  /** 0..99: the number is NPA-555-01xx. */
  line: number;
}

export function usPhoneSpelling(p: FictionalUsPhone, variant: number): string {
  const last = `01${String(p.line).padStart(2, '0')}`;
  switch (variant % 3) {
    case 0:
      return `+1 ${p.npa}-555-${last}`;
    case 1:
      // National: read in the record's region, US.
      return `(${p.npa}) 555 ${last}`;
    default:
      return `+1 (${p.npa}) 555-${last}`;
  }
}

/** `local` is lower case with dots between words, e.g. `golden.harbor.trading`. */
export function emailSpelling(local: string, domain: string, displayName: string, variant: number): string {
  switch (variant % 3) {
    case 0:
      return `${local}@${domain}`;
    case 1: {
      const capitalised = local
        .split('.')
        .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
        .join('.');
      return `${capitalised}@${domain.charAt(0).toUpperCase()}${domain.slice(1).replace(/\.[a-z]+$/, (t) => t.toUpperCase())}`;
    }
    default:
      return `${displayName} <${local.toUpperCase()}@${domain}>`;
  }
}

/** A seller's shop on a known marketplace, as one member wrote it. */
export type MarketplaceShop = { platform: 'amazon'; sellerId: string } | { platform: 'ebay'; user: string } | { platform: 'etsy'; shop: string };

export function shopSpelling(s: MarketplaceShop, variant: number): string {
  const v = variant % 3;
  switch (s.platform) {
    case 'amazon':
      return [`amazon:${s.sellerId}`, `https://www.amazon.co.uk/sp?seller=${s.sellerId}&ref_=v_sp_storefront`, `amazon.de ${s.sellerId.toLowerCase()}`][v]!;
    case 'ebay':
      return [`ebay:${s.user}`, `https://www.ebay.com/usr/${s.user.toLowerCase()}?_trksid=p2047675`, `eBay: ${s.user.toUpperCase()}`][v]!;
    case 'etsy':
      return [`etsy:${s.shop}`, `https://www.etsy.com/shop/${s.shop}?ref=shop_sugg_market`, `https://www.etsy.com/de/shop/${s.shop.toLowerCase()}/`][v]!;
  }
}

/** A page of the seller's own web shop: `host` without www, `path` without slashes at its ends. */
export function urlSpelling(host: string, path: string, variant: number): string {
  switch (variant % 3) {
    case 0:
      return `https://${host}/${path}`;
    case 1:
      return `http://www.${host}/${path}/?utm_source=instagram&utm_medium=social`;
    default:
      return `${host}/${path}?fbclid=IwAR0demo&gclid=Cj0demo`;
  }
}

export function domainSpelling(host: string, variant: number): string {
  return [host, `www.${host}`, `https://${host}/`][variant % 3]!;
}

/** Where the seller gets paid: an IBAN (electronic format) or a PayPal.me name. */
export type PaymentAccount = { scheme: 'iban'; iban: string } | { scheme: 'paypal'; name: string };

export function paymentSpelling(p: PaymentAccount, variant: number): string {
  const v = variant % 3;
  if (p.scheme === 'iban') {
    const grouped = p.iban.replace(/(.{4})(?=.)/g, '$1 ');
    return [p.iban, grouped, `IBAN: ${grouped.toLowerCase()}`][v]!;
  }
  return [`paypal:${p.name.toLowerCase()}`, `https://www.paypal.me/${p.name}/25EUR`, `paypal.me/${p.name.toLowerCase()}`][v]!;
}

/** An IPv6 address of the documentation prefix 2001:db8::/32, given by its last group. */
export function ipSpelling(group: number, variant: number): string {
  const hex = group.toString(16);
  return [`2001:db8:ff::${hex}`, `2001:DB8:FF:0:0:0:0:${hex.toUpperCase()}`, `2001:0db8:00ff:0000:0000:0000:0000:${hex.padStart(4, '0')}`][variant % 3]!;
}
