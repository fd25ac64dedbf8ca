import { countrySpecs, validateIBAN, ValidationErrorsIBAN } from 'ibantools';
import { NormalizeError } from './types.ts';

/**
 * IBAN rules shared by payment_account and bank_account (schema/identifiers.md (`payment_account`)):
 * spaces, dashes, dots and slashes are dropped, letters upper-cased (the "electronic format" of
 * ISO 13616), then ibantools checks the country, the country's length and BBAN format, the national
 * check digits where it knows them, and the ISO 7064 MOD 97-10 check digits.
 */
export type IbanOwner = 'payment_account' | 'bank_account';

/** Shape of something that is meant as an IBAN: two letters, two digits, 8–30 letters or digits. */
const IBAN_SHAPE = /^[A-Z]{2}[0-9]{2}[0-9A-Z]{8,30}$/;

/** Upper-cases and drops the separators people write inside an IBAN. */
export function compactIban(value: string): string {
  return value.replace(/[\s\-./]+/g, '').toUpperCase();
}

export function looksLikeIban(compact: string): boolean {
  return IBAN_SHAPE.test(compact) && countrySpecs[compact.slice(0, 2)]?.chars !== undefined;
}

/** True when `cc` is a country whose accounts are written as IBANs (ibantools' registry). */
export function isIbanCountry(cc: string): boolean {
  const spec = countrySpecs[cc];
  return spec !== undefined && spec.chars !== undefined && spec.IBANRegistry === true;
}

/** The electronic format of a valid IBAN, or a NormalizeError of `type` that says what is wrong. */
export function canonicalIban(type: IbanOwner, value: string): string {
  const iban = compactIban(value);
  if (!/^[0-9A-Z]*$/.test(iban)) {
    throw new NormalizeError(type, `${type}.bad_characters`, 'an IBAN has only letters A–Z and digits (spaces and dashes aside)');
  }
  if (!/^[A-Z]{2}/.test(iban)) {
    throw new NormalizeError(type, `${type}.bad_format`, 'an IBAN starts with a two-letter country code');
  }
  const cc = iban.slice(0, 2);
  const spec = countrySpecs[cc];
  if (spec === undefined || spec.chars === undefined) {
    throw new NormalizeError(type, `${type}.iban_country`, `"${cc}" is not a country that issues IBANs`);
  }
  const { errorCodes } = validateIBAN(iban);
  if (errorCodes.length === 0) return iban;
  if (errorCodes.includes(ValidationErrorsIBAN.WrongBBANLength)) {
    throw new NormalizeError(type, `${type}.bad_length`, `an IBAN of ${cc} has ${spec.chars} characters; this one has ${iban.length}`);
  }
  if (errorCodes.includes(ValidationErrorsIBAN.ChecksumNotNumber)) {
    throw new NormalizeError(type, `${type}.bad_format`, 'the 3rd and 4th characters of an IBAN are its check digits, and must be digits');
  }
  if (errorCodes.includes(ValidationErrorsIBAN.WrongBBANFormat)) {
    throw new NormalizeError(type, `${type}.bad_format`, `the account part "${iban.slice(4)}" does not have the format of an IBAN of ${cc}`);
  }
  if (errorCodes.includes(ValidationErrorsIBAN.WrongAccountBankBranchChecksum)) {
    throw new NormalizeError(type, `${type}.bad_checksum`, `the national check digits inside this IBAN of ${cc} are wrong (mistyped?)`);
  }
  if (errorCodes.includes(ValidationErrorsIBAN.WrongIBANChecksum)) {
    throw new NormalizeError(type, `${type}.bad_checksum`, `the IBAN check digits "${iban.slice(2, 4)}" do not match the rest (mistyped?)`);
  }
  throw new NormalizeError(type, `${type}.bad_format`, 'is not a valid IBAN');
}
