import { describe, expect, it } from 'vitest';
import { IDENTIFIER_TYPES } from '../../../node/identifiers/vocabulary.ts';
import { loadVectors } from '../../helpers/vectors.ts';
import { normalize, NormalizeError } from '../../../node/identifiers/normalize.ts';

const vectors = loadVectors();

describe('identifier test vectors', () => {
  it('cover every identifier type with at least 20 cases, invalid ones and equivalence groups included', () => {
    for (const type of IDENTIFIER_TYPES) {
      const v = vectors[type];
      expect(v, `vectors for ${type}`).toBeDefined();
      expect(v!.valid.length + v!.invalid.length, `cases for ${type}`).toBeGreaterThanOrEqual(20);
      expect(v!.invalid.length, `invalid cases for ${type}`).toBeGreaterThan(0);
      expect(v!.equivalent.length, `equivalence groups for ${type}`).toBeGreaterThan(0);
    }
  });

  for (const type of IDENTIFIER_TYPES) {
    const v = vectors[type];
    if (!v) continue;
    describe(type, () => {
      it.each(v.valid.map((c) => [c.input, c.canonical, c.region] as const))('%j -> %j', (input, canonical, region) => {
        expect(normalize(type, input, { region })).toBe(canonical);
        // The canonical form is a fixed point.
        expect(normalize(type, canonical, { region })).toBe(canonical);
      });
      it.each(v.invalid.map((c) => [c.input, c.reason, c.region] as const))('%j is refused: %s', (input, reason, region) => {
        let err: unknown;
        try {
          normalize(type, input, { region });
        } catch (e) {
          err = e;
        }
        expect(err, `expected ${JSON.stringify(input)} to be refused`).toBeInstanceOf(NormalizeError);
        expect((err as NormalizeError).reason).toBe(reason);
        expect((err as NormalizeError).message.length).toBeGreaterThan(5);
      });
      it.each(v.equivalent.map((g, i) => [i, g] as const))('equivalence group %i has one canonical form', (_i, group) => {
        const forms = new Set(group.map((m) => (typeof m === 'string' ? normalize(type, m) : normalize(type, m.input, { region: m.region }))));
        expect([...forms]).toHaveLength(1);
      });
    });
  }
});
