/**
 * Check-digit algorithms shared by the business_id, payment_account, bank_account and device_id
 * normalisers. Each takes the characters exactly as they appear in the identifier (no separators)
 * and never throws: a caller asks and then raises its own, type-specific NormalizeError.
 */

/** True when `digits` (ASCII digits only) passes the Luhn (ISO/IEC 7812-1 mod 10) check. */
export function luhnValid(digits: string): boolean {
  return luhnSum(digits, false) % 10 === 0;
}

/** The Luhn check digit to append to `payload` (ASCII digits only). */
export function luhnCheckDigit(payload: string): number {
  return (10 - (luhnSum(payload, true) % 10)) % 10;
}

function luhnSum(digits: string, payloadOnly: boolean): number {
  let sum = 0;
  // With a check digit in place the rightmost digit is not doubled; for a bare payload it is.
  let double = payloadOnly;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum;
}

/**
 * Luhn over hexadecimal digits (base 16), the check digit of a hexadecimal MEID (3GPP2 S.R0048):
 * every second digit from the right of the payload is doubled, a doubled value of 16 or more has 15
 * taken off (its base-16 digit sum), and the check digit brings the total to a multiple of 16.
 */
export function hexLuhnCheckDigit(payloadHex: string): number {
  let sum = 0;
  let double = true;
  for (let i = payloadHex.length - 1; i >= 0; i--) {
    let d = parseInt(payloadHex[i]!, 16);
    if (double) {
      d *= 2;
      if (d > 15) d -= 15;
    }
    sum += d;
    double = !double;
  }
  return (16 - (sum % 16)) % 16;
}

/** ISO 7064 MOD 11,10 (pure system, hybrid): the check digit to append to `payload` (digits). */
export function mod11_10CheckDigit(payload: string): number {
  let product = 10;
  for (let i = 0; i < payload.length; i++) {
    let sum = (payload.charCodeAt(i) - 48 + product) % 10;
    if (sum === 0) sum = 10;
    product = (2 * sum) % 11;
  }
  return (11 - product) % 10;
}

/**
 * ISO 7064 MOD 97-10 remainder of a string of digits and letters (A=10 … Z=35), as used by IBAN
 * and the Dutch VAT number of sole traders. A valid string has remainder 1.
 */
export function mod97(text: string): number {
  let rem = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      rem = (rem * 10 + (c - 48)) % 97;
    } else {
      // A letter contributes its two-digit value.
      rem = (rem * 100 + (c - 55)) % 97;
    }
  }
  return rem;
}

/** True when every character of `s` is an ASCII digit (and `s` is not empty). */
export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Weighted digit sum: Σ digit[i] × weights[i] over the shorter of the two. */
export function weightedSum(digits: string, weights: readonly number[]): number {
  let sum = 0;
  const n = Math.min(digits.length, weights.length);
  for (let i = 0; i < n; i++) sum += (digits.charCodeAt(i) - 48) * weights[i]!;
  return sum;
}
