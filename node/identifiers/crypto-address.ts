import { bech32, bech32m, createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { keccak_256 } from '@noble/hashes/sha3.js';

/**
 * Cryptocurrency address checks for payment_account (schema/identifiers.md (`payment_account`)).
 * Each returns the canonical address or a problem `{ what, message }` for the caller to raise.
 */
export type AddressResult = { address: string } | { what: string; message: string };

const base58check = createBase58check(sha256);
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;

function base58Payload(address: string, label: string): Uint8Array | { what: string; message: string } {
  if (!BASE58.test(address)) {
    const bad = /[^1-9A-HJ-NP-Za-km-z]/.exec(address)?.[0] ?? '';
    return { what: 'bad_characters', message: `a ${label} address is base58, which has no "${bad}" (no 0, O, I or l)` };
  }
  try {
    return base58check.decode(address);
  } catch {
    return { what: 'bad_checksum', message: `the checksum of this ${label} address does not match (mistyped?)` };
  }
}

/** Bitcoin mainnet: base58check P2PKH (1…) and P2SH (3…), bech32 (v0) and bech32m (v1+) segwit (bc1…). */
export function bitcoinAddress(address: string): AddressResult {
  const lower = address.toLowerCase();
  if (lower.startsWith('bc1') || lower.startsWith('tb1') || lower.startsWith('bcrt1')) {
    if (address !== lower && address !== address.toUpperCase()) {
      return { what: 'bad_format', message: 'a bech32 address is all lower case or all upper case, never mixed' };
    }
    if (!lower.startsWith('bc1')) return { what: 'bad_network', message: 'this is a Bitcoin testnet or regtest address; only mainnet (bc1…) addresses identify anyone' };
    if (lower.length < 14 || lower.length > 90) return { what: 'bad_length', message: `a bech32 Bitcoin address has 14 to 90 characters; this has ${lower.length}` };
    if (!/^bc1[02-9ac-hj-np-z]+$/.test(lower)) {
      const bad = /[^02-9ac-hj-np-z]/.exec(lower.slice(3))?.[0] ?? '';
      return { what: 'bad_characters', message: `a bech32 address has no "${bad}" (no 1, b, i or o after "bc1")` };
    }
    const v0 = bech32.decodeUnsafe(lower, 90);
    const v1 = v0 ? undefined : bech32m.decodeUnsafe(lower, 90);
    const decoded = v0 ?? v1;
    if (!decoded || decoded.prefix !== 'bc' || decoded.words.length === 0) {
      return { what: 'bad_checksum', message: 'the checksum of this bech32 Bitcoin address does not match (mistyped?)' };
    }
    const version = decoded.words[0]!;
    const program = bech32.fromWordsUnsafe(decoded.words.slice(1));
    if (version > 16 || !program) return { what: 'bad_format', message: 'this bech32 string is not a segwit address' };
    if (version === 0 && !v0) return { what: 'bad_checksum', message: 'a version 0 segwit address uses the bech32 checksum, not bech32m' };
    if (version > 0 && !v1) return { what: 'bad_checksum', message: 'a version 1+ segwit address (taproot…) uses the bech32m checksum (BIP 350), not bech32' };
    if (version === 0 && program.length !== 20 && program.length !== 32) {
      return { what: 'bad_length', message: `a version 0 segwit program has 20 or 32 bytes; this has ${program.length}` };
    }
    if (program.length < 2 || program.length > 40) return { what: 'bad_length', message: `a segwit program has 2 to 40 bytes; this has ${program.length}` };
    return { address: lower };
  }
  if (address.length < 25 || address.length > 35) return { what: 'bad_length', message: `a base58 Bitcoin address has 25 to 35 characters; this has ${address.length}` };
  const payload = base58Payload(address, 'Bitcoin');
  if (!(payload instanceof Uint8Array)) return payload;
  if (payload.length !== 21) return { what: 'bad_length', message: `a base58 Bitcoin address holds 21 bytes; this holds ${payload.length}` };
  const version = payload[0];
  if (version === 0x6f || version === 0xc4) return { what: 'bad_network', message: 'this is a Bitcoin testnet address; only mainnet (1… or 3…) addresses identify anyone' };
  if (version !== 0x00 && version !== 0x05) return { what: 'bad_format', message: `version byte ${version} is neither P2PKH (1…) nor P2SH (3…)` };
  return { address };
}

const HEX40 = /^0x[0-9a-fA-F]{40}$/;

/** Ethereum and every EVM chain: 0x + 40 hex digits, lower case; a mixed-case address must carry a valid EIP-55 checksum. */
export function evmAddress(address: string): AddressResult {
  const a = address.startsWith('0X') ? `0x${address.slice(2)}` : address;
  if (!a.startsWith('0x')) return { what: 'bad_format', message: 'an Ethereum (EVM) address starts with 0x' };
  if (a.length !== 42) return { what: 'bad_length', message: `an Ethereum (EVM) address is 0x and 40 hex digits; this has ${a.length - 2} after 0x` };
  if (!HEX40.test(a)) {
    const bad = /[^0-9a-fA-F]/.exec(a.slice(2))?.[0] ?? '';
    return { what: 'bad_characters', message: `an Ethereum (EVM) address has hex digits only; it cannot contain "${bad}"` };
  }
  const body = a.slice(2);
  const lower = body.toLowerCase();
  if (body !== lower && body !== body.toUpperCase()) {
    // EIP-55: a letter is upper case exactly when the matching nibble of keccak256(lower-case hex) is ≥ 8.
    const hash = keccak_256(new TextEncoder().encode(lower));
    for (let i = 0; i < 40; i++) {
      const c = body.charCodeAt(i);
      if (c < 65) continue; // digit
      const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0xf;
      const upper = c <= 70;
      if (upper !== nibble >= 8) return { what: 'bad_checksum', message: 'the mixed-case (EIP-55) checksum of this address does not match (mistyped?)' };
    }
  }
  return { address: `0x${lower}` };
}

/** TRON: base58check of 0x41 and 20 bytes (T…, 34 characters); also the 41… hex form, turned into T…. */
export function tronAddress(address: string): AddressResult {
  if (/^41[0-9a-fA-F]{40}$/.test(address)) {
    const bytes = new Uint8Array(21);
    for (let i = 0; i < 21; i++) bytes[i] = parseInt(address.slice(2 * i, 2 * i + 2), 16);
    return { address: base58check.encode(bytes) };
  }
  if (address.length !== 34) return { what: 'bad_length', message: `a TRON address has 34 characters; this has ${address.length}` };
  const payload = base58Payload(address, 'TRON');
  if (!(payload instanceof Uint8Array)) return payload;
  if (payload.length !== 21 || payload[0] !== 0x41) return { what: 'bad_format', message: 'a TRON address holds 0x41 and 20 bytes (it starts with T)' };
  return { address };
}

export const looksLikeEvm = (s: string): boolean => /^0[xX][0-9a-fA-F]{40}$/.test(s);
export const looksLikeBech32Btc = (s: string): boolean => /^(?:bc1|BC1|tb1|TB1)[0-9A-Za-z]{8,87}$/.test(s);
export const looksLikeBase58Btc = (s: string): boolean => /^[13][1-9A-HJ-NP-Za-km-z]{24,34}$/.test(s);
export const looksLikeTron = (s: string): boolean => /^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(s);
