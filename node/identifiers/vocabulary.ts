/** The names of record fields' values: kinds, categories, statuses and identifier types. */
export const SUBJECT_KINDS = ['SELLER', 'SHOP', 'PERSON', 'COMPANY', 'LISTING'] as const;
export const CATEGORIES = ['COUNTERFEIT', 'TRADEMARK', 'COPYRIGHT', 'PATENT', 'DESIGN', 'GREY_MARKET', 'OTHER'] as const;
export const STATUSES = ['SUSPECTED', 'CONFIRMED', 'DISPUTED', 'CLEARED'] as const;
/** The identifier type names users and scripts rely on (schema/identifiers.md, "Types"). */
export const IDENTIFIER_TYPES = [
  'email',
  'phone',
  'url',
  'domain',
  'shop',
  'business_id',
  'payment_account',
  'bank_account',
  'ip',
  'device_id',
  'name',
  'address',
] as const;

export type SubjectKind = (typeof SUBJECT_KINDS)[number];
export type Category = (typeof CATEGORIES)[number];
export type RecordStatus = (typeof STATUSES)[number];
export type IdentifierType = (typeof IDENTIFIER_TYPES)[number];

/** Cells holding several values separate them with this character. */
export const CSV_LIST_SEPARATOR = '|';
