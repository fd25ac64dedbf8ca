import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IDENTIFIER_TYPES } from '../../../node/identifiers/vocabulary.ts';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';
import { deriveDigest } from '../../../node/indicators/derive.ts';
import { epochKey } from '../../../node/membership/epoch-keyring.ts';
import { loadVectors } from '../../helpers/vectors.ts';

const KEY = epochKey(Uint8Array.from({ length: 32 }, (_, i) => 255 - i));
const vectors = loadVectors();

/** Normalises, or returns undefined for a NormalizeError; any other exception fails the property. */
function attempt(type: (typeof IDENTIFIER_TYPES)[number], value: string): string | undefined {
  try {
    return normalize(type, value);
  } catch (err) {
    if (err instanceof NormalizeError) return undefined;
    throw err;
  }
}

describe.each(IDENTIFIER_TYPES)('properties of %s', (type) => {
  const valid = (vectors[type]?.valid ?? []).filter((v) => v.region === undefined).map((v) => v.input);

  it('normalising is idempotent, and any input is either normalised or refused with a NormalizeError', () => {
    const inputs = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      ...(valid.length
        ? [
            // Valid inputs with noise that must not change them: surrounding space, case of the whole.
            fc.tuple(fc.constantFrom(...valid), fc.constantFrom('', ' ', '\t', '  '), fc.constantFrom('', ' ', '\n')).map(([v, a, b]) => a + v + b),
          ]
        : []),
    );
    fc.assert(
      fc.property(inputs, (input) => {
        const canonical = attempt(type, input);
        if (canonical !== undefined) expect(normalize(type, canonical)).toBe(canonical);
      }),
      { numRuns: 400 },
    );
  });

  it('no canonical form starts with "! " or holds a line break (alliance normalize prints a refusal as "! ..." in the value\'s line)', () => {
    const inputs = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ maxLength: 40 }).map((v) => `! ${v}`),
      fc.string({ maxLength: 40 }).map((v) => `!${v}`),
      ...(valid.length ? [fc.tuple(fc.constantFrom(...valid), fc.constantFrom('! ', '!', '\n', '! \n')).map(([v, p]) => p + v)] : []),
    );
    fc.assert(
      fc.property(inputs, (input) => {
        const canonical = attempt(type, input);
        if (canonical !== undefined) {
          expect(canonical.startsWith('! ')).toBe(false);
          expect(canonical).not.toMatch(/[\r\n]/);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('equal canonical forms give equal digests; different ones differ', () => {
    const groups = (vectors[type]?.equivalent ?? []).map((g) => g.filter((m): m is string => typeof m === 'string')).filter((g) => g.length > 1);
    for (const group of groups) {
      const digests = new Set(group.map((m) => deriveDigest(KEY, type, normalize(type, m))));
      expect(digests.size).toBe(1);
    }
    const canonicals = [...new Set(valid.map((v) => attempt(type, v)).filter((c): c is string => c !== undefined))];
    const digests = new Set(canonicals.map((c) => deriveDigest(KEY, type, c)));
    expect(digests.size).toBe(canonicals.length);
  });
});
