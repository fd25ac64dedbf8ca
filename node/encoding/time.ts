/**
 * The time forms of the wire formats (batches, roster entries): a calendar day `YYYY-MM-DD` and an
 * instant `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
 */
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const SECOND = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$/;

// The last valid day and time seen: items of one batch mostly share them, and checking the same
// string again would give the same answer.
let lastDay = '';
let lastSecond = '';

/** A calendar day `YYYY-MM-DD` that exists. */
export function isDay(s: unknown): s is string {
  if (s === lastDay) return true;
  const m = typeof s === 'string' ? DAY.exec(s) : null;
  if (m === null || !existsDay(m)) return false;
  lastDay = s as string;
  return true;
}

// Proleptic Gregorian calendar, years 0000-9999, as ISO 8601 and JavaScript's Date have it.
function existsDay(m: RegExpExecArray): boolean {
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (mo === 2 ? (leap ? 29 : 28) : mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31);
}

/** An instant `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds, no leap second) that exists. */
export function isSecond(s: unknown): s is string {
  if (s === lastSecond) return true;
  const m = typeof s === 'string' ? SECOND.exec(s) : null;
  if (m === null || !existsDay(m)) return false;
  lastSecond = s as string;
  return true;
}

/** `date` in the wire formats' time form, `YYYY-MM-DDTHH:MM:SSZ` (sub-second part dropped). */
export function toWireTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

