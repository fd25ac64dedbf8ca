import type { IdentifierType } from '../../node/identifiers/vocabulary.ts';
import { normalize, NormalizeError } from '../../node/identifiers/normalize.ts';

/** The reason code a value is refused with, or undefined if it normalises. Other errors are rethrown. */
export function refusal(type: IdentifierType, value: string, region?: string): string | undefined {
  try {
    normalize(type, value, { region });
    return undefined;
  } catch (err) {
    if (err instanceof NormalizeError) return err.reason;
    throw err;
  }
}
