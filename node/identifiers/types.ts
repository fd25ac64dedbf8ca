import { AllianceError } from '../errors.ts';
import type { IdentifierType } from './vocabulary.ts';

export interface NormalizeOptions {
  /**
   * Default region (ISO 3166-1 alpha-2, upper case) for values written without one: national phone
   * numbers, business ids without a country. From the record, else the node's configuration.
   */
  region?: string | undefined;
}

/**
 * An identifier that cannot be normalised. `reason` is a stable machine-readable code
 * (`<type>.<what>`, e.g. `email.no_at`, `phone.too_short`); `message` says in words what is wrong.
 */
export class NormalizeError extends AllianceError {
  readonly type: IdentifierType;
  readonly reason: string;
  constructor(type: IdentifierType, reason: string, message: string) {
    super('IDENTIFIER_INVALID', message, { type, reason });
    this.type = type;
    this.reason = reason;
  }
}

/** Turns one raw value into its canonical form, or throws NormalizeError. Pure and deterministic. */
export type Normalizer = (value: string, opts: NormalizeOptions) => string;

/** Longest raw value accepted by any normaliser. */
export const MAX_RAW_LENGTH = 1024;
