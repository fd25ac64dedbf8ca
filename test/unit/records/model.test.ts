import { describe, expect, it } from 'vitest';
import { assertRecordId, RECORD_LIMITS, validateRecordInput, validateRecordPatch, type RawRecordInput } from '../../../node/records/model.ts';
import { AllianceError, ValidationError, type FieldProblem } from '../../../node/errors.ts';

const VALID = { kind: 'SHOP', name: 'Synthetic Shop' } as const;

/** The problems `fn` throws; fails the test if it does not throw a validation error. */
function problemsOf(fn: () => unknown): FieldProblem[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toBeInstanceOf(AllianceError);
    expect((err as ValidationError).code).toBe('BAD_USER_INPUT');
    return (err as ValidationError).problems;
  }
  throw new Error('expected a ValidationError, got none');
}
const inputProblems = (input: unknown) => problemsOf(() => validateRecordInput(input as RawRecordInput));
const patchProblems = (input: unknown) => problemsOf(() => validateRecordPatch(input as RawRecordInput));
const fieldsOf = (problems: FieldProblem[]) => problems.map((p) => p.field);

describe('validateRecordInput', () => {
  it('fills in defaults and trims text', () => {
    expect(validateRecordInput({ kind: 'SELLER', name: '  Synthetic Seller  ' })).toEqual({
      kind: 'SELLER',
      name: 'Synthetic Seller',
      identifiers: [],
      categories: [],
      status: 'SUSPECTED',
      confidence: 50,
      brands: [],
      notes: null,
      evidence: [],
      externalId: null,
      region: null,
    });
  });

  it('treats null like a missing optional field', () => {
    const f = validateRecordInput({ ...VALID, status: null, confidence: null, categories: null, identifiers: null, notes: null, externalId: null });
    expect(f).toMatchObject({ status: 'SUSPECTED', confidence: 50, categories: [], identifiers: [], notes: null, externalId: null });
  });

  it('keeps every field given', () => {
    const f = validateRecordInput({
      kind: 'COMPANY',
      name: 'Synthetic Co',
      identifiers: [{ type: 'domain', value: 'synthetic.example.com' }],
      categories: ['TRADEMARK', 'COUNTERFEIT'],
      status: 'CONFIRMED',
      confidence: 0,
      brands: ['BrandA', 'BrandB'],
      notes: 'seen at a synthetic fair',
      evidence: ['case-1', 'case-2'],
      externalId: 'EXT-1',
      region: 'FI',
    });
    expect(f).toEqual({
      kind: 'COMPANY',
      name: 'Synthetic Co',
      identifiers: [{ type: 'domain', value: 'synthetic.example.com', canonical: 'example.com' }],
      categories: ['TRADEMARK', 'COUNTERFEIT'],
      status: 'CONFIRMED',
      confidence: 0,
      brands: ['BrandA', 'BrandB'],
      notes: 'seen at a synthetic fair',
      evidence: ['case-1', 'case-2'],
      externalId: 'EXT-1',
      region: 'FI',
    });
    expect(validateRecordInput({ ...VALID, confidence: 100 }).confidence).toBe(100);
  });

  it.each([
    ['missing', { kind: 'SHOP' }, /required/],
    ['null', { kind: 'SHOP', name: null }, /required/],
    ['empty', { kind: 'SHOP', name: '' }, /empty/],
    ['blank', { kind: 'SHOP', name: '  \t ' }, /empty/],
    ['not a string', { kind: 'SHOP', name: 5 }, /string/],
    ['over 500 characters', { kind: 'SHOP', name: 'n'.repeat(501) }, /501 .*limit is 500/],
    ['holding a NUL character', { kind: 'SHOP', name: 'bad\u0000name' }, /NUL/],
    ['holding an unpaired surrogate', { kind: 'SHOP', name: 'bad\ud800name' }, /Unicode/],
  ])('refuses a name %s', (_, input, message) => {
    const problems = inputProblems(input);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.field).toBe('name');
    expect(problems[0]!.message).toMatch(message);
  });

  it('accepts a name of exactly 500 characters', () => {
    expect(validateRecordInput({ ...VALID, name: 'n'.repeat(500) }).name).toHaveLength(500);
  });

  it.each([
    ['kind', { name: 'x' }],
    ['kind', { name: 'x', kind: 'ROBOT' }],
    ['kind', { name: 'x', kind: 7 }],
    ['status', { ...VALID, status: 'MAYBE' }],
    ['status', { ...VALID, status: '' }],
    ['categories[1]', { ...VALID, categories: ['COUNTERFEIT', 'FAKE'] }],
    ['categories[0]', { ...VALID, categories: [3] }],
    ['categories', { ...VALID, categories: 'COUNTERFEIT' }],
  ])('refuses an unknown value at %s', (field, input) => {
    const problems = inputProblems(input);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.field).toBe(field);
  });

  it('names the allowed values and the bad one', () => {
    const [p] = inputProblems({ ...VALID, kind: 'ROBOT' });
    expect(p!.message).toContain('SELLER, SHOP, PERSON, COMPANY, LISTING');
    expect(p!.message).toContain('"ROBOT"');
  });

  it.each([101, -1, 2.5, '50', Number.NaN, Number.POSITIVE_INFINITY, true, [50]])('refuses confidence %s', (confidence) => {
    const problems = inputProblems({ ...VALID, confidence });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ field: 'confidence', message: expect.stringMatching(/whole number from 0 to 100/) });
  });

  it('collapses duplicate categories and brands, keeping the first order', () => {
    const f = validateRecordInput({ ...VALID, categories: ['PATENT', 'COUNTERFEIT', 'PATENT', 'COUNTERFEIT'], brands: ['B', 'A', 'B'] });
    expect(f.categories).toEqual(['PATENT', 'COUNTERFEIT']);
    expect(f.brands).toEqual(['B', 'A']);
  });

  describe('identifiers', () => {
    const ident = (type: unknown, value: unknown) => ({ type, value });

    it('accepts the type in any case and stores it lower-case, and trims the value', () => {
      const f = validateRecordInput({
        ...VALID,
        identifiers: [ident('EMAIL', ' shop@example.com '), ident('Phone', '+358 40 000 0000'), ident('business_id', 'DE 136 695 976')],
      });
      expect(f.identifiers).toEqual([
        { type: 'email', value: 'shop@example.com', canonical: 'shop@example.com' },
        { type: 'phone', value: '+358 40 000 0000', canonical: '+358400000000' },
        { type: 'business_id', value: 'DE 136 695 976', canonical: 'DE:VAT:136695976' },
      ]);
    });

    it('accepts 100 identifiers and a value of exactly 1024 characters', () => {
      const many = Array.from({ length: RECORD_LIMITS.identifiers }, (_, i) => ident('device_id', `serial:dev-${i}`));
      expect(validateRecordInput({ ...VALID, identifiers: many }).identifiers).toHaveLength(100);
      const long = `https://example.com/${'u'.repeat(1024 - 'https://example.com/'.length)}`;
      expect(validateRecordInput({ ...VALID, identifiers: [ident('url', long)] }).identifiers[0]!.value).toHaveLength(1024);
    });

    it('refuses more than 100 identifiers', () => {
      const many = Array.from({ length: 101 }, (_, i) => ident('device_id', `serial:dev-${i}`));
      expect(inputProblems({ ...VALID, identifiers: many })).toEqual([{ field: 'identifiers', message: expect.stringMatching(/101 .*limit is 100/) }]);
    });

    it.each([
      ['empty value', [ident('email', '')], 'identifiers[0].value', /empty/],
      ['blank value', [ident('ip', '192.0.2.1'), ident('email', '   ')], 'identifiers[1].value', /empty/],
      ['missing value', [{ type: 'email' }], 'identifiers[0].value', /required/],
      ['value not a string', [ident('email', 12)], 'identifiers[0].value', /string/],
      ['value over 1024 characters', [ident('ip', '192.0.2.1'), ident('url', 'u'.repeat(1025))], 'identifiers[1].value', /1025 .*limit is 1024/],
      ['NUL in the value', [ident('email', 'a\u0000@example.com')], 'identifiers[0].value', /NUL/],
      ['unknown type', [ident('fax', '123')], 'identifiers[0].type', /must be one of email, phone/],
      ['missing type', [{ value: '123' }], 'identifiers[0].type', /must be one of/],
      ['a string instead of an object', ['shop@example.com'], 'identifiers[0]', /object/],
      ['null instead of an object', [ident('ip', '192.0.2.2'), null], 'identifiers[1]', /object/],
      ['a list instead of an object', [['email', 'x@example.com']], 'identifiers[0]', /object/],
      ['an unknown field', [{ type: 'phone', value: '+358400000001', region: 'FI' }], 'identifiers[0].region', /not an identifier field/],
    ])('refuses an identifier with %s', (_, identifiers, field, message) => {
      const problems = inputProblems({ ...VALID, identifiers });
      expect(problems).toHaveLength(1);
      expect(problems[0]!.field).toBe(field);
      expect(problems[0]!.message).toMatch(message);
    });

    it('refuses identifiers that are not a list', () => {
      expect(fieldsOf(inputProblems({ ...VALID, identifiers: { type: 'email', value: 'x@example.com' } }))).toEqual(['identifiers']);
    });
  });

  it.each([
    ['notes', { notes: 'n'.repeat(RECORD_LIMITS.notes + 1) }],
    ['externalId', { externalId: 'e'.repeat(RECORD_LIMITS.externalId + 1) }],
    ['brands', { brands: Array.from({ length: RECORD_LIMITS.brands + 1 }, (_, i) => `b${i}`) }],
    ['brands[0]', { brands: ['b'.repeat(RECORD_LIMITS.brand + 1)] }],
    ['brands[1]', { brands: ['ok', ''] }],
    ['evidence', { evidence: Array.from({ length: RECORD_LIMITS.evidence + 1 }, (_, i) => `e${i}`) }],
    ['evidence[0]', { evidence: ['e'.repeat(RECORD_LIMITS.evidenceItem + 1)] }],
    ['notes', { notes: 'line\u0000break' }],
    ['brands[0]', { brands: ['a\u0000b'] }],
    ['evidence[0]', { evidence: ['\u0000'] }],
    ['externalId', { externalId: 'x\u0000' }],
    ['notes', { notes: 12 }],
    ['notes', { notes: 'lone \udfff low surrogate' }],
  ])('refuses a bad %s', (field, extra) => {
    expect(fieldsOf(inputProblems({ ...VALID, ...extra }))).toEqual([field]);
  });

  it('stores blank optional text as null', () => {
    expect(validateRecordInput({ ...VALID, notes: '   ', externalId: '' })).toMatchObject({ notes: null, externalId: null });
  });

  it('refuses unknown fields, naming each', () => {
    const problems = inputProblems({ ...VALID, colour: 'red', Name: 'x', identifier: [] });
    expect(fieldsOf(problems).sort()).toEqual(['Name', 'colour', 'identifier']);
    for (const p of problems) expect(p.message).toMatch(/not a record field/);
  });

  it.each([
    ['null', null],
    ['a list', [VALID]],
    ['a string', 'SHOP'],
  ])('refuses input that is %s', (_, input) => {
    expect(fieldsOf(inputProblems(input))).toEqual(['input']);
  });

  it('collects every problem at once, in one error', () => {
    let err: unknown;
    try {
      validateRecordInput({
        kind: 'ROBOT',
        confidence: 101,
        categories: ['FAKE'],
        identifiers: [{ type: 'email', value: 'ok@example.com' }, { type: 'fax', value: '' }],
        extra: 1,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const e = err as ValidationError;
    expect(fieldsOf(e.problems).sort()).toEqual(['categories[0]', 'confidence', 'extra', 'identifiers[1].type', 'identifiers[1].value', 'kind', 'name'].sort());
    expect(e.details).toEqual({ problems: e.problems });
    expect(e.message).toMatch(/^\S+: .* \(and 6 more\)$/);
  });
});

describe('validateRecordPatch', () => {
  it('returns only the fields given, with no defaults', () => {
    expect(validateRecordPatch({ name: ' Renamed ' })).toEqual({ name: 'Renamed' });
    expect(validateRecordPatch({ confidence: 90, categories: ['DESIGN', 'DESIGN'] })).toEqual({ confidence: 90, categories: ['DESIGN'] });
    expect(validateRecordPatch({ identifiers: [] })).toEqual({ identifiers: [] });
    expect(validateRecordPatch({ identifiers: [{ type: 'IP', value: '192.0.2.1' }] })).toEqual({ identifiers: [{ type: 'ip', value: '192.0.2.1', canonical: '192.0.2.1' }] });
  });

  it('clears optional text given as null or blank', () => {
    expect(validateRecordPatch({ notes: null, externalId: '  ' })).toEqual({ notes: null, externalId: null });
  });

  it.each([
    ['nothing', {}],
    ['only undefined fields', { name: undefined, notes: undefined }],
  ])('refuses a patch with %s', (_, patch) => {
    const problems = patchProblems(patch);
    expect(problems).toEqual([{ field: 'input', message: expect.stringMatching(/changes nothing/) }]);
  });

  it.each([
    ['name', { name: null }],
    ['name', { name: '' }],
    ['name', { name: 'x'.repeat(501) }],
    ['kind', { kind: null }],
    ['kind', { kind: 'ROBOT' }],
    ['status', { status: null }],
    ['status', { status: 'MAYBE' }],
    ['confidence', { confidence: null }],
    ['confidence', { confidence: -1 }],
    ['confidence', { confidence: '50' }],
    ['identifiers[0].value', { identifiers: [{ type: 'email', value: '' }] }],
    ['identifiers[0].type', { identifiers: [{ type: 'fax', value: '1' }] }],
    ['categories[0]', { categories: ['FAKE'] }],
    ['version', { version: 3 }],
  ])('refuses a bad %s', (field, patch) => {
    expect(fieldsOf(patchProblems(patch))).toEqual([field]);
  });

  it('collects every problem of a patch', () => {
    expect(fieldsOf(patchProblems({ name: '', confidence: 2.5, id: 'x' })).sort()).toEqual(['confidence', 'id', 'name']);
  });
});

describe('assertRecordId', () => {
  const id = '0b7c5a2e-4f1d-4c3a-9e8b-1a2b3c4d5e6f';

  it('accepts a UUID and returns it lower-case', () => {
    expect(assertRecordId(id)).toBe(id);
    expect(assertRecordId(id.toUpperCase())).toBe(id);
  });

  it.each([['not-a-uuid'], [''], [`${id}x`], [` ${id}`], [id.replace(/-/g, '')], [42], [null], [undefined]])('refuses %j', (bad) => {
    expect(problemsOf(() => assertRecordId(bad))).toEqual([{ field: 'id', message: expect.stringMatching(/not a record id/) }]);
  });

  it('names the field it was given', () => {
    expect(fieldsOf(problemsOf(() => assertRecordId('nope', 'input.id')))).toEqual(['input.id']);
  });
});
