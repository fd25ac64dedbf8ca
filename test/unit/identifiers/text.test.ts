import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import { fold } from '../../../node/identifiers/text.ts';

function attempt(type: 'name' | 'address', v: string): string | undefined {
  try {
    return normalize(type, v);
  } catch (err) {
    if (err instanceof NormalizeError) return undefined;
    throw err;
  }
}

/** ASCII letters and digits to their full-width forms (U+FF01…), space to the ideographic space. */
const fullWidth = (s: string): string => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).replace(/ /g, '\u3000');

const word = fc.stringMatching(/^[A-Za-z0-9]{1,10}$/);
const words = fc.array(word, { minLength: 1, maxLength: 5 });
/** Text mixing scripts, cases, widths, punctuation, marks and invisible characters. */
const messy = fc.array(
  fc.constantFrom(
    ...[...'aAzZßẞςΣσİıIiéÉ\u0301\u0308\'’-.·,（）()ＡＬ　 深圳市有限公司ｼﾝｾﾝカ김가\u1100\u1161\u200b\u00adﬁ★#Ꭰꭰ'],
    'Straße',
    'street',
  ),
  { maxLength: 40 },
).map((a) => a.join(''));

describe.each(['name', 'address'] as const)('%s', (type) => {
  it('is idempotent on mixed-script, mixed-width text', () => {
    fc.assert(
      fc.property(fc.oneof(messy, fc.string({ unit: 'grapheme', maxLength: 30 })), (s) => {
        const once = attempt(type, s);
        if (once !== undefined) expect(normalize(type, once)).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });

  it('width, case and spacing variants of one text are one key', () => {
    fc.assert(
      fc.property(words, fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), fc.constantFrom(' ', '  ', ' - ', ', ', '\u3000', '\t'), (ws, mask, sep) => {
        const plain = ws.join(' ');
        const variant = ws.map((w) => [...w].map((c, i) => (mask[i % mask.length] ? c.toUpperCase() : c.toLowerCase())).join('')).join(sep);
        const key = normalize(type, plain);
        expect(normalize(type, variant)).toBe(key);
        expect(normalize(type, fullWidth(variant))).toBe(key);
      }),
      { numRuns: 300 },
    );
  });

  it('CJK text keeps no spaces, whatever punctuation or spacing was between its characters', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...'深圳市幸运贸易有限公司广东省南山区'), { minLength: 2, maxLength: 12 }), fc.array(fc.constantFrom('', ' ', '　', '·', '，', '、', '-'), { minLength: 12, maxLength: 12 }), (chars, seps) => {
        const plain = chars.join('');
        const spaced = chars.map((c, i) => c + (i < chars.length - 1 ? seps[i] : '')).join('');
        expect(normalize(type, spaced)).toBe(normalize(type, plain));
        expect(normalize(type, plain)).toBe(plain);
      }),
      { numRuns: 300 },
    );
  });
});

describe('case folding', () => {
  it('applies full folding: ß and ẞ to ss, final sigma to σ, İ and ı to i', () => {
    expect(fold('Straße')).toBe('strasse');
    expect(fold('STRAẞE')).toBe('strasse');
    expect(fold('ΟΔΟΣ')).toBe('οδοσ');
    expect(fold('İı')).toBe('ii');
    expect(fold('ŉ')).toBe('ʼn');
  });

  it('keeps diacritics: Müller, Mueller and Muller are three names, MÜLLER and müller one', () => {
    const keys = new Set(['Müller', 'Mueller', 'Muller'].map((n) => normalize('name', n)));
    expect(keys.size).toBe(3);
    expect(normalize('name', 'MÜLLER')).toBe(normalize('name', 'müller'));
    // Precomposed and decomposed forms meet (NFKC).
    expect(normalize('name', 'Mu\u0308ller')).toBe(normalize('name', 'Müller'));
  });

  it('keeps names and addresses apart only where the address rules say so', () => {
    expect(normalize('name', 'Baker Street')).toBe('baker street');
    expect(normalize('address', 'Baker Street')).toBe('baker st');
    expect(normalize('address', 'Av. Paulista')).toBe('av paulista');
    expect(normalize('address', 'St. Louis Street')).toBe('st louis st');
  });
});
