import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IdentifierType } from '../../node/identifiers/vocabulary.ts';

/**
 * The published identifier test vectors (test/vectors/identifiers.json), keyed by type:
 *   valid:      [{ input, canonical, region?, note? }]   input normalises to canonical
 *   invalid:    [{ input, reason, region?, note? }]      input is refused with that reason
 *   equivalent: [[input, input, ...]]                     every input of a group has one canonical form
 */
export interface TypeVectors {
  valid: { input: string; canonical: string; region?: string; note?: string }[];
  invalid: { input: string; reason: string; region?: string; note?: string }[];
  equivalent: (string | { input: string; region?: string })[][];
}

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../vectors');
export function loadVectors(): Partial<Record<IdentifierType, TypeVectors>> {
  return JSON.parse(fs.readFileSync(path.join(dir, 'identifiers.json'), 'utf8')) as Partial<Record<IdentifierType, TypeVectors>>;
}

