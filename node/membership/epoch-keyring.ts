/**
 * The epoch keys this member holds (keys/epochs/ in its data directory), unwrapped for HMAC: what
 * lookups derive digests with and the publisher derives indicators with. Read again whenever a key
 * is installed.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { loadEpochKeys } from './epoch-keys.ts';

/** Bytes of an epoch key K_e. */
export const EPOCH_KEY_BYTES = 32;

/**
 * An epoch key ready for HMAC. Made once per epoch: importing raw key bytes on every HMAC costs
 * about seven times the HMAC itself.
 */
export type EpochKey = KeyObject;

export function epochKey(bytes: Uint8Array): EpochKey {
  if (bytes.length !== EPOCH_KEY_BYTES) throw new RangeError(`an epoch key has ${EPOCH_KEY_BYTES} bytes, not ${bytes.length}`);
  return createSecretKey(bytes);
}

export class EpochKeyring {
  readonly #dataDir: string;
  #alliance: string | undefined;
  #keys = new Map<number, EpochKey>();

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  /** Reads the keys of `alliance` (the node's, for good) from the data directory. */
  load(alliance: string): void {
    this.#alliance = alliance;
    this.#keys = new Map(loadEpochKeys(this.#dataDir, { alliance }).map((k) => [k.epoch, epochKey(k.key)]));
  }

  /** Reads them again (a key was installed). */
  reload(): void {
    if (this.#alliance !== undefined) this.load(this.#alliance);
  }

  get(epoch: number): EpochKey | undefined {
    return this.#keys.get(epoch);
  }

  /** Every key held, by epoch. */
  all(): ReadonlyMap<number, EpochKey> {
    return this.#keys;
  }
}
