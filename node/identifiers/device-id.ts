import { hexLuhnCheckDigit, isDigits, luhnCheckDigit, luhnValid } from './checksums.ts';
import { NormalizeError, type NormalizeOptions } from './types.ts';

/**
 * device_id: `kind:value`, all lower case (schema/identifiers.md (`device_id`)):
 *   imei:490154203237518          15 digits with a valid Luhn check digit (14 digits get theirs)
 *   meid:af0123450abcde           14 hex digits, the check digit dropped
 *   mac:00:1a:2b:3c:4d:5e         colon-separated lower-case hex
 *   uuid:6d92078a-8246-4ba4-ae5b-76104861e7dc   advertising ids (IDFA, GAID, AAID, IDFV, OAID…)
 *   android:1a2b3c4d5e6f7a8b      Settings.Secure.ANDROID_ID, 16 hex digits
 *   <kind>:<value>                any other labelled id: whitespace removed, lower case
 */

const T = 'device_id';

function fail(what: string, message: string): never {
  throw new NormalizeError(T, `${T}.${what}`, message);
}

type Kind = 'imei' | 'imeisv' | 'meid' | 'mac' | 'uuid' | 'android';

const LABELS: Readonly<Record<string, Kind>> = {
  imei: 'imei',
  imei1: 'imei',
  imei2: 'imei',
  imeisv: 'imeisv',
  meid: 'meid',
  mac: 'mac',
  macaddress: 'mac',
  wifimac: 'mac',
  wlanmac: 'mac',
  btmac: 'mac',
  bluetoothmac: 'mac',
  ethernetmac: 'mac',
  uuid: 'uuid',
  idfa: 'uuid',
  idfv: 'uuid',
  gaid: 'uuid',
  aaid: 'uuid',
  adid: 'uuid',
  advertisingid: 'uuid',
  androidid: 'android',
  android: 'android',
  ssaid: 'android',
};

/** Values that many devices share, so they identify no one. */
const PLACEHOLDERS = new Set([
  'uuid:00000000-0000-0000-0000-000000000000', // iOS IDFA when tracking is not authorised; GAID when opted out
  'android:9774d56d682e549c', // the ANDROID_ID of many Android 2.2 devices (a well-known bug)
  'android:0000000000000000',
  'mac:00:00:00:00:00:00',
  'mac:ff:ff:ff:ff:ff:ff',
  'mac:02:00:00:00:00:00', // what Android 6+ returns to apps instead of the real MAC
  'imei:000000000000000', // emulators
  'meid:00000000000000',
]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX = /^[0-9a-f]+$/;
const MAC_SEPARATED = /^[0-9a-f]{1,2}([:-])[0-9a-f]{1,2}(?:\1[0-9a-f]{1,2}){4}$/;
const MAC_CISCO = /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/;
const MAC_TAIL = /[0-9a-f]{1,2}([:-])[0-9a-f]{1,2}(?:\1[0-9a-f]{1,2}){4}$/;
const LABEL = /^([\p{L}][\p{L}\p{N} _-]{0,31}?)\s*[:=]\s*(.+)$/su;

export function normalizeDeviceId(value: string, _opts: NormalizeOptions): string {
  const s = value.normalize('NFKC').trim().toLowerCase().replace(/^urn:uuid:/, '');
  const out = classify(s);
  if (PLACEHOLDERS.has(out)) fail('placeholder', 'is a placeholder value that many devices share, so it identifies no one');
  return out;
}

const clean = (label: string): string => label.replace(/[^\p{L}\p{N}]/gu, '');

function classify(s: string): string {
  // A colon- or dash-separated MAC at the end, after a MAC label or any other words: a MAC
  // (its own colons must not be read as a label separator: `wifi mac 00:1a:…`).
  const tail = labelledMac(s);
  if (tail !== undefined) return mac(tail);
  const m = LABEL.exec(s);
  let out: string;
  if (m && !looksLikeMac(s)) {
    const label = clean(m[1]!);
    const kind = LABELS[label];
    // Other labels (oaid, serial, udid…) are generic kinds; a UUID stays a uuid whatever its label.
    out = byKind(kind ?? 'generic', m[2]!.trim(), label);
  } else {
    // `IMEI 490154203237518`: a known kind word without a colon.
    const space = /^(\S+)\s+(.+)$/s.exec(s);
    const kind = space ? LABELS[clean(space[1]!)] : undefined;
    out = kind !== undefined ? byKind(kind, space![2]!.trim()) : recognise(s);
  }
  return out;
}

/** The MAC at the end of `s` when words that are a MAC label (or no known kind) come before it. */
function labelledMac(s: string): string | undefined {
  const macTail = MAC_TAIL.exec(s);
  if (!macTail || macTail.index === 0 || !/[\s:=]/.test(s[macTail.index - 1]!)) return undefined;
  const label = clean(s.slice(0, macTail.index));
  // The words before it must be a label (some character that is not a hex digit), not more hex.
  const kind = LABELS[label];
  return /[^\p{N}a-f]/u.test(label) && (kind === undefined || kind === 'mac') ? macTail[0] : undefined;
}

function byKind(kind: Kind | 'generic', v: string, label?: string): string {
  switch (kind) {
    case 'imei':
      return imei(v, false);
    case 'imeisv':
      return imei(v, true);
    case 'meid':
      return meid(v);
    case 'mac':
      return mac(v);
    case 'uuid':
      return uuid(v);
    case 'android':
      return android(v);
    case 'generic':
      return generic(label!, v);
  }
}

function looksLikeMac(s: string): boolean {
  return MAC_SEPARATED.test(s) || MAC_CISCO.test(s);
}

/** An id written without a label, recognised by its shape. */
function recognise(s: string): string {
  const compact = s.replace(/[\s]+/g, '');
  const unbraced = compact.replace(/^\{(.*)\}$/, '$1').replace(/^urn:uuid:/, '');
  if (UUID.test(unbraced)) return uuid(unbraced);
  if (looksLikeMac(compact)) return mac(compact);
  const plain = compact.replace(/[-.]/g, '');
  if (isDigits(plain)) {
    if (plain.length === 14 || plain.length === 15) return imei(plain, false);
    if (plain.length === 18 || plain.length === 19) return meid(plain);
    if (plain.length === 16) return android(plain);
    if (plain.length === 12) return mac(plain);
  } else if (HEX.test(plain)) {
    if (plain.length === 14 || plain.length === 15) return meid(plain);
    if (plain.length === 16) return android(plain);
    if (plain.length === 12) return mac(plain);
  }
  fail('unknown_format', 'is not an IMEI, MEID, MAC address, advertising id (UUID) or Android id; write it as kind:value (e.g. serial:…)');
}

function imei(v: string, sv: boolean): string {
  const d = v.replace(/[\s\-./]+/g, '');
  if (!isDigits(d)) fail('bad_characters', 'an IMEI has digits only');
  if (sv || d.length === 16) {
    // IMEISV: the 14-digit IMEI body and a 2-digit software version; the IMEI gets its check digit.
    if (d.length !== 16) fail('bad_length', `an IMEISV has 16 digits; this has ${d.length}`);
    return `imei:${d.slice(0, 14)}${luhnCheckDigit(d.slice(0, 14))}`;
  }
  if (d.length === 14) return `imei:${d}${luhnCheckDigit(d)}`;
  if (d.length !== 15) fail('bad_length', `an IMEI has 15 digits (14 without the check digit); this has ${d.length}`);
  if (!luhnValid(d)) fail('bad_checksum', 'the check digit (the last) of this IMEI does not match (mistyped?)');
  return `imei:${d}`;
}

function meid(v: string): string {
  const d = v.replace(/[\s\-./]+/g, '');
  if (isDigits(d) && (d.length === 18 || d.length === 19)) {
    // Decimal MEID: 10 digits of the 32-bit manufacturer code and serial, 8 digits of the 24-bit serial.
    if (d.length === 19 && !luhnValid(d)) fail('bad_checksum', 'the check digit (the last) of this decimal MEID does not match (mistyped?)');
    const high = Number(d.slice(0, 10));
    const low = Number(d.slice(10, 18));
    if (high > 0xffffffff || low > 0xffffff) fail('bad_format', 'is not a decimal MEID (its parts are out of range)');
    // The hexadecimal MEID it stands for, under the hex rules (regional code, IMEI range).
    return meid(high.toString(16).padStart(8, '0') + low.toString(16).padStart(6, '0'));
  }
  if (!HEX.test(d)) fail('bad_characters', 'a MEID has hex digits only (decimal MEIDs have 18 digits)');
  if (d.length !== 14 && d.length !== 15) fail('bad_length', `a MEID has 14 hex digits (15 with the check digit) or 18 decimal digits; this has ${d.length}`);
  // All-decimal 14/15-digit MEIDs are IMEIs (GSMA allocates those in the IMEI range).
  if (isDigits(d)) return imei(d, false);
  const body = d.slice(0, 14);
  if (d.length === 15 && parseInt(d[14]!, 16) !== hexLuhnCheckDigit(body)) {
    fail('bad_checksum', 'the check digit (the last) of this MEID does not match (mistyped?)');
  }
  if (!/^[a-f]/.test(body)) fail('bad_format', 'a hexadecimal MEID starts with A–F (its regional code is A0–FF)');
  return `meid:${body}`;
}

function mac(v: string): string {
  const s = v.replace(/\s+/g, '');
  let hex: string;
  const sep = MAC_SEPARATED.exec(s);
  if (sep) {
    hex = s
      .split(sep[1]!)
      .map((p) => p.padStart(2, '0'))
      .join('');
  } else if (MAC_CISCO.test(s)) {
    hex = s.replace(/\./g, '');
  } else {
    hex = s.replace(/[:\-.]/g, '');
    if (!HEX.test(hex)) fail('bad_characters', 'a MAC address has hex digits and separators (: - .) only');
    if (hex.length !== 12) fail('bad_length', `a MAC address has 12 hex digits; this has ${hex.length}`);
  }
  return `mac:${hex.match(/../g)!.join(':')}`;
}

function uuid(v: string): string {
  const s = v
    .replace(/\s+/g, '')
    .replace(/^\{(.*)\}$/, '$1')
    .replace(/^urn:uuid:/, '');
  const hex = s.replace(/-/g, '');
  if (!HEX.test(hex)) fail('bad_characters', 'an advertising id (UUID) has hex digits and dashes only');
  if (hex.length !== 32) fail('bad_length', `an advertising id (UUID) has 32 hex digits; this has ${hex.length}`);
  if (s.includes('-') && !UUID.test(s)) fail('bad_format', 'an advertising id (UUID) is grouped 8-4-4-4-12');
  return `uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function android(v: string): string {
  const s = v.replace(/\s+/g, '');
  if (!HEX.test(s)) fail('bad_characters', 'an Android id has hex digits only');
  // ANDROID_ID is a 64-bit number in hex; some tools drop its leading zeros.
  if (s.length > 16) fail('bad_length', `an Android id has 16 hex digits; this has ${s.length}`);
  return `android:${s.padStart(16, '0')}`;
}

function generic(label: string, v: string): string {
  if (!/^[a-z][a-z0-9]{1,31}$/.test(label)) fail('bad_kind', 'a device id kind has 2–32 Latin letters and digits, starting with a letter');
  const value = v.replace(/\s+/g, '');
  if (UUID.test(value)) return uuid(value);
  // What would be read back as a labelled MAC is a MAC now (the canonical form is a fixed point).
  const tail = labelledMac(`${label}:${value}`);
  if (tail !== undefined) return mac(tail);
  if (value.length > 256) fail('bad_length', `a device id has at most 256 characters; this has ${value.length}`);
  if (/\p{C}/u.test(value)) fail('bad_characters', 'the value contains control or invisible characters');
  return `${label}:${value}`;
}
