import { NormalizeError, type NormalizeOptions } from './types.ts';

/**
 * name and address: free text reduced to a matching key (schema/identifiers.md (`name`) and
 * identifiers-address.md). Weak identifiers: equal keys suggest, never prove, the same party.
 *   1. Unicode NFKC: full-width and half-width forms, ligatures, compatibility characters → plain.
 *   2. Case folding (Unicode full folding, see `fold`): MÜLLER = müller, STRASSE = straße.
 *   3. Invisible format characters (zero-width space and joiners, soft hyphen, BOM, bidi marks)
 *      and apostrophes (' ’ ‘ ʼ `) deleted: O'Brien = OBrien.
 *   4. Every run of other punctuation, symbols, separators and control characters → one space.
 *   5. Spaces next to a CJK character (Han, Hiragana, Katakana, Hangul, Bopomofo) deleted:
 *      CJK text is written without spaces, so 深圳 市 = 深圳市 and 深圳Lucky = 深圳 Lucky.
 *   6. NFKC again, and step 5 again, until neither changes anything (deleting characters can
 *      bring a base and its mark, or Hangul jamo, together).
 *   7. Addresses only: common street-type words written out become their abbreviation.
 * Diacritics are kept: Müller, Mueller and Muller stay three names (stripping them would merge
 * distinct names in many languages); only case and width variants meet.
 */

const FORMAT_AND_APOSTROPHES = /[\p{Cf}'’‘ʼ`]/gu;
const SEPARATORS = /[\p{P}\p{S}\p{Z}\p{Cc}\s]+/gu;
const CJK = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}\\p{Script=Bopomofo}';
const SPACE_BEFORE_CJK = new RegExp(` (?=[${CJK}])`, 'gu');
const SPACE_AFTER_CJK = new RegExp(`(?<=[${CJK}]) `, 'gu');
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
const ASCII_PLAIN = /^[A-Za-z0-9 ]*$/;

/**
 * Unicode full case folding, as close as JavaScript allows without tables: lower → upper → lower
 * (upper-casing expands ß → SS, ŉ → ʼN, ΐ → Ϊ́ …; lower-casing first turns ẞ into ß so it expands
 * too), then final sigma ς → σ (toLowerCase keeps word-final ς). Checked against Python's
 * str.casefold() over every code point (Unicode 14, after NFKC): the only differences are
 * (a) Turkish I: the dotless ı becomes i (folding keeps ı) and İ becomes i (folding gives i and a
 * combining dot above, U+0307, which is dropped after i): ı, i, I and İ meet, so Turkish names meet
 * their ASCII spelling,
 * (b) Cherokee, which folds to its lower-case letters where Unicode folds to upper case (both cases
 * still meet).
 */
const FOLD_FIXES = /ς|i\u0307/g;

export function fold(s: string): string {
  return s.toLowerCase().toUpperCase().toLowerCase().replace(FOLD_FIXES, (c) => (c === 'ς' ? 'σ' : 'i'));
}

function key(type: 'name' | 'address', value: string): string {
  let s: string;
  if (!value.isWellFormed()) {
    throw new NormalizeError(type, `${type}.bad_characters`, 'contains an unpaired UTF-16 surrogate (broken text)');
  }
  if (ASCII_PLAIN.test(value)) {
    // Fast path: ASCII letters, digits and spaces only.
    s = value.toLowerCase().replace(/ +/g, ' ').trim();
  } else {
    s = fold(value.normalize('NFKC')).normalize('NFKC');
    s = s.replace(FORMAT_AND_APOSTROPHES, '').replace(SEPARATORS, ' ').trim();
    // Dropping spaces next to CJK and NFKC can each enable the other (a half-width voiced mark
    // composing onto its kana, Hangul jamo meeting): repeat until neither changes anything.
    for (let prev = ''; prev !== s; ) {
      prev = s;
      s = s.normalize('NFKC').replace(SPACE_BEFORE_CJK, '').replace(SPACE_AFTER_CJK, '');
    }
  }
  if (!LETTER_OR_DIGIT.test(s)) {
    throw new NormalizeError(type, `${type}.no_letters`, 'has no letters or digits, only punctuation, symbols or spaces');
  }
  return s;
}

export function normalizeName(value: string, _opts: NormalizeOptions): string {
  return key('name', value);
}

/** Street-type words written out → the abbreviation (toward the short form, so "St" never has to guess Saint or Street). */
const ADDRESS_WORDS: ReadonlyMap<string, string> = new Map([
  ['street', 'st'],
  ['road', 'rd'],
  ['avenue', 'ave'],
  ['boulevard', 'blvd'],
  ['drive', 'dr'],
  ['lane', 'ln'],
  ['court', 'ct'],
  ['place', 'pl'],
  ['square', 'sq'],
  ['highway', 'hwy'],
  ['parkway', 'pkwy'],
  ['apartment', 'apt'],
  ['suite', 'ste'],
  ['floor', 'fl'],
  ['building', 'bldg'],
  ['room', 'rm'],
  ['strasse', 'str'],
]);

export function normalizeAddress(value: string, _opts: NormalizeOptions): string {
  const s = key('address', value);
  const words = s.split(' ');
  let changed = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const short = ADDRESS_WORDS.get(w);
    if (short !== undefined) {
      words[i] = short;
      changed = true;
    } else if (w.length > 7 && w.endsWith('strasse')) {
      // German compounds: Hauptstraße = Hauptstrasse = Hauptstr.
      words[i] = `${w.slice(0, -7)}str`;
      changed = true;
    }
  }
  return changed ? words.join(' ') : s;
}
