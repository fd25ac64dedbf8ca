/**
 * Synthetic records for the demo alliance: realistic sellers, shops and listings as a marketplace or
 * a brand's enforcement team records them, the same for the same options on every run (seeded PRNG).
 *
 * Most records are known to one member only: their identifiers carry a per-member serial or come from
 * a per-member number pool, so they never match across members by accident. A few percent are
 * **recurring sellers**, known to two or all three members, each member spelling the seller's
 * identifiers its own way (spellings.ts); they are what the exchange finds across members. The first
 * few recurring sellers are known to every member with every identifier, and the examples the demo
 * prints are made from them.
 */
import { composeIBAN } from 'ibantools';
import type { Category, IdentifierType, RecordStatus, SubjectKind } from '../identifiers/vocabulary.ts';
import { DEMO_MEMBERS, type DemoMember } from './members.ts';
import { Prng } from './prng.ts';
import {
  domainSpelling,
  emailSpelling,
  ipSpelling,
  paymentSpelling,
  shopSpelling,
  urlSpelling,
  usPhoneSpelling,
  type DemoIdentifier,
  type FictionalUsPhone,
  type MarketplaceShop,
  type PaymentAccount,
} from './spellings.ts';
import { ADJECTIVES, COMPANY_SUFFIXES, EMAIL_DOMAINS, EVIDENCE_NOTES, FIRST_NAMES, LAST_NAMES, NOUNS, PRODUCTS, SHOP_TLDS } from './words.ts';

export const DEFAULT_SEED = 'alliance-demo-v1';

/** A record as importRecords takes it (RecordInput). */
export interface DemoRecordInput {
  kind: SubjectKind;
  name: string;
  identifiers: DemoIdentifier[];
  categories: Category[];
  status: RecordStatus;
  confidence: number;
  brands: string[];
  notes: string;
  evidence: string[];
  externalId: string;
  region: string;
}

/** A seller several members know. `spellings` has, per member id holding it, what that member recorded. */
export interface RecurringSeller {
  index: number;
  name: string;
  holders: string[];
  spellings: Record<string, DemoIdentifier[]>;
}

/** A lookup to run at `member` with `value` (that member's own spelling), expected to be found at `expect`. */
export interface DemoExampleSpec {
  member: string;
  type: IdentifierType;
  value: string;
  expect: string[];
  /** Which recurring seller it is. */
  seller: string;
}

export interface DemoData {
  /** Per member id, in import order. */
  records: Map<string, DemoRecordInput[]>;
  recurring: RecurringSeller[];
  examples: DemoExampleSpec[];
}

export interface DemoDataOptions {
  recordsPerMember: number;
  seed?: string;
  members?: readonly DemoMember[];
}

/** Recurring sellers that every member knows with every identifier: one example each. */
const EXAMPLE_SELLERS = 4;
/** Share of each member's records that are recurring sellers. */
const RECURRING_SHARE = 0.06;

/** Area codes of the recurring sellers' phones (NPA-555-01xx). */
const RECURRING_NPAS = ['202', '201', '203', '207', '208', '209'] as const;

/** Per member position: phone numbers for its own sellers, from ranges reserved for fiction. */
const PHONE_POOLS: ReadonlyArray<{ country: 'US' | 'GB'; prefixes: readonly string[] }> = [
  { country: 'US', prefixes: ['312', '415', '617', '213', '305', '646', '720', '512', '206', '404'] },
  // Ofcom's drama ranges: 020 7946 0xxx, 0161 496 0xxx, 0121 496 0xxx, 0113 496 0xxx, 0117 496 0xxx, 0191 498 0xxx.
  { country: 'GB', prefixes: ['20 7946', '161 496', '121 496', '113 496', '117 496', '191 498'] },
  { country: 'US', prefixes: ['702', '303', '214', '612', '503', '808', '907', '480', '615', '919'] },
];

const EIN_PREFIXES = ['20', '26', '27', '45', '46', '47', '81', '82', '83', '84', '85', '86', '87', '88', '90', '91'] as const;
const IBAN_BANKS = [
  { countryCode: 'DE', bank: '37040044', account: 10 },
  { countryCode: 'DE', bank: '50010517', account: 10 },
  { countryCode: 'GB', bank: 'NWBK601613', account: 8 },
] as const;

const KINDS: ReadonlyArray<readonly [SubjectKind, number]> = [
  ['SELLER', 45],
  ['SHOP', 25],
  ['LISTING', 15],
  ['COMPANY', 10],
  ['PERSON', 5],
];
const STATUSES: ReadonlyArray<readonly [RecordStatus, number]> = [
  ['SUSPECTED', 50],
  ['CONFIRMED', 35],
  ['DISPUTED', 10],
  ['CLEARED', 5],
];
const CATEGORY_SETS: ReadonlyArray<readonly [Category[], number]> = [
  [['COUNTERFEIT'], 50],
  [['COUNTERFEIT', 'TRADEMARK'], 20],
  [['TRADEMARK'], 8],
  [['GREY_MARKET'], 8],
  [['DESIGN'], 5],
  [['COPYRIGHT'], 4],
  [['PATENT'], 2],
  [['OTHER'], 3],
];

/** How many recurring sellers `recordsPerMember` records per member make room for. */
export function recurringCount(recordsPerMember: number): number {
  return Math.min(recordsPerMember, Math.max(EXAMPLE_SELLERS, Math.round(recordsPerMember * RECURRING_SHARE)));
}

export function generateDemoData(opts: DemoDataOptions): DemoData {
  const members = opts.members ?? DEMO_MEMBERS;
  const n = opts.recordsPerMember;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`recordsPerMember must be a whole number from 1 on (got ${n})`);
  const seed = opts.seed ?? DEFAULT_SEED;
  const recurring = recurringSellers(members, n, seed);
  const records = new Map<string, DemoRecordInput[]>();
  members.forEach((member, m) => {
    const mrng = new Prng(`${seed}:member:${member.id}`);
    const own = recurring.filter((s) => s.holders.includes(member.id));
    const slots = mrng.sample(
      Array.from({ length: n }, (_, i) => i),
      own.length,
    );
    const recurringAt = new Map(slots.map((slot, k) => [slot, own[k]!]));
    const list: DemoRecordInput[] = [];
    for (let i = 0; i < n; i++) {
      const seller = recurringAt.get(i);
      list.push(seller === undefined ? ownRecord(mrng, member, m, i) : recurringRecord(mrng, member, seller, i));
    }
    records.set(member.id, list);
  });
  return { records, recurring, examples: examplesOf(recurring, members) };
}

/** The examples `generateDemoData` gives for the same options, without making every record. */
export function demoExamples(opts: DemoDataOptions): DemoExampleSpec[] {
  const members = opts.members ?? DEMO_MEMBERS;
  return examplesOf(recurringSellers(members, opts.recordsPerMember, opts.seed ?? DEFAULT_SEED), members);
}

// ---------------------------------------------------------------------------------------------
// Recurring sellers

/** The recurring sellers depend on the seed and the record count only, not on the members' other records. */
function recurringSellers(members: readonly DemoMember[], recordsPerMember: number, seed: string): RecurringSeller[] {
  return makeRecurringSellers(new Prng(`${seed}:recurring`), members, recurringCount(recordsPerMember));
}

interface SellerIdentity {
  name: string;
  displayName: string;
  phone: FictionalUsPhone;
  email: { local: string; domain: string };
  shop: MarketplaceShop;
  web: { host: string; path: string };
  payment: PaymentAccount;
  ipGroup: number;
}

function makeRecurringSellers(rng: Prng, members: readonly DemoMember[], count: number): RecurringSeller[] {
  const out: RecurringSeller[] = [];
  for (let k = 0; k < count; k++) {
    const identity = sellerIdentity(rng, k);
    const everyone = k < EXAMPLE_SELLERS || members.length <= 2 || rng.chance(0.3);
    const holders = everyone ? members.map((m) => m.id) : rng.sample(members, 2).map((m) => m.id);
    const spellings: Record<string, DemoIdentifier[]> = {};
    members.forEach((member, position) => {
      if (!holders.includes(member.id)) return;
      spellings[member.id] = recurringIdentifiers(rng, identity, position, k < EXAMPLE_SELLERS);
    });
    out.push({ index: k, name: identity.name, holders, spellings });
  }
  return out;
}

function sellerIdentity(rng: Prng, k: number): SellerIdentity {
  const adj = rng.pick(ADJECTIVES);
  const noun = rng.pick(NOUNS);
  const name = `${adj} ${noun} ${rng.pick(COMPANY_SUFFIXES)}`;
  const words = `${adj} ${noun}`.toLowerCase().split(/\s+/);
  const tag = String(k + 17);
  const slug = `${words.join('-')}-${tag}`;
  const platform = (['amazon', 'ebay', 'etsy'] as const)[k % 3]!;
  const shop: MarketplaceShop =
    platform === 'amazon'
      ? { platform, sellerId: `A${rng.string('ABCDEFGHJKLMNPQRSTUVWXYZ0123456789', 13)}` }
      : platform === 'ebay'
        ? { platform, user: `${words.map(capitalise).join('_')}_${tag}` }
        : { platform, shop: `${words.map(capitalise).join('')}${tag}` };
  // The third example seller pays with an IBAN: its example shows spaces and case not mattering.
  const payment: PaymentAccount = k === 2 || (k >= EXAMPLE_SELLERS && rng.chance(0.5)) ? { scheme: 'iban', iban: iban(rng) } : { scheme: 'paypal', name: `${words.map(capitalise).join('')}${tag}` };
  return {
    name,
    displayName: `${adj} ${noun}`,
    phone: { npa: RECURRING_NPAS[Math.floor(k / 100) % RECURRING_NPAS.length]!, line: k % 100 },
    email: { local: `${words.join('.')}${tag}`, domain: EMAIL_DOMAINS[k % EMAIL_DOMAINS.length]! },
    shop,
    web: { host: `${slug}.${rng.pick(SHOP_TLDS)}`, path: `collections/${rng.pick(PRODUCTS).replace(/\s+/g, '-')}` },
    payment,
    ipGroup: 0x100 + k,
  };
}

/** What member number `position` recorded of the seller: always the phone, then some (or all) of the rest. */
function recurringIdentifiers(rng: Prng, id: SellerIdentity, position: number, all: boolean): DemoIdentifier[] {
  const optional: DemoIdentifier[] = [
    { type: 'email', value: emailSpelling(id.email.local, id.email.domain, id.displayName, position) },
    { type: 'shop', value: shopSpelling(id.shop, position) },
    { type: 'url', value: urlSpelling(id.web.host, id.web.path, position) },
    { type: 'domain', value: domainSpelling(id.web.host, position) },
    { type: 'payment_account', value: paymentSpelling(id.payment, position) },
    { type: 'ip', value: ipSpelling(id.ipGroup, position) },
  ];
  const chosen = all ? optional : rng.sample(optional, rng.int(1, 3));
  return [{ type: 'phone', value: usPhoneSpelling(id.phone, position) }, ...optional.filter((x) => chosen.includes(x))];
}

function recurringRecord(rng: Prng, member: DemoMember, seller: RecurringSeller, i: number): DemoRecordInput {
  const status = rng.weighted<RecordStatus>([
    ['SUSPECTED', 45],
    ['CONFIRMED', 45],
    ['DISPUTED', 10],
  ]);
  const brands = rng.sample(member.brands, rng.int(1, 2));
  const product = rng.pick(PRODUCTS);
  return {
    kind: 'SELLER',
    name: nameVariant(seller.name, rng),
    identifiers: seller.spellings[member.id]!,
    categories: rng.weighted(CATEGORY_SETS.filter(([c]) => c.includes('COUNTERFEIT') || c.includes('TRADEMARK'))),
    status,
    confidence: confidenceFor(rng, status),
    brands,
    notes: note(rng, brands[0]!, product),
    evidence: [`${member.casePrefix.toLowerCase()}-evidence://test-buy/${caseNumber(i)}`],
    externalId: `${member.casePrefix}-${2024 + (i % 2)}-${caseNumber(i)}`,
    region: 'US',
  };
}

/** The same seller as another member's analyst typed its name. */
function nameVariant(name: string, rng: Prng): string {
  return rng.pick([name, name.toUpperCase(), name.replace(/ (Co\.|Ltd|LLC|Store|Shop|Trading Co\., Ltd\.|Official Store|Wholesale|Boutique|Outlet)$/, ''), name.replace(/Harbor/, 'Harbour')]);
}

// ---------------------------------------------------------------------------------------------
// Sellers one member knows

function ownRecord(rng: Prng, member: DemoMember, m: number, i: number): DemoRecordInput {
  const kind = rng.weighted(KINDS);
  const status = rng.weighted(STATUSES);
  const serial = (m * 1_000_000 + i).toString(36);
  const adj = rng.pick(ADJECTIVES);
  const noun = rng.pick(NOUNS);
  const person = `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
  const name =
    kind === 'PERSON' ? person : kind === 'LISTING' ? `${rng.pick(member.brands)} ${rng.pick(PRODUCTS)} (listing)` : `${adj} ${noun} ${rng.pick(COMPANY_SUFFIXES)}`;
  const words = (kind === 'PERSON' ? person : `${adj} ${noun}`).toLowerCase().split(/\s+/);
  const pool = PHONE_POOLS[m % PHONE_POOLS.length]!;
  const ids: DemoIdentifier[] = [];
  if (kind === 'LISTING') ids.push({ type: 'url', value: listingUrl(rng, member, m, i) });
  if (rng.chance(0.65)) ids.push({ type: 'phone', value: poolPhone(rng, pool, i) });
  if (rng.chance(0.5)) ids.push({ type: 'email', value: `${words.join(rng.pick(['.', '_', '']))}${serial}@${rng.pick(EMAIL_DOMAINS)}` });
  if (kind === 'SHOP' || rng.chance(0.3)) ids.push({ type: 'shop', value: ownShop(rng, member, m, i, words) });
  if (kind !== 'LISTING' && rng.chance(0.25)) {
    const host = `${words.join('-')}-${serial}.${rng.pick(SHOP_TLDS)}`;
    ids.push(rng.chance(0.5) ? { type: 'domain', value: rng.chance(0.5) ? `www.${host}` : host } : { type: 'url', value: `https://${rng.chance(0.5) ? 'www.' : ''}${host}/${rng.pick(PRODUCTS).replace(/\s+/g, '-')}` });
  }
  if (rng.chance(0.4)) ids.push({ type: 'payment_account', value: ownPayment(rng, words, serial) });
  if (rng.chance(0.15)) ids.push({ type: 'ip', value: ownIp(rng, m, i) });
  if (kind === 'COMPANY' && rng.chance(0.7)) ids.push({ type: 'business_id', value: `EIN ${EIN_PREFIXES[i % EIN_PREFIXES.length]}-${String(m * 2_000_000 + i).padStart(7, '0')}` });
  if (ids.length === 0) ids.push({ type: 'phone', value: poolPhone(rng, pool, i) });
  const brands = rng.sample(member.brands, rng.int(1, 2));
  const product = rng.pick(PRODUCTS);
  return {
    kind,
    name,
    identifiers: ids,
    categories: rng.weighted(CATEGORY_SETS),
    status,
    confidence: confidenceFor(rng, status),
    brands,
    notes: note(rng, brands[0]!, product),
    evidence: rng.chance(0.5) ? [`${member.casePrefix.toLowerCase()}-evidence://screenshot/${caseNumber(i)}`] : [],
    externalId: `${member.casePrefix}-${2023 + (i % 3)}-${caseNumber(i)}`,
    region: pool.country,
  };
}

/**
 * The member's `i`-th number of its pool (distinct until the pool is used up), in one of the ways
 * people write it; national forms are read in the record's region, the pool's country.
 */
function poolPhone(rng: Prng, pool: (typeof PHONE_POOLS)[number], i: number): string {
  const prefix = pool.prefixes[Math.floor(i / (pool.country === 'US' ? 100 : 1000)) % pool.prefixes.length]!;
  if (pool.country === 'US') {
    const last = `01${String(i % 100).padStart(2, '0')}`;
    return rng.pick([`+1 ${prefix} 555 ${last}`, `(${prefix}) 555-${last}`, `${prefix}.555.${last}`, `+1-${prefix}-555-${last}`]);
  }
  const last = `0${String(i % 1000).padStart(3, '0')}`;
  const national = `0${prefix} ${last}`;
  return rng.pick([`+44 ${prefix} ${last}`, national, `+44 (0)${prefix} ${last}`]);
}

function ownShop(rng: Prng, member: DemoMember, m: number, i: number, words: string[]): string {
  // A marketplace records the shops on its own platform by their shop id; a rights holder finds them
  // on the big marketplaces.
  if (member.kind === 'PLATFORM') return rng.pick([`${member.id}:${100000 + i}`, `${capitalise(member.id)} ${100000 + i}`]);
  const tag = (m * 1_000_000 + i).toString(36);
  return rng.pick([
    `https://www.ebay.com/usr/${words.join('_')}_${tag}`,
    `etsy:${words.map(capitalise).join('')}${tag}`,
    `https://www.amazon.com/sp?seller=A${rng.string('ABCDEFGHJKLMNPQRSTUVWXYZ0123456789', 13)}`,
  ]);
}

function listingUrl(rng: Prng, member: DemoMember, m: number, i: number): string {
  if (member.kind === 'PLATFORM') return `https://www.${member.id}.com/listing/${100000 + i}?utm_source=report`;
  return rng.pick([
    `https://www.ebay.com/itm/${254000000000 + m * 10_000_000 + i}`,
    `https://www.etsy.com/listing/${1200000000 + m * 10_000_000 + i}/handmade-item?ref=hp_rv`,
  ]);
}

function ownPayment(rng: Prng, words: string[], serial: string): string {
  const pick = rng.int(0, 9);
  if (pick < 4) return rng.chance(0.5) ? iban(rng) : paymentSpelling({ scheme: 'iban', iban: iban(rng) }, 1);
  if (pick < 7) return `paypal:${words.join('')}${serial}`;
  if (pick < 9) return `alipay:2088${rng.string('0123456789', 12)}`;
  return `eth:0x${rng.string('0123456789abcdef', 40)}`;
}

function ownIp(rng: Prng, m: number, i: number): string {
  const v4 = ['203.0.113', '198.51.100', '192.0.2'][m % 3]!;
  return rng.chance(0.6) ? `${v4}.${1 + (i % 254)}` : `2001:db8:${(m + 1).toString(16)}::${(i + 1).toString(16)}`;
}

function iban(rng: Prng): string {
  const b = rng.pick(IBAN_BANKS);
  const out = composeIBAN({ countryCode: b.countryCode, bban: `${b.bank}${rng.string('0123456789', b.account)}` });
  if (out === null) throw new Error(`could not compose a ${b.countryCode} IBAN`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

function confidenceFor(rng: Prng, status: RecordStatus): number {
  switch (status) {
    case 'CONFIRMED':
      return rng.int(80, 100);
    case 'SUSPECTED':
      return rng.int(40, 80);
    case 'DISPUTED':
      return rng.int(20, 60);
    case 'CLEARED':
      return rng.int(0, 20);
  }
}

function note(rng: Prng, brand: string, product: string): string {
  return rng.pick(EVIDENCE_NOTES).replace('{brand}', brand).replace('{product}', product);
}

function caseNumber(i: number): string {
  return String(i + 1).padStart(6, '0');
}

function capitalise(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/**
 * One example per example seller, each run at another member and of another type: the phone at the
 * first member, the email at the second, the IBAN at the third, the shop at the first again.
 */
function examplesOf(recurring: RecurringSeller[], members: readonly DemoMember[]): DemoExampleSpec[] {
  const types: IdentifierType[] = ['phone', 'email', 'payment_account', 'shop'];
  const out: DemoExampleSpec[] = [];
  for (const seller of recurring.slice(0, EXAMPLE_SELLERS)) {
    const member = members[seller.index % members.length]!;
    const type = types[seller.index % types.length]!;
    const value = seller.spellings[member.id]?.find((x) => x.type === type)?.value;
    if (value === undefined) continue;
    out.push({ member: member.id, type, value, expect: seller.holders.filter((h) => h !== member.id), seller: seller.name });
  }
  return out;
}
