import { countryCode } from './countries.ts';
import { isDigits, luhnCheckDigit, luhnValid, mod11_10CheckDigit, mod97, weightedSum } from './checksums.ts';
import { NormalizeError, type NormalizeOptions } from './types.ts';

/**
 * business_id: a company's registration or tax number, canonical `CC:SCHEME:ID`
 * (schema/identifiers.md (`business_id`)):
 *   CC      ISO 3166-1 alpha-2 country, upper case (UK → GB, EL → GR)
 *   SCHEME  upper case: USCC, VAT, EIN, CRN, BRN, or any other scheme name (generic)
 *   ID      upper-case letters and digits, separators (spaces, dashes, dots, slashes) removed
 * e.g. `CN:USCC:91350100M000100Y43`, `DE:VAT:136695976`, `US:EIN:123456789`.
 */

const T = 'business_id';

function fail(what: string, message: string): never {
  throw new NormalizeError(T, `${T}.${what}`, message);
}

interface Scheme {
  scheme: string;
  /** The only country the scheme exists in, when it is national by name. */
  country?: string;
}

/** Scheme names people write, reduced to upper-case letters and digits (other scripts as they are). */
const SCHEME_ALIASES: Readonly<Record<string, Scheme>> = {
  USCC: { scheme: 'USCC', country: 'CN' },
  UNIFIEDSOCIALCREDITCODE: { scheme: 'USCC', country: 'CN' },
  SOCIALCREDITCODE: { scheme: 'USCC', country: 'CN' },
  CREDITCODE: { scheme: 'USCC', country: 'CN' },
  统一社会信用代码: { scheme: 'USCC', country: 'CN' },
  社会信用代码: { scheme: 'USCC', country: 'CN' },
  信用代码: { scheme: 'USCC', country: 'CN' },
  VAT: { scheme: 'VAT' },
  VATIN: { scheme: 'VAT' },
  VATID: { scheme: 'VAT' },
  VATNO: { scheme: 'VAT' },
  VATNUMBER: { scheme: 'VAT' },
  VATREGNO: { scheme: 'VAT' },
  EUVAT: { scheme: 'VAT' },
  TVA: { scheme: 'VAT' },
  IVA: { scheme: 'VAT' },
  BTW: { scheme: 'VAT' },
  USTID: { scheme: 'VAT' },
  USTIDNR: { scheme: 'VAT' },
  PIVA: { scheme: 'VAT' },
  PARTITAIVA: { scheme: 'VAT' },
  EIN: { scheme: 'EIN', country: 'US' },
  FEIN: { scheme: 'EIN', country: 'US' },
  CRN: { scheme: 'CRN' },
  COMPANYNUMBER: { scheme: 'CRN' },
  COMPANYNO: { scheme: 'CRN' },
  COMPANYREGISTRATIONNUMBER: { scheme: 'CRN' },
  COMPANIESHOUSE: { scheme: 'CRN', country: 'GB' },
  BRN: { scheme: 'BRN' },
  BRNO: { scheme: 'BRN' },
  HKBR: { scheme: 'BRN', country: 'HK' },
  HKBRN: { scheme: 'BRN', country: 'HK' },
};

function schemeAlias(token: string): Scheme | undefined {
  return SCHEME_ALIASES[token.replace(/[^\p{L}\p{N}]/gu, '')];
}

// ---------------------------------------------------------------------------------------------
// China: Unified Social Credit Code, GB 32100-2015.

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const USCC_SHAPE = /^[0-9A-Z]{2}[0-9]{6}[0-9A-Z]{10}$/;

function uscc(id: string): string {
  if (id.length !== 18) fail('bad_length', `a Unified Social Credit Code has 18 characters; this has ${id.length}`);
  for (const ch of id) {
    if (!USCC_ALPHABET.includes(ch)) {
      fail('bad_characters', `a Unified Social Credit Code has digits and the letters A–Y except I, O, S, V and Z; it cannot contain "${ch}"`);
    }
  }
  if (!isDigits(id.slice(2, 8))) fail('bad_format', 'characters 3–8 of a Unified Social Credit Code (the administrative division) are digits');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(id[i]!) * USCC_WEIGHTS[i]!;
  const check = USCC_ALPHABET[(31 - (sum % 31)) % 31];
  if (id[17] !== check) fail('bad_checksum', `the check character "${id[17]}" of this Unified Social Credit Code does not match the other 17 (mistyped?)`);
  return id;
}

// ---------------------------------------------------------------------------------------------
// EU VAT numbers (and the UK's): the number after the country prefix.

interface VatRule {
  /** The prefixes written before the number (the ISO code, or EL for Greece, XI for Northern Ireland). */
  prefixes: readonly string[];
  /** The format in words, for error messages. */
  shape: string;
  lengths: readonly number[];
  pattern: RegExp;
  /** Checks the check digits; returns false when they are wrong. */
  check?: (n: string) => boolean;
  /** Reduces an accepted number to its canonical spelling. */
  canon?: (n: string) => string;
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

function esValid(n: string): boolean {
  const first = n[0]!;
  const last = n[8]!;
  if (/[0-9]/.test(first)) return isDigits(n.slice(0, 8)) && DNI_LETTERS[Number(n.slice(0, 8)) % 23] === last;
  const mid = n.slice(1, 8);
  if ('XYZ'.includes(first)) return DNI_LETTERS[Number('XYZ'.indexOf(first) + mid) % 23] === last;
  if ('KLM'.includes(first)) return DNI_LETTERS[Number(mid) % 23] === last;
  if ('ABCDEFGHJNPQRSUVW'.includes(first)) {
    const c = luhnCheckDigit(mid);
    return last === String(c) || last === 'JABCDEFGHI'[c];
  }
  return false;
}

const FR_ALPHABET = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';

function frValid(n: string): boolean {
  const siren = n.slice(2);
  // Monaco's numbers (SIREN 000…) are valid TVA numbers without a valid SIREN.
  if (!siren.startsWith('000') && !luhnValid(siren)) return false;
  if (isDigits(n.slice(0, 2))) return Number(n.slice(0, 2)) === (12 + 3 * (Number(siren) % 97)) % 97;
  const a = FR_ALPHABET.indexOf(n[0]!);
  const b = FR_ALPHABET.indexOf(n[1]!);
  const check = /[0-9]/.test(n[0]!) ? a * 24 + b - 10 : a * 34 + b - 100;
  return (Number(siren) + 1 + Math.floor(check / 11)) % 11 === check % 11;
}

function nlValid(n: string): boolean {
  if (Number(n.slice(10)) === 0) return false;
  // Legal entities: the RSIN with the "elfproef"; sole traders since 2020: MOD 97-10 over NL + number.
  const d = n.slice(0, 9);
  const elf = (weightedSum(d, [9, 8, 7, 6, 5, 4, 3, 2]) - (d.charCodeAt(8) - 48)) % 11 === 0;
  return elf || mod97(`NL${n}`) === 1;
}

function gbValid(n: string): boolean {
  if (n.startsWith('GD')) return Number(n.slice(2)) < 500;
  if (n.startsWith('HA')) return Number(n.slice(2)) >= 500;
  const sum = weightedSum(n.slice(0, 9), [8, 7, 6, 5, 4, 3, 2, 10, 1]) % 97;
  return Number(n.slice(0, 3)) >= 100 ? sum === 0 || sum === 42 || sum === 55 : sum === 0;
}

const VAT: Readonly<Record<string, VatRule>> = {
  AT: { prefixes: ['AT'], shape: 'U and 8 digits', lengths: [9], pattern: /^U\d{8}$/, check: (n) => (6 - (luhnSumOf(n.slice(1, 8)) % 10) + 10) % 10 === Number(n[8]) },
  BE: {
    prefixes: ['BE'],
    shape: '10 digits starting with 0 or 1',
    lengths: [9, 10],
    pattern: /^[01]?\d{9}$/,
    canon: (n) => n.padStart(10, '0'),
    check: (n) => {
      const p = n.padStart(10, '0');
      return 97 - (Number(p.slice(0, 8)) % 97) === Number(p.slice(8));
    },
  },
  BG: { prefixes: ['BG'], shape: '9 or 10 digits', lengths: [9, 10], pattern: /^\d{9,10}$/ },
  CY: { prefixes: ['CY'], shape: '8 digits and a letter', lengths: [9], pattern: /^\d{8}[A-Z]$/ },
  CZ: { prefixes: ['CZ'], shape: '8 to 10 digits', lengths: [8, 9, 10], pattern: /^\d{8,10}$/ },
  DE: { prefixes: ['DE'], shape: '9 digits, the first not 0', lengths: [9], pattern: /^[1-9]\d{8}$/, check: (n) => mod11_10CheckDigit(n.slice(0, 8)) === Number(n[8]) },
  DK: { prefixes: ['DK'], shape: '8 digits', lengths: [8], pattern: /^\d{8}$/ },
  EE: { prefixes: ['EE'], shape: '9 digits', lengths: [9], pattern: /^\d{9}$/ },
  ES: { prefixes: ['ES'], shape: 'a letter or digit, 7 digits, a letter or digit', lengths: [9], pattern: /^[0-9A-Z]\d{7}[0-9A-Z]$/, check: esValid },
  FI: { prefixes: ['FI'], shape: '8 digits', lengths: [8], pattern: /^\d{8}$/ },
  FR: { prefixes: ['FR'], shape: '2 check characters and the 9-digit SIREN', lengths: [11], pattern: /^[0-9A-HJ-NP-Z]{2}\d{9}$/, check: frValid },
  GB: {
    prefixes: ['GB', 'XI'],
    shape: '9 digits (12 with a branch), or GD/HA and 3 digits',
    lengths: [5, 9, 12],
    pattern: /^(?:\d{9}|\d{12}|GD\d{3}|HA\d{3})$/,
    // A branch trader's 12-digit number is its 9-digit registration plus a branch: the same business.
    canon: (n) => (n.length === 12 ? n.slice(0, 9) : n),
    check: gbValid,
  },
  GR: { prefixes: ['EL', 'GR'], shape: '9 digits', lengths: [9], pattern: /^\d{9}$/ },
  HR: { prefixes: ['HR'], shape: '11 digits', lengths: [11], pattern: /^\d{11}$/ },
  HU: { prefixes: ['HU'], shape: '8 digits', lengths: [8], pattern: /^\d{8}$/ },
  IE: { prefixes: ['IE'], shape: '7 digits and 1 or 2 letters, or digit, letter, 5 digits, letter', lengths: [8, 9], pattern: /^(?:\d{7}[A-W][A-IW]?|\d[A-Z+*]\d{5}[A-W])$/ },
  IT: { prefixes: ['IT'], shape: '11 digits', lengths: [11], pattern: /^\d{11}$/, check: (n) => Number(n.slice(0, 7)) > 0 && luhnValid(n) },
  LT: { prefixes: ['LT'], shape: '9 or 12 digits', lengths: [9, 12], pattern: /^(?:\d{9}|\d{12})$/ },
  LU: { prefixes: ['LU'], shape: '8 digits', lengths: [8], pattern: /^\d{8}$/ },
  LV: { prefixes: ['LV'], shape: '11 digits', lengths: [11], pattern: /^\d{11}$/ },
  MT: { prefixes: ['MT'], shape: '8 digits', lengths: [8], pattern: /^\d{8}$/ },
  NL: { prefixes: ['NL'], shape: '9 digits, B and 2 digits', lengths: [12], pattern: /^\d{9}B\d{2}$/, check: nlValid },
  PL: {
    prefixes: ['PL'],
    shape: '10 digits',
    lengths: [10],
    pattern: /^\d{10}$/,
    check: (n) => weightedSum(n, [6, 5, 7, 2, 3, 4, 5, 6, 7]) % 11 === Number(n[9]),
  },
  PT: { prefixes: ['PT'], shape: '9 digits', lengths: [9], pattern: /^\d{9}$/ },
  RO: { prefixes: ['RO'], shape: '2 to 10 digits', lengths: [2, 3, 4, 5, 6, 7, 8, 9, 10], pattern: /^\d{2,10}$/ },
  SE: { prefixes: ['SE'], shape: '10 digits and 01', lengths: [12], pattern: /^\d{10}01$/ },
  SI: { prefixes: ['SI'], shape: '8 digits', lengths: [8], pattern: /^\d{8}$/ },
  SK: { prefixes: ['SK'], shape: '10 digits', lengths: [10], pattern: /^\d{10}$/ },
};

/** VAT prefix (as written before the number) → ISO country. */
const VAT_PREFIX: ReadonlyMap<string, string> = new Map(Object.entries(VAT).flatMap(([cc, r]) => r.prefixes.map((p) => [p, cc] as [string, string])));

function luhnSumOf(digits: string): number {
  // The Luhn sum of a payload whose check digit is not yet appended (rightmost digit not doubled:
  // the Austrian UID doubles positions 2, 4 and 6 of its seven digits).
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum;
}

/** The VAT prefix `id` starts with, when the rest is a valid-looking number of that country. */
function vatPrefixOf(id: string): string | undefined {
  const cc = VAT_PREFIX.get(id.slice(0, 2));
  if (cc !== undefined && VAT[cc]!.pattern.test(id.slice(2))) return cc;
  return undefined;
}

function vat(country: string, id: string): string {
  const rule = VAT[country];
  if (rule === undefined) {
    // Outside the EU table: letters and digits as written, no check.
    return generic(id);
  }
  let n = id;
  const prefix = rule.prefixes.find((p) => id.startsWith(p));
  if (prefix !== undefined && (rule.pattern.test(id.slice(2)) || !rule.pattern.test(id))) n = id.slice(2);
  if (!rule.pattern.test(n)) {
    const other = vatPrefixOf(id);
    if (other !== undefined && other !== country) fail('country_mismatch', `"${id.slice(0, 2)}…" is a VAT number of ${other}, not of ${country}`);
    if (!rule.lengths.includes(n.length)) {
      fail('bad_length', `a VAT number of ${country} has ${rule.lengths.join(' or ')} characters after the prefix ${rule.prefixes[0]}; this has ${n.length}`);
    }
    fail('bad_format', `a VAT number of ${country} is ${rule.shape} after the prefix ${rule.prefixes[0]}`);
  }
  if (rule.check !== undefined && !rule.check(n)) fail('bad_checksum', `the check digits of this VAT number of ${country} do not match (mistyped?)`);
  return rule.canon ? rule.canon(n) : n;
}

// ---------------------------------------------------------------------------------------------
// United States: Employer Identification Number.

/** Prefixes the IRS assigns (https://www.irs.gov/businesses/small-businesses-self-employed/how-eins-are-assigned-and-valid-ein-prefixes). */
const EIN_PREFIXES = new Set(
  '01 02 03 04 05 06 10 11 12 13 14 15 16 20 21 22 23 24 25 26 27 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 71 72 73 74 75 76 77 80 81 82 83 84 85 86 87 88 90 91 92 93 94 95 98 99'.split(
    ' ',
  ),
);

function ein(id: string): string {
  if (!isDigits(id)) fail('bad_characters', 'an EIN has digits only (written 12-3456789)');
  if (id.length !== 9) fail('bad_length', `an EIN has 9 digits; this has ${id.length}`);
  if (!EIN_PREFIXES.has(id.slice(0, 2))) fail('bad_prefix', `the IRS assigns no EIN starting with ${id.slice(0, 2)}`);
  return id;
}

// ---------------------------------------------------------------------------------------------
// United Kingdom: Companies House company number (no check digit).

function gbCrn(id: string): string {
  if (isDigits(id)) {
    if (id.length > 8) fail('bad_length', `a Companies House number has 8 characters; this has ${id.length}`);
    return id.padStart(8, '0');
  }
  const m = /^([A-Z]{2})(\d{1,6})$/.exec(id);
  if (m) return m[1]! + m[2]!.padStart(6, '0');
  if (/^R0\d{6}$/.test(id)) return id;
  if (id.length !== 8) fail('bad_length', `a Companies House number has 8 characters; this has ${id.length}`);
  fail('bad_format', 'a Companies House number is 8 digits, or two letters (SC, NI, OC, …) and 6 digits');
}

// ---------------------------------------------------------------------------------------------
// Hong Kong: Business Registration number (the first 8 digits of the certificate number).

function hkBrn(id: string): string {
  if (!isDigits(id)) fail('bad_characters', 'a Hong Kong business registration number has digits only');
  // 8 digits; with the 3-digit branch number (11); or the whole certificate number (16).
  if (id.length === 8 || id.length === 11 || id.length === 16) return id.slice(0, 8);
  fail('bad_length', `a Hong Kong business registration number has 8 digits (11 with the branch, 16 for the certificate number); this has ${id.length}`);
}

// ---------------------------------------------------------------------------------------------

const MAX_ID = 64;

function generic(id: string): string {
  if (id.length > MAX_ID) fail('bad_length', `an id has at most ${MAX_ID} letters and digits; this has ${id.length}`);
  return id;
}

function checkScheme(country: string, scheme: string, id: string): string {
  if (id === '') fail('bad_length', 'the id is empty');
  if (!/^[0-9A-Z]+$/.test(id)) {
    const bad = /[^0-9A-Z]/u.exec(id)![0];
    fail('bad_characters', `an id has letters A–Z and digits only (separators aside); it cannot contain "${bad}"`);
  }
  switch (scheme) {
    case 'USCC':
      return uscc(id);
    case 'VAT':
      return vat(country, id);
    case 'EIN':
      return ein(id);
    case 'CRN':
      return country === 'GB' ? gbCrn(id) : generic(id);
    case 'BRN':
      return country === 'HK' ? hkBrn(id) : generic(id);
    default:
      return generic(id);
  }
}

function stripSeparators(s: string): string {
  return s.replace(/[\s\-./\\_·・]+/gu, '');
}

function parseCountry(token: string): string {
  const cc = countryCode(token);
  if (cc === undefined) fail('bad_country', `"${token}" is not an ISO 3166-1 two-letter country code`);
  return cc;
}

function parseSchemeName(token: string): Scheme {
  const alias = schemeAlias(token);
  if (alias !== undefined) return alias;
  const name = token.replace(/[\s\-.]+/g, '_');
  if (!/^[A-Z][A-Z0-9_]{1,31}$/.test(name)) {
    fail('bad_scheme', `"${token}" is not a scheme name: 2–32 Latin letters, digits or underscores, starting with a letter`);
  }
  return { scheme: name };
}

/** Country and scheme from a label such as `VAT`, `DE VAT`, `Company No`, `CN`. */
function parseLabel(label: string): { country?: string; scheme?: Scheme } {
  const whole = schemeAlias(label);
  if (whole !== undefined) return { scheme: whole };
  const tokens = label.split(/\s+/);
  if (tokens.length === 1) {
    if (/^[A-Z]{2}$/.test(label)) return { country: parseCountry(label) };
    return { scheme: parseSchemeName(label) };
  }
  const first = tokens[0]!;
  const last = tokens[tokens.length - 1]!;
  if (/^[A-Z]{2}$/.test(first) && countryCode(first) !== undefined) return { country: countryCode(first)!, scheme: parseSchemeName(tokens.slice(1).join(' ')) };
  if (/^[A-Z]{2}$/.test(last) && countryCode(last) !== undefined) return { country: countryCode(last)!, scheme: parseSchemeName(tokens.slice(0, -1).join(' ')) };
  return { scheme: parseSchemeName(label) };
}

/** Recognises an id written without a scheme. */
function bare(raw: string, region: string | undefined): string {
  const id = stripSeparators(raw);
  if (!/^[0-9A-Z]+$/.test(id)) {
    const bad = /[^0-9A-Z]/u.exec(id)?.[0] ?? '';
    fail('bad_characters', `an id has letters A–Z and digits only (separators aside); it cannot contain "${bad}"`);
  }
  const vatCountry = vatPrefixOf(id);
  if (vatCountry !== undefined) return `${vatCountry}:VAT:${vat(vatCountry, id)}`;
  if (USCC_SHAPE.test(id) && (region === undefined || region === 'CN' || usccValid(id))) return `CN:USCC:${uscc(id)}`;
  if (/^\d{2}-\d{7}$/.test(raw)) return `US:EIN:${ein(id)}`;
  switch (region) {
    case 'CN':
      return `CN:USCC:${uscc(id)}`;
    case 'US':
      if (isDigits(id)) return `US:EIN:${ein(id)}`;
      break;
    case 'GB':
      if (/^(?:\d{8}|[A-Z]{2}\d{6})$/.test(id)) return `GB:CRN:${gbCrn(id)}`;
      break;
    case 'HK':
      if (isDigits(id)) return `HK:BRN:${hkBrn(id)}`;
      break;
  }
  if (region === undefined) {
    fail('no_country', `cannot tell the country and scheme of this id: write it as CC:SCHEME:ID (e.g. CN:USCC:…, DE:VAT:…) or give the region`);
  }
  fail('no_scheme', `cannot tell which scheme of ${region} this id belongs to: write it as ${region}:SCHEME:ID`);
}

function usccValid(id: string): boolean {
  try {
    uscc(id);
    return true;
  } catch {
    return false;
  }
}

export function normalizeBusinessId(value: string, opts: NormalizeOptions): string {
  const s = value.normalize('NFKC').toUpperCase().trim();
  // A region that is no ISO country (index.ts only checks its shape) counts as no region.
  const region = opts.region === undefined ? undefined : countryCode(opts.region);
  let country: string | undefined;
  let scheme: Scheme | undefined;
  let rawId: string;

  const parts = s.split(/\s*:\s*/);
  if (parts.length >= 3) {
    // CC:SCHEME:ID, the canonical form (read by position).
    if (!/^[A-Z]{2}$/.test(parts[0]!)) fail('bad_country', `"${parts[0]}" is not an ISO 3166-1 two-letter country code (the form is CC:SCHEME:ID)`);
    country = parseCountry(parts[0]!);
    scheme = parseSchemeName(parts[1]!);
    rawId = parts.slice(2).join('');
  } else if (parts.length === 2) {
    // LABEL:ID, the label a scheme, a country or both.
    ({ country, scheme } = parseLabel(parts[0]!));
    rawId = parts[1]!;
  } else {
    // SCHEME ID or CC SCHEME ID with a known scheme name, else a bare id.
    const words = s.split(/\s+/);
    const a0 = words.length > 1 ? schemeAlias(words[0]!) : undefined;
    const a1 = words.length > 2 && /^[A-Z]{2}$/.test(words[0]!) ? schemeAlias(words[1]!) : undefined;
    if (a0 !== undefined) {
      scheme = a0;
      rawId = words.slice(1).join(' ');
    } else if (a1 !== undefined) {
      country = parseCountry(words[0]!);
      scheme = a1;
      rawId = words.slice(2).join(' ');
    } else {
      rawId = s;
    }
  }

  if (scheme === undefined) return bare(rawId, country ?? region);

  const id = stripSeparators(rawId);
  if (scheme.country !== undefined) {
    if (country !== undefined && country !== scheme.country) fail('country_mismatch', `${scheme.scheme} is a scheme of ${scheme.country}, not of ${country}`);
    country = scheme.country;
  }
  if (country === undefined && scheme.scheme === 'VAT') {
    const fromPrefix = VAT_PREFIX.get(id.slice(0, 2));
    if (fromPrefix !== undefined) country = fromPrefix;
  }
  country ??= region;
  if (country === undefined) {
    fail('no_country', `cannot tell the country of this ${scheme.scheme} number: write it as CC:${scheme.scheme}:ID or give the region`);
  }
  return `${country}:${scheme.scheme}:${checkScheme(country, scheme.scheme, id)}`;
}
