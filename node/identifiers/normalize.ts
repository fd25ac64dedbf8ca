import { IDENTIFIER_TYPES, type IdentifierType } from './vocabulary.ts';
import { MAX_RAW_LENGTH, NormalizeError, type NormalizeOptions, type Normalizer } from './types.ts';
import { normalizeEmail } from './email.ts';
import { normalizePhone } from './phone.ts';
import { normalizeUrl } from './url.ts';
import { normalizeDomain } from './domain.ts';
import { normalizeShop } from './shop.ts';
import { normalizeBusinessId } from './business-id.ts';
import { normalizePaymentAccount } from './payment-account.ts';
import { normalizeBankAccount } from './bank-account.ts';
import { normalizeIp } from './ip.ts';
import { normalizeDeviceId } from './device-id.ts';
import { normalizeName, normalizeAddress } from './text.ts';

export { NormalizeError, type NormalizeOptions } from './types.ts';

/** One normaliser per identifier type; rules in schema/identifiers.md. */
export const NORMALIZERS: Record<IdentifierType, Normalizer> = {
  email: normalizeEmail,
  phone: normalizePhone,
  url: normalizeUrl,
  domain: normalizeDomain,
  shop: normalizeShop,
  business_id: normalizeBusinessId,
  payment_account: normalizePaymentAccount,
  bank_account: normalizeBankAccount,
  ip: normalizeIp,
  device_id: normalizeDeviceId,
  name: normalizeName,
  address: normalizeAddress,
};

export function isIdentifierType(type: string): type is IdentifierType {
  return (IDENTIFIER_TYPES as readonly string[]).includes(type);
}

/**
 * The canonical form of one identifier: equal canonical forms mean the same real-world identifier.
 * Throws NormalizeError (code IDENTIFIER_INVALID) with a reason for anything it cannot read.
 */
export function normalize(type: IdentifierType, value: string, opts: NormalizeOptions = {}): string {
  if (typeof value !== 'string') throw new NormalizeError(type, `${type}.not_text`, 'is not text');
  const trimmed = value.trim();
  if (trimmed === '') throw new NormalizeError(type, `${type}.empty`, 'is empty');
  if (trimmed.length > MAX_RAW_LENGTH) throw new NormalizeError(type, `${type}.too_long`, `is ${trimmed.length} characters long; the limit is ${MAX_RAW_LENGTH}`);
  const region = opts.region?.toUpperCase();
  if (region !== undefined && !/^[A-Z]{2}$/.test(region)) {
    throw new NormalizeError(type, `${type}.bad_region`, `region "${opts.region}" is not a two-letter country code`);
  }
  return NORMALIZERS[type](trimmed, { region });
}

export type NormalizeResult = { type: IdentifierType; input: string; canonical: string } | { type: IdentifierType; input: string; error: string; reason: string };

/** Normalises without throwing: the error's message and reason are in the result. */
export function tryNormalize(type: IdentifierType, value: string, opts: NormalizeOptions = {}): NormalizeResult {
  try {
    return { type, input: value, canonical: normalize(type, value, opts) };
  } catch (err) {
    if (err instanceof NormalizeError) return { type, input: value, error: err.message, reason: err.reason };
    throw err;
  }
}
