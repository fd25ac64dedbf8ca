import { setImmediate as turnOfTheLoop } from 'node:timers/promises';
import type { IdentifierType } from './vocabulary.ts';
import { tryNormalize, type NormalizeOptions, type NormalizeResult } from './normalize.ts';

/** Longest stretch, in ms, that `normalizeMany` runs before it lets the event loop turn. */
export const NORMALIZE_SLICE_MS = 5;

/**
 * `tryNormalize` over many identifiers, in input order, letting the event loop turn every few
 * milliseconds: a thousand long URLs take tens of milliseconds, and a request that brings them must
 * not hold every other request (and /readyz) for that long.
 */
export async function normalizeMany(inputs: ReadonlyArray<{ type: IdentifierType; value: string }>, opts: NormalizeOptions = {}, sliceMs = NORMALIZE_SLICE_MS): Promise<NormalizeResult[]> {
  const out: NormalizeResult[] = [];
  let sliceStarted = performance.now();
  for (const input of inputs) {
    out.push(tryNormalize(input.type, input.value, opts));
    if (performance.now() - sliceStarted > sliceMs) {
      await turnOfTheLoop();
      sliceStarted = performance.now();
    }
  }
  return out;
}
