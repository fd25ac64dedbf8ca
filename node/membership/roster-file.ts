/**
 * Roster files as admins pass them around: one signed entry (a General JSON JWS object, on one line
 * or pretty-printed) or a roster log file (one signed entry per line, as `alliance admin export`
 * writes it).
 */
import fs from 'node:fs';
import { AllianceError } from '../errors.ts';

export class RosterFileError extends AllianceError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ROSTER_FILE_INVALID', message, details);
  }
}

/** The signed entries of a roster file's text, each as JSON text, in file order. */
export function parseRosterText(text: string, name = 'the roster file'): string[] {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') throw new RosterFileError(`${name} holds no roster entry`);
  // A single signed entry, possibly pretty-printed over several lines.
  try {
    const whole: unknown = JSON.parse(body);
    if (typeof whole === 'object' && whole !== null && !Array.isArray(whole)) return [JSON.stringify(whole)];
  } catch {
    // Not one JSON value: a roster log file, one entry per line.
  }
  const out: string[] = [];
  for (const [i, line] of body.split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new RosterFileError(`${name}, line ${i + 1}: not JSON (expected one signed roster entry, or one per line)`, { line: i + 1 });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new RosterFileError(`${name}, line ${i + 1}: not a signed roster entry (a JSON object)`, { line: i + 1 });
    }
    out.push(line.trim());
  }
  return out;
}

/** Reads a roster file (see parseRosterText); ROSTER_FILE_INVALID if it cannot be read. */
export function readRosterFile(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new RosterFileError(`cannot read roster file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file });
  }
  return parseRosterText(text, file);
}
