import {
  isSupportedCountry,
  parsePhoneNumberWithError,
  ParseError,
  validatePhoneNumberLength,
  type CountryCode,
  type PhoneNumber,
} from 'libphonenumber-js/max';
import { NormalizeError, type NormalizeOptions } from './types.ts';

/*
 * phone: E.164 (`+<country code><national number>`), parsed and validated by libphonenumber-js
 * with its "max" metadata (full per-region number patterns, so validity is checked, not just length).
 * Rules in schema/identifiers.md (`phone`), in the order applied here.
 */

const fail = (reason: string, message: string): never => {
  throw new NormalizeError('phone', `phone.${reason}`, message);
};

const ASCII = /^[\x00-\x7f]*$/;
/** Extension markers libphonenumber does not read: Chinese 转 / 分机 ("transfer to", "extension"). */
const CJK_EXTENSION = /(?:转|轉|分机|分機)\s*\d+\s*$/;
/** `(+86) 138…`: a parenthesised +country code at the start. */
const PAREN_CC = /^\(\s*\+\s*(\d{1,3})\s*\)\s*/;
/** Punctuation written between digit groups that libphonenumber's strict mode refuses. */
const DOT_SEPARATORS = /(?<=\d)\.(?=\d)/g;

const LENGTH_REASONS: Record<string, [string, string]> = {
  TOO_SHORT: ['too_short', 'has too few digits for a phone number'],
  TOO_LONG: ['too_long', 'has too many digits for a phone number'],
  INVALID_LENGTH: ['invalid_length', 'has a number of digits that no phone number of its country has'],
};

export function normalizePhone(value: string, opts: NormalizeOptions): string {
  let region = opts.region;
  // 1. NFKC (full-width digits, plus sign and brackets to ASCII), `tel:` prefix, separators.
  let s = ASCII.test(value) ? value : value.normalize('NFKC');
  if (CJK_EXTENSION.test(s)) fail('has_extension', 'has an extension (转/分机 …); give the number without it');
  if (s.length > 4 && s.slice(0, 4).toLowerCase() === 'tel:') s = s.slice(4).trim();
  s = s.replace(PAREN_CC, '+$1 ').replace(DOT_SEPARATORS, ' ');
  // 2. No default region: a leading 00 (the ITU international prefix) means `+`.
  let intl = s.startsWith('+');
  if (!intl && region === undefined && /^00\s*[1-9]/.test(s)) {
    s = `+${s.replace(/^00\s*/, '')}`;
    intl = true;
  }
  if (!intl && region === undefined) {
    if (!/\d/.test(s)) fail('not_a_number', 'contains no digits');
    if (/[^\d\s().\-/]/.test(s)) fail('not_a_number', 'contains characters that are not part of a phone number');
    fail('no_region', 'is a national number (no +country code) and no region was given to read it in');
  }
  // 3. The default region, needed for national numbers only, must be one libphonenumber knows.
  if (intl) region = undefined;
  else if (!isSupportedCountry(region!)) {
    fail('unknown_region', `region ${region} has no telephone numbering plan in libphonenumber's metadata`);
  }
  // 4. Parse (strict: the whole text must be a phone number) and validate against the metadata.
  let number = parse(s, region as CountryCode | undefined);
  let valid = number.isValid();
  if (!valid && !intl && /^00\s*[1-9]/.test(s)) {
    // 00 is not this region's international prefix (e.g. US: 011) but a number written 0086… is
    // still meant internationally; take it so if it is valid that way.
    const again = tryParse(`+${s.replace(/^00\s*/, '')}`);
    if (again?.isValid()) {
      number = again;
      valid = true;
    }
  }
  if (number.ext) fail('has_extension', 'has an extension; E.164 has none, give the number without it');
  if (!valid) {
    const length = validatePhoneNumberLength(s, region as CountryCode | undefined);
    const known = length && LENGTH_REASONS[length];
    if (known) fail(known[0], `${known[1]} (+${number.countryCallingCode})`);
    if (number.country === undefined) {
      fail('invalid_number', `no region under country code +${number.countryCallingCode} uses numbers of this form`);
    }
    fail('invalid_number', `is not a valid number in ${number.country} (+${number.countryCallingCode}): no number of this length and prefix is assigned there`);
  }
  // 5. E.164: + country code + national significant number, digits only.
  return number.number;
}

function parse(s: string, region: CountryCode | undefined): PhoneNumber {
  try {
    return parsePhoneNumberWithError(s, { defaultCountry: region, extract: false });
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    switch (err.message) {
      case 'NOT_A_NUMBER':
        return fail('not_a_number', 'contains characters that are not part of a phone number, or too few digits');
      case 'INVALID_COUNTRY':
        if (s.startsWith('+')) return fail('invalid_country_code', 'starts with a + country code that does not exist');
        return fail('no_region', 'is a national number (no +country code) and no region was given to read it in');
      case 'TOO_SHORT':
        return fail('too_short', 'has too few digits for a phone number');
      case 'TOO_LONG':
        return fail('too_long', 'has too many digits for a phone number (E.164 allows at most 15)');
      default:
        return fail('not_a_number', `cannot be read as a phone number (${err.message})`);
    }
  }
}

function tryParse(s: string): PhoneNumber | undefined {
  try {
    return parsePhoneNumberWithError(s, { extract: false });
  } catch {
    return undefined;
  }
}
