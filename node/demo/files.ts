import { writeFileAtomicSync } from '../atomic-file.ts';

/**
 * Writes one of the demo's files whole or not at all (node/atomic-file.ts): owner-only by default,
 * as they hold tokens and keys, in owner-only directories made as needed.
 */
export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  writeFileAtomicSync(file, text, { mode, dirMode: 0o700 });
}
